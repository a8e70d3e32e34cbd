/**
 * The streaming image parser. The central property: however an image is cut into chunks, the
 * parser reports the same header, the same TLVs, the same bytes per region (header + body +
 * protected = the hashed region, reference §B.1), the same end offset and trailing length as when
 * it gets the image in one piece, and all of it equal to what an independent parser
 * (test/helpers/noble-mcuboot.ts) reads from the same bytes.
 *
 * Chunkings come from a seeded xorshift PRNG. The seed is printed; to replay a failure run
 *   SEALDROP_SEED=<seed> node --test build/js/test/unit/image-stream.test.js
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import {
	concatBytes,
	encodeHeader, encodeTlvArea, ImageStreamParser, parseImage, SealdropError, type ErrorCode, type ImageEvent, type ImageHeader, type Region, type StreamParserOptions,
} from "sealdrop/image";
import { nobleParse, type NobleTlv } from "../helpers/noble-mcuboot.js";
import { expectCode, hex, vectorCase, vectorCases, type VectorCase } from "../helpers/vectors.js";

/* Seeded PRNG */

function parseSeed(text: string | undefined): number | undefined {
	if (!text) return undefined;
	const n = Number(text);
	if (!Number.isInteger(n) || n <= 0 || n > 0xffffffff) throw new Error(`SEALDROP_SEED must be an integer in 1..2^32-1, not ${text}`);
	return n;
}

const SEED = parseSeed(process.env.SEALDROP_SEED) ?? (randomBytes(4).readUInt32LE(0) || 1);

/** xorshift32 (Marsaglia); never returns to 0 from a non-zero state. */
class Rng {
	#x: number;
	constructor(seed: number) {
		this.#x = seed >>> 0 || 0x9e3779b9;
		for (let i = 0; i < 8; i++) this.u32(); // spread nearby seeds apart
	}
	u32(): number {
		let x = this.#x;
		x ^= x << 13;
		x ^= x >>> 17;
		x ^= x << 5;
		this.#x = x >>> 0;
		return this.#x;
	}
	/** Integer in [lo, hi]. */
	int(lo: number, hi: number): number {
		return lo + Math.floor((this.u32() / 0x100000000) * (hi - lo + 1));
	}
	/** Log-uniform integer in [1, max]: as many tiny chunks as huge ones. */
	logSize(max: number): number {
		return Math.min(max, Math.max(1, Math.floor(2 ** ((this.u32() / 0x100000000) * (Math.log2(max) + 1)))));
	}
}

/** A sub-seed for one run, derived from the global seed (FNV-1a over the label). */
function subSeed(label: string): number {
	let h = (0x811c9dc5 ^ SEED) >>> 0;
	for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
	return h || 1;
}

/* Running the parser and recording what it reports */

const MAX_CHUNK = 65536;
const REGION_ORDER: Region[] = ["header", "body", "protected", "unprotected", "trailing"];
const HASH_TYPES: Record<number, "sha256" | "sha384" | "sha512"> = { 0x10: "sha256", 0x11: "sha384", 0x12: "sha512" };

interface TlvRecord { type: number; value: string; protected: boolean; offset: number }
interface ParseRecord {
	header: ImageHeader;
	tlvEvents: { isProtected: boolean; offset: number; tlvs: TlvRecord[] }[];
	regions: Record<Region, Uint8Array>;
	/** Digests of the hashed region (header, body, protected data events, in order) for each algorithm. */
	digests: Record<"sha256" | "sha384" | "sha512", string>;
	end: number;
	trailingLength: number;
	pushes: number;
}

interface RunOptions {
	/** Copy each chunk into one reused buffer and scribble over it after the push (a device's receive buffer). */
	scratch?: boolean;
	parser?: StreamParserOptions;
	/** Zero-length pushes between chunks. */
	emptyPushes?: boolean;
}

function describe(err: unknown): string {
	return err instanceof SealdropError ? `${err.code}: ${err.message}` : String(err);
}


/**
 * Feeds `bytes` in chunks of the given sizes (which must add up to bytes.length) and checks the
 * invariants that hold for every event as it arrives.
 */
function run(bytes: Uint8Array, sizes: number[], label: string, options: RunOptions = {}): ParseRecord {
	assert.equal(sizes.reduce((a, b) => a + b, 0), bytes.length, `${label}: chunk sizes add up to the image`);
	const parser = new ImageStreamParser(options.parser);
	const scratch = options.scratch ? new Uint8Array(Math.max(1, ...sizes)) : undefined;
	const hashes = { sha256: createHash("sha256"), sha384: createHash("sha384"), sha512: createHash("sha512") };
	const pieces: Record<Region, Uint8Array[]> = { header: [], body: [], protected: [], unprotected: [], trailing: [] };
	/** Buffers the parser says it owns (header, TLV areas), checked again after the scratch buffer changed. */
	const owned: { offset: number; bytes: Uint8Array }[] = [];
	const tlvEvents: { isProtected: boolean; offset: number; tlvs: { type: number; value: Uint8Array; protected: boolean; offset: number }[] }[] = [];
	let header: ImageHeader | undefined;
	let end: number | undefined;
	let next = 0; // image offset the next data event must start at
	let regionIndex = 0;
	let fed = 0;
	let pushes = 0;

	const onEvent = (e: ImageEvent) => {
		const where = `${label}: event ${e.kind} at fed=${fed}`;
		switch (e.kind) {
			case "header":
				assert.equal(header, undefined, `${where}: one header event`);
				assert.equal(next, 0, `${where}: header before any data`);
				header = e.header;
				break;
			case "data": {
				assert.ok(header, `${where}: data after the header event`);
				assert.ok(e.bytes.length > 0, `${where}: no empty data events`);
				assert.equal(e.offset, next, `${where}: data events are contiguous`);
				const index = REGION_ORDER.indexOf(e.region);
				assert.ok(index >= regionIndex, `${where}: region ${e.region} after ${REGION_ORDER[regionIndex]}`);
				regionIndex = index;
				if (e.region === "trailing") assert.notEqual(end, undefined, `${where}: trailing data only after the end`);
				else assert.equal(end, undefined, `${where}: no image data after the end`);
				if (e.region === "body") {
					assert.ok(e.offset >= header.hdrSize && e.offset + e.bytes.length <= header.hdrSize + header.imgSize,
						`${where}: body bytes [${e.offset}, ${e.offset + e.bytes.length}) stay inside [hdrSize, hdrSize + imgSize)`);
				}
				if (e.region === "header") assert.ok(e.offset + e.bytes.length <= header.hdrSize, `${where}: header region ends at hdrSize`);
				for (let i = 0; i < e.bytes.length; i++) {
					if (e.bytes[i] !== bytes[e.offset + i]) assert.fail(`${where}: ${e.region} byte at image offset ${e.offset + i} differs from the input`);
				}
				if (e.region === "header" || e.region === "body" || e.region === "protected") for (const h of Object.values(hashes)) h.update(e.bytes);
				// body, header fill and trailing bytes are views of the chunk: copy now. The header and TLV areas are owned copies.
				const ownedCopy = e.region === "protected" || e.region === "unprotected" || (e.region === "header" && e.offset === 0);
				pieces[e.region].push(ownedCopy ? e.bytes : e.bytes.slice());
				if (ownedCopy) owned.push({ offset: e.offset, bytes: e.bytes });
				next += e.bytes.length;
				break;
			}
			case "tlvs":
				assert.ok(header, `${where}: TLVs after the header`);
				assert.equal(end, undefined, `${where}: TLVs before the end`);
				tlvEvents.push({ isProtected: e.isProtected, offset: e.offset, tlvs: e.tlvs });
				break;
			case "end":
				assert.equal(end, undefined, `${where}: one end event`);
				assert.equal(e.size, next, `${where}: end size is the offset after the unprotected area`);
				assert.ok(tlvEvents.length > 0 && !tlvEvents[tlvEvents.length - 1].isProtected, `${where}: end after the unprotected TLVs`);
				end = e.size;
				break;
		}
	};

	let at = 0;
	for (const size of sizes) {
		let chunk = bytes.subarray(at, at + size);
		if (scratch) {
			scratch.set(chunk);
			chunk = scratch.subarray(0, size);
		}
		fed = at + size;
		let events: ImageEvent[];
		try {
			events = parser.push(chunk);
		} catch (err) {
			throw new Error(`${label}: push of ${size} bytes at offset ${at} threw ${describe(err)}`, { cause: err });
		}
		pushes++;
		for (const e of events) onEvent(e);
		if (scratch) scratch.fill(0xa5);
		if (options.emptyPushes) {
			assert.deepEqual(parser.push(new Uint8Array(0)), [], `${label}: an empty push reports nothing`);
			pushes++;
		}
		at += size;
		assert.equal(parser.offset, at, `${label}: offset after ${at} bytes`);
		assert.equal(parser.complete, end !== undefined, `${label}: complete once the end was reported`);
	}
	try {
		parser.finish();
	} catch (err) {
		throw new Error(`${label}: finish() after ${at} bytes threw ${describe(err)}`, { cause: err });
	}
	assert.ok(header, `${label}: a header`);
	assert.notEqual(end, undefined, `${label}: an end`);
	assert.equal(next, bytes.length, `${label}: data events cover every input byte`);
	assert.deepEqual(parser.header, header);

	for (const o of owned) {
		for (let i = 0; i < o.bytes.length; i++) {
			if (o.bytes[i] !== bytes[o.offset + i]) assert.fail(`${label}: buffered bytes at image offset ${o.offset + i} changed after the push (not an own copy)`);
		}
	}
	const regions = Object.fromEntries(REGION_ORDER.map((r) => [r, concatBytes(pieces[r])])) as Record<Region, Uint8Array>;
	return {
		header,
		tlvEvents: tlvEvents.map((e) => ({
			isProtected: e.isProtected, offset: e.offset,
			tlvs: e.tlvs.map((t) => ({ type: t.type, value: hex(t.value), protected: t.protected, offset: t.offset })),
		})),
		regions,
		digests: { sha256: hashes.sha256.digest("hex"), sha384: hashes.sha384.digest("hex"), sha512: hashes.sha512.digest("hex") },
		end: end!,
		trailingLength: regions.trailing.length,
		pushes,
	};
}

function assertSameParse(actual: ParseRecord, reference: ParseRecord, label: string): void {
	assert.deepEqual(actual.header, reference.header, `${label}: header`);
	assert.deepEqual(actual.tlvEvents, reference.tlvEvents, `${label}: TLVs`);
	for (const r of REGION_ORDER) {
		assert.equal(actual.regions[r].length, reference.regions[r].length, `${label}: length of region ${r}`);
		assert.ok(Buffer.from(actual.regions[r]).equals(Buffer.from(reference.regions[r])), `${label}: bytes of region ${r}`);
	}
	assert.deepEqual(actual.digests, reference.digests, `${label}: hashed region digests`);
	assert.equal(actual.end, reference.end, `${label}: end offset`);
	assert.equal(actual.trailingLength, reference.trailingLength, `${label}: trailing length`);
}

/* Chunkings */

/** Chunk sizes from a sorted set of cut points, with long stretches split so no chunk exceeds 64 KiB. */
function sizesFromCuts(length: number, cuts: Iterable<number>, rng: Rng): number[] {
	const points = [...new Set([...cuts].filter((c) => c > 0 && c < length))].sort((a, b) => a - b);
	points.push(length);
	const sizes: number[] = [];
	let prev = 0;
	for (const p of points) {
		let gap = p - prev;
		while (gap > MAX_CHUNK) {
			const piece = rng.int(1, MAX_CHUNK);
			sizes.push(piece);
			gap -= piece;
		}
		sizes.push(gap);
		prev = p;
	}
	return sizes;
}

function randomSizes(length: number, rng: Rng, max: number): number[] {
	const sizes: number[] = [];
	for (let left = length; left > 0;) {
		const size = Math.min(left, rng.logSize(max));
		sizes.push(size);
		left -= size;
	}
	return sizes;
}

/** The edges of every region (and of every TLV) of a parsed image. */
function regionEdges(bytes: Uint8Array): number[] {
	const image = parseImage(bytes);
	const { hdrSize, imgSize, protectTlvSize } = image.header;
	const tlvOff = hdrSize + imgSize;
	const points = [0, 4, 8, 16, 31, 32, hdrSize, tlvOff, tlvOff + 2, tlvOff + 4, image.unprotectedOffset, image.unprotectedOffset + 2, image.unprotectedOffset + 4, image.size];
	if (protectTlvSize) points.push(tlvOff + protectTlvSize);
	for (const t of [...image.protectedTlvs, ...image.unprotectedTlvs]) points.push(t.offset, t.offset + 4, t.offset + 4 + t.value.length);
	return [...new Set(points)].filter((p) => p >= 0 && p <= bytes.length);
}

/** Region edges and the bytes either side of them: 31/32/33, hdrSize±1, tlvOffset±1, ... */
function edges(bytes: Uint8Array): number[] {
	return [...new Set(regionEdges(bytes).flatMap((p) => [p - 1, p, p + 1]))].filter((p) => p >= 0 && p <= bytes.length);
}

/** Cut points of a chunking given as sizes. */
function cutsOf(sizes: number[]): number[] {
	const cuts: number[] = [];
	let at = 0;
	for (const s of sizes) cuts.push((at += s));
	return cuts;
}

/* Vectors */

/**
 * What the parser must report for `bytes`, read by test/helpers/noble-mcuboot.ts's parser (no
 * code shared with sealdrop/image) and hashed by node:crypto: the truth every chunking is held to.
 */
function independentRecord(bytes: Uint8Array): ParseRecord {
	const n = nobleParse(bytes);
	const tlvs = (list: NobleTlv[], isProtected: boolean): TlvRecord[] => list.map((t) => ({ type: t.type, value: hex(t.value), protected: isProtected, offset: t.offset }));
	const tlvEvents = [{ isProtected: false, offset: n.unprotectedOffset, tlvs: tlvs(n.tlvs, false) }];
	if (n.protectTlvSize) tlvEvents.unshift({ isProtected: true, offset: n.tlvOffset, tlvs: tlvs(n.protectedTlvs, true) });
	const hashed = bytes.subarray(0, n.unprotectedOffset);
	return {
		header: {
			loadAddr: n.loadAddr, hdrSize: n.hdrSize, protectTlvSize: n.protectTlvSize, imgSize: n.imgSize, flags: n.flags,
			version: { major: n.version[0], minor: n.version[1], revision: n.version[2], build: n.version[3] },
		},
		tlvEvents,
		regions: {
			header: bytes.subarray(0, n.hdrSize), body: bytes.subarray(n.hdrSize, n.tlvOffset), protected: bytes.subarray(n.tlvOffset, n.unprotectedOffset),
			unprotected: bytes.subarray(n.unprotectedOffset, n.end), trailing: bytes.subarray(n.end),
		},
		digests: { sha256: createHash("sha256").update(hashed).digest("hex"), sha384: createHash("sha384").update(hashed).digest("hex"), sha512: createHash("sha512").update(hashed).digest("hex") },
		end: n.end,
		trailingLength: bytes.length - n.end,
		pushes: 1,
	};
}

interface Prepared { c: VectorCase; bytes: Uint8Array; reference: ParseRecord }
const prepared = new Map<string, Prepared>();

/** A vector with its reference: the independent reading, which the single-chunk parse must match. */
function prepare(c: VectorCase): Prepared {
	let p = prepared.get(c.name);
	if (!p) {
		const bytes = c.bytes();
		const reference = independentRecord(bytes);
		assertSameParse(run(bytes, [bytes.length], `${c.name} single chunk`), reference, `${c.name} single chunk vs the independent parser`);
		p = { c, bytes, reference };
		prepared.set(c.name, p);
	}
	return p;
}

test("single-chunk parse of every vector agrees with the independent parser, its sidecar and the hash TLV", () => {
	for (const c of vectorCases()) {
		const { bytes, reference: ref } = prepare(c);
		const e = c.sidecar.expected;
		assert.equal(ref.header.hdrSize, e.header_size, c.name);
		assert.equal(ref.header.imgSize, e.img_size, c.name);
		assert.equal(ref.regions.header.length, e.header_size, c.name);
		assert.equal(ref.regions.body.length, e.img_size, c.name);
		assert.ok(ref.regions.header.subarray(32).every((b) => b === e.header_fill_byte), `${c.name}: header fill`);
		assert.equal(ref.regions.protected.length, ref.header.protectTlvSize, c.name);
		assert.equal(ref.end + ref.trailingLength, bytes.length, c.name);
		assert.equal(ref.trailingLength, e.padded ? e.slot_size - ref.end : 0, c.name);
		const unprotected = ref.tlvEvents.find((ev) => !ev.isProtected)!;
		const hashTlv = unprotected.tlvs.find((tlv) => HASH_TYPES[tlv.type]);
		assert.ok(hashTlv, `${c.name}: a hash TLV`);
		const alg = HASH_TYPES[hashTlv.type];
		assert.equal(alg, e.hash_tlv.toLowerCase(), c.name);
		// the hashed region, recomputed independently from the file
		const hashed = bytes.subarray(0, e.header_size + e.img_size + ref.header.protectTlvSize);
		assert.equal(ref.digests[alg], createHash(alg).update(hashed).digest("hex"), c.name);
		if (!e.payload_ciphertext) assert.equal(ref.digests[alg], hashTlv.value, `${c.name}: ${e.hash_tlv} TLV is the digest of header + body + protected TLVs`);
		else assert.notEqual(ref.digests[alg], hashTlv.value, `${c.name}: the hash covers the plaintext, not this ciphertext`);
	}
});

test("property: random chunkings (1 B to 64 KiB, edges ±1) parse as the independent parser reads the image", (t) => {
	t.diagnostic(`SEALDROP_SEED=${SEED}`);
	let runs = 0;
	for (const c of vectorCases()) {
		const { bytes, reference } = prepare(c);
		const cutPoints = edges(bytes);
		const plans: { label: string; sizes: (rng: Rng) => number[]; options: RunOptions }[] = [
			{ label: "region edges ±1", sizes: (rng) => sizesFromCuts(bytes.length, cutPoints, rng), options: { emptyPushes: true } },
			{ label: "region edges ±1, reused buffer", sizes: (rng) => sizesFromCuts(bytes.length, cutPoints, rng), options: { scratch: true } },
			{ label: "exact regions", sizes: (rng) => sizesFromCuts(bytes.length, regionEdges(bytes), rng), options: { scratch: true } },
			{ label: "tiny chunks 1..64", sizes: (rng) => randomSizes(bytes.length, rng, 64), options: { scratch: true } },
			{
				label: "some edges + random cuts",
				sizes: (rng) => sizesFromCuts(bytes.length, [...cutPoints.filter(() => rng.int(0, 1) === 1), ...cutsOf(randomSizes(bytes.length, rng, 4096))], rng),
				options: { scratch: true },
			},
		];
		for (let i = 0; i < 6; i++) {
			plans.push({ label: `random #${i}`, sizes: (rng) => randomSizes(bytes.length, rng, MAX_CHUNK), options: { scratch: i % 2 === 1, emptyPushes: i === 0 } });
		}
		for (const plan of plans) {
			const seed = subSeed(`${c.name}/${plan.label}`);
			const rng = new Rng(seed);
			const sizes = plan.sizes(rng);
			assert.ok(sizes.every((s) => s >= 1 && s <= MAX_CHUNK), `${c.name} ${plan.label}: chunk sizes within 1..65536`);
			const label = `${c.name}, ${plan.label} (SEALDROP_SEED=${SEED}, run seed ${seed}, ${sizes.length} chunks${plan.options.scratch ? ", reused buffer" : ""})`;
			assertSameParse(run(bytes, sizes, label, plan.options), reference, label);
			runs++;
		}
	}
	t.diagnostic(`${runs} chunked parses`);
});

test("property: 1-byte chunks", (t) => {
	t.diagnostic(`SEALDROP_SEED=${SEED}`);
	for (const [name, scratch] of [["seccnt_explicit", true], ["dependency", false], ["enc_ec256_aes128", true]] as const) {
		const { bytes, reference } = prepare(vectorCase(name));
		const label = `${name}, 1-byte chunks${scratch ? ", reused buffer" : ""}`;
		const record = run(bytes, new Array<number>(bytes.length).fill(1), label, { scratch });
		assert.equal(record.pushes, bytes.length);
		assertSameParse(record, reference, label);
	}
});

test("truncation at every region boundary (and every byte of the header and TLV areas) → E_TRUNCATED from finish()", (t) => {
	t.diagnostic(`SEALDROP_SEED=${SEED}`);
	for (const c of vectorCases()) {
		const { bytes, reference } = prepare(c);
		const rng = new Rng(subSeed(`${c.name}/truncation`));
		const { hdrSize, imgSize } = reference.header;
		const lengths = new Set<number>(edges(bytes).filter((n) => n < reference.end));
		for (let n = 0; n < 40; n++) lengths.add(n);
		for (let n = hdrSize + imgSize - 4; n < reference.end; n++) lengths.add(n);
		for (let i = 0; i < 20; i++) lengths.add(rng.int(0, reference.end - 1));
		for (const length of lengths) {
			const prefix = bytes.subarray(0, length);
			const parser = new ImageStreamParser();
			const split = rng.int(0, length);
			const events = [...parser.push(prefix.subarray(0, split)), ...parser.push(prefix.subarray(split))];
			const label = `${c.name} cut to ${length} bytes (split at ${split}, SEALDROP_SEED=${SEED})`;
			assert.ok(!events.some((e) => e.kind === "end"), `${label}: no end`);
			assert.equal(parser.complete, false, label);
			assert.equal(parser.offset, length, label);
			const err = expectCode(() => parser.finish(), "E_TRUNCATED", label);
			assert.match(err.message, /truncated/, label);
			expectCode(() => parseImage(prefix), "E_TRUNCATED", `${label}: parseImage`);
		}
		// exactly the image: complete, nothing trailing
		const whole = new ImageStreamParser();
		whole.push(bytes.subarray(0, reference.end));
		assert.equal(whole.complete, true, c.name);
		whole.finish();
		assert.equal(parseImage(bytes.subarray(0, reference.end)).trailingLength, 0, c.name);
	}
});

test("maxSize: the image must fit; E_TOO_LARGE as soon as the sizes are known", () => {
	for (const c of vectorCases()) {
		const { bytes, reference } = prepare(c);
		const e = c.sidecar.expected;
		const { hdrSize, imgSize, protectTlvSize } = reference.header;
		assert.equal(parseImage(bytes, { maxSize: reference.end }).size, reference.end, `${c.name}: fits exactly`);
		assert.equal(parseImage(bytes, { maxSize: e.slot_size }).size, reference.end, `${c.name}: fits its slot`);
		expectCode(() => parseImage(bytes, { maxSize: reference.end - 1 }), "E_TOO_LARGE", `${c.name}: one byte short`);
		// known from the header alone: header + body + protected area + an unprotected info header
		const minimum = hdrSize + imgSize + protectTlvSize + 4;
		for (const maxSize of [0, 1000, minimum - 1]) {
			const parser = new ImageStreamParser({ maxSize });
			parser.push(bytes.subarray(0, 31));
			expectCode(() => parser.push(bytes.subarray(31, 32)), "E_TOO_LARGE", `${c.name}: maxSize ${maxSize} refused at the header`);
		}
		// the unprotected area's size is known from its info header: refused before its TLVs arrive
		const parser = new ImageStreamParser({ maxSize: reference.end - 1 });
		const unprotected = reference.tlvEvents.find((ev) => !ev.isProtected)!.offset;
		parser.push(bytes.subarray(0, unprotected + 3));
		expectCode(() => parser.push(bytes.subarray(unprotected + 3, unprotected + 4)), "E_TOO_LARGE", `${c.name}: refused at the unprotected info header`);
	}
});

test("the parser never returns body bytes beyond ih_img_size", () => {
	// a header claiming a shorter body than the file holds: the body stops at imgSize, whatever follows is read as TLVs
	const bytes = vectorCase("signed_ecdsa_p256").bytes();
	for (const imgSize of [0, 1, 1000, 65535]) {
		const mutated = bytes.slice();
		new DataView(mutated.buffer).setUint32(12, imgSize, true);
		const parser = new ImageStreamParser();
		let body = 0;
		let error: unknown;
		try {
			for (let at = 0; at < mutated.length; at += 4096) {
				for (const e of parser.push(mutated.subarray(at, at + 4096))) if (e.kind === "data" && e.region === "body") body += e.bytes.length;
			}
		} catch (err) {
			error = err;
		}
		assert.ok(error, `imgSize ${imgSize}: the random body bytes after it are not a TLV area`);
		assert.ok(body <= imgSize, `imgSize ${imgSize}: ${body} body bytes reported`);
	}
	// a synthetic image in one chunk, with 1000 trailing bytes: exactly imgSize body bytes
	const image = buildImage({ hdrSize: 64, body: new Uint8Array(10).fill(7), protectedTlvs: [], trailing: 1000 });
	const events = new ImageStreamParser().push(image);
	const bodyEvents = events.filter((e) => e.kind === "data" && e.region === "body");
	assert.equal(bodyEvents.length, 1);
	assert.deepEqual([...(bodyEvents[0] as { bytes: Uint8Array }).bytes], new Array(10).fill(7));
	assert.equal(events.filter((e) => e.kind === "data" && e.region === "trailing").reduce((n, e) => n + (e as { bytes: Uint8Array }).bytes.length, 0), 1000);
});

/* Synthetic images */

function buildImage(o: { hdrSize: number; body: Uint8Array; protectedTlvs: { type: number; value: Uint8Array }[]; unprotectedTlvs?: { type: number; value: Uint8Array }[]; trailing?: number }): Uint8Array {
	const prot = encodeTlvArea(o.protectedTlvs, true);
	const header: ImageHeader = { loadAddr: 0, hdrSize: o.hdrSize, protectTlvSize: prot.length, imgSize: o.body.length, flags: 0, version: { major: 1, minor: 0, revision: 0, build: 0 } };
	const head = new Uint8Array(o.hdrSize).fill(0xff);
	head.set(encodeHeader(header));
	const hashed = concatBytes([head, o.body, prot]);
	const unprot = encodeTlvArea(o.unprotectedTlvs ?? [{ type: 0x10, value: new Uint8Array(createHash("sha256").update(hashed).digest()) }], false);
	return concatBytes([hashed, unprot, new Uint8Array(o.trailing ?? 0).fill(0xff)]);
}

test("an image with an empty body and no protected area parses, in any chunking", () => {
	const variants = [
		{ label: "32-byte header, empty body, no protected area", image: buildImage({ hdrSize: 32, body: new Uint8Array(0), protectedTlvs: [] }) },
		{ label: "padded header, empty body, no protected area", image: buildImage({ hdrSize: 0x200, body: new Uint8Array(0), protectedTlvs: [] }) },
		{ label: "empty body, protected SEC_CNT", image: buildImage({ hdrSize: 32, body: new Uint8Array(0), protectedTlvs: [{ type: 0x50, value: Uint8Array.of(1, 0, 0, 0) }] }) },
		{ label: "empty body, empty unprotected area", image: buildImage({ hdrSize: 32, body: new Uint8Array(0), protectedTlvs: [], unprotectedTlvs: [] }) },
		{ label: "empty body, empty unprotected area, trailing bytes", image: buildImage({ hdrSize: 32, body: new Uint8Array(0), protectedTlvs: [], unprotectedTlvs: [], trailing: 100 }) },
	];
	for (const { label, image } of variants) {
		const layout = parseImage(image);
		assert.equal(layout.header.imgSize, 0, label);
		assert.equal(layout.tlvOffset, layout.header.hdrSize, label);
		const reference = run(image, [image.length], label);
		assert.equal(reference.regions.body.length, 0, `${label}: no body bytes`);
		assert.equal(reference.regions.header.length, layout.header.hdrSize, label);
		assert.equal(reference.end, layout.size, label);
		if (layout.unprotectedTlvs.length) assert.equal(reference.digests.sha256, hex(layout.unprotectedTlvs[0].value), `${label}: hash`);
		const rng = new Rng(subSeed(label));
		for (const sizes of [new Array<number>(image.length).fill(1), randomSizes(image.length, rng, 8), randomSizes(image.length, rng, 64)])
			assertSameParse(run(image, sizes, `${label}, ${sizes.length} chunks`, { scratch: true, emptyPushes: true }), reference, label);
	}
	// the smallest image there is: 32-byte header, no body, an empty TLV area
	const smallest = buildImage({ hdrSize: 32, body: new Uint8Array(0), protectedTlvs: [], unprotectedTlvs: [] });
	assert.equal(smallest.length, 36);
	const events = new ImageStreamParser().push(smallest);
	assert.deepEqual(events.map((e) => e.kind === "data" ? `data:${e.region}` : e.kind), ["header", "data:header", "data:unprotected", "tlvs", "end"]);
});

test("events arrive in image order: header, header data, body, protected data + TLVs, unprotected data + TLVs, end, trailing", () => {
	const image = buildImage({ hdrSize: 64, body: new Uint8Array(100).fill(1), protectedTlvs: [{ type: 0x50, value: Uint8Array.of(9, 0, 0, 0) }], trailing: 8 });
	const events = new ImageStreamParser().push(image);
	assert.deepEqual(events.map((e) => (e.kind === "data" ? `data:${e.region}@${e.offset}+${e.bytes.length}` : e.kind === "tlvs" ? `tlvs:${e.isProtected}@${e.offset}` : e.kind === "end" ? `end:${e.size}` : e.kind)), [
		"header", "data:header@0+32", "data:header@32+32", "data:body@64+100", "data:protected@164+12", "tlvs:true@164",
		"data:unprotected@176+40", "tlvs:false@176", "end:216", "data:trailing@216+8",
	]);
});

test("skipBody: body bytes the caller takes itself leave the same parse as pushing them; not at or past the body's end", () => {
	const bytes = vectorCase("signed_ecdsa_p256").bytes();
	const layout = parseImage(bytes);
	const bodyEnd = layout.header.hdrSize + layout.header.imgSize;
	const notBody = (e: ImageEvent) => !(e.kind === "data" && e.region === "body");
	for (const chunk of [1, 97, 4096]) {
		const reference = new ImageStreamParser();
		const pushed: ImageEvent[] = [];
		for (let at = 0; at < bytes.length; at += chunk) pushed.push(...reference.push(bytes.subarray(at, at + chunk)).filter(notBody));
		const parser = new ImageStreamParser();
		const events: ImageEvent[] = [];
		let skipped = 0;
		for (let at = 0; at < bytes.length;) {
			const n = Math.min(chunk, bytes.length - at);
			if (n < parser.bodyLeft) {
				assert.equal(parser.offset, at);
				parser.skipBody(n);
				skipped += n;
			} else events.push(...parser.push(bytes.subarray(at, at + n)).filter(notBody));
			at += n;
		}
		assert.ok(skipped > 0, `${chunk}-byte chunks: some body bytes were skipped`);
		assert.ok(parser.complete, `${chunk}-byte chunks: the parse completes`);
		assert.deepEqual(events, pushed, `${chunk}-byte chunks: the same events, body data aside`);
	}
	const parser = new ImageStreamParser();
	assert.equal(parser.bodyLeft, 0, "no body before the header");
	expectCode(() => parser.skipBody(1), "E_USAGE");
	parser.push(bytes.subarray(0, layout.header.hdrSize));
	assert.equal(parser.bodyLeft, layout.header.imgSize);
	expectCode(() => parser.skipBody(layout.header.imgSize), "E_USAGE", "the body's last byte goes through push()");
	expectCode(() => parser.skipBody(-1), "E_USAGE");
	parser.skipBody(layout.header.imgSize - 1);
	assert.equal(parser.offset, bodyEnd - 1);
});

test("structural errors surface from push() at the byte that decides them, in any chunking", () => {
	const base = vectorCase("seccnt_explicit").bytes();
	const { hdrSize, imgSize } = parseImage(base).header;
	const tlvOff = hdrSize + imgSize;
	const size = parseImage(base).size;
	const mutations: { label: string; edit: (b: Uint8Array) => void; code: ErrorCode; decidedAt: number }[] = [
		{ label: "bad header magic", edit: (b) => (b[0] ^= 0xff), code: "E_BAD_MAGIC", decidedAt: 32 },
		{ label: "hdr_size 31", edit: (b) => { b[8] = 31; b[9] = 0; }, code: "E_HEADER_SIZE", decidedAt: 32 },
		{ label: "both AES flags", edit: (b) => (b[16] = 0x0c), code: "E_FLAGS", decidedAt: 32 },
		{ label: "protected tot 16", edit: (b) => (b[tlvOff + 2] = 16), code: "E_PROT_SIZE", decidedAt: tlvOff + 4 },
		{ label: "SEC_CNT length 5", edit: (b) => (b[tlvOff + 6] = 5), code: "E_TLV_OVERRUN", decidedAt: tlvOff + 12 },
		{ label: "unprotected magic", edit: (b) => (b[tlvOff + 12] = 0), code: "E_BAD_MAGIC", decidedAt: size },
	];
	const rng = new Rng(subSeed("structural errors"));
	for (const m of mutations) {
		const bytes = base.slice();
		m.edit(bytes);
		expectCode(() => parseImage(bytes), m.code, m.label);
		for (let i = 0; i < 4; i++) {
			const sizes = randomSizes(bytes.length, rng, i === 0 ? 1 : 4096);
			const parser = new ImageStreamParser();
			let at = 0; // start of the push that throws
			let current = 0;
			expectCode(() => {
				for (const s of sizes) {
					current = s;
					parser.push(bytes.subarray(at, at + s));
					at += s;
				}
			}, m.code, `${m.label}, ${sizes.length} chunks (SEALDROP_SEED=${SEED})`);
			assert.ok(at < m.decidedAt && m.decidedAt <= at + current,
				`${m.label}: thrown by the push that delivered byte ${m.decidedAt - 1} (push of ${current} bytes at ${at})`);
		}
	}
});
