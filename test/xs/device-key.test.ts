/**
 * DeviceKey (native/device-key.c) on XS. Needs a fresh state folder (sealdrop-xs --state DIR);
 * test/xs/device-key-restart.test.ts then runs in a second process on the same folder.
 * Vectors: RFC 7748 §6.1 (X25519), NIST CAVS KAS ECC CDH P-256 count 0, RFC 5869 case 1, and
 * the imgtool images of test/vectors/imgtool with their device keys.
 */
import AesCtr from "sealdrop/native/aes-ctr";
import DeviceKey from "sealdrop/native/device-key";
import Sha256 from "sealdrop/native/sha256";
import { concatBytes, findEncTlv, findHashTlv, parseImage } from "sealdrop/image";
import { writeFile } from "sealdrop/xs-host";
import { ctr } from "@noble/ciphers/aes.js";
import { p256 } from "@noble/curves/nist.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesEqual, equal, fromHex, ok, readVector, test, throws } from "../harness.js";
import { pemPrivateScalar, pemPublicKey } from "./pem.js";

/** MCUboot's ECIES wrap (mcuboot-image-format.md §C.2) done with @noble, for a known shared secret. */
function wrapWithShared(ephemeral: Uint8Array, shared: Uint8Array, imageKey: Uint8Array): Uint8Array {
	const okm = hkdf(sha256, shared, undefined, new TextEncoder().encode("MCUBoot_ECIES_v1"), imageKey.length + 32);
	const encrypted = ctr(okm.subarray(0, imageKey.length), new Uint8Array(16)).encrypt(imageKey);
	const tag = hmac(sha256, okm.subarray(imageKey.length), encrypted);
	return concatBytes([ephemeral, tag, encrypted]);
}

/** Whether `cipher` holds `key`: it must encrypt a block as AES-CTR with that key does. */
function holdsKey(cipher: AesCtr, key: Uint8Array): void {
	const block = new Uint8Array(48).fill(0x5a);
	const out = new Uint8Array(48);
	cipher.process(block, out, 1000);
	const expected = ctr(key, new Uint8Array(16)).encrypt(new Uint8Array(1048).fill(0x5a)).subarray(1000);
	bytesEqual(out, expected, "the unwrapped AES key");
}

test("device-key: generated P-256 key, stored, not exportable, one per slot", () => {
	equal(DeviceKey.exists(), false);
	const key = DeviceKey.generate("p256");
	equal(key.kind, "p256");
	const pub = new Uint8Array(key.publicKey());
	equal(pub.length, 65);
	equal(pub[0], 4);
	equal(key.isExportable(), false, "PSA refuses to export the private key");
	ok(DeviceKey.exists());
	throws(() => DeviceKey.generate("p256"), { code: "E_STATE" });
	bytesEqual(new Uint8Array(new DeviceKey().publicKey()), pub, "reopened");
	writeFile("slot0.pub", pub); // for device-key-restart.test.ts
});

test("device-key: generated X25519 key; destroy erases it", () => {
	const key = DeviceKey.generate("x25519", { slot: 1 });
	equal(key.kind, "x25519");
	equal(new Uint8Array(key.publicKey()).length, 32);
	equal(key.isExportable(), false);
	key.destroy();
	equal(DeviceKey.exists({ slot: 1 }), false);
	throws(() => key.publicKey());
	throws(() => new DeviceKey({ slot: 1 }), { code: "E_DEVICE_KEY" });
});

test("device-key: RFC 7748 §6.1 X25519 through the unwrap path (HKDF per RFC 5869 via @noble)", () => {
	// RFC 5869 test case 1 first: the HKDF used to build the TLV is the published one
	const okm = hkdf(sha256, fromHex("0b".repeat(22)), fromHex("000102030405060708090a0b0c"), fromHex("f0f1f2f3f4f5f6f7f8f9"), 42);
	bytesEqual(okm, fromHex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"), "RFC 5869 A.1");
	const alice = DeviceKey.import("x25519", fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"), { slot: 1 });
	bytesEqual(new Uint8Array(alice.publicKey()), fromHex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"), "Alice's public key");
	const bobPublic = fromHex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
	const shared = fromHex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
	const imageKey = fromHex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	holdsKey(alice.unwrap(wrapWithShared(bobPublic, shared, imageKey), "x25519", 256), imageKey);
	alice.destroy();
});

test("device-key: NIST CAVS P-256 ECDH through the unwrap path", () => {
	const dIUT = fromHex("7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534");
	const qIUT = fromHex("04ead218590119e8876b29146ff89ca61770c4edbbf97d38ce385ed281d8a6b23028af61281fd35e2fa7002523acc85a429cb06ee6648325389f59edfce1405141");
	const qCAVS = fromHex("04700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287db71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac");
	const zIUT = fromHex("46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b");
	bytesEqual(p256.getSharedSecret(dIUT, qCAVS).subarray(1), zIUT, "@noble/curves agrees with the vector");
	const key = DeviceKey.import("p256", dIUT, { slot: 1 });
	bytesEqual(new Uint8Array(key.publicKey()), qIUT, "QIUT");
	const imageKey = fromHex("0f0e0d0c0b0a09080706050403020100");
	holdsKey(key.unwrap(wrapWithShared(qCAVS, zIUT, imageKey), "ec256", 128), imageKey);
	key.destroy();
});

/** Decrypts an imgtool image with the device key and checks its SHA256 TLV over the plaintext. */
async function openImgtoolImage(name: string, kind: "p256" | "x25519", slot: number): Promise<void> {
	const sidecar = JSON.parse(new TextDecoder().decode(await readVector(`imgtool/images/${name}.json`))) as { keys: { enc_private_device: string; enc_public_used_by_imgtool: string } };
	const device = DeviceKey.import(kind, pemPrivateScalar(new TextDecoder().decode(await readVector(`imgtool/${sidecar.keys.enc_private_device}`))), { slot });
	bytesEqual(new Uint8Array(device.publicKey()), pemPublicKey(new TextDecoder().decode(await readVector(`imgtool/${sidecar.keys.enc_public_used_by_imgtool}`))), "the imported key's public half");
	const image = await readVector(`imgtool/images/${name}.bin`);
	const layout = parseImage(image);
	const enc = findEncTlv(layout)!;
	const bits = (enc.value.length - (kind === "p256" ? 97 : 64)) * 8;
	const cipher = device.unwrap(enc.value, kind === "p256" ? "ec256" : "x25519", bits as 128 | 256);
	const { hdrSize, imgSize } = layout.header;
	const body = image.slice(hdrSize, hdrSize + imgSize);
	for (let at = 0; at < body.length; at += 4096) cipher.process(body.subarray(at, at + 4096), body.subarray(at, at + 4096), at);
	const hash = new Sha256();
	hash.update(image.subarray(0, hdrSize));
	hash.update(body);
	hash.update(image.subarray(hdrSize + imgSize, layout.unprotectedOffset));
	bytesEqual(new Uint8Array(hash.digest()), findHashTlv(layout).tlv.value, `${name}: hash over the decrypted image`);

	const tampered = enc.value.slice();
	tampered[tampered.length - bits / 8 - 1] ^= 1; // a tag byte
	throws(() => device.unwrap(tampered, kind === "p256" ? "ec256" : "x25519", bits as 128 | 256), { code: "E_DEVICE_KEY" }, "flipped tag byte");
	device.destroy();
}

test("device-key: imgtool's ENC_EC256 image opens with its device key", () => openImgtoolImage("enc_ec256_aes128", "p256", 2));
test("device-key: imgtool's ENC_X25519 image opens with its device key", () => openImgtoolImage("enc_x25519_aes256", "x25519", 3));

test("device-key: another device's key, altered TLVs and bad arguments are refused", async () => {
	const image = await readVector("imgtool/images/enc_ec256_aes128.bin");
	const enc = findEncTlv(parseImage(image))!.value;
	const mine = new DeviceKey(); // slot 0: a generated key, not the one imgtool wrapped for
	throws(() => mine.unwrap(enc, "ec256", 128), { code: "E_DEVICE_KEY" }, "wrong device key");
	const badPoint = enc.slice();
	badPoint[10] ^= 1;
	throws(() => mine.unwrap(badPoint, "ec256", 128), /not a valid point|tag mismatch/, "ephemeral point off the curve");
	throws(() => mine.unwrap(enc, "x25519", 128), { code: "E_DEVICE_KEY" });
	throws(() => mine.unwrap(enc, "rsa" as never, 128), { type: TypeError });
	throws(() => mine.unwrap(enc, "ec256", 256), { code: "E_ENC_TLV" }, "length for AES-256");
	throws(() => mine.unwrap(enc, "ec256", 192 as never), { type: RangeError });
	throws(() => mine.unwrap(enc.subarray(1), "ec256", 128), { code: "E_ENC_TLV" });
	throws(() => mine.unwrap("tlv" as never, "ec256", 128), { type: TypeError });
	throws(() => DeviceKey.import("p256", new Uint8Array(32).fill(7), { slot: 3 }), { code: "E_KEY_FORMAT", message: /weak/ });
	throws(() => DeviceKey.import("p256", new Uint8Array(32).fill(0xff).map((b, i) => (i === 31 ? 0xfe : b)), { slot: 3 }), { code: "E_KEY_FORMAT", message: /malformed/ });
	throws(() => DeviceKey.import("x25519", new Uint8Array(31).fill(1), { slot: 3 }), { code: "E_KEY_FORMAT" });
	throws(() => DeviceKey.generate("rsa" as never, { slot: 3 }), { type: TypeError });
	throws(() => DeviceKey.generate("p256", { slot: 9 }), { type: RangeError });
	equal(DeviceKey.exists({ slot: 3 }), false, "nothing stored by the refused calls");
	mine.close();
	throws(() => mine.publicKey());
});
