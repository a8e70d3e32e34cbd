/**
 * Every imgtool vector through parseImage, checked against its sidecar (what imgtool was asked to
 * write) and against the reference: TLV kinds and order, security counter, dependencies, padding,
 * and the hash over header + plaintext body + protected TLVs (§B.1).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
	aesKeyBits, allTlvs, dependencies, encodeHeader, encodeTlvArea, findEncTlv, findHashTlv, flagNames, formatVersion, isPureSigned,
	parseImage, securityCounter, SIGNATURE_TLV_TYPES, tlvName,
} from "sealdrop/image";
import { hex, readVectorFile, vectorCases } from "../helpers/vectors.js";

function sha(alg: string, ...parts: Uint8Array[]): string {
	const h = createHash(alg);
	for (const p of parts) h.update(p);
	return h.digest("hex");
}

test("the vector files are the ones the sidecars describe", () => {
	const cases = vectorCases();
	assert.equal(cases.length, 12);
	for (const c of cases) {
		assert.equal(c.sidecar.name, c.name);
		assert.equal(sha("sha256", c.bytes()), c.sidecar.image_sha256, c.name);
		const payload = readVectorFile(c.sidecar.payload.file);
		assert.equal(payload.length, c.sidecar.payload.input_size, c.name);
		assert.equal(sha("sha256", payload), c.sidecar.payload.input_sha256, c.name);
	}
});

for (const c of vectorCases()) {
	test(`${c.name}: ${c.description}`, () => {
		const bytes = c.bytes();
		const e = c.sidecar.expected;
		const image = parseImage(bytes);
		const h = image.header;

		// header
		assert.equal(formatVersion(h.version), e.version.includes("+") ? e.version : `${e.version}+0`);
		assert.deepEqual([h.version.major, h.version.minor, h.version.revision, h.version.build], e.version_tuple);
		assert.equal(h.flags, e.flags);
		assert.deepEqual(flagNames(h.flags), e.flag_names);
		assert.equal(h.loadAddr, e.load_addr);
		assert.equal(h.hdrSize, e.header_size);
		assert.equal(h.imgSize, e.img_size);
		assert.equal(aesKeyBits(h.flags), e.aes_key_bits ?? 0);
		assert.equal(image.tlvOffset, e.header_size + e.img_size);
		assert.ok(bytes.subarray(32, h.hdrSize).every((b) => b === e.header_fill_byte), "header fill");

		// TLVs: imgtool's order is hash, key, signature, [ENC] (§A.5)
		const names = image.unprotectedTlvs.map((t) => tlvName(t.type));
		assert.deepEqual(names, [e.hash_tlv, ...(e.sig_pure ? ["SIG_PURE"] : []), e.key_tlv, e.sig_tlv, ...(e.enc_tlv ? [e.enc_tlv] : [])]);
		assert.equal(tlvName(findHashTlv(image).tlv.type), e.hash_tlv);
		assert.equal(findHashTlv(image).alg, e.hash_tlv.toLowerCase());
		const sig = image.unprotectedTlvs.filter((t) => SIGNATURE_TLV_TYPES.includes(t.type));
		assert.deepEqual(sig.map((t) => tlvName(t.type)), [e.sig_tlv]);
		const enc = findEncTlv(image);
		assert.equal(enc ? tlvName(enc.type) : null, e.enc_tlv);
		assert.equal(enc ? enc.value.length : null, e.enc_tlv_len);
		assert.equal(isPureSigned(image), e.sig_pure);
		const keyhash = image.unprotectedTlvs.find((t) => tlvName(t.type) === "KEYHASH");
		assert.equal(keyhash?.value.length, findHashTlv(image).tlv.value.length, "KEYHASH uses the image hash algorithm");
		assert.ok(allTlvs(image).every((t, i, all) => i === 0 || t.offset > all[i - 1].offset), "TLVs in image order");
		assert.ok(image.unprotectedTlvs.every((t) => !t.protected) && image.protectedTlvs.every((t) => t.protected));

		// protected TLVs
		assert.equal(securityCounter(image), e.security_counter);
		assert.deepEqual(dependencies(image).map((d) => ({
			image_id: d.imageId, min_version: [d.minVersion.major, d.minVersion.minor, d.minVersion.revision, d.minVersion.build],
		})), e.dependencies);
		assert.equal(image.unprotectedOffset, image.tlvOffset + h.protectTlvSize);

		// size and padding
		assert.equal(image.size + image.trailingLength, bytes.length);
		if (e.padded) {
			assert.equal(bytes.length, e.file_size);
			assert.equal(bytes.length, e.slot_size);
			assert.ok(image.trailingLength > 0);
		} else {
			assert.equal(image.trailingLength, 0);
		}
		assert.equal(e.body_zero_padding, 0);

		// the image re-encodes from its parts
		const rebuilt = new Uint8Array(image.size);
		rebuilt.set(bytes.subarray(0, h.hdrSize));
		rebuilt.set(encodeHeader(h));
		rebuilt.set(bytes.subarray(h.hdrSize, image.tlvOffset), h.hdrSize);
		rebuilt.set(encodeTlvArea(image.protectedTlvs, true), image.tlvOffset);
		rebuilt.set(encodeTlvArea(image.unprotectedTlvs, false), image.unprotectedOffset);
		assert.equal(hex(rebuilt), hex(bytes.subarray(0, image.size)), "header + body + encodeTlvArea(prot) + encodeTlvArea(unprot)");

		// the hash: over header + plaintext body (+ imgtool's zero pad) + protected area (§B.1)
		const hashTlv = findHashTlv(image).tlv;
		const alg = e.hash_tlv.toLowerCase();
		const protectedArea = bytes.subarray(image.tlvOffset, image.unprotectedOffset);
		const body = bytes.subarray(h.hdrSize, image.tlvOffset);
		if (!e.payload_ciphertext) {
			assert.equal(sha(alg, bytes.subarray(0, image.unprotectedOffset)), hex(hashTlv.value), "hash of the hashed region");
		} else {
			assert.notEqual(sha(alg, bytes.subarray(0, image.unprotectedOffset)), hex(hashTlv.value), "a ciphertext body is not what was hashed");
			assert.notEqual(sha("sha256", body.subarray(0, c.sidecar.payload.plaintext_size)), c.sidecar.payload.plaintext_sha256, "the body is ciphertext");
		}
		const plaintext = readVectorFile(c.sidecar.payload.file).subarray(c.sidecar.payload.body_offset_in_input);
		assert.equal(sha("sha256", plaintext), c.sidecar.payload.plaintext_sha256);
		assert.equal(plaintext.length + e.body_zero_padding, h.imgSize);
		assert.equal(sha(alg, bytes.subarray(0, h.hdrSize), plaintext, new Uint8Array(e.body_zero_padding), protectedArea), hex(hashTlv.value),
			"hash of header + plaintext payload + protected area");
	});
}
