declare module "sealdrop/native/flash" {
	/** What `Flash.open()` takes (ECMA-419 `embedded:storage/flash`). */
	export interface FlashOptions {
		/** The partition's name, e.g. "primary", "secondary", "scratch", "journal", "storage". */
		path: string;
		/** "r+" (default) reads and writes; "r" makes write() and eraseBlock() throw. */
		mode?: "r" | "r+";
	}

	export interface FlashStatus {
		/** Bytes in the partition: blocks × blockLength. */
		size: number;
		/** Bytes per erase block. */
		blockLength: number;
		blocks: number;
		/** write() offsets and lengths must be multiples of this. */
		writeAlign: number;
		/** What every byte of a block reads after eraseBlock() (0xFF on NOR flash). */
		eraseValue: number;
	}

	/** Bytes for write(), or to read() into: an ArrayBuffer, an 8-bit typed array or a DataView. */
	export type FlashBuffer = ArrayBuffer | Uint8Array | Int8Array | Uint8ClampedArray | DataView;

	/**
	 * One flash partition, in the shape of ECMA-419's `embedded:storage/flash`, with NOR rules: an
	 * erase sets a block to eraseValue, a write may only move bits away from their erased state
	 * (1 → 0 with 0xFF). Offsets are relative to the partition's start.
	 *
	 * Errors (thrown, never a crash): TypeError for a wrong argument type, RangeError for an
	 * out-of-range, fractional, negative or misaligned value or an empty erase range, Error with
	 * `code` "E_STATE" for a closed or read-only handle and "E_FLASH" for a failed operation
	 * ("write needs an erase ...", "power cut ...").
	 *
	 * Linux host (native/lin/flash-lin.c): the whole flash is ONE file, `SEALDROP_FLASH` (created
	 * erased when missing), laid out by the board layout JSON `SEALDROP_LAYOUT` (e.g.
	 * boards/sim/layout.json), both read at the first open. The host refuses a write over programmed
	 * bits; real NOR flash ANDs silently, so code must erase before it writes either way.
	 * `SEALDROP_FLASH_FAIL_AT=k` makes the k-th write/erase operation of the process, and all later
	 * ones, fail with "power cut" before changing anything.
	 */
	export default class Flash {
		/** Throws TypeError: use Flash.open(). */
		private constructor();
		/** Opens a partition by name; throws if there is no such partition. */
		static open(options: FlashOptions): Flash;
		/**
		 * Write and erase operations that reached the flash backend since the process started, across
		 * all partitions, failed ones included (one per write() or eraseBlock() call, whatever its
		 * length; zero-length writes and calls refused for bounds or alignment do not count). For
		 * fault-injection tests: SEALDROP_FLASH_FAIL_AT counts the same operations.
		 */
		static readonly operations: number;
		/** Always "buffer"; setting anything else throws RangeError. */
		format: "buffer";
		/** `byteLength` bytes from `byteOffset`, in a new ArrayBuffer. */
		read(byteLength: number, byteOffset: number): ArrayBuffer;
		/**
		 * Fills `buffer` from `byteOffset` without allocating (`length` bytes of it from `bufferOffset`
		 * when given, as write() takes them); returns the number of bytes read.
		 */
		read(buffer: FlashBuffer, byteOffset: number, bufferOffset?: number, length?: number): number;
		/**
		 * Programs `buffer` at `byteOffset` (`length` bytes of it from `bufferOffset` when given,
		 * where a subarray view would cost an allocation: an extension of ECMA-419's write); both
		 * byteOffset and the length programmed must be multiples of writeAlign.
		 */
		write(buffer: FlashBuffer, byteOffset: number, bufferOffset?: number, length?: number): void;
		/** Erases blocks `start` up to, not including, `end` (default start + 1): block indices, not bytes. */
		eraseBlock(start: number, end?: number): void;
		status(): FlashStatus;
		/** Releases the handle; later calls throw, close() again does nothing. */
		close(): void;
	}
}
