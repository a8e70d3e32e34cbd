/**
 * The independent checker used by the round-trip tests must itself be right, or a passing
 * round trip proves nothing: its BigInt RSA agrees with node:crypto in both directions, and it
 * rejects every kind of tampering (body, header, protected TLVs, signature, ENC TLV).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import { vectorPath } from "../helpers/noble-cli.js";
import { nobleCheck, nobleDevice, nobleParse, nobleSigner, T } from "../helpers/noble-mcuboot.js";
import { modPow, rsaOaepDecryptSha256, rsaOaepEncryptSha256, rsaPssVerifySha256, rsaPublicKeyDer } from "../helpers/noble-rsa.js";
import { sha256 } from "@noble/hashes/sha2.js";

function read(relative: string): Uint8Array {
	return new Uint8Array(fs.readFileSync(vectorPath(relative)));
}

describe("noble-rsa against node:crypto", () => {
	const pem = fs.readFileSync(vectorPath("keys/enc-rsa-2048.pem"));
	const device = nobleDevice(pem);
	assert.equal(device.kind, "rsa-2048");
	const rsa = device.kind === "rsa-2048" ? device.rsa : { n: 0n, e: 0n, d: 0n };
	const nodePriv = crypto.createPrivateKey(pem);
	const nodePub = crypto.createPublicKey(nodePriv);

	test("modPow on small numbers", () => {
		assert.equal(modPow(4n, 13n, 497n), 445n);
		assert.equal(modPow(2n, 0n, 7n), 1n);
		assert.equal(modPow(3n, 200n, 1000000007n), BigInt(Number(3n ** 200n % 1000000007n)));
	});

	test("PKCS#1 RSAPublicKey DER equals node's export", () => {
		assert.deepEqual(Buffer.from(rsaPublicKeyDer(rsa)), nodePub.export({ type: "pkcs1", format: "der" }));
	});

	test("OAEP-SHA256: node encrypts, noble decrypts; noble encrypts, node decrypts", () => {
		const key = crypto.randomBytes(32);
		const ct = crypto.publicEncrypt({ key: nodePub, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, key);
		assert.deepEqual(Buffer.from(rsaOaepDecryptSha256(rsa, ct)!), key);
		const mine = rsaOaepEncryptSha256(rsa, key, crypto.randomBytes(32));
		assert.deepEqual(crypto.privateDecrypt({ key: nodePriv, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, mine), key);
		const bad = Buffer.from(ct);
		bad[100] ^= 1;
		assert.equal(rsaOaepDecryptSha256(rsa, bad), null);
		// OAEP with SHA-1 (node's default) is not what MCUboot uses and must not decode
		const sha1 = crypto.publicEncrypt({ key: nodePub, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING }, key);
		assert.equal(rsaOaepDecryptSha256(rsa, sha1), null);
	});

	test("PSS-SHA256 salt 32: node signs, noble verifies; other salt, data or key fails", () => {
		const data = crypto.randomBytes(1000);
		const sign = (saltLength: number) => crypto.sign("sha256", data, { key: nodePriv, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength });
		const sig = sign(32);
		assert.ok(rsaPssVerifySha256(rsa, sha256(data), sig));
		assert.ok(!rsaPssVerifySha256(rsa, sha256(data), sign(20)), "salt length 20");
		assert.ok(!rsaPssVerifySha256(rsa, sha256(crypto.randomBytes(10)), sig), "other message");
		const other = nobleSigner(fs.readFileSync(vectorPath("keys/sign-rsa-2048.pub.pem")));
		assert.ok(other.kind === "rsa-2048" && !rsaPssVerifySha256(other.rsa, sha256(data), sig), "other key");
	});
});

describe("nobleCheck rejects tampering", () => {
	const signed = "images/seccnt_explicit.bin"; // ECDSA P-256, with a protected area
	const signer = nobleSigner(read("keys/sign-ecdsa-p256.pub.pem"));

	test("the untouched image passes", () => {
		nobleCheck(read(signed), { signer, bodyEncrypted: false });
	});

	const flips: [string, (img: ReturnType<typeof nobleParse>) => number][] = [
		["a header byte (version)", () => 20],
		["a header fill byte", () => 100],
		["a body byte", (img) => img.hdrSize + 12345],
		["a protected TLV value byte", (img) => img.protectedTlvs[0].offset + 4],
		["a signature byte", (img) => img.tlvs.find((t) => t.type === T.ECDSASIG)!.offset + 20],
		["the KEYHASH", (img) => img.tlvs.find((t) => t.type === T.KEYHASH)!.offset + 4],
	];
	for (const [what, at] of flips) {
		test(what, () => {
			const bytes = read(signed);
			bytes[at(nobleParse(bytes))] ^= 0x01;
			assert.throws(() => nobleCheck(bytes, { signer, bodyEncrypted: false }));
		});
	}

	test("another signer's key", () => {
		assert.throws(() => nobleCheck(read(signed), { signer: nobleSigner(read("keys/enc-ec256.pub.pem")), bodyEncrypted: false }), /KEYHASH/);
	});

	test("an added SIG_PURE TLV (the digest signature is then checked against the whole region)", () => {
		const original = read("images/signed_ed25519.bin");
		const img = nobleParse(original);
		const bytes = new Uint8Array(img.end + 5);
		bytes.set(original.subarray(0, img.end));
		bytes.set([T.SIG_PURE, 0, 1, 0, 1], img.end);
		new DataView(bytes.buffer).setUint16(img.unprotectedOffset + 2, img.end + 5 - img.unprotectedOffset, true);
		const ed = nobleSigner(read("keys/sign-ed25519.pub.pem"));
		nobleCheck(original, { signer: ed, bodyEncrypted: false });
		assert.throws(() => nobleCheck(bytes, { signer: ed, bodyEncrypted: false }), /ed25519 signature does not verify/);
	});

	for (const [name, device, part] of [
		["enc_ec256_aes128", "keys/enc-ec256.pem", "tag"],
		["enc_x25519_aes256", "keys/enc-x25519.pem", "encrypted key"],
		["enc_rsa2048_aes128", "keys/enc-rsa-2048.pem", "OAEP block"],
	] as const) {
		test(`${name}: a changed ENC TLV (${part}) does not open`, () => {
			const bytes = read(`images/${name}.bin`);
			const enc = nobleParse(bytes).tlvs.find((t) => t.type >= 0x30 && t.type <= 0x34)!;
			bytes[enc.offset + 4 + enc.value.length - 1 - (part === "tag" ? 16 : 0)] ^= 0x01;
			assert.throws(() => nobleCheck(bytes, { device: nobleDevice(read(device)), bodyEncrypted: true }), /ENC:/);
		});
		test(`${name}: a changed ciphertext byte breaks the hash`, () => {
			const bytes = read(`images/${name}.bin`);
			bytes[0x200 + 777] ^= 0x01;
			assert.throws(() => nobleCheck(bytes, { device: nobleDevice(read(device)), bodyEncrypted: true }), /hash TLV/);
		});
	}
});
