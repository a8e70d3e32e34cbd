/**
 * Streaming image parser: bytes arrive in chunks of any size and come out as
 *   header → data ranges (header fill, body) → protected TLVs → unprotected TLVs → end,
 * then any trailing bytes (slot padding, trailer). Only the 32-byte header and the TLV areas
 * (at most 64 KiB each, usually a few hundred bytes) are buffered; body bytes are passed on as
 * views of the caller's chunk, so memory does not grow with the image.
 *
 * What gets hashed (reference §B.1) is every `data` event of region header, body and protected.
 */
import { fail } from "sealdrop/base/errors";
import { concatBytes, u16 } from "sealdrop/base/bytes";
import { IMAGE_HEADER_SIZE, parseHeader, type ImageHeader } from "./header.js";
import { parseTlvArea, TLV_INFO_SIZE, TLV_PROT_INFO_MAGIC, type Tlv } from "./tlv.js";

export type Region = "header" | "body" | "protected" | "unprotected" | "trailing";

export type ImageEvent =
	| { kind: "header"; header: ImageHeader }
	| { kind: "data"; region: Region; offset: number; bytes: Uint8Array }
	| { kind: "tlvs"; isProtected: boolean; offset: number; tlvs: Tlv[] }
	| { kind: "end"; size: number };

export interface StreamParserOptions {
	/** Refuse images whose header, body and TLVs would exceed this many bytes (the slot size). */
	maxSize?: number;
}

type State = "header" | "fill" | "body" | "protected" | "info" | "unprotected" | "trailing";

export class ImageStreamParser {
	#state: State = "header";
	#offset = 0;            // image offset of the next byte
	#regionEnd = IMAGE_HEADER_SIZE;
	#pending: Uint8Array[] = []; // buffered bytes of the field being collected
	#areaStart = 0;
	#header: ImageHeader | undefined;
	readonly #maxSize: number;

	constructor(options: StreamParserOptions = {}) {
		this.#maxSize = options.maxSize ?? Infinity;
	}

	get header(): ImageHeader | undefined { return this.#header; }
	/** Bytes consumed so far. */
	get offset(): number { return this.#offset; }
	/** True once the unprotected TLV area has been read. */
	get complete(): boolean { return this.#state === "trailing"; }

	/** Body bytes left before the body's end, 0 outside the body. */
	get bodyLeft(): number {
		return this.#state === "body" ? this.#regionEnd - this.#offset : 0;
	}

	/**
	 * Takes `length` body bytes the caller handles itself (hashes and stores), as push() would
	 * have passed them on in one body `data` event: for a device's hot path, where the event list
	 * and its views would be garbage per chunk. The bytes must end before the body does
	 * (length < bodyLeft); the body's last bytes go through push(), which moves on to the TLVs.
	 */
	skipBody(length: number): void {
		if (!(length >= 0 && length < this.bodyLeft)) fail("E_USAGE", `skipBody(${length}) with ${this.bodyLeft} body bytes left`);
		this.#offset += length;
	}

	/** Feeds the next chunk; returns what it completed, in image order. */
	push(chunk: Uint8Array): ImageEvent[] {
		const events: ImageEvent[] = [];
		let at = 0;
		while (at < chunk.length) {
			const take = this.#state === "trailing" ? chunk.length - at : Math.min(chunk.length - at, this.#regionEnd - this.#offset);
			const piece = chunk.subarray(at, at + take);
			at += take;
			const start = this.#offset;
			this.#offset += take;
			switch (this.#state) {
				case "header":
				case "info":
				case "protected":
				case "unprotected":
					this.#pending.push(piece.slice()); // own copy now: the caller may reuse its chunk buffer before the field is complete
					break;
				case "fill":
					events.push({ kind: "data", region: "header", offset: start, bytes: piece });
					break;
				case "body":
					events.push({ kind: "data", region: "body", offset: start, bytes: piece });
					break;
				case "trailing":
					events.push({ kind: "data", region: "trailing", offset: start, bytes: piece });
					break;
			}
			if (this.#offset === this.#regionEnd && this.#state !== "trailing") this.#advance(events);
		}
		return events;
	}

	/** Declares the input finished; throws E_TRUNCATED naming the region that was cut short. */
	finish(): void {
		if (this.#state === "trailing") return;
		const where: Record<State, string> = {
			header: "the header", fill: "the header fill", body: "the body", protected: "the protected TLV area",
			info: "the TLV area header", unprotected: "the TLV area", trailing: "",
		};
		fail("E_TRUNCATED", `image truncated in ${where[this.#state]} at offset ${this.#offset} (${this.#regionEnd - this.#offset} more bytes expected)`);
	}

	#takePending(): Uint8Array {
		const bytes = this.#pending.length === 1 ? this.#pending[0] : concatBytes(this.#pending); // pieces are own copies already
		this.#pending = [];
		return bytes;
	}

	/** The current region is complete: emit what it produced and move to the next. */
	#advance(events: ImageEvent[]): void {
		switch (this.#state) {
			case "header": {
				const bytes = this.#takePending();
				const header = parseHeader(bytes);
				const size = header.hdrSize + header.imgSize + header.protectTlvSize + TLV_INFO_SIZE;
				if (size > this.#maxSize) fail("E_TOO_LARGE", `image of at least ${size} bytes does not fit the slot of ${this.#maxSize} bytes`);
				this.#header = header;
				events.push({ kind: "header", header });
				events.push({ kind: "data", region: "header", offset: 0, bytes });
				this.#enter("fill", header.hdrSize, events);
				break;
			}
			case "fill":
				this.#enter("body", this.#offset + this.#header!.imgSize, events);
				break;
			case "body":
				this.#areaStart = this.#offset;
				this.#enter("info", this.#offset + TLV_INFO_SIZE, events);
				break;
			case "info": {
				const info = this.#pending.length === 1 ? this.#pending[0] : concatBytes(this.#pending);
				const magic = u16(info, 0);
				const total = u16(info, 2);
				const protectedSize = this.#header!.protectTlvSize;
				const isProtected = magic === TLV_PROT_INFO_MAGIC && this.#areaStart === this.#header!.hdrSize + this.#header!.imgSize;
				if (isProtected && total !== protectedSize)
					fail("E_PROT_SIZE", `protected TLV area is ${total} bytes but the header says ${protectedSize}`);
				if (!isProtected && protectedSize !== 0 && this.#areaStart === this.#header!.hdrSize + this.#header!.imgSize)
					fail("E_PROT_SIZE", `header announces a ${protectedSize}-byte protected TLV area, but none follows the body`);
				// the info header is parsed for real (magic, size) once the whole area is in
				const end = this.#areaStart + Math.max(total, TLV_INFO_SIZE);
				if (end > this.#maxSize) fail("E_TOO_LARGE", `image of at least ${end} bytes does not fit the slot of ${this.#maxSize} bytes`);
				this.#state = isProtected ? "protected" : "unprotected";
				this.#regionEnd = end;
				if (this.#offset === end) this.#advance(events);
				break;
			}
			case "protected":
			case "unprotected": {
				const isProtected = this.#state === "protected";
				const area = this.#takePending();
				const tlvs = parseTlvArea(area, this.#areaStart, isProtected);
				events.push({ kind: "data", region: isProtected ? "protected" : "unprotected", offset: this.#areaStart, bytes: area });
				events.push({ kind: "tlvs", isProtected, offset: this.#areaStart, tlvs });
				if (isProtected) {
					this.#areaStart = this.#offset;
					this.#enter("info", this.#offset + TLV_INFO_SIZE, events);
				} else {
					this.#state = "trailing";
					events.push({ kind: "end", size: this.#offset });
				}
				break;
			}
		}
	}

	#enter(state: State, end: number, events: ImageEvent[]): void {
		this.#state = state;
		this.#regionEnd = end;
		if (this.#offset === end) this.#advance(events); // empty region (no header fill, empty body)
	}
}
