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
/** One decoder for every request (each Reader making its own was garbage per request). */
const utf8 = new TextDecoder("utf-8", { fatal: true });

function error(message: string): never {
	throw new CborError(message);
}

class Reader {
	offset = 0;
	readonly #bytes: Uint8Array;
	readonly #maxDepth: number;
	readonly #maxItems: number;
	readonly #views: boolean;

	constructor(bytes: Uint8Array, limits: CborLimits) {
		this.#bytes = bytes;
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

	/** `n` bytes at `at`, big-endian, as an unsigned integer (n ≤ 4). */
	#uint(at: number, n: number): number {
		let v = 0;
		for (let i = 0; i < n; i++) v = v * 256 + this.#bytes[at + i];
		return v;
	}

	/** A float of `n` bytes (2, 4 or 8) at the current offset. */
	#float(n: number): number {
		const at = this.#need(n);
		if (n === 2) return halfFloat(this.#uint(at, 2));
		const view = new DataView(this.#bytes.buffer, this.#bytes.byteOffset + at, n); // floats only: SMP requests have none
		return n === 4 ? view.getFloat32(0) : view.getFloat64(0);
	}

	/** The argument of an initial byte: its value, or -1 for an indefinite length (info 31). */
	#argument(info: number): number {
		if (info < 24) return info;
		if (info === 24) return this.#bytes[this.#need(1)];
		if (info === 25) return this.#uint(this.#need(2), 2);
		if (info === 26) return this.#uint(this.#need(4), 4);
		if (info === 27) {
			const at = this.#need(8);
			const high = this.#uint(at, 4);
			if (high >= 0x200000) error("an integer above 2^53 (no BigInt here)");
			return high * 0x100000000 + this.#uint(at + 4, 4);
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
					return utf8.decode(this.#string(3, info));
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
		if (length >= 0) {
			for (let i = this.#count(length); i > 0; i--) this.#put(out, this.value(depth), depth);
			return out;
		}
		for (let n = 0; ; n++) {
			const key = this.item(depth);
			if (key === BREAK) return out;
			if (n >= this.#maxItems) error(`more than ${this.#maxItems} entries in a map`);
			this.#put(out, key, depth);
		}
	}

	/** A map entry: `key`, then its value read next. */
	#put(out: CborMap, key: CborValue, depth: number): void {
		if (typeof key !== "string") error("a map key that is not a text string");
		if (Object.prototype.hasOwnProperty.call(out, key)) error(`the map key "${key}" twice`);
		const value = this.value(depth);
		// a key named "__proto__" must stay a plain key, not set the prototype
		if (key === "__proto__") Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
		else out[key] = value;
	}

	#simple(info: number): CborValue | typeof BREAK {
		switch (info) {
			case 20: return false;
			case 21: return true;
			case 22: return null;
			case 23: return undefined;
			case 25: return this.#float(2);
			case 26: return this.#float(4);
			case 27: return this.#float(8);
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

/** Map keys as encoded (head and UTF-8), at most MAX_ENCODED_KEYS of them (filled at run time: this module is not preloaded, where the map would be frozen). */
const encodedKeys = new Map<string, Uint8Array>();
const MAX_ENCODED_KEYS = 64;

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

	/** `n` bytes of `value`, big-endian (n ≤ 4). */
	#uint(value: number, n: number): void {
		const at = this.#room(n);
		for (let i = n - 1; i >= 0; i--) {
			this.#bytes[at + i] = value & 0xff;
			value = Math.floor(value / 256);
		}
	}

	/** An initial byte with its argument in the shortest form (written in place: a response is a few of them). */
	head(major: number, n: number): void {
		const m = major << 5;
		if (n < 24) this.#uint(m | n, 1);
		else if (n < 0x100) {
			this.#uint(m | 24, 1);
			this.#uint(n, 1);
		} else if (n < 0x10000) {
			this.#uint(m | 25, 1);
			this.#uint(n, 2);
		} else if (n < 0x100000000) {
			this.#uint(m | 26, 1);
			this.#uint(n, 4);
		} else {
			this.#uint(m | 27, 1);
			this.#uint(Math.floor(n / 0x100000000), 4);
			this.#uint(n >>> 0, 4);
		}
	}

	/** A text string. */
	text(value: string): void {
		const bytes = encoder.encode(value);
		this.head(3, bytes.length);
		this.bytes(bytes);
	}

	/**
	 * A map key: its encoded form is kept for the next time (SMP's keys are a few dozen words,
	 * and a response map per request would encode them again, a string method call per character
	 * on XS).
	 */
	key(key: string): void {
		const encoded = encodedKeys.get(key);
		if (encoded) return this.bytes(encoded);
		const start = this.length;
		this.text(key);
		if (encodedKeys.size < MAX_ENCODED_KEYS) encodedKeys.set(key, this.#bytes.slice(start, this.length));
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
		w.text(value);
	} else if (value instanceof Uint8Array) {
		w.head(2, value.length);
		w.bytes(value);
	} else if (Array.isArray(value)) {
		w.head(4, value.length);
		for (const item of value) encodeInto(w, item);
	} else {
		// Object.entries' order, without its pair arrays (a response map per request)
		const keys = Object.keys(value);
		let count = 0;
		for (let i = 0; i < keys.length; i++) if (value[keys[i]] !== undefined) count++;
		w.head(5, count);
		for (let i = 0; i < keys.length; i++) {
			const item = value[keys[i]];
			if (item === undefined) continue;
			w.key(keys[i]);
			encodeInto(w, item);
		}
	}
}

/** Encodes with definite lengths, the shortest argument forms, map entries in insertion order; undefined map values are left out. */
export function encodeCbor(value: CborValue): Uint8Array {
	const w = new Writer();
	encodeInto(w, value);
	return w.result();
}
