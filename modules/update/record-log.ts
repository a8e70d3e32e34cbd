/**
 * A power-safe log of small records in a flash partition of two or more erase blocks: the agent's
 * resume journal and its persistent counters live in one each.
 *
 * Flash discipline (each write justified by what a power cut at that point leaves):
 * - Records are appended after the last programmed byte of the active block, each in one write
 *   of whole write units. A cut tears at most the record being written; its CRC then fails and
 *   reading skips it, so a record is either wholly there or not there.
 * - When the active block is full, the live records (the owner's `snapshot()`) are copied to the
 *   next block, and only then is that block's header written: the header commits the block. A
 *   cut before the header leaves the old block active and complete; after it, the new one.
 * - Blocks are erased only right before they are reused, never the active one.
 *
 * Record: magic "SR" (2), type (1), ~type (1), payload length (2, LE), payload, CRC-32 (4, LE)
 * over everything before it, then erased padding to the write unit. A block's first record is
 * its header (type 0) holding a 32-bit generation; the block with the highest is active.
 */
import Flash from "sealdrop/native/flash";
import { alignUp, fail, putU16, putU32, u16, u32 } from "sealdrop/image";
import { crc32 } from "./crc32.js";

const MAGIC = 0x5253; // "SR" little-endian
const HEADER = 6;
const CRC = 4;
const BLOCK_HEADER_TYPE = 0;
const WINDOW = 256;

export interface LogRecord {
	type: number;
	payload: Uint8Array;
}

export class RecordLog {
	readonly #flash: Flash;
	readonly #blockLength: number;
	readonly #blocks: number;
	readonly #align: number;
	readonly #erased: number;
	/** Flash is read through this small window: a log's memory does not grow with its erase blocks (128 KiB on STM32F4). */
	readonly #window = new Uint8Array(WINDOW);
	#active = -1;       // index of the active block, -1 when the log is empty
	#generation = 0;
	#append = 0;        // offset in the active block where the next record goes
	#loaded: LogRecord[] | undefined = [];
	#empty = true;      // whether the active block holds no record besides its header

	/** Opens the log in `partition` and reads its records. */
	constructor(partition: string) {
		try {
			this.#flash = Flash.open({ path: partition });
		} catch (e) {
			fail("E_FLASH", `cannot open the log partition "${partition}": ${(e as Error).message}`);
		}
		const status = this.#flash.status();
		if (status.blocks < 2) fail("E_FLASH", `partition "${partition}" needs at least two erase blocks for a power-safe log`);
		this.#blockLength = status.blockLength;
		this.#blocks = status.blocks;
		this.#align = status.writeAlign;
		this.#erased = status.eraseValue;
		this.#load();
	}

	/**
	 * The valid records found when the log was opened, oldest first. The owner keeps what it needs
	 * in its own form: the log hands them over once and keeps no copy, so its memory stays flat
	 * however many records are appended.
	 */
	takeRecords(): LogRecord[] {
		const records = this.#loaded ?? fail("E_USAGE", "the log's records were already taken");
		this.#loaded = undefined;
		return records;
	}

	/** Whether the log holds no record (a reset with nothing to keep is then a no-op). */
	get empty(): boolean {
		return this.#empty;
	}

	/** The largest payload one record can hold. */
	get maxPayload(): number {
		return this.#blockLength - this.#recordSize(4) - HEADER - CRC - this.#align;
	}

	/**
	 * Appends a record. When the active block has no room, `snapshot()` gives the records that
	 * must survive (the new one excluded), which move to a fresh block first.
	 */
	append(type: number, payload: Uint8Array, snapshot: () => LogRecord[]): void {
		if (type === BLOCK_HEADER_TYPE || type > 0xff) fail("E_USAGE", `record type ${type} is reserved`);
		if (payload.length > this.maxPayload) fail("E_TOO_LARGE", `a ${payload.length}-byte record does not fit a ${this.#blockLength}-byte journal block`);
		if (this.#active < 0 || this.#append + this.#recordSize(payload.length) > this.#blockLength) this.#rotate(snapshot());
		this.#write(this.#append, type, payload);
		this.#append += this.#recordSize(payload.length);
		this.#empty = false;
	}

	/** Starts over with only `records` (an empty list forgets everything). */
	reset(records: LogRecord[]): void {
		this.#rotate(records);
	}

	close(): void {
		this.#flash.close();
	}

	#recordSize(payloadLength: number): number {
		return alignUp(HEADER + payloadLength + CRC, this.#align);
	}

	#encode(type: number, payload: Uint8Array): Uint8Array {
		const bytes = new Uint8Array(this.#recordSize(payload.length)).fill(this.#erased);
		putU16(bytes, 0, MAGIC);
		bytes[2] = type;
		bytes[3] = ~type & 0xff;
		putU16(bytes, 4, payload.length);
		bytes.set(payload, HEADER);
		putU32(bytes, HEADER + payload.length, crc32(bytes.subarray(0, HEADER + payload.length)));
		return bytes;
	}

	#write(offset: number, type: number, payload: Uint8Array): void {
		this.#flash.write(this.#encode(type, payload), this.#active * this.#blockLength + offset);
	}

	#readAt(block: number, offset: number, into: Uint8Array): void {
		this.#flash.read(into, block * this.#blockLength + offset);
	}

	/**
	 * A valid record at `at` of `block`: its type, payload and size; else undefined. The CRC is
	 * computed a window at a time, so a torn length field cannot make the log allocate.
	 */
	#parse(block: number, at: number): { type: number; payload: Uint8Array; size: number } | undefined {
		if (at + HEADER + CRC > this.#blockLength) return undefined;
		const head = this.#window.subarray(0, HEADER);
		this.#readAt(block, at, head);
		if (u16(head, 0) !== MAGIC || head[3] !== (~head[2] & 0xff)) return undefined;
		const type = head[2];
		const length = u16(head, 4);
		if (at + HEADER + length + CRC > this.#blockLength) return undefined;
		let crc = crc32(head);
		for (let done = 0; done < length;) {
			const piece = this.#window.subarray(0, Math.min(WINDOW, length - done));
			this.#readAt(block, at + HEADER + done, piece);
			crc = crc32(piece, crc);
			done += piece.length;
		}
		const stored = this.#window.subarray(0, CRC);
		this.#readAt(block, at + HEADER + length, stored);
		if (u32(stored, 0) !== crc) return undefined;
		const payload = new Uint8Array(length);
		this.#readAt(block, at + HEADER, payload);
		return { type, payload, size: this.#recordSize(length) };
	}

	/** How many erased bytes follow `at` in `block` (up to the block's end). */
	#erasedRun(block: number, at: number): number {
		let run = 0;
		while (at + run < this.#blockLength) {
			const piece = this.#window.subarray(0, Math.min(WINDOW, this.#blockLength - at - run));
			this.#readAt(block, at + run, piece);
			const firstWritten = piece.findIndex((b) => b !== this.#erased);
			if (firstWritten >= 0) return run + firstWritten;
			run += piece.length;
		}
		return run;
	}

	#load(): void {
		let best = -1;
		let bestGeneration = 0;
		for (let i = 0; i < this.#blocks; i++) {
			const header = this.#parse(i, 0);
			if (!header || header.type !== BLOCK_HEADER_TYPE || header.payload.length !== 4) continue;
			const generation = u32(header.payload, 0);
			if (best < 0 || generation > bestGeneration) {
				best = i;
				bestGeneration = generation;
			}
		}
		if (best < 0) return;
		this.#active = best;
		this.#generation = bestGeneration;
		let at = this.#recordSize(4);
		let end = at;
		while (at < this.#blockLength) {
			const record = this.#parse(best, at);
			if (record) {
				this.#loaded!.push({ type: record.type, payload: record.payload });
				this.#empty = false;
				at += record.size;
				end = at;
				continue;
			}
			// Erased space is skipped whole units at a time; a torn record is stepped over one write
			// unit at a time, so records appended after it (after the next reset) are still found.
			const erased = Math.floor(this.#erasedRun(best, at) / this.#align) * this.#align;
			if (erased) {
				at += erased;
				continue;
			}
			end = at + this.#align;
			at += this.#align;
		}
		this.#append = end;
	}

	#rotate(records: LogRecord[]): void {
		const next = (this.#active + 1) % this.#blocks;
		const generation = this.#active < 0 ? 1 : this.#generation + 1;
		this.#flash.eraseBlock(next);
		const previous = this.#active;
		this.#active = next;
		let at = this.#recordSize(4);
		for (const record of records) {
			if (at + this.#recordSize(record.payload.length) > this.#blockLength) {
				this.#active = previous;
				fail("E_TOO_LARGE", "the journal's live records no longer fit one erase block");
			}
			this.#write(at, record.type, record.payload);
			at += this.#recordSize(record.payload.length);
		}
		const header = new Uint8Array(4);
		putU32(header, 0, generation);
		this.#write(0, BLOCK_HEADER_TYPE, header); // commits the block
		this.#generation = generation;
		this.#append = at;
		this.#empty = records.length === 0;
	}
}
