/**
 * `sealdrop/native/flash` with counters, for the counting run of `npm run bench:install` only:
 * bench/install.ts gives that run a module map (`sealdrop-xs --map`) in which
 * "sealdrop/native/flash" is this module and "sealdrop-bench/native-flash" the real one, so the
 * agent, its journal and its counters run unchanged and every write and erase they make is
 * counted per partition. (The native module's own `Flash.operations` counts writes and erases
 * together; the benchmark checks that the two totals agree.) The timed and heap runs use the
 * real module directly.
 */
import NativeFlash, { type FlashBuffer, type FlashOptions, type FlashStatus } from "sealdrop-bench/native-flash";

export interface PartitionCounts {
	/** eraseBlock() calls, and the blocks they erased. */
	erases: number;
	erasedBlocks: number;
	/** write() calls, and the bytes they programmed. */
	writes: number;
	writtenBytes: number;
	/** The blocks erased, each once (for what larger erase sectors would make of the same erases). */
	blocksErased: number[];
}

/** Counts by partition name since the process started (or the last reset). */
export const counts = new Map<string, PartitionCounts>();

export function resetCounts(): void {
	counts.clear();
}

const OPEN = Symbol("open");

export default class Flash {
	readonly #flash: NativeFlash;
	readonly #path: string;

	constructor(flash: NativeFlash, path: string, key: symbol) {
		if (key !== OPEN) throw new TypeError("use Flash.open(options)");
		this.#flash = flash;
		this.#path = path;
	}

	static open(options: FlashOptions): Flash {
		return new Flash(NativeFlash.open(options), options.path, OPEN);
	}

	static get operations(): number {
		return NativeFlash.operations;
	}

	get format(): "buffer" {
		return this.#flash.format;
	}

	set format(value: "buffer") {
		this.#flash.format = value;
	}

	read(byteLength: number, byteOffset: number): ArrayBuffer;
	read(buffer: FlashBuffer, byteOffset: number, bufferOffset?: number, length?: number): number;
	read(what: number | FlashBuffer, byteOffset: number, bufferOffset?: number, length?: number): ArrayBuffer | number {
		return typeof what === "number" ? this.#flash.read(what, byteOffset) : this.#flash.read(what, byteOffset, bufferOffset, length);
	}

	write(buffer: FlashBuffer, byteOffset: number, bufferOffset = 0, length = buffer.byteLength - bufferOffset): void {
		this.#flash.write(buffer, byteOffset, bufferOffset, length);
		const c = this.#counts();
		c.writes++;
		c.writtenBytes += length;
	}

	eraseBlock(start: number, end = start + 1): void {
		this.#flash.eraseBlock(start, end);
		const c = this.#counts();
		c.erases++;
		c.erasedBlocks += end - start;
		for (let block = start; block < end; block++) if (!c.blocksErased.includes(block)) c.blocksErased.push(block);
	}

	status(): FlashStatus {
		return this.#flash.status();
	}

	close(): void {
		this.#flash.close();
	}

	#counts(): PartitionCounts {
		let c = counts.get(this.#path);
		if (!c) counts.set(this.#path, c = { erases: 0, erasedBlocks: 0, writes: 0, writtenBytes: 0, blocksErased: [] });
		return c;
	}
}
