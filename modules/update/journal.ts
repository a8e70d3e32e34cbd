/**
 * The resume journal: what the agent must remember across a reset to continue an update where
 * it stopped, kept in a RecordLog.
 *
 * - SESSION: the session id the transport gave (SMP `sha`, an HTTP ETag...), the announced size,
 *   image number, pending mode, and the image's header area and TLV areas (the body is in the
 *   slot; these are not, or not yet). Written once the header and TLVs are in, before any body
 *   byte reaches the slot.
 * - BLOCK: slot block k is complete, with a chained digest of blocks 0..k
 *   (d_k = SHA-256(d_{k-1} ‖ SHA-256(block k)), first 16 bytes), so a resume re-reads the slot,
 *   recomputes the chain, and continues after the last block whose digest still matches.
 * - DONE: the session ended, verified (then perhaps marked pending) or refused, with the image's hash.
 *
 * A new session resets the log; only the current session's records are live.
 */
import { equalBytes, fail, putU16, putU32, u16, u32 } from "sealdrop/image";
import { RecordLog, type LogRecord } from "sealdrop/base/record-log";

const SESSION = 1;
const BLOCK = 2;
const DONE = 3;
const FORMAT = 1;
/**
 * Room left in a log block for the records of the log's other owners on a board that shares one
 * partition: the device key's lock, rotation and used records (under 256 bytes with framing)
 * and eight images' security counters (16 bytes each).
 */
const OTHER_OWNERS_RESERVE = 384;

export const CHAIN_BYTES = 16;

export type PendingMode = "none" | "test" | "permanent";
const PENDING_MODES: PendingMode[] = ["none", "test", "permanent"];

export interface SessionRecord {
	sessionId: Uint8Array;
	size: number;
	image: number;
	pending: PendingMode;
	headerArea: Uint8Array;
	tlvArea: Uint8Array;
}

export type Outcome = "verified" | "failed";
const OUTCOMES: Outcome[] = ["verified", "failed"];

export interface JournalState {
	session: SessionRecord;
	/**
	 * Chained digest after block k, by block index, for the blocks recorded in the log's active
	 * block (after a move to a fresh log block, only the newest survives; the chain makes it enough).
	 */
	blocks: Map<number, Uint8Array>;
	done?: { outcome: Outcome; imageHash: Uint8Array };
}

function encodeSession(s: SessionRecord): Uint8Array {
	const out = new Uint8Array(1 + 1 + 1 + 4 + 1 + s.sessionId.length + 2 + s.headerArea.length + 2 + s.tlvArea.length);
	let at = 0;
	out[at++] = FORMAT;
	out[at++] = s.image;
	out[at++] = PENDING_MODES.indexOf(s.pending);
	putU32(out, at, s.size);
	at += 4;
	out[at++] = s.sessionId.length;
	out.set(s.sessionId, at);
	at += s.sessionId.length;
	putU16(out, at, s.headerArea.length);
	out.set(s.headerArea, at + 2);
	at += 2 + s.headerArea.length;
	putU16(out, at, s.tlvArea.length);
	out.set(s.tlvArea, at + 2);
	return out;
}

function decodeSession(p: Uint8Array): SessionRecord | undefined {
	if (p.length < 10 || p[0] !== FORMAT || p[2] >= PENDING_MODES.length) return undefined;
	let at = 7;
	const idLength = p[at++];
	if (at + idLength + 2 > p.length) return undefined;
	const sessionId = p.slice(at, at + idLength);
	at += idLength;
	const headerLength = u16(p, at);
	if (at + 2 + headerLength + 2 > p.length) return undefined;
	const headerArea = p.slice(at + 2, at + 2 + headerLength);
	at += 2 + headerLength;
	const tlvLength = u16(p, at);
	if (at + 2 + tlvLength !== p.length) return undefined;
	return { image: p[1], pending: PENDING_MODES[p[2]], size: u32(p, 3), sessionId, headerArea, tlvArea: p.slice(at + 2) };
}

/** A BLOCK record's payload: the block number, then its checkpoint. */
function putBlock(payload: Uint8Array, block: number, checkpoint: Uint8Array): Uint8Array {
	putU32(payload, 0, block);
	payload.set(checkpoint, 4);
	return payload;
}

function encodeBlock(block: number, checkpoint: Uint8Array): Uint8Array {
	return putBlock(new Uint8Array(4 + CHAIN_BYTES), block, checkpoint);
}

function encodeDone(outcome: Outcome, imageHash: Uint8Array): Uint8Array {
	const payload = new Uint8Array(1 + imageHash.length);
	payload[0] = OUTCOMES.indexOf(outcome);
	payload.set(imageHash, 1);
	return payload;
}

export class Journal {
	readonly #log: RecordLog;
	#state: JournalState | undefined;
	/** A BLOCK record's payload, encoded in place for each block. */
	readonly #blockPayload = new Uint8Array(4 + CHAIN_BYTES);
	/**
	 * The newest checkpoint recordBlock() appended, kept in place (a Map entry and a copy per block
	 * would be garbage per chunk) and moved into state.blocks when the state is read; -1: none since.
	 */
	#newestBlock = -1;
	readonly #newestCheckpoint = new Uint8Array(CHAIN_BYTES);
	/** The session's SESSION record as written, kept for moves to a fresh log block (re-encoding it was garbage of the install). */
	#sessionPayload: Uint8Array | undefined;
	/** The newest checkpoint's BLOCK record for a move (not #blockPayload: a move happens while that one is being appended). */
	readonly #movedBlockPayload = new Uint8Array(4 + CHAIN_BYTES);

	constructor(partition: string) {
		this.#log = new RecordLog(partition, { types: [SESSION, BLOCK, DONE], snapshot: (keep) => this.#snapshot(keep) });
		this.#state = this.#read(this.#log.takeRecords());
	}

	/** The session the journal holds, if any. */
	get state(): JournalState | undefined {
		this.#syncBlocks();
		return this.#state;
	}

	/**
	 * How big a SESSION record may be: header area and TLV areas together must fit one log block
	 * beside the session's newest BLOCK and DONE records and the records of the log's other owners.
	 */
	get maxSessionBytes(): number {
		return this.#log.maxPayload - 16 - 32 - OTHER_OWNERS_RESERVE;
	}

	/** Forgets any session (a new update starts). */
	clear(): void {
		if (!this.#log.empty) this.#log.reset([]);
		this.#state = undefined;
		this.#sessionPayload = undefined;
		this.#newestBlock = -1;
	}

	startSession(session: SessionRecord): void {
		if (session.sessionId.length > 32) fail("E_USAGE", "a session id is at most 32 bytes");
		const payload = encodeSession(session);
		if (payload.length > this.#log.maxPayload) fail("E_UNSUPPORTED", `the image's header and TLV areas (${payload.length} bytes) do not fit the journal's ${this.#log.maxPayload}-byte records`);
		this.#log.reset([{ type: SESSION, payload }]);
		this.#state = { session, blocks: new Map() };
		this.#sessionPayload = payload;
		this.#newestBlock = -1;
	}

	/**
	 * Block `block` is complete; `checkpoint` is the first CHAIN_BYTES of its chained digest (a view
	 * the caller keeps, so that this allocates nothing).
	 */
	recordBlock(block: number, checkpoint: Uint8Array): void {
		if (checkpoint.length !== CHAIN_BYTES) fail("E_USAGE", `a checkpoint is ${CHAIN_BYTES} bytes`);
		this.#log.append(BLOCK, putBlock(this.#blockPayload, block, checkpoint));
		// the chain makes the newest checkpoint vouch for every block before it: keep only that one
		this.#newestCheckpoint.set(checkpoint);
		this.#newestBlock = block;
	}

	recordDone(outcome: Outcome, imageHash: Uint8Array): void {
		this.#log.append(DONE, encodeDone(outcome, imageHash));
		this.#state!.done = { outcome, imageHash: imageHash.slice() };
	}

	close(): void {
		this.#log.close();
	}

	/** Moves the newest checkpoint recordBlock() kept into state.blocks. */
	#syncBlocks(): void {
		if (this.#newestBlock < 0 || !this.#state) return;
		this.#state.blocks.clear();
		this.#state.blocks.set(this.#newestBlock, this.#newestCheckpoint.slice());
		this.#newestBlock = -1;
	}

	/**
	 * What must survive moving to a fresh log block: the session, its newest checkpoint, its end.
	 * In an install's steady state (a checkpoint recorded since the state was last read) this
	 * allocates nothing.
	 */
	#snapshot(keep: (type: number, payload: Uint8Array) => void): void {
		const state = this.#state;
		if (!state) return;
		keep(SESSION, this.#sessionPayload ?? encodeSession(state.session));
		if (this.#newestBlock >= 0) {
			// the chain makes the newest checkpoint vouch for every block before it
			keep(BLOCK, putBlock(this.#movedBlockPayload, this.#newestBlock, this.#newestCheckpoint));
		} else {
			for (const [block, checkpoint] of state.blocks) keep(BLOCK, encodeBlock(block, checkpoint));
		}
		if (state.done) keep(DONE, encodeDone(state.done.outcome, state.done.imageHash));
	}

	#read(records: readonly LogRecord[]): JournalState | undefined {
		let state: JournalState | undefined;
		for (const r of records) {
			if (r.type === SESSION) {
				const session = decodeSession(r.payload);
				state = session ? { session, blocks: new Map() } : undefined;
				this.#sessionPayload = session ? r.payload : undefined;
			} else if (r.type === BLOCK && state && r.payload.length === 4 + CHAIN_BYTES) {
				state.blocks.set(u32(r.payload, 0), r.payload.slice(4));
			} else if (r.type === DONE && state && r.payload.length >= 1 && r.payload[0] < OUTCOMES.length) {
				state.done = { outcome: OUTCOMES[r.payload[0]], imageHash: r.payload.slice(1) };
			}
		}
		return state;
	}
}

/** Whether a journal session is the one a transport is starting again. */
export function sameSession(s: SessionRecord, sessionId: Uint8Array, size: number, image: number): boolean {
	return sessionId.length > 0 && equalBytes(s.sessionId, sessionId) && s.size === size && s.image === image;
}
