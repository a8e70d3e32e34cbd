/**
 * A power-safe log of small records in a flash partition of two or more erase blocks. Several
 * owners may share one partition (the resume journal, the security counters and the device key's
 * records, on a board whose flash has too few erase blocks for a log each): each owner claims its
 * record types, and the log keeps the records of every type when it moves to a fresh block.
 *
 * Flash discipline (each write justified by what a power cut at that point leaves):
 * - Records are appended after the last programmed byte of the active block, each in one write
 *   of whole write units. A cut tears at most the record being written; its CRC then fails and
 *   reading skips it, so a record is either wholly there or not there.
 * - When the active block is full, the live records move to the next block, and only then is
 *   that block's header written: the header commits the block. A cut before the header leaves
 *   the old block active and complete; after it, the new one. The live records are each open
 *   owner's `snapshot()`, and the old block's records of types no open owner claims, copied as
 *   they are (another program's records are never lost because it is not running).
 * - Blocks are erased only right before they are reused, never the active one.
 *
 * Record: magic "SR" (2), type (1), ~type (1), payload length (2, LE), payload, CRC-32 (4, LE)
 * over everything before it, then erased padding to the write unit. A block's first record is
 * its header (type 0) holding a 32-bit generation; the block with the highest is active.
 */
import Flash from "sealdrop/native/flash";
import { alignUp, putU16, putU32, u16, u32 } from "./bytes.js";
import { crc32 } from "./crc32.js";
import { fail } from "./errors.js";

const MAGIC = 0x5253; // "SR" little-endian
const HEADER = 6;
const CRC = 4;
const BLOCK_HEADER_TYPE = 0;
const WINDOW = 256;
/** Records with payloads up to this size are encoded in a buffer the log keeps (a journal BLOCK record is 20). */
const SMALL_PAYLOAD = 64;

export interface LogRecord {
	type: number;
	payload: Uint8Array;
}

/** One owner of record types in a log partition. */
export interface LogOwner {
	/** The record types it reads and writes; no two open owners of a partition share one. */
	readonly types: readonly number[];
	/**
	 * Hands `keep` its records that must survive a move to a fresh block, oldest first. Called
	 * before an append takes effect, so the record being appended is left out (it supersedes what
	 * it replaces). A visitor, not a list: a move comes in an install's steady state, and lists of
	 * records would be its garbage.
	 */
	snapshot(keep: (type: number, payload: Uint8Array) => void): void;
}

/** The partitions open as logs, so owners of one partition share its block state. */
const openLogs = new Map<string, LogBlocks>();

/** One owner's view of a log partition. */
export class RecordLog {
	readonly #blocks: LogBlocks;
	readonly #owner: LogOwner;
	#records: LogRecord[] | undefined;
	#empty: boolean;

	/** Opens the log in `partition` for `owner` and reads the owner's records. */
	constructor(partition: string, owner: LogOwner) {
		for (const type of owner.types) if (type === BLOCK_HEADER_TYPE || !Number.isInteger(type) || type < 0 || type > 0xff) fail("E_USAGE", `record type ${type} is reserved`);
		let blocks = openLogs.get(partition);
		if (!blocks) {
			blocks = new LogBlocks(partition);
			openLogs.set(partition, blocks);
		}
		try {
			blocks.attach(owner);
		} catch (e) {
			if (blocks.owners.length === 0) blocks.close(); // (it opened for this owner alone)
			throw e;
		}
		this.#blocks = blocks;
		this.#owner = owner;
		this.#records = blocks.recordsOf(owner.types);
		this.#empty = this.#records.length === 0;
	}

	/**
	 * The owner's valid records found when the log was opened, oldest first. The owner keeps what
	 * it needs in its own form: the log hands them over once and keeps no copy, so its memory stays
	 * flat however many records are appended.
	 */
	takeRecords(): LogRecord[] {
		const records = this.#records ?? fail("E_USAGE", "the log's records were already taken");
		this.#records = undefined;
		return records;
	}

	/** Whether the log holds none of the owner's records (a reset with nothing to keep is then a no-op). */
	get empty(): boolean {
		return this.#empty;
	}

	/** The largest payload one record can hold. */
	get maxPayload(): number {
		return this.#blocks.maxPayload;
	}

	/** Appends a record of one of the owner's types, moving the live records to a fresh block first when the active one is full. */
	append(type: number, payload: Uint8Array): void {
		if (!this.#owner.types.includes(type)) fail("E_USAGE", `record type ${type} belongs to another owner of the log`);
		this.#blocks.append(type, payload);
		this.#empty = false;
	}

	/** Starts the owner's records over with only `records` (an empty list forgets them all); other owners' records stay. */
	reset(records: LogRecord[]): void {
		this.#blocks.rotate(this.#owner, records);
		this.#empty = records.length === 0;
	}

	close(): void {
		this.#blocks.detach(this.#owner);
	}
}

/** The blocks of one log partition, shared by its open owners. */
class LogBlocks {
	/** The open owners (an array: iterating a Set allocates an iterator, at each move). */
	readonly owners: LogOwner[] = [];
	readonly #partition: string;
	readonly #flash: Flash;
	readonly #blockLength: number;
	readonly #blocks: number;
	readonly #align: number;
	readonly #erased: number;
	/** Flash is read through this small window: a log's memory does not grow with its erase blocks (128 KiB on STM32F4). */
	readonly #window = new Uint8Array(WINDOW);
	/** Small records are encoded here, so appending one allocates nothing. */
	readonly #small: Uint8Array;
	/**
	 * The largest record encoded so far, kept for the next large one: the journal's session record
	 * (header and TLV areas, ~800 bytes) is rewritten at every move to a fresh block.
	 */
	#large: Uint8Array | undefined;
	/** A block header's payload (its generation), and the record types a move wrote (a flag per type): kept for each move. */
	readonly #header = new Uint8Array(4);
	readonly #typesMoved = new Uint8Array(256);
	/** Where a move writes its next live record (#moveRoom's state), and the block it fills. */
	#moveAt = 0;
	#moveBlock = 0;
	/** Writes one live record of a move: the `keep` owners' snapshots are given, bound once. */
	readonly #keep = (type: number, payload: Uint8Array): void => {
		this.#writeIn(this.#moveBlock, this.#moveRoom(type, this.#recordSize(payload.length)), type, payload);
	};
	#active = -1;       // index of the active block, -1 when the log is empty
	#generation = 0;
	#append = 0;        // offset in the active block where the next record goes
	/** The record types the active block holds (a flag per type): a move or an owner's open skips reading it when none concern them. */
	readonly #typesPresent = new Uint8Array(256);

	constructor(partition: string) {
		try {
			this.#flash = Flash.open({ path: partition });
		} catch (e) {
			fail("E_FLASH", `cannot open the log partition "${partition}": ${(e as Error).message}`);
		}
		const status = this.#flash.status();
		this.#partition = partition;
		this.#blockLength = status.blockLength;
		this.#blocks = status.blocks;
		this.#align = status.writeAlign;
		this.#erased = status.eraseValue;
		this.#small = new Uint8Array(this.#recordSize(SMALL_PAYLOAD));
		if (WINDOW % this.#align) {
			this.#flash.close();
			fail("E_FLASH", `partition "${partition}" writes in units of ${this.#align} bytes, which do not divide the log's ${WINDOW}-byte window`);
		}
		if (status.blocks < 2) {
			this.#flash.close();
			fail("E_FLASH", `partition "${partition}" needs at least two erase blocks for a power-safe log`);
		}
		this.#findActive();
	}

	get maxPayload(): number {
		return this.#blockLength - this.#recordSize(4) - HEADER - CRC - this.#align;
	}

	attach(owner: LogOwner): void {
		for (const other of this.owners) {
			const shared = owner.types.find((type) => other.types.includes(type));
			if (shared !== undefined) fail("E_STATE", `record type ${shared} of log "${this.#partition}" is already open (one owner per record type at a time)`);
		}
		this.owners.push(owner);
	}

	detach(owner: LogOwner): void {
		const at = this.owners.indexOf(owner);
		if (at < 0) return; // closed twice
		this.owners.splice(at, 1);
		if (this.owners.length === 0) this.close();
	}

	close(): void {
		if (openLogs.get(this.#partition) === this) openLogs.delete(this.#partition);
		this.#flash.close();
	}

	/** The valid records of `types` in the active block, oldest first. */
	recordsOf(types: readonly number[]): LogRecord[] {
		const records: LogRecord[] = [];
		if (types.some((type) => this.#typesPresent[type])) this.#scan(this.#active, (type, at, length) => {
			if (types.includes(type)) records.push({ type, payload: this.#payload(this.#active, at, length) });
		});
		return records;
	}

	append(type: number, payload: Uint8Array): void {
		if (payload.length > this.maxPayload) fail("E_TOO_LARGE", `a ${payload.length}-byte record does not fit a ${this.#blockLength}-byte log block`);
		const size = this.#recordSize(payload.length);
		if (this.#active < 0 || this.#append + size > this.#blockLength) this.rotate();
		this.#writeIn(this.#active, this.#append, type, payload);
		this.#append += size;
		this.#typesPresent[type] = 1;
	}

	/**
	 * Moves the live records to the next block and commits it. `replacing`'s records are `records`
	 * instead of its snapshot (a reset).
	 */
	rotate(replacing?: LogOwner, records?: LogRecord[]): void {
		// (no closures or spread copies here: a move comes every hundred or so records of an
		// install's journal, and what it allocates is garbage of the install's steady state)
		const previous = this.#active;
		const next = (previous + 1) % this.#blocks;
		const generation = previous < 0 ? 1 : this.#generation + 1;
		let unclaimed = false;
		for (let type = 1; type < 256; type++) if (this.#typesPresent[type] && !this.#claimed(type)) unclaimed = true;
		this.#flash.eraseBlock(next);
		this.#moveBlock = next;
		this.#moveAt = this.#recordSize(4);
		this.#typesMoved.fill(0);
		if (unclaimed) this.#keepUnclaimed(previous);
		for (let i = 0; i < this.owners.length; i++) {
			const owner = this.owners[i];
			if (owner === replacing) for (const record of records ?? []) this.#keep(record.type, record.payload);
			else owner.snapshot(this.#keep);
		}
		putU32(this.#header, 0, generation);
		this.#writeIn(next, 0, BLOCK_HEADER_TYPE, this.#header); // commits the block
		this.#active = next;
		this.#generation = generation;
		this.#append = this.#moveAt;
		this.#typesPresent.set(this.#typesMoved);
	}

	/**
	 * A move's records of types no open owner claims, copied from `previous` byte for byte (a
	 * record holds no address: its CRC covers its header and payload) through #window. Where the
	 * log shares a partition, the owners that are not open during an install (the device key's
	 * lock on STM32F4DISCOVERY) are carried at every move of the install's journal: nothing here
	 * allocates. (Not a closure in rotate(): XS gives a function's variables that an inner
	 * function captures a slot each on every call, whether or not the inner function is made.)
	 */
	#keepUnclaimed(previous: number): void {
		this.#copyFrom = previous;
		this.#scan(previous, this.#copyUnclaimed);
	}

	/** The block #copyUnclaimed copies from. */
	#copyFrom = 0;
	/** #keepUnclaimed's visitor, made once. */
	readonly #copyUnclaimed = (type: number, at: number, length: number): void => {
		if (this.#claimed(type)) return;
		const size = this.#recordSize(length);
		const from = this.#copyFrom * this.#blockLength + at, to = this.#moveBlock * this.#blockLength + this.#moveRoom(type, size);
		for (let done = 0; done < size; done += WINDOW) {
			const piece = Math.min(WINDOW, size - done); // sizes and WINDOW are multiples of the write alignment
			this.#flash.read(this.#window, from + done, 0, piece);
			this.#flash.write(this.#window, to + done, 0, piece);
		}
	};

	/**
	 * Room for a `size`-byte record of `type` in the block a move fills: where it goes. Refuses a
	 * move whose live records no longer fit one erase block.
	 */
	#moveRoom(type: number, size: number): number {
		const at = this.#moveAt;
		if (at + size > this.#blockLength) fail("E_TOO_LARGE", `the live records of log "${this.#partition}" no longer fit one erase block`);
		this.#moveAt = at + size;
		this.#typesMoved[type] = 1;
		return at;
	}

	/** Whether an open owner claims records of `type`. */
	#claimed(type: number): boolean {
		for (let i = 0; i < this.owners.length; i++) if (this.owners[i].types.includes(type)) return true;
		return false;
	}

	#recordSize(payloadLength: number): number {
		return alignUp(HEADER + payloadLength + CRC, this.#align);
	}

	/** The record's `size` bytes (its first ones, in #small when they fit). */
	#encode(type: number, payload: Uint8Array, size: number): Uint8Array {
		let bytes = this.#small;
		if (size > bytes.length) {
			if (!this.#large || this.#large.length < size) this.#large = new Uint8Array(size);
			bytes = this.#large;
		}
		bytes.fill(this.#erased, 0, size);
		putU16(bytes, 0, MAGIC);
		bytes[2] = type;
		bytes[3] = ~type & 0xff;
		putU16(bytes, 4, payload.length);
		bytes.set(payload, HEADER);
		putU32(bytes, HEADER + payload.length, crc32(bytes, 0, 0, HEADER + payload.length));
		return bytes;
	}

	#writeIn(block: number, offset: number, type: number, payload: Uint8Array): void {
		const size = this.#recordSize(payload.length);
		this.#flash.write(this.#encode(type, payload, size), block * this.#blockLength + offset, 0, size);
	}

	/** Reads into `into` (`length` bytes of it from `from`, all of it by default). */
	#readAt(block: number, offset: number, into: Uint8Array, from = 0, length = into.length - from): void {
		this.#flash.read(into, block * this.#blockLength + offset, from, length);
	}

	#payload(block: number, at: number, length: number): Uint8Array {
		const payload = new Uint8Array(length);
		this.#readAt(block, at + HEADER, payload);
		return payload;
	}

	/** The type and payload length of the record #parse found last. */
	#parsedType = 0;
	#parsedLength = 0;

	/**
	 * Whether a valid record is at `at` of `block` (its type and payload length then in #parsedType
	 * and #parsedLength). The CRC is computed a window at a time, so a torn length field cannot
	 * make the log allocate; and nothing else does (a scan visits every record of a block).
	 */
	#parse(block: number, at: number): boolean {
		if (at + HEADER + CRC > this.#blockLength) return false;
		const window = this.#window;
		this.#readAt(block, at, window, 0, HEADER);
		if (u16(window, 0) !== MAGIC || window[3] !== (~window[2] & 0xff)) return false;
		const type = window[2];
		const length = u16(window, 4);
		if (at + HEADER + length + CRC > this.#blockLength) return false;
		let crc = crc32(window, 0, 0, HEADER);
		for (let done = 0; done < length;) {
			const piece = Math.min(WINDOW, length - done);
			this.#readAt(block, at + HEADER + done, window, 0, piece);
			crc = crc32(window, crc, 0, piece);
			done += piece;
		}
		this.#readAt(block, at + HEADER + length, window, 0, CRC);
		if (u32(window, 0) !== crc) return false;
		this.#parsedType = type;
		this.#parsedLength = length;
		return true;
	}

	/** How many erased bytes follow `at` in `block` (up to the block's end). */
	#erasedRun(block: number, at: number): number {
		const window = this.#window;
		let run = 0;
		while (at + run < this.#blockLength) {
			const piece = Math.min(WINDOW, this.#blockLength - at - run);
			this.#readAt(block, at + run, window, 0, piece);
			for (let i = 0; i < piece; i++) if (window[i] !== this.#erased) return run + i;
			run += piece;
		}
		return run;
	}

	/**
	 * Visits the valid records of `block` after its header, oldest first; returns the offset after
	 * the last programmed byte (where the next record goes).
	 */
	#scan(block: number, visit?: (type: number, at: number, length: number) => void): number {
		let at = this.#recordSize(4);
		let end = at;
		while (at < this.#blockLength) {
			if (this.#parse(block, at)) {
				const length = this.#parsedLength;
				visit?.(this.#parsedType, at, length);
				at += this.#recordSize(length);
				end = at;
				continue;
			}
			// Erased space is skipped whole units at a time; a torn record is stepped over one write
			// unit at a time, so records appended after it (after the next reset) are still found.
			const erased = Math.floor(this.#erasedRun(block, at) / this.#align) * this.#align;
			if (erased) {
				at += erased;
				continue;
			}
			end = at + this.#align;
			at += this.#align;
		}
		return end;
	}

	#findActive(): void {
		for (let i = 0; i < this.#blocks; i++) {
			if (!this.#parse(i, 0) || this.#parsedType !== BLOCK_HEADER_TYPE || this.#parsedLength !== 4) continue;
			const generation = u32(this.#payload(i, 0, 4), 0);
			if (this.#active < 0 || generation > this.#generation) {
				this.#active = i;
				this.#generation = generation;
			}
		}
		if (this.#active >= 0) this.#append = this.#scan(this.#active, (type) => {
			this.#typesPresent[type] = 1;
		});
	}
}
