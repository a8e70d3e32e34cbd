/**
 * struct image_header (reference §A.2, §A.3): 32 packed little-endian bytes, flags, rejects.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
	aesKeyBits, encodeHeader, flagNames, IMAGE_HEADER_SIZE, IMAGE_MAGIC, ImageFlag, parseHeader, tlvOffset, type ImageHeader,
} from "sealdrop/image";
import { expectCode, hex, unhex, vectorCases } from "../helpers/vectors.js";

/** A header written out by hand from the table in §A.2. */
const HAND_HEADER = unhex(
	"3d b8 f3 96" + //  0 ih_magic 0x96f3b83d
	"78 56 34 12" + //  4 ih_load_addr 0x12345678
	"00 02" +       //  8 ih_hdr_size 0x200
	"0c 00" +       // 10 ih_protect_tlv_size 12
	"00 90 01 00" + // 12 ih_img_size 0x19000
	"24 00 00 00" + // 16 ih_flags RAM_LOAD | ENCRYPTED_AES128
	"01 02 03 00 04 00 00 00" + // 20 version 1.2.3+4
	"00 00 00 00",  // 28 _pad1
);
const HAND_FIELDS: ImageHeader = {
	loadAddr: 0x12345678, hdrSize: 0x200, protectTlvSize: 12, imgSize: 0x19000, flags: 0x24,
	version: { major: 1, minor: 2, revision: 3, build: 4 },
};

/** Flag values from §A.3 (image.h:61-83), written independently of the module's table. */
const FLAG_TABLE: [string, number][] = [
	["PIC", 0x01], ["ENCRYPTED_AES128", 0x04], ["ENCRYPTED_AES256", 0x08], ["NON_BOOTABLE", 0x10], ["RAM_LOAD", 0x20],
	["ROM_FIXED", 0x100], ["COMPRESSED_LZMA1", 0x200], ["COMPRESSED_LZMA2", 0x400], ["COMPRESSED_ARM_THUMB", 0x800],
];

function header(overrides: Partial<ImageHeader> = {}): ImageHeader {
	return { loadAddr: 0, hdrSize: 32, protectTlvSize: 0, imgSize: 0, flags: 0, version: { major: 0, minor: 0, revision: 0, build: 0 }, ...overrides };
}

test("constants: magic 0x96f3b83d, 32-byte header", () => {
	assert.equal(IMAGE_MAGIC, 0x96f3b83d);
	assert.equal(IMAGE_HEADER_SIZE, 32);
});

test("parseHeader reads a hand-written header; encodeHeader writes it back byte for byte", () => {
	assert.deepEqual(parseHeader(HAND_HEADER), HAND_FIELDS);
	assert.equal(hex(encodeHeader(HAND_FIELDS)), hex(HAND_HEADER));
	assert.equal(tlvOffset(HAND_FIELDS), 0x200 + 0x19000);
});

test("parseHeader only looks at the first 32 bytes", () => {
	const longer = new Uint8Array(100).fill(0xa5);
	longer.set(HAND_HEADER);
	assert.deepEqual(parseHeader(longer), HAND_FIELDS);
});

test("every vector's header matches its sidecar and re-encodes to the same 32 bytes", () => {
	for (const c of vectorCases()) {
		const bytes = c.bytes();
		const e = c.sidecar.expected;
		const h = parseHeader(bytes);
		const [major, minor, revision, build] = e.version_tuple;
		assert.deepEqual(h.version, { major, minor, revision, build }, c.name);
		assert.equal(h.flags, e.flags, c.name);
		assert.equal(h.loadAddr, e.load_addr, c.name);
		assert.equal(h.hdrSize, e.header_size, c.name);
		assert.equal(h.imgSize, e.img_size, c.name);
		assert.deepEqual(flagNames(h.flags), e.flag_names, c.name);
		assert.equal(aesKeyBits(h.flags), e.aes_key_bits ?? 0, c.name);
		// protected area = 4-byte info + (4-byte TLV header + value) per TLV: SEC_CNT 4, DEPENDENCY 12
		const protTlvBytes = (e.security_counter !== null ? 4 + 4 : 0) + e.dependencies.length * (4 + 12);
		assert.equal(h.protectTlvSize, protTlvBytes ? 4 + protTlvBytes : 0, c.name);
		assert.equal(tlvOffset(h), e.header_size + e.img_size, c.name);
		assert.equal(hex(encodeHeader(h)), hex(bytes.subarray(0, 32)), c.name);
		assert.equal(hex(bytes.subarray(0, 4)), "3db8f396", c.name);
	}
});

test("encode/parse round trip over random headers", () => {
	let x = 0x9e3779b9;
	const next = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
	for (let i = 0; i < 300; i++) {
		let flags = next() & 0xfff;
		if ((flags & 0x0c) === 0x0c) flags &= ~0x08;
		const h = header({
			loadAddr: next(), hdrSize: 32 + (next() % (0xffff - 31)), protectTlvSize: next() & 0xffff, imgSize: next(), flags,
			version: { major: next() & 0xff, minor: next() & 0xff, revision: next() & 0xffff, build: next() },
		});
		const bytes = encodeHeader(h);
		assert.equal(bytes.length, 32);
		assert.equal(hex(bytes.subarray(28)), "00000000", "_pad1 is written as zero");
		assert.deepEqual(parseHeader(bytes), h);
	}
});

test("each flag has its name and value (§A.3)", () => {
	for (const [name, value] of FLAG_TABLE) {
		assert.equal((ImageFlag as Record<string, number>)[name], value, name);
		assert.deepEqual(flagNames(value), [name], name);
		const bytes = encodeHeader(header({ flags: value }));
		assert.equal(hex(bytes.subarray(16, 20)), hex(Uint8Array.of(value & 0xff, value >> 8, 0, 0)), name);
		assert.equal(parseHeader(bytes).flags, value, name);
	}
	assert.deepEqual(Object.keys(ImageFlag).sort(), FLAG_TABLE.map(([n]) => n).sort());
});

test("flagNames lists several flags and unknown bits as hex", () => {
	assert.deepEqual(flagNames(0), []);
	assert.deepEqual(flagNames(0x24), ["ENCRYPTED_AES128", "RAM_LOAD"]);
	assert.deepEqual(flagNames(0x02), ["0x2"]);
	assert.deepEqual(flagNames(0x80000000), ["0x80000000"]);
	assert.deepEqual(flagNames(0x80000109), ["PIC", "ENCRYPTED_AES256", "ROM_FIXED", "0x80000000"]);
	// 0xfff minus the known bits 0xf3d leaves 0x0c2
	assert.deepEqual(flagNames(0xfff), [...FLAG_TABLE.map(([n]) => n), "0xc2"]);
});

test("aesKeyBits: 0x04 → 128, 0x08 → 256, neither → 0", () => {
	assert.equal(aesKeyBits(0), 0);
	assert.equal(aesKeyBits(0x04), 128);
	assert.equal(aesKeyBits(0x08), 256);
	assert.equal(aesKeyBits(0x04 | 0x20 | 0x100), 128);
	assert.equal(aesKeyBits(0x08 | 0x10), 256);
	assert.equal(aesKeyBits(0xfffffff3), 0);
});

test("short input → E_TRUNCATED", () => {
	for (const length of [0, 1, 4, 16, 31]) expectCode(() => parseHeader(HAND_HEADER.subarray(0, length)), "E_TRUNCATED", `${length} bytes`);
});

test("wrong magic → E_BAD_MAGIC", () => {
	for (const magic of ["3c b8 f3 96" /* IMAGE_MAGIC_V1 */, "ff ff ff ff" /* IMAGE_MAGIC_NONE */, "96 f3 b8 3d" /* big-endian */, "00 00 00 00"]) {
		const bytes = HAND_HEADER.slice();
		bytes.set(unhex(magic), 0);
		expectCode(() => parseHeader(bytes), "E_BAD_MAGIC", magic);
	}
});

test("hdr_size below 32 → E_HEADER_SIZE; exactly 32 is fine", () => {
	for (const size of [0, 1, 16, 31]) {
		const bytes = HAND_HEADER.slice();
		bytes[8] = size;
		bytes[9] = 0;
		expectCode(() => parseHeader(bytes), "E_HEADER_SIZE", `hdr_size ${size}`);
	}
	const bytes = HAND_HEADER.slice();
	bytes[8] = 32;
	bytes[9] = 0;
	assert.equal(parseHeader(bytes).hdrSize, 32);
	bytes[8] = 0xff;
	bytes[9] = 0xff;
	assert.equal(parseHeader(bytes).hdrSize, 0xffff);
});

test("both AES flags → E_FLAGS", () => {
	for (const flags of [0x0c, 0x0c | 0x20, 0xffffffff]) {
		const bytes = HAND_HEADER.slice();
		bytes.set([flags & 0xff, (flags >>> 8) & 0xff, (flags >>> 16) & 0xff, flags >>> 24], 16);
		expectCode(() => parseHeader(bytes), "E_FLAGS", `flags 0x${flags.toString(16)}`);
	}
});

test("checks run in order: truncation, then magic, then size, then flags", () => {
	const bytes = encodeHeader(header({ hdrSize: 16, flags: 0x0c }));
	expectCode(() => parseHeader(bytes), "E_HEADER_SIZE");
	bytes[0] = 0;
	expectCode(() => parseHeader(bytes), "E_BAD_MAGIC");
	expectCode(() => parseHeader(bytes.subarray(0, 31)), "E_TRUNCATED");
});
