/**
 * TLV areas (reference §A.4-§A.6): encoding, bootutil's parsing rules, TLV values.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
	concatBytes,
	decodeBootRecord, decodeDependency, describeTlv, encodeDependency, encodeTlvArea, encodeU32, ENC_TLV_TYPES, HASH_TLVS,
	parseImage, parseTlvArea, SIGNATURE_TLV_TYPES, splitEciesTlv, TLV_HEADER_SIZE, TLV_INFO_MAGIC, TLV_INFO_SIZE,
	TLV_PROT_INFO_MAGIC, tlvName, TlvType, type Tlv,
} from "sealdrop/image";
import { expectCode, hex, unhex, vectorCase, vectorCases } from "../helpers/vectors.js";

/** §A.5, written independently: type → [imgtool name, allowed fixed lengths or null when variable]. */
const TYPE_TABLE: [number, string, number[] | null][] = [
	[0x01, "KEYHASH", [32, 48, 64]], [0x02, "PUBKEY", null],
	[0x10, "SHA256", [32]], [0x11, "SHA384", [48]], [0x12, "SHA512", [64]],
	[0x20, "RSA2048", [256]], [0x21, "ECDSA224", null], [0x22, "ECDSASIG", null], [0x23, "RSA3072", [384]],
	[0x24, "ED25519", [64]], [0x25, "SIG_PURE", [1]],
	[0x30, "ENCRSA2048", [256]], [0x31, "ENCKW", [24, 40]], [0x32, "ENCEC256", [113, 129]], [0x33, "ENCX25519", [80, 96]],
	[0x34, "ENCX25519_SHA512", [112, 128]],
	[0x40, "DEPENDENCY", [12]], [0x50, "SEC_CNT", [4]], [0x60, "BOOT_RECORD", null],
	[0x70, "DECOMP_SIZE", [4]], [0x71, "DECOMP_SHA", null], [0x72, "DECOMP_SIGNATURE", null], [0x73, "COMP_DEC_SIZE", [4]],
	[0x74, "UUID_VID", [16]], [0x75, "UUID_CID", [16]],
];

function tlv(type: number, value: Uint8Array | number[], isProtected = false, offset = 0): Tlv {
	return { type, value: value instanceof Uint8Array ? value : Uint8Array.from(value), protected: isProtected, offset };
}

function filled(length: number, byte = 0x5a): Uint8Array {
	return new Uint8Array(length).fill(byte);
}

function putU16(bytes: Uint8Array, offset: number, value: number): void {
	bytes[offset] = value & 0xff;
	bytes[offset + 1] = value >>> 8;
}

function getU16(bytes: Uint8Array, offset: number): number {
	return bytes[offset] | (bytes[offset + 1] << 8);
}

test("constants: info magics 0x6907 / 0x6908, 4-byte info and TLV headers", () => {
	assert.equal(TLV_INFO_MAGIC, 0x6907);
	assert.equal(TLV_PROT_INFO_MAGIC, 0x6908);
	assert.equal(TLV_INFO_SIZE, 4);
	assert.equal(TLV_HEADER_SIZE, 4);
});

test("type numbers and imgtool names (§A.5)", () => {
	const byName = TlvType as Record<string, number>;
	const cNames: Record<number, string> = {
		0x20: "RSA2048_PSS", 0x22: "ECDSA_SIG", 0x23: "RSA3072_PSS", 0x30: "ENC_RSA2048", 0x31: "ENC_KW", 0x32: "ENC_EC256",
		0x33: "ENC_X25519", 0x34: "ENC_X25519_SHA512",
	};
	for (const [type, name] of TYPE_TABLE) {
		assert.equal(tlvName(type), name, `0x${type.toString(16)}`);
		assert.equal(byName[cNames[type] ?? name], type, name);
	}
	assert.equal(tlvName(0xa0), "CUSTOM");
	assert.equal(tlvName(0x1234), "CUSTOM");
	assert.equal(tlvName(0xfffe), "CUSTOM");
	assert.equal(tlvName(0x00), "UNKNOWN");
	assert.equal(tlvName(0x9f), "UNKNOWN");
	assert.equal(tlvName(0xffff), "UNKNOWN");
	assert.deepEqual(Object.keys(HASH_TLVS).map(Number).sort(), [0x10, 0x11, 0x12]);
	assert.deepEqual(HASH_TLVS[0x11], { alg: "sha384", length: 48 });
	assert.deepEqual([...ENC_TLV_TYPES].sort(), [0x30, 0x31, 0x32, 0x33, 0x34]);
	assert.deepEqual([...SIGNATURE_TLV_TYPES].sort(), [0x20, 0x22, 0x23, 0x24]);
});

test("encodeTlvArea writes info{magic, tot incl. itself} then {type, len, value} back to back", () => {
	assert.equal(hex(encodeTlvArea([{ type: 0x50, value: unhex("78563412") }], true)), hex(unhex("08 69 0c 00  50 00 04 00  78 56 34 12")));
	assert.equal(
		hex(encodeTlvArea([{ type: 0x10, value: filled(3, 0xab) }, { type: 0x1234, value: new Uint8Array(0) }, { type: 0x22, value: unhex("0102") }], false)),
		hex(unhex("07 69 15 00  10 00 03 00 ab ab ab  34 12 00 00  22 00 02 00 01 02")),
	);
	assert.equal(hex(encodeTlvArea([], false)), "07690400");
	assert.equal(encodeTlvArea([], true).length, 0, "an empty protected area is no area at all");
});

test("TLV area encode/parse round trip, with offsets into the image", () => {
	let x = 0x12345678;
	const next = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
	const variable = [0x02, 0x22, 0x60, 0x71, 0x72, 0xa0, 0x1234, 0xfffe];
	for (let round = 0; round < 200; round++) {
		const isProtected = round % 2 === 0;
		const tlvs: { type: number; value: Uint8Array }[] = [];
		for (let n = next() % 6; n > 0; n--) {
			const pick = next() % (TYPE_TABLE.length + variable.length);
			let type: number, length: number;
			if (pick < TYPE_TABLE.length) {
				const [t, , lengths] = TYPE_TABLE[pick];
				type = t;
				length = lengths ? lengths[next() % lengths.length] : next() % 300;
			} else {
				type = variable[pick - TYPE_TABLE.length];
				length = next() % 300;
			}
			const value = new Uint8Array(length).map(() => next() & 0xff);
			if (type === 0x25) value[0] = 1;
			tlvs.push({ type, value });
		}
		const area = encodeTlvArea(tlvs, isProtected);
		if (isProtected && tlvs.length === 0) {
			assert.equal(area.length, 0);
			continue;
		}
		const expectedSize = 4 + tlvs.reduce((sum, t) => sum + 4 + t.value.length, 0);
		assert.equal(area.length, expectedSize);
		assert.equal(getU16(area, 0), isProtected ? 0x6908 : 0x6907);
		assert.equal(getU16(area, 2), expectedSize);
		const areaOffset = next() % 200000;
		const parsed = parseTlvArea(area, areaOffset, isProtected);
		assert.equal(parsed.length, tlvs.length);
		let at = areaOffset + 4;
		parsed.forEach((p, i) => {
			assert.equal(p.type, tlvs[i].type);
			assert.equal(hex(p.value), hex(tlvs[i].value));
			assert.equal(p.protected, isProtected);
			assert.equal(p.offset, at);
			at += 4 + tlvs[i].value.length;
		});
		assert.equal(hex(encodeTlvArea(parsed, isProtected)), hex(area));
	}
});

test("parseTlvArea ignores bytes after tot", () => {
	const area = encodeTlvArea([{ type: 0x50, value: encodeU32(7) }], true);
	const longer = new Uint8Array(area.length + 10).fill(0xff);
	longer.set(area);
	const parsed = parseTlvArea(longer, 0, true);
	assert.equal(parsed.length, 1);
	assert.equal(hex(parsed[0].value), "07000000");
});

test("parseTlvArea rejects: short, wrong magic, tot too small, TLV past the area", () => {
	expectCode(() => parseTlvArea(unhex("0769"), 0, false), "E_TRUNCATED", "2 bytes");
	expectCode(() => parseTlvArea(new Uint8Array(0), 0, true), "E_TRUNCATED", "0 bytes");
	expectCode(() => parseTlvArea(unhex("07 69 0c 00 50 00 04 00"), 0, false), "E_TRUNCATED", "tot beyond the bytes");
	expectCode(() => parseTlvArea(unhex("07 69 04 00"), 0, true), "E_BAD_MAGIC", "unprotected magic for the protected area");
	expectCode(() => parseTlvArea(unhex("08 69 04 00"), 0, false), "E_BAD_MAGIC", "protected magic for the unprotected area");
	expectCode(() => parseTlvArea(unhex("3d b8 f3 96"), 0, false), "E_BAD_MAGIC", "image magic");
	for (const tot of [0, 1, 3]) expectCode(() => parseTlvArea(unhex(`07 69 0${tot} 00`), 0, false), "E_TLV_OVERRUN", `tot ${tot}`);
	// a TLV header cut by tot
	expectCode(() => parseTlvArea(unhex("07 69 06 00 10 00"), 0, false), "E_TLV_OVERRUN", "half a TLV header");
	expectCode(() => parseTlvArea(unhex("07 69 07 00 10 00 20"), 0, false), "E_TLV_OVERRUN", "3/4 of a TLV header");
	// a value running one byte past tot, even though the bytes are there
	const area = encodeTlvArea([{ type: 0x22, value: filled(10) }], false);
	putU16(area, 6, 11);
	expectCode(() => parseTlvArea(concatBytes([area, Uint8Array.of(0)]), 0, false), "E_TLV_OVERRUN", "value past tot");
	putU16(area, 6, 0xffff);
	expectCode(() => parseTlvArea(area, 0, false), "E_TLV_OVERRUN", "length 0xffff");
	// the last of several TLVs overruns
	const two = encodeTlvArea([{ type: 0x10, value: filled(32) }, { type: 0x22, value: filled(70) }], false);
	putU16(two, 4 + 4 + 32 + 2, 71);
	expectCode(() => parseTlvArea(two, 0, false), "E_TLV_OVERRUN", "second TLV");
	// empty area is fine
	assert.deepEqual(parseTlvArea(unhex("07 69 04 00"), 0, false), []);
	assert.deepEqual(parseTlvArea(unhex("08 69 04 00"), 0, true), []);
});

test("parseTlvArea: a TLV of a fixed-length type with another length → E_TLV_VALUE", () => {
	for (const [type, name, lengths] of TYPE_TABLE) {
		if (!lengths) {
			for (const length of [0, 1, 70, 72, 103, 300]) {
				const parsed = parseTlvArea(encodeTlvArea([{ type, value: filled(length) }], false), 0, false);
				assert.equal(parsed[0].value.length, length, `${name} is variable-length`);
			}
			continue;
		}
		for (const length of lengths) {
			const value = filled(length, type === 0x25 ? 1 : 0x5a);
			assert.equal(parseTlvArea(encodeTlvArea([{ type, value }], true), 0, true)[0].value.length, length, `${name} ${length}`);
		}
		const wrong = new Set([0, ...lengths.flatMap((l) => [l - 1, l + 1]), Math.max(...lengths) * 2]);
		for (const length of lengths) wrong.delete(length);
		for (const length of wrong) {
			if (length < 0) continue;
			const value = filled(length, 1);
			expectCode(() => parseTlvArea(encodeTlvArea([{ type, value }], false), 0, false), "E_TLV_VALUE", `${name} with ${length} bytes`);
		}
	}
	expectCode(() => parseTlvArea(encodeTlvArea([{ type: 0x25, value: Uint8Array.of(0) }], false), 0, false), "E_TLV_VALUE", "SIG_PURE 0x00");
	expectCode(() => parseTlvArea(encodeTlvArea([{ type: 0x25, value: Uint8Array.of(2) }], false), 0, false), "E_TLV_VALUE", "SIG_PURE 0x02");
	// custom TLVs may have any length
	for (const length of [0, 1, 5000]) assert.equal(parseTlvArea(encodeTlvArea([{ type: 0xa0, value: filled(length) }], true), 0, true)[0].value.length, length);
});

test("encodeTlvArea refuses values and areas beyond 65535 bytes", () => {
	expectCode(() => encodeTlvArea([{ type: 0xa0, value: new Uint8Array(0x10000) }], true), "E_TLV_VALUE", "value of 65536");
	expectCode(() => encodeTlvArea([{ type: 0xa0, value: new Uint8Array(40000) }, { type: 0xa1, value: new Uint8Array(40000) }], true), "E_TLV_VALUE", "area of 80012");
	// 4 + 4 + 65527 = 65535 is the largest area
	assert.equal(encodeTlvArea([{ type: 0xa0, value: new Uint8Array(65527) }], true).length, 65535);
	expectCode(() => encodeTlvArea([{ type: 0xa0, value: new Uint8Array(65528) }], true), "E_TLV_VALUE", "area of 65536");
});

/* Protected-area rules on real images (tlv.c:43-92), through parseImage */

function seccnt(): { bytes: Uint8Array; tlvOff: number } {
	const bytes = vectorCase("seccnt_explicit").bytes();
	return { bytes, tlvOff: getU16(bytes, 8) + (bytes[12] | (bytes[13] << 8) | (bytes[14] << 16)) };
}

test("the seccnt vector's protected area is 08 69 0c 00 50 00 04 00 78 56 34 12", () => {
	const { bytes, tlvOff } = seccnt();
	assert.equal(hex(bytes.subarray(tlvOff, tlvOff + 12)), hex(unhex("08 69 0c 00 50 00 04 00 78 56 34 12")));
	assert.equal(hex(bytes.subarray(tlvOff + 12, tlvOff + 14)), "0769");
	assert.equal(getU16(bytes, 10), 12, "ih_protect_tlv_size");
	const image = parseImage(bytes);
	assert.equal(image.tlvOffset, tlvOff);
	assert.equal(image.unprotectedOffset, tlvOff + 12);
	assert.equal(image.protectedTlvs.length, 1);
	assert.equal(image.protectedTlvs[0].offset, tlvOff + 4);
	assert.equal(image.protectedTlvs[0].protected, true);
	assert.ok(image.unprotectedTlvs.every((t) => !t.protected));
});

test("protected area tot ≠ ih_protect_tlv_size → E_PROT_SIZE", () => {
	for (const headerSize of [0, 4, 8, 11, 13, 16, 0xffff]) {
		const { bytes } = seccnt();
		putU16(bytes, 10, headerSize);
		expectCode(() => parseImage(bytes), "E_PROT_SIZE", `header says ${headerSize}, area is 12`);
	}
	for (const tot of [4, 8, 11, 13, 16, 0xffff]) {
		const { bytes, tlvOff } = seccnt();
		putU16(bytes, tlvOff + 2, tot);
		expectCode(() => parseImage(bytes), "E_PROT_SIZE", `area tot ${tot}, header says 12`);
	}
});

test("header announces a protected area but an unprotected one follows the body → E_PROT_SIZE", () => {
	for (const name of ["signed_ecdsa_p256", "enc_x25519_aes256"]) {
		const bytes = vectorCase(name).bytes();
		putU16(bytes, 10, 12);
		expectCode(() => parseImage(bytes), "E_PROT_SIZE", name);
	}
	// and a protected area with the wrong magic (0x6907): the header still announces 12 bytes
	const { bytes, tlvOff } = seccnt();
	putU16(bytes, tlvOff, 0x6907);
	expectCode(() => parseImage(bytes), "E_PROT_SIZE", "protected area with magic 0x6907");
});

test("a TLV running past its area → E_TLV_OVERRUN", () => {
	{
		const { bytes, tlvOff } = seccnt();
		putU16(bytes, tlvOff + 6, 5); // SEC_CNT claims 5 bytes in a 12-byte area: 4+4+5 = 13
		expectCode(() => parseImage(bytes), "E_TLV_OVERRUN", "SEC_CNT length 5");
	}
	{
		const bytes = vectorCase("dependency").bytes();
		const tlvOff = parseImage(bytes).tlvOffset;
		putU16(bytes, tlvOff + 6, 13);
		expectCode(() => parseImage(bytes), "E_TLV_OVERRUN", "DEPENDENCY length 13");
	}
	for (const c of vectorCases()) {
		const bytes = c.bytes();
		const image = parseImage(bytes);
		const last = image.unprotectedTlvs[image.unprotectedTlvs.length - 1];
		putU16(bytes, last.offset + 2, last.value.length + 1);
		expectCode(() => parseImage(bytes), "E_TLV_OVERRUN", `${c.name}: last TLV one byte longer`);
		// unprotected tot one byte short: the last TLV no longer fits
		const fresh = c.bytes();
		putU16(fresh, image.unprotectedOffset + 2, image.size - image.unprotectedOffset - 1);
		expectCode(() => parseImage(fresh), "E_TLV_OVERRUN", `${c.name}: tot one byte short`);
	}
});

test("a known TLV with the wrong length inside a real image → E_TLV_VALUE", () => {
	{
		const { bytes, tlvOff } = seccnt();
		putU16(bytes, tlvOff + 6, 3); // SEC_CNT with 3 bytes; the TLV itself still fits the area
		expectCode(() => parseImage(bytes), "E_TLV_VALUE", "SEC_CNT length 3");
	}
	{
		const bytes = vectorCase("signed_ed25519").bytes();
		const image = parseImage(bytes);
		const hash = image.unprotectedTlvs[0];
		assert.equal(hash.type, 0x10);
		putU16(bytes, hash.offset, 0x11); // a 32-byte value typed SHA384
		expectCode(() => parseImage(bytes), "E_TLV_VALUE", "32-byte SHA384");
	}
	{
		const bytes = vectorCase("signed_ed25519").bytes();
		const image = parseImage(bytes);
		const keyhash = image.unprotectedTlvs[1];
		assert.equal(keyhash.type, 0x01);
		putU16(bytes, keyhash.offset, 0x24); // a 32-byte value typed ED25519 (needs 64)
		expectCode(() => parseImage(bytes), "E_TLV_VALUE", "32-byte ED25519");
	}
});

test("wrong unprotected magic → E_BAD_MAGIC; a second protected area → E_BAD_MAGIC", () => {
	{
		const bytes = vectorCase("signed_ecdsa_p256").bytes();
		const image = parseImage(bytes);
		putU16(bytes, image.unprotectedOffset, 0x6906);
		expectCode(() => parseImage(bytes), "E_BAD_MAGIC");
	}
	{
		const { bytes, tlvOff } = seccnt();
		putU16(bytes, tlvOff + 12, 0x6908);
		expectCode(() => parseImage(bytes), "E_BAD_MAGIC");
	}
});

/* Values */

test("DEPENDENCY value: {u8 id, 3 pad, version} — matches the dependency vector's bytes", () => {
	const dep = { imageId: 1, minVersion: { major: 2, minor: 3, revision: 4, build: 5 } };
	const expected = unhex("01 00 00 00  02 03 04 00 05 00 00 00");
	assert.equal(hex(encodeDependency(dep)), hex(expected));
	assert.deepEqual(decodeDependency(expected), dep);
	const image = parseImage(vectorCase("dependency").bytes());
	assert.equal(image.protectedTlvs.length, 1);
	assert.equal(image.protectedTlvs[0].type, 0x40);
	assert.equal(hex(image.protectedTlvs[0].value), hex(expected));
	assert.equal(hex(encodeDependency({ imageId: 0xff, minVersion: { major: 255, minor: 255, revision: 65535, build: 4294967295 } })), "ff000000" + "ff".repeat(8));
	for (const length of [0, 11, 13]) expectCode(() => decodeDependency(new Uint8Array(length)), "E_TLV_VALUE", `${length} bytes`);
});

test("encodeU32 is little-endian; matches the seccnt vector's SEC_CNT", () => {
	assert.equal(hex(encodeU32(0x12345678)), "78563412");
	assert.equal(hex(encodeU32(0)), "00000000");
	assert.equal(hex(encodeU32(0xffffffff)), "ffffffff");
	assert.equal(hex(parseImage(vectorCase("seccnt_explicit").bytes()).protectedTlvs[0].value), hex(encodeU32(0x12345678)));
});

test("describeTlv: SEC_CNT and DEPENDENCY from the vectors", () => {
	const sec = parseImage(vectorCase("seccnt_explicit").bytes()).protectedTlvs[0];
	assert.deepEqual(describeTlv(sec), { securityCounter: 305419896 });
	const dep = parseImage(vectorCase("dependency").bytes()).protectedTlvs[0];
	assert.deepEqual(describeTlv(dep), { imageId: 1, minVersion: "2.3.4+5" });
	assert.deepEqual(describeTlv(tlv(0x50, [0xff, 0xff, 0xff, 0xff])), { securityCounter: 4294967295 });
});

test("describeTlv: ENC TLVs of the vectors (ECIES split, RSA as hex)", () => {
	for (const c of vectorCases()) {
		const e = c.sidecar.expected;
		if (!e.enc_tlv) continue;
		const image = parseImage(c.bytes());
		const enc = image.unprotectedTlvs.find((t) => tlvName(t.type) === e.enc_tlv);
		assert.ok(enc, `${c.name}: ${e.enc_tlv} TLV present`);
		assert.equal(enc.value.length, e.enc_tlv_len, c.name);
		const d = describeTlv(enc);
		if (e.enc_tlv === "ENCRSA2048") {
			assert.deepEqual(d, { hex: hex(enc.value) }, c.name);
			continue;
		}
		const point = e.enc_tlv === "ENCEC256" ? 65 : 32;
		assert.equal(d.aesKeyBits, e.aes_key_bits, c.name);
		assert.equal(d.ephemeralKey, hex(enc.value.subarray(0, point)), c.name);
		assert.equal(d.tag, hex(enc.value.subarray(point, point + 32)), c.name);
		assert.equal(d.encryptedKey, hex(enc.value.subarray(point + 32)), c.name);
		if (e.enc_tlv === "ENCEC256") assert.equal((d.ephemeralKey as string).slice(0, 2), "04", "uncompressed P-256 point");
	}
});

test("describeTlv: other value kinds", () => {
	assert.deepEqual(describeTlv(tlv(0x25, [1])), { pure: true });
	assert.deepEqual(describeTlv(tlv(0x70, [0x00, 0x00, 0x01, 0x00])), { size: 65536 });
	assert.deepEqual(describeTlv(tlv(0x73, [0x03, 0x00, 0x00, 0x00])), { size: 3 });
	assert.deepEqual(describeTlv(tlv(0x74, unhex("00112233445566778899aabbccddeeff"))), { uuid: "00112233-4455-6677-8899-aabbccddeeff" });
	assert.deepEqual(describeTlv(tlv(0x75, unhex("6ba7b8109dad11d180b400c04fd430c8"))), { uuid: "6ba7b810-9dad-11d1-80b4-00c04fd430c8" });
	assert.deepEqual(describeTlv(tlv(0x10, [0xde, 0xad])), { hex: "dead" });
	assert.deepEqual(describeTlv(tlv(0xa0, [0x68, 0x69])), { hex: "6869", text: "hi" });
	assert.deepEqual(describeTlv(tlv(0xa0, [0x00, 0x01])), { hex: "0001" });
	assert.deepEqual(describeTlv(tlv(0x9f, [0x68, 0x69])), { hex: "6869" }, "below 0xa0 is not custom");
});

test("describeTlv / decodeBootRecord: imgtool's CBOR measured-boot record", () => {
	const signer = filled(32, 0x11);
	// {1: "NSPE", 4: "1.2.3", 5: h'11..', 6: "SHA256", 2: h'00..'} (boot_record.py key order)
	const cbor = concatBytes([
		unhex("a5"),
		unhex("01 64"), ascii("NSPE"),
		unhex("04 65"), ascii("1.2.3"),
		unhex("05 58 20"), signer,
		unhex("06 66"), ascii("SHA256"),
		unhex("02 58 20"), new Uint8Array(32),
	]);
	const expected = { type: "NSPE", version: "1.2.3", signerId: hex(signer), measurementDescription: "SHA256", measurementValue: "00".repeat(32) };
	assert.deepEqual(decodeBootRecord(cbor), expected);
	assert.deepEqual(describeTlv(tlv(0x60, cbor, true)), { bootRecord: expected });
	assert.deepEqual(decodeBootRecord(unhex("a1 18 2a 19 01 00")), { "42": 256 }, "1- and 2-byte heads");
	// not a boot record: truncated, trailing bytes, not a map
	for (const bad of [cbor.subarray(0, cbor.length - 1), concatBytes([cbor, Uint8Array.of(0)]), unhex("80"), new Uint8Array(0)]) {
		assert.equal(decodeBootRecord(bad), undefined, hex(bad));
		assert.deepEqual(describeTlv(tlv(0x60, bad, true)), { bootRecord: hex(bad) });
	}
});

test("splitEciesTlv: ephemeral key | tag | encrypted key lengths for every ECIES TLV", () => {
	const cases: [number, number, number, number, number][] = [
		// type, total, point, tag, key
		[0x32, 113, 65, 32, 16], [0x32, 129, 65, 32, 32],
		[0x33, 80, 32, 32, 16], [0x33, 96, 32, 32, 32],
		[0x34, 112, 32, 64, 16], [0x34, 128, 32, 64, 32],
	];
	for (const [type, total, point, tagLength, key] of cases) {
		const value = new Uint8Array(total).map((_, i) => i);
		const parts = splitEciesTlv({ type, value });
		assert.equal(parts.ephemeral.length, point, `${tlvName(type)} ${total}`);
		assert.equal(parts.tag.length, tagLength, `${tlvName(type)} ${total}`);
		assert.equal(parts.encryptedKey.length, key, `${tlvName(type)} ${total}`);
		assert.equal(parts.ephemeral[0], 0);
		assert.equal(parts.tag[0], point);
		assert.equal(parts.encryptedKey[0], point + tagLength);
		assert.equal(hex(concatBytes([parts.ephemeral, parts.tag, parts.encryptedKey])), hex(value));
	}
	for (const [type, total] of [[0x32, 112], [0x32, 114], [0x32, 97], [0x33, 64], [0x33, 81], [0x33, 112], [0x34, 96], [0x34, 80], [0x34, 129]])
		expectCode(() => splitEciesTlv({ type, value: new Uint8Array(total) }), "E_ENC_TLV", `${tlvName(type)} ${total}`);
	for (const type of [0x30, 0x31, 0x10, 0x22])
		expectCode(() => splitEciesTlv({ type, value: new Uint8Array(113) }), "E_ENC_TLV", `${tlvName(type)} is not ECIES`);
});

function ascii(text: string): Uint8Array {
	return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

