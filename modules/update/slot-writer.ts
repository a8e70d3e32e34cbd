/**
 * Writes a stream of bytes into a flash partition from a block boundary on, erasing each block
 * just before its first byte is written (never the whole slot up front), in writes of whole
 * write units. When a block is complete it reports the block's SHA-256, which the journal keeps
 * as that block's checkpoint: after a reset the block is read back and compared, and writing
 * resumes at the first block not known to be complete.
 *
 * Bytes that do not fill a write unit wait in a small carry buffer until the next write or
 * `flush()`, which pads the last unit with the erased value.
 */
import Flash from "sealdrop/native/flash";
import Sha256 from "sealdrop/native/sha256";
import { fail } from "sealdrop/image";

export class SlotWriter {
	readonly #flash: Flash;
	readonly #blockLength: number;
	readonly #align: number;
	readonly #erased: number;
	readonly #size: number;
	readonly #carry: Uint8Array;
	readonly #blockHash = new Sha256();
	readonly #digest = new Uint8Array(32);
	#carried = 0;
	#position: number;   // partition offset of the next byte
	#erasedUpTo: number; // blocks below this offset were erased by this writer
	readonly #erasedFrom: number; // blocks from this offset on were erased before the writer began
	readonly #onBlock: (block: number, digest: Uint8Array) => void;

	/**
	 * @param flash an open partition
	 * @param start where writing starts: a block boundary
	 * @param onBlock called when block `block` is complete, with the SHA-256 of its bytes
	 * @param erasedFrom a block boundary from which the partition is known erased and stays so
	 *   until this writer writes there (the agent erased the trailer's blocks, which the image's
	 *   end may share): those blocks are not erased again
	 */
	constructor(flash: Flash, start: number, onBlock: (block: number, digest: Uint8Array) => void, erasedFrom = flash.status().size) {
		const status = flash.status();
		if (start % status.blockLength) fail("E_USAGE", `slot writing must start on a block boundary, not at ${start}`);
		this.#flash = flash;
		this.#blockLength = status.blockLength;
		this.#align = status.writeAlign;
		this.#erased = status.eraseValue;
		this.#size = status.size;
		this.#carry = new Uint8Array(this.#align);
		this.#position = start;
		this.#erasedUpTo = start;
		this.#erasedFrom = erasedFrom;
		this.#onBlock = onBlock;
	}

	/** Partition offset of the next byte. */
	get position(): number {
		return this.#position;
	}

	/** Writes `length` bytes of `bytes` from `offset` (all of it by default), allocating nothing. */
	write(bytes: Uint8Array, offset = 0, length = bytes.length - offset): void {
		if (this.#position + length > this.#size) fail("E_TOO_LARGE", `writing past the end of the ${this.#size}-byte slot`);
		const end = offset + length;
		let at = offset;
		while (at < end) {
			// never cross a block boundary in one step, so each block is erased and hashed in turn
			const blockEnd = (Math.floor(this.#position / this.#blockLength) + 1) * this.#blockLength;
			const n = Math.min(end - at, blockEnd - this.#position);
			this.#writeInBlock(bytes, at, n);
			at += n;
		}
	}

	/**
	 * Writes the carried bytes, padded to a write unit. The last, partial block is not reported:
	 * only whole blocks are checkpoints, so a resume always rewrites the final block.
	 */
	flush(): void {
		if (this.#carried) {
			this.#carry.fill(this.#erased, this.#carried);
			const unitStart = this.#position - this.#carried;
			this.#eraseAhead(unitStart);
			this.#flash.write(this.#carry, unitStart);
			this.#blockHash.update(this.#carry, 0, this.#carried);
			this.#carried = 0;
		}
		this.#blockHash.reset();
	}

	close(): void {
		this.#blockHash.close();
	}

	#eraseAhead(offset: number): void {
		while (offset >= this.#erasedUpTo) {
			if (this.#erasedUpTo < this.#erasedFrom) this.#flash.eraseBlock(this.#erasedUpTo / this.#blockLength);
			this.#erasedUpTo += this.#blockLength;
		}
	}

	#completeBlock(block: number): void {
		this.#blockHash.digest(this.#digest);
		this.#onBlock(block, this.#digest);
	}

	/** `length` bytes of `bytes` from `offset` lie within one block, starting at #position. */
	#writeInBlock(bytes: Uint8Array, offset: number, length: number): void {
		const align = this.#align;
		const end = offset + length;
		let at = offset;
		if (this.#carried) {
			const n = Math.min(align - this.#carried, length);
			this.#carryIn(bytes, at, n);
			at += n;
			if (this.#carried === align) {
				const unitStart = this.#position + n - align;
				this.#eraseAhead(unitStart);
				this.#flash.write(this.#carry, unitStart);
				this.#blockHash.update(this.#carry);
				this.#carried = 0;
			}
		}
		const whole = Math.floor((end - at) / align) * align;
		if (whole) {
			const unitStart = this.#position + at - offset;
			this.#eraseAhead(unitStart);
			this.#flash.write(bytes, unitStart, at, whole);
			this.#blockHash.update(bytes, at, whole);
			at += whole;
		}
		if (at < end) this.#carryIn(bytes, at, end - at);
		this.#position += length;
		if (this.#position % this.#blockLength === 0 && this.#carried === 0) this.#completeBlock(this.#position / this.#blockLength - 1);
	}

	/** Appends `length` bytes (less than a write unit) to the carry buffer. */
	#carryIn(bytes: Uint8Array, offset: number, length: number): void {
		for (let i = 0; i < length; i++) this.#carry[this.#carried + i] = bytes[offset + i];
		this.#carried += length;
	}
}
