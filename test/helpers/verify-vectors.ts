/**
 * Makes test/vectors/verify/vectors.json, the signatures test/xs/verify.test.ts needs beyond the
 * imgtool images (it runs on XS, where node:crypto does not exist). Made once with node:crypto
 * and committed; ECDSA and RSA-PSS signing is randomized, so a rerun gives other bytes.
 *
 *   node build/js/test/helpers/verify-vectors.js --write
 *
 * - rsa3072: a fresh RSA-3072 key (there is no RSA-3072 imgtool image), as PKCS#1 and SPKI DER; a
 *   PSS signature (SHA-256, salt 32: MCUboot's RSA3072 TLV) over a digest, and the same digest
 *   signed with salt 20, salt 0 and PKCS#1 v1.5, which must all be refused.
 * - rsa2048: the imgtool key of images/signed_rsa2048.bin as SPKI DER, and that image's digest
 *   signed by its private key with salt 20 (refused: MCUboot accepts salt 32 only).
 * - rsa1024: a key of a size MCUboot has no TLV for, with a good PSS signature (refused anyway).
 * - ecdsa: signatures by the imgtool P-256 key whose r, then s, is below 2^248 (a 31-byte or
 *   shorter DER INTEGER, to be left-padded), whose r, then s, is 2^255 or more (a 33-byte DER
 *   INTEGER with a 0x00 sign byte, to be dropped), and one in raw r‖s form (not DER: refused).
 * Without --write it only checks that the committed file still verifies as it says.
 */
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { vectorsDir } from "./vectors.js";

export const verifyVectorsPath = join(vectorsDir, "..", "verify", "vectors.json");

export interface VerifyVectors {
	rsa3072: { pkcs1: string; spki: string; digest: string; message: string; signature: string; salt20: string; salt0: string; pkcs1v15: string };
	rsa2048: { spki: string; digest: string; salt20: string };
	rsa1024: { pkcs1: string; digest: string; message: string; signature: string };
	ecdsa: { shortR: Signed; shortS: Signed; longR: Signed; longS: Signed; raw: Signed };
}

interface Signed {
	message: string;
	digest: string;
	signature: string;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const sha256 = (bytes: Uint8Array) => crypto.createHash("sha256").update(bytes).digest();
const pss = (saltLength: number) => ({ padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength });

function rsaKey(bits: number) {
	return crypto.generateKeyPairSync("rsa", { modulusLength: bits, publicExponent: 65537 });
}

/** The bytes an MCUboot image's hash and signature cover: header, body, protected TLVs (§B.1). */
function hashedRegion(image: Buffer): Buffer {
	return image.subarray(0, image.readUInt16LE(8) + image.readUInt32LE(12) + image.readUInt16LE(10));
}

/** An ECDSA signature by `key` whose DER INTEGER number `which` (0: r, 1: s) has a length `wanted` accepts. */
function withInteger(key: crypto.KeyObject, which: 0 | 1, wanted: (length: number) => boolean): Signed {
	for (let i = 0; ; i++) {
		const message = Buffer.from(`sealdrop ecdsa vector ${which ? "s" : "r"} ${i}`);
		const signature = crypto.sign("sha256", message, { key, dsaEncoding: "der" });
		const rLength = signature[3];
		const length = which ? signature[5 + rLength] : rLength;
		if (wanted(length)) return { message: hex(message), digest: hex(sha256(message)), signature: hex(signature) };
	}
}

export function makeVerifyVectors(): VerifyVectors {
	const keys = join(vectorsDir, "keys");
	const r3072 = rsaKey(3072);
	const message3072 = Buffer.from("sealdrop rsa-3072 vector");
	const r1024 = rsaKey(1024);
	const message1024 = Buffer.from("sealdrop rsa-1024 vector");
	const rsa2048Private = crypto.createPrivateKey(readFileSync(join(keys, "sign-rsa-2048.pem")));
	const region2048 = hashedRegion(readFileSync(join(vectorsDir, "images", "signed_rsa2048.bin")));
	const ecdsaPrivate = crypto.createPrivateKey(readFileSync(join(keys, "sign-ecdsa-p256.pem")));
	const rawMessage = Buffer.from("sealdrop ecdsa vector raw");
	return {
		rsa3072: {
			pkcs1: hex(r3072.publicKey.export({ type: "pkcs1", format: "der" })),
			spki: hex(r3072.publicKey.export({ type: "spki", format: "der" })),
			message: hex(message3072),
			digest: hex(sha256(message3072)),
			signature: hex(crypto.sign("sha256", message3072, { key: r3072.privateKey, ...pss(32) })),
			salt20: hex(crypto.sign("sha256", message3072, { key: r3072.privateKey, ...pss(20) })),
			salt0: hex(crypto.sign("sha256", message3072, { key: r3072.privateKey, ...pss(0) })),
			pkcs1v15: hex(crypto.sign("sha256", message3072, { key: r3072.privateKey, padding: crypto.constants.RSA_PKCS1_PADDING })),
		},
		rsa2048: {
			spki: hex(crypto.createPublicKey(rsa2048Private).export({ type: "spki", format: "der" })),
			digest: hex(sha256(region2048)),
			salt20: hex(crypto.sign("sha256", region2048, { key: rsa2048Private, ...pss(20) })),
		},
		rsa1024: {
			pkcs1: hex(r1024.publicKey.export({ type: "pkcs1", format: "der" })),
			message: hex(message1024),
			digest: hex(sha256(message1024)),
			signature: hex(crypto.sign("sha256", message1024, { key: r1024.privateKey, ...pss(32) })),
		},
		ecdsa: {
			shortR: withInteger(ecdsaPrivate, 0, (n) => n <= 31),
			shortS: withInteger(ecdsaPrivate, 1, (n) => n <= 31),
			longR: withInteger(ecdsaPrivate, 0, (n) => n === 33),
			longS: withInteger(ecdsaPrivate, 1, (n) => n === 33),
			raw: {
				message: hex(rawMessage),
				digest: hex(sha256(rawMessage)),
				signature: hex(crypto.sign("sha256", rawMessage, { key: ecdsaPrivate, dsaEncoding: "ieee-p1363" })),
			},
		},
	};
}

/** What each vector is for, checked with node:crypto (salt length fixed at 32, as MCUboot). */
export function checkVerifyVectors(v: VerifyVectors): void {
	const b = (text: string) => Buffer.from(text, "hex");
	const key3072 = crypto.createPublicKey({ key: b(v.rsa3072.pkcs1), format: "der", type: "pkcs1" });
	const m3072 = b(v.rsa3072.message);
	assert.equal(hex(sha256(m3072)), v.rsa3072.digest);
	assert.equal(crypto.verify("sha256", m3072, { key: key3072, ...pss(32) }, b(v.rsa3072.signature)), true);
	for (const bad of [v.rsa3072.salt20, v.rsa3072.salt0, v.rsa3072.pkcs1v15])
		assert.equal(crypto.verify("sha256", m3072, { key: key3072, ...pss(32) }, b(bad)), false);
	const key1024 = crypto.createPublicKey({ key: b(v.rsa1024.pkcs1), format: "der", type: "pkcs1" });
	assert.equal(crypto.verify("sha256", b(v.rsa1024.message), { key: key1024, ...pss(32) }, b(v.rsa1024.signature)), true);
	const keys = join(vectorsDir, "keys");
	const key2048 = crypto.createPublicKey(readFileSync(join(keys, "sign-rsa-2048.pub.pem")));
	assert.equal(hex(key2048.export({ type: "spki", format: "der" })), v.rsa2048.spki);
	const region2048 = hashedRegion(readFileSync(join(vectorsDir, "images", "signed_rsa2048.bin")));
	assert.equal(crypto.verify("sha256", region2048, { key: key2048, ...pss(20) }, b(v.rsa2048.salt20)), true);
	assert.equal(crypto.verify("sha256", region2048, { key: key2048, ...pss(32) }, b(v.rsa2048.salt20)), false);
	const ecdsaKey = crypto.createPublicKey(readFileSync(join(keys, "sign-ecdsa-p256.pub.pem")));
	for (const s of [v.ecdsa.shortR, v.ecdsa.shortS, v.ecdsa.longR, v.ecdsa.longS]) {
		assert.equal(hex(sha256(b(s.message))), s.digest);
		assert.equal(crypto.verify("sha256", b(s.message), { key: ecdsaKey, dsaEncoding: "der" }, b(s.signature)), true);
	}
	assert.equal(crypto.verify("sha256", b(v.ecdsa.raw.message), { key: ecdsaKey, dsaEncoding: "ieee-p1363" }, b(v.ecdsa.raw.signature)), true);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	if (process.argv.includes("--write")) {
		const vectors = makeVerifyVectors();
		checkVerifyVectors(vectors);
		mkdirSync(dirname(verifyVectorsPath), { recursive: true });
		writeFileSync(verifyVectorsPath, JSON.stringify(vectors, null, "\t") + "\n");
		console.log(`wrote ${verifyVectorsPath}`);
	} else {
		checkVerifyVectors(JSON.parse(readFileSync(verifyVectorsPath, "utf8")) as VerifyVectors);
		console.log(`${verifyVectorsPath}: every vector checks out`);
	}
}
