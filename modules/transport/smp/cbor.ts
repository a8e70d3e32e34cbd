/**
 * The CBOR (RFC 8949) that SMP bodies use, decode and encode, as device code.
 *
 * Our own codec rather than a library: the pure-ESM candidates on npm do not fit a device
 * agent. cborg (6.x, the best kept) is about 210 KB of source over 25 modules, has no limit on
 * nesting (a 1.5 KB datagram of `[[[[…` recurses 1500 deep on a 4 KB XS stack) and turns 64-bit
 * integers into BigInt; the small ones (tiny-cbor) lack indefinite lengths, which older Android
 * clients send (smp-protocol.md §10). SMP needs a small subset, so this is that subset with strict
 * limits, checked on XS by test/xs/smp-server.test.ts and fuzzed by `npm run fuzz:smp`.
 *
 * Decodes: unsigned and negative integers (up to 2^53, else refused), byte and text strings,
 * arrays and maps, definite and indefinite (smp-protocol.md §11.6), booleans, null, undefined,
 * floats (half, single, double), and tags (the tag is dropped, the value kept). Map keys must be
 * text (SMP's are); a repeated key is refused. Encodes definite lengths only.
 */
import { concatBytes } from "sealdrop/image";

export class CborError extends Error {
	override name = "CborError";
}

export type CborValue = number | string | boolean | null | undefined | Uint8Array | CborValue[] | CborMap;
export interface CborMap {
	[key: string]: CborValue;
}

export interface CborLimits {
	/** Nesting of arrays and maps (default 8: SMP bodies nest 3 deep at most). */
	maxDepth?: number;
	/** Items in one array or map (default 256). */
	maxItems?: number;
	/**
	 * Byte strings as views of the input rather than copies (default false): the SMP server's
	 * requests, whose upload `data` then goes to the agent without a copy. The input must then
	 * stay unchanged while the values are used, and what is kept longer is copied by its keeper.
	 */
	byteStringViews?: boolean;
}

const BREAK = Symbol("break");

function error(message: string): never {
	throw new CborError(message);
}

class Reader {
	offset = 0;
	readonly #bytes: Uint8Array;
	readonly #view: DataView;
	readonly #maxDepth: number;
	readonly #maxItems: number;
	readonly #views: boolean;
	readonly #text = new TextDecoder("utf-8", { fatal: true });

	constructor(bytes: Uint8Array, limits: CborLimits) {
		this.#bytes = bytes;
		this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
		this.#maxDepth = limits.maxDepth ?? 8;
		this.#maxItems = limits.maxItems ?? 256;
		this.#views = limits.byteStringViews ?? false;
	}

	#need(n: number): number {
		if (n > this.#bytes.length - this.offset) error(`truncated: ${n} bytes needed at offset ${this.offset}`);
		const at = this.offset;
		this.offset += n;
		return at;
	}

	/** The argument of an initial byte: its value, or -1 for an indefinite length (info 31). */
	#argument(info: number): number {
		if (info < 24) return info;
		if (info === 24) return this.#bytes[this.#need(1)];
		if (info === 25) return this.#view.getUint16(this.#need(2));
		if (info === 26) return this.#view.getUint32(this.#need(4));
		if (info === 27) {
			const at = this.#need(8);
			const high = this.#view.getUint32(at);
			if (high >= 0x200000) error("an integer above 2^53 (no BigInt here)");
			return high * 0x100000000 + this.#view.getUint32(at + 4);
		}
		if (info === 31) return -1;
		return error(`reserved additional information ${info}`);
	}

	/** A definite string's bytes; the length is checked against what remains before anything is allocated. */
	#chunk(length: number): Uint8Array {
		const at = this.#need(length);
		return this.#bytes.subarray(at, at + length);
	}

	#string(major: 2 | 3, info: number): Uint8Array {
		const length = this.#argument(info);
		if (length >= 0) return this.#chunk(length);
		const parts: Uint8Array[] = [];
		for (;;) {
			const initial = this.#bytes[this.#need(1)];
			if (initial === 0xff) return concatBytes(parts);
			if (initial >> 5 !== major || (initial & 31) === 31) error("an indefinite string holds a chunk of another type");
			if (parts.length >= this.#maxItems) error(`more than ${this.#maxItems} string chunks`);
			parts.push(this.#chunk(this.#argument(initial & 31)));
		}
	}

	/** Counts of indefinite containers are bounded by maxItems; definite ones also by the bytes left (an item takes one at least). */
	#count(length: number): number {
		if (length > this.#maxItems) error(`a container of ${length} items (at most ${this.#maxItems})`);
		if (length > this.#bytes.length - this.offset) error(`truncated: ${length} items announced, fewer bytes left`);
		return length;
	}

	item(depth: number): CborValue | typeof BREAK {
		const initial = this.#bytes[this.#need(1)];
		const major = initial >> 5;
		const info = initial & 31;
		switch (major) {
			case 0:
			case 1: {
				const n = this.#argument(info);
				if (n < 0) error("an indefinite integer");
				return major === 0 ? n : -1 - n;
			}
			case 2: {
				const bytes = this.#string(2, info);
				// an indefinite string is a new buffer already (concatBytes)
				return this.#views || bytes.buffer !== this.#bytes.buffer ? bytes : bytes.slice();
			}
			case 3: {
				try {
					return this.#text.decode(this.#string(3, info));
				} catch {
					return error("a text string that is not UTF-8");
				}
			}
			case 4:
			case 5: {
				if (depth >= this.#maxDepth) error(`nesting deeper than ${this.#maxDepth}`);
				const length = this.#argument(info);
				return major === 4 ? this.#array(length, depth + 1) : this.#map(length, depth + 1);
			}
			case 6:
				if (this.#argument(info) < 0) error("an indefinite tag");
				return this.item(depth);
			default: return this.#simple(info);
		}
	}

	#array(length: number, depth: number): CborValue[] {
		const out: CborValue[] = [];
		if (length >= 0) {
			for (let i = this.#count(length); i > 0; i--) out.push(this.value(depth));
			return out;
		}
		for (;;) {
			const v = this.item(depth);
			if (v === BREAK) return out;
			if (out.length >= this.#maxItems) error(`more than ${this.#maxItems} items in an array`);
			out.push(v);
		}
	}

	#map(length: number, depth: number): CborMap {
		const out: CborMap = {};
		const put = (key: CborValue | typeof BREAK) => {
			if (typeof key !== "string") error("a map key that is not a text string");
			if (Object.prototype.hasOwnProperty.call(out, key)) error(`the map key "${key}" twice`);
			// defineProperty: a key named "__proto__" stays a plain key
			Object.defineProperty(out, key, { value: this.value(depth), enumerable: true, writable: true, configurable: true });
		};
		if (length >= 0) {
			for (let i = this.#count(length); i > 0; i--) put(this.value(depth));
			return out;
		}
		for (let n = 0; ; n++) {
			const key = this.item(depth);
			if (key === BREAK) return out;
			if (n >= this.#maxItems) error(`more than ${this.#maxItems} entries in a map`);
			put(key);
		}
	}

	#simple(info: number): CborValue | typeof BREAK {
		switch (info) {
			case 20: return false;
			case 21: return true;
			case 22: return null;
			case 23: return undefined;
			case 25: return halfFloat(this.#view.getUint16(this.#need(2)));
			case 26: return this.#view.getFloat32(this.#need(4));
			case 27: return this.#view.getFloat64(this.#need(8));
			case 31: return BREAK;
			default: return error(`simple value ${info} is not supported`);
		}
	}

	/** An item that must not be a break. */
	value(depth: number): CborValue {
		const v = this.item(depth);
		if (v === BREAK) error("a break outside an indefinite container");
		return v;
	}
}

function halfFloat(h: number): number {
	const exponent = (h >> 10) & 0x1f;
	const mantissa = h & 0x3ff;
	const sign = h & 0x8000 ? -1 : 1;
	if (exponent === 0) return sign * mantissa * 2 ** -24;
	if (exponent === 31) return mantissa ? NaN : sign * Infinity;
	return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Decodes exactly one CBOR item filling `bytes`. Throws CborError on anything malformed or over the limits. */
export function decodeCbor(bytes: Uint8Array, limits: CborLimits = {}): CborValue {
	const reader = new Reader(bytes, limits);
	const value = reader.value(0);
	if (reader.offset !== bytes.length) error(`${bytes.length - reader.offset} bytes after the item`);
	return value;
}

/** A growable byte buffer. */
class Writer {
	#bytes = new Uint8Array(64);
	length = 0;

	#room(n: number): number {
		if (this.length + n > this.#bytes.length) {
			const bigger = new Uint8Array(Math.max(this.#bytes.length * 2, this.length + n));
			bigger.set(this.#bytes.subarray(0, this.length));
			this.#bytes = bigger;
		}
		const at = this.length;
		this.length += n;
		return at;
	}

	bytes(data: Uint8Array): void {
		const at = this.#room(data.length); // first: #room may replace #bytes
		this.#bytes.set(data, at);
	}

	/** An initial byte with its argument in the shortest form. */
	head(major: number, n: number): void {
		const m = major << 5;
		if (n < 24) this.bytes(Uint8Array.of(m | n));
		else if (n < 0x100) this.bytes(Uint8Array.of(m | 24, n));
		else if (n < 0x10000) this.bytes(Uint8Array.of(m | 25, n >> 8, n & 0xff));
		else if (n < 0x100000000) this.bytes(Uint8Array.of(m | 26, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff));
		else {
			const high = Math.floor(n / 0x100000000);
			const low = n >>> 0;
			this.bytes(Uint8Array.of(m | 27, high >>> 24, (high >> 16) & 0xff, (high >> 8) & 0xff, high & 0xff, low >>> 24, (low >> 16) & 0xff, (low >> 8) & 0xff, low & 0xff));
		}
	}

	result(): Uint8Array {
		return this.#bytes.slice(0, this.length);
	}
}

const encoder = new TextEncoder();

function encodeInto(w: Writer, value: CborValue): void {
	if (value === false) w.head(7, 20);
	else if (value === true) w.head(7, 21);
	else if (value === null) w.head(7, 22);
	else if (value === undefined) w.head(7, 23);
	else if (typeof value === "number") {
		if (Number.isSafeInteger(value)) w.head(value < 0 ? 1 : 0, value < 0 ? -1 - value : value);
		else {
			const b = new Uint8Array(9);
			b[0] = 0xfb;
			new DataView(b.buffer).setFloat64(1, value);
			w.bytes(b);
		}
	} else if (typeof value === "string") {
		const text = encoder.encode(value);
		w.head(3, text.length);
		w.bytes(text);
	} else if (value instanceof Uint8Array) {
		w.head(2, value.length);
		w.bytes(value);
	} else if (Array.isArray(value)) {
		w.head(4, value.length);
		for (const item of value) encodeInto(w, item);
	} else {
		const entries = Object.entries(value).filter(([, v]) => v !== undefined);
		w.head(5, entries.length);
		for (const [k, v] of entries) {
			encodeInto(w, k);
			encodeInto(w, v);
		}
	}
}

/** Encodes with definite lengths, the shortest argument forms, map entries in insertion order; undefined map values are left out. */
export function encodeCbor(value: CborValue): Uint8Array {
	const w = new Writer();
	encodeInto(w, value);
	return w.result();
}
