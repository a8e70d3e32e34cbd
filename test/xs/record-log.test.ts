/**
 * One record log shared by its owners (modules/base/record-log.ts), as on a board with too few
 * erase blocks for a log each (STM32F4DISCOVERY): the resume journal, the security counters and
 * the device key's records in one partition. Each owner reads back exactly its records after
 * the log has moved to fresh blocks many times, whichever owner's append moved it and whether
 * the others were open. Runs in the "scratch" partition (16 blocks of 4 KiB).
 */
import Flash from "sealdrop/native/flash";
import { KeyStore, type Lock } from "sealdrop/keys/store";
import { SecurityCounters } from "sealdrop/update/counters";
import { Journal, type SessionRecord } from "sealdrop/update/journal";
import { RecordLog } from "sealdrop/base/record-log";
import { gc, memory } from "sealdrop/xs-host";
import { bytesEqual, equal, test, throws } from "../harness.js";

const LOG = "scratch";
const LOCK_TYPE = 0x20; // modules/keys/store.ts

function wipe(): void {
	const flash = Flash.open({ path: LOG });
	flash.eraseBlock(0, flash.status().blocks);
	flash.close();
}

const lock: Lock = { slot: 0, kind: "p256", mode: "generated", provisionedAt: 1234, rotationCounter: 0, fingerprint: new Uint8Array(32).fill(0xab) };
const session = (id: number): SessionRecord => ({
	sessionId: Uint8Array.of(id), size: 100_000, image: 0, pending: "test", headerArea: new Uint8Array(32).fill(id), tlvArea: new Uint8Array(300).fill(id),
});
/** A checkpoint (the first 16 bytes of a chained digest) for block k. */
const chain = (k: number) => new Uint8Array(16).fill(k & 0xff);

/** How many records of `type` the log holds, read as a fresh owner of that type. */
function countRecords(type: number): number {
	const log = new RecordLog(LOG, { types: [type], snapshot: () => {} });
	try {
		return log.takeRecords().length;
	} finally {
		log.close();
	}
}

test("record log: three owners share one partition through many block moves, each reading back only its records", () => {
	wipe();
	const keys = new KeyStore(LOG);
	const counters = new SecurityCounters(LOG);
	const journal = new Journal(LOG);
	keys.writeLock(lock);
	counters.raise(0, 5);
	journal.startSession(session(1));
	// 32-byte BLOCK records on this layout: a 4 KiB block holds 112, so this moves the log 5 times
	for (let k = 0; k < 600; k++) {
		journal.recordBlock(k, chain(k));
		if (k === 300) counters.raise(1, 7); // an append by another owner, in the middle
	}
	journal.close();
	counters.close();
	keys.close();

	const again = { keys: new KeyStore(LOG), counters: new SecurityCounters(LOG), journal: new Journal(LOG) };
	try {
		bytesEqual(again.keys.lock!.fingerprint, lock.fingerprint, "the device key's lock");
		equal(again.keys.rotation, undefined);
		equal(again.counters.get(0), 5);
		equal(again.counters.get(1), 7);
		const state = again.journal.state!;
		bytesEqual(state.session.sessionId, Uint8Array.of(1));
		bytesEqual(state.session.tlvArea, session(1).tlvArea);
		equal([...state.blocks.keys()].pop(), 599, "the newest checkpoint");
		bytesEqual(state.blocks.get(599)!, chain(599).slice(0, 16));
	} finally {
		again.journal.close();
		again.counters.close();
		again.keys.close();
	}
	equal(countRecords(LOCK_TYPE), 1, "the lock moved as one record, not copied again at each move");
});

test("record log: the records of an owner that is not open survive the moves the others make", () => {
	wipe();
	const keys = new KeyStore(LOG);
	keys.writeLock(lock);
	keys.writeRotation({ counter: 1, request: new Uint8Array(32).fill(1), slot: 1, kind: "p256", fingerprint: new Uint8Array(32).fill(2) });
	keys.close();
	const counters = new SecurityCounters(LOG);
	counters.raise(0, 9);
	counters.close();
	// the journal alone: new sessions (each starts its records over) and many checkpoints
	for (let id = 1; id <= 5; id++) {
		const journal = new Journal(LOG);
		journal.startSession(session(id));
		for (let k = 0; k < 150; k++) journal.recordBlock(k, chain(k));
		journal.clear();
		journal.close();
	}
	const store = new KeyStore(LOG);
	try {
		bytesEqual(store.lock!.fingerprint, lock.fingerprint);
		equal(store.rotation?.counter, 1, "the rotation in progress");
	} finally {
		store.close();
	}
	const again = new SecurityCounters(LOG);
	equal(again.get(0), 9);
	again.close();
	const journal = new Journal(LOG);
	equal(journal.state, undefined, "the journal's clear() forgot its session only");
	journal.close();
	equal(countRecords(LOCK_TYPE), 1, "records no owner claimed were copied once per move, never multiplied");
});

test("record log: one open owner per record type; a closed owner's types can be opened again", () => {
	wipe();
	const first = new Journal(LOG);
	throws(() => new Journal(LOG), { code: "E_STATE" });
	throws(() => new RecordLog(LOG, { types: [0], snapshot: () => {} }), { code: "E_USAGE" }, "type 0 is the block header");
	const counters = new SecurityCounters(LOG); // other types: fine
	const log = new RecordLog(LOG, { types: [0x30], snapshot: () => {} });
	throws(() => log.append(0x10, new Uint8Array(5)), { code: "E_USAGE" }, "appending another owner's type");
	log.close();
	first.close();
	counters.close();
	// an owner closed twice must not unregister the log another owner opened since
	const journal = new Journal(LOG);
	journal.close();
	const later = new SecurityCounters(LOG);
	journal.close();
	const sharing = new Journal(LOG);
	throws(() => new SecurityCounters(LOG), { code: "E_STATE" }, "the counters are still open in the same log");
	sharing.startSession(session(9));
	later.raise(3, 1);
	sharing.recordBlock(0, chain(0));
	sharing.close();
	later.close();
	const check = new SecurityCounters(LOG);
	equal(check.get(3), 1);
	check.close();
	const read = new Journal(LOG);
	equal(read.state?.blocks.has(0), true);
	read.close();
});

test("record log: a reset by one owner keeps the others' records", () => {
	wipe();
	const counters = new SecurityCounters(LOG);
	counters.raise(2, 3);
	const journal = new Journal(LOG);
	journal.startSession(session(7));
	journal.recordBlock(0, chain(0));
	journal.clear();
	counters.raise(2, 4);
	journal.close();
	counters.close();
	const again = new SecurityCounters(LOG);
	equal(again.get(2), 4);
	again.close();
	const j = new Journal(LOG);
	equal(j.state, undefined);
	j.close();
});

test("record log: moving an install's journal to fresh blocks allocates nothing, with the counters and the device key's records in the same partition, open or not (collection suspended, every byte shows)", () => {
	wipe();
	// as on STM32F4DISCOVERY: the other owners' records move with the journal's
	const keys = new KeyStore(LOG);
	keys.writeLock(lock);
	const counters = new SecurityCounters(LOG);
	counters.raise(0, 5);
	counters.raise(1, 9);
	const journal = new Journal(LOG);
	journal.startSession(session(1));
	const checkpoints = Array.from({ length: 256 }, (_, k) => chain(k));
	let next = 0;
	const inUse = () => {
		const m = memory();
		return m.chunksCurrent + m.slotsCurrent;
	};
	/** Bytes allocated by `count` more BLOCK records (32 bytes each on this layout: 112 to a 4 KiB block). */
	const allocatedBy = (count: number) => {
		gc();
		gc(false);
		try {
			inUse(); // the first call after a collection allocates more than the others (608 bytes, then 288)
			const first = inUse();
			const sampling = inUse() - first; // what one memory() object costs
			const before = inUse();
			for (const end = next + count; next < end; next++) journal.recordBlock(next, checkpoints[next & 255]);
			return inUse() - before - sampling;
		} finally {
			gc(true);
		}
	};
	try {
		allocatedBy(250); // two moves first: what a move keeps for the next one is made here
		// the key store open: its lock is its snapshot's. Each of these once allocated at every
		// move: rotate() closed over a variable its rare branch captures (XS gave it a slot at each
		// call, 32 bytes), the counters were encoded through a Map iterator, the lock again
		equal(allocatedBy(400), 0, "bytes allocated by 400 appends and the three moves among them, the key store open");
		// closed, as the app keeps it during an install: its lock is a record no open owner claims,
		// copied by the move from the old block (its scan made views and objects per record, ~61 KB a move)
		keys.close();
		equal(allocatedBy(400), 0, "the same with the key store closed");
	} finally {
		journal.close();
		counters.close();
		keys.close();
	}
	const again = { keys: new KeyStore(LOG), counters: new SecurityCounters(LOG), journal: new Journal(LOG) };
	try {
		bytesEqual(again.journal.state!.blocks.get(next - 1)!, checkpoints[(next - 1) & 255], "the newest checkpoint");
		equal(again.counters.get(0), 5, "image 0's counter");
		equal(again.counters.get(1), 9, "image 1's counter");
		bytesEqual(again.keys.lock!.fingerprint, lock.fingerprint, "the device key's lock");
	} finally {
		again.journal.close();
		again.counters.close();
		again.keys.close();
	}
});
