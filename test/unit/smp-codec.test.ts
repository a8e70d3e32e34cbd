/**
 * The SMP codecs against independent truth: headers as smp-protocol.md §1 lays them out, the
 * serial framing against frames made by Python's binascii.crc_hqx and base64 (§6), and CBOR
 * against RFC 8949 Appendix A (definite and indefinite), plus the decoder's limits.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { CborError, decodeCbor, encodeCbor } from "../../modules/transport/smp/cbor.js";
import { completeSmpPacketLength, decodeSmpHeader, encodeSmpPacket } from "../../modules/transport/smp/header.js";
import { base64Decode, base64Encode, crc16Xmodem, encodeSerialFrame, SerialFrameDecoder } from "../../modules/transport/smp/serial-framing.js";

const hex = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s/g, ""), "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

test("header: an SMP v2 echo write, byte for byte (§1: b0 = ver << 3 | op, big-endian length and group)", () => {
	const packet = encodeSmpPacket({ op: 2, version: 1, flags: 0, group: 0, sequence: 0x42, command: 0 }, hex("a161646568656c6c6f"));
	assert.equal(toHex(packet), "0a00000900004200a161646568656c6c6f");
	assert.deepEqual(decodeSmpHeader(hex("0b 00 01 02 00 40 ff 06")), { op: 3, version: 1, flags: 0, length: 0x102, group: 64, sequence: 255, command: 6 });
	assert.deepEqual(decodeSmpHeader(hex("10 00 00 00 00 01 00 00")), { op: 0, version: 2, flags: 0, length: 0, group: 1, sequence: 0, command: 0 });
	assert.equal(completeSmpPacketLength(hex("0a00000900004200a1616465")), 0);
	assert.equal(completeSmpPacketLength(hex("0a00000900004200a161646568656c6c6f00")), 17);
});

test("CRC-16/XMODEM: the check value and the crc_hqx of an SMP packet", () => {
	assert.equal(crc16Xmodem(new TextEncoder().encode("123456789")), 0x31c3);
	assert.equal(crc16Xmodem(hex("0a00000900004200a161646568656c6c6f")), 0x4619);
});

test("serial framing: a one-line frame equals Python's (binascii + base64)", () => {
	const frame = encodeSerialFrame(hex("0a00000900004200a161646568656c6c6f"));
	assert.equal(toHex(frame), "060941424d4b4141414a41414243414b46685a47566f5a5778736230595a0a");
});

test("serial framing: a 1024-byte packet makes 12 lines of at most 127 bytes, identical to Python's", () => {
	const packet = new Uint8Array(1024).map((_, i) => i & 0xff);
	const frame = encodeSerialFrame(packet);
	assert.equal(createHash("sha256").update(frame).digest("hex"), "89925a4e870c8bac5507901b6f59572c44ff950e97de78fc542834c828e657aa");
	const lines = Buffer.from(frame).toString("latin1").split("\n").slice(0, -1);
	assert.equal(lines.length, 12);
	for (const line of lines) assert.ok(line.length + 1 <= 127);
	assert.equal(crc16Xmodem(packet), 0xc2e0);
});

test("serial decoder: byte-by-byte, console text between lines, and back to back", () => {
	const a = new Uint8Array(700).map((_, i) => (i * 7) & 0xff);
	const b = hex("0a00000900004200a161646568656c6c6f");
	const stream = Buffer.concat([Buffer.from("boot banner\r\n"), encodeSerialFrame(a), Buffer.from("uart: shell> \n"), encodeSerialFrame(b)]);
	const decoder = new SerialFrameDecoder();
	const out: Uint8Array[] = [];
	for (const byte of stream) out.push(...decoder.push(Uint8Array.of(byte)));
	assert.deepEqual(out.map(toHex), [toHex(a), toHex(b)]);
});

test("serial decoder: a bad CRC, a stray continuation, an overlong line and bad base64 are dropped silently; the next frame still decodes", () => {
	const good = hex("0a00000900004200a161646568656c6c6f");
	const bad = encodeSerialFrame(good);
	bad[5] = bad[5] === 0x41 ? 0x42 : 0x41; // one base64 character changed: the CRC fails
	const stray = Buffer.from("\x04\x14QUJD\n", "latin1");
	const overlong = Buffer.concat([Buffer.from([6, 9]), Buffer.alloc(200, 0x41), Buffer.from("\n")]);
	const junk = Buffer.from("\x06\x09!!!!\n", "latin1");
	const decoder = new SerialFrameDecoder();
	const out = decoder.push(Buffer.concat([bad, stray, overlong, junk, encodeSerialFrame(good)]));
	assert.deepEqual(out.map(toHex), [toHex(good)]);
	assert.ok(decoder.dropped.frames >= 2 && decoder.dropped.lines >= 2);
});

test("serial decoder: a packet above maxPacket is dropped", () => {
	const decoder = new SerialFrameDecoder({ maxPacket: 256 });
	assert.deepEqual(decoder.push(encodeSerialFrame(new Uint8Array(300))), []);
	assert.equal(decoder.push(encodeSerialFrame(new Uint8Array(200))).length, 1);
});

test("base64: RFC 4648 test vectors both ways", () => {
	const vectors = [["", ""], ["f", "Zg=="], ["fo", "Zm8="], ["foo", "Zm9v"], ["foob", "Zm9vYg=="], ["fooba", "Zm9vYmE="], ["foobar", "Zm9vYmFy"]];
	for (const [plain, coded] of vectors) {
		assert.equal(Buffer.from(base64Encode(Buffer.from(plain))).toString(), coded);
		assert.equal(Buffer.from(base64Decode(Buffer.from(coded))!).toString(), plain);
	}
	assert.equal(base64Decode(Buffer.from("Zm9v!")), undefined);
	assert.equal(base64Decode(Buffer.from("Z")), undefined);
});

// RFC 8949 Appendix A
const DEFINITE: [unknown, string][] = [
	[0, "00"], [23, "17"], [24, "1818"], [100, "1864"], [1000, "1903e8"], [1000000, "1a000f4240"], [1000000000000, "1b000000e8d4a51000"],
	[Number.MAX_SAFE_INTEGER, "1b001fffffffffffff"], [-1, "20"], [-10, "29"], [-100, "3863"], [-1000, "3903e7"],
	[false, "f4"], [true, "f5"], [null, "f6"], [undefined, "f7"],
	[new Uint8Array(0), "40"], [hex("01020304"), "4401020304"], ["", "60"], ["a", "6161"], ["IETF", "6449455446"], ["\u00fc", "62c3bc"], ["\u6c34", "63e6b0b4"],
	[[], "80"], [[1, 2, 3], "83010203"], [[1, [2, 3], [4, 5]], "8301820203820405"], [{}, "a0"], [{ a: 1, b: [2, 3] }, "a26161016162820203"],
	[["a", { b: "c" }], "826161a161626163"], [1.1, "fb3ff199999999999a"],
];

test("CBOR: RFC 8949 Appendix A items decode and encode (definite lengths)", () => {
	for (const [value, coded] of DEFINITE) {
		assert.deepEqual(decodeCbor(hex(coded)), value, coded);
		assert.equal(toHex(encodeCbor(value as never)), coded, JSON.stringify(value));
	}
});

test("CBOR: RFC 8949 Appendix A indefinite lengths, floats and tags decode", () => {
	const cases: [string, unknown][] = [
		["5f42010243030405ff", hex("0102030405")], ["7f657374726561646d696e67ff", "streaming"], ["9fff", []],
		["9f018202039f0405ffff", [1, [2, 3], [4, 5]]], ["9f01820203820405ff", [1, [2, 3], [4, 5]]], ["83018202039f0405ff", [1, [2, 3], [4, 5]]],
		["bf61610161629f0203ffff", { a: 1, b: [2, 3] }], ["826161bf61626163ff", ["a", { b: "c" }]], ["bf6346756ef563416d7421ff", { Fun: true, Amt: -2 }],
		["f93c00", 1], ["f97bff", 65504], ["f90001", 5.960464477539063e-8], ["fa47c35000", 100000], ["f9fc00", -Infinity],
		["c074323031332d30332d32315432303a30343a30305a", "2013-03-21T20:04:00Z"], ["d74401020304", hex("01020304")],
	];
	for (const [coded, value] of cases) assert.deepEqual(decodeCbor(hex(coded)), value, coded);
});

test("CBOR: byte strings as views of the request with byteStringViews (the upload's data without a copy), copies otherwise", () => {
	const request = encodeCbor({ off: 512, data: new Uint8Array(300).fill(7), sha: new Uint8Array(32).fill(1) });
	const viewed = decodeCbor(request, { byteStringViews: true }) as { data: Uint8Array; sha: Uint8Array };
	assert.equal(viewed.data.buffer, request.buffer, "data is a view of the request");
	assert.deepEqual(viewed.data, new Uint8Array(300).fill(7));
	request[viewed.data.byteOffset - request.byteOffset] = 9;
	assert.equal(viewed.data[0], 9, "and sees the request's bytes");
	const copied = decodeCbor(request) as { data: Uint8Array };
	assert.notEqual(copied.data.buffer, request.buffer, "by default a copy");
	assert.deepEqual(copied.data, viewed.data);
	// an indefinite byte string is gathered into a buffer of its own either way
	const chunked = hex("a1 64 64617461 5f 42 0102 41 03 ff");
	assert.deepEqual((decodeCbor(chunked, { byteStringViews: true }) as { data: Uint8Array }).data, hex("010203"));
});

test("CBOR: an SMP upload request in any key order, indefinite, with extra keys (§11.6)", () => {
	const definite = encodeCbor({ off: 0, len: 1000, data: hex("3db8f396"), sha: new Uint8Array(32), image: 0, upgrade: false });
	const value = decodeCbor(definite) as Record<string, unknown>;
	assert.equal(value.len, 1000);
	// Jackson-style: BF ... FF, keys in another order, an unknown key
	const indefinite = hex("bf 63 6f6666 00 64 64617461 44 3db8f396 63 6c656e 1903e8 65 6578747261 f5 ff");
	assert.deepEqual(decodeCbor(indefinite), { off: 0, data: hex("3db8f396"), len: 1000, extra: true });
});

test("CBOR: malformed or oversized input is refused with CborError, never a crash", () => {
	const refused = [
		"", "18", "1b0020000000000000", "5a000fffff00", "7f61ff", "5f6161ff", "a16161", "a1016161", "a2616101616102",
		"ff", "9f", "bf6161ff", "1c", "f8", "f5f5", "62c328", "9a00000400", "c0", "df",
		"81".repeat(9) + "00", "9f".repeat(9) + "00" + "ff".repeat(9),
	];
	for (const coded of refused) assert.throws(() => decodeCbor(hex(coded)), CborError, coded);
	const many = hex("9f" + "00".repeat(257) + "ff");
	assert.throws(() => decodeCbor(many), CborError);
	assert.deepEqual(decodeCbor(hex("81".repeat(8) + "00")), [[[[[[[[0]]]]]]]]);
	// a "__proto__" key is a plain key, not a prototype
	const proto = decodeCbor(hex("a1695f5f70726f746f5f5fa0")) as Record<string, unknown>;
	assert.equal(Object.getPrototypeOf(proto), Object.prototype);
	assert.ok(Object.prototype.hasOwnProperty.call(proto, "__proto__"));
});
