/**
 * Verify (native/verify.c) on XS: the signatures of real imgtool images (ECDSA P-256, RSA-2048)
 * and of node:crypto-made vectors (RSA-3072, other salt lengths, short DER integers: see
 * test/helpers/verify-vectors.ts), then every way to spoil them: flipped bits in digest,
 * signature and key, malformed DER, wrong key types and sizes, bad arguments.
 */
import { ecdsaP256, rsaPss } from "sealdrop/native/verify";
import { concatBytes, findHashTlv, parseImage, TlvType } from "sealdrop/image";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesEqual, equal, fromHex, ok, readVector, test, throws } from "../harness.js";

interface Signed {
	message: string;
	digest: string;
	signature: string;
}
interface Vectors {
	rsa3072: { pkcs1: string; spki: string; digest: string; signature: string; salt20: string; salt0: string; pkcs1v15: string };
	rsa2048: { spki: string; digest: string; salt20: string };
	rsa1024: { pkcs1: string; digest: string; signature: string };
	ecdsa: { shortR: Signed; shortS: Signed; longR: Signed; longS: Signed; raw: Signed };
}

const vectors = JSON.parse(new TextDecoder().decode(await readVector("verify/vectors.json"))) as Vectors;

/** An imgtool image's digest (computed here, and checked against its hash TLV) and signature TLV. */
async function imageCase(name: string, signatureType: number) {
	const bytes = await readVector(`imgtool/images/${name}.bin`);
	const image = parseImage(bytes);
	const digest = sha256(bytes.subarray(0, image.unprotectedOffset));
	bytesEqual(digest, findHashTlv(image).tlv.value, `${name}: hash TLV`);
	const tlv = image.unprotectedTlvs.find((t) => t.type === signatureType);
	ok(tlv, `${name}: no signature TLV 0x${signatureType.toString(16)}`);
	return { digest, signature: tlv.value.slice() };
}

const ecdsaImage = await imageCase("signed_ecdsa_p256", TlvType.ECDSA_SIG);
const rsaImage = await imageCase("signed_rsa2048", TlvType.RSA2048_PSS);
const ecdsaSpki = await readVector("imgtool/getpub/sign-ecdsa-p256.raw"); // imgtool getpub -e raw: SPKI DER
const ecdsaPoint = ecdsaSpki.slice(ecdsaSpki.length - 65);
const rsa2048Pkcs1 = await readVector("imgtool/getpub/sign-rsa-2048.raw"); // PKCS#1 RSAPublicKey DER
const rsa2048Spki = fromHex(vectors.rsa2048.spki);
const p384Spki = await readVector("imgtool/getpub/sign-ecdsa-p384.raw");
const ed25519Spki = await readVector("imgtool/getpub/sign-ed25519.raw");
const otherSpki = await readVector("imgtool/getpub/enc-ec256.raw");

function flip(bytes: Uint8Array, bit: number): Uint8Array {
	const out = bytes.slice();
	out[bit >> 3] ^= 1 << (bit & 7);
	return out;
}

function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
	return concatBytes(parts.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p))));
}

/** DER SEQUENCE { INTEGER r, INTEGER s } from the INTEGERs' content bytes, as given. */
function derSignature(r: number[] | Uint8Array, s: number[] | Uint8Array): Uint8Array {
	return concat([0x30, 4 + r.length + s.length, 0x02, r.length], r, [0x02, s.length], s);
}

/** The content bytes of r and s of a DER ECDSA signature. */
function integers(signature: Uint8Array): [Uint8Array, Uint8Array] {
	const rLength = signature[3];
	const r = signature.slice(4, 4 + rLength);
	const s = signature.slice(6 + rLength, 6 + rLength + signature[5 + rLength]);
	return [r, s];
}

const RANGE = { type: RangeError };
const TYPE = { type: TypeError };

/* ECDSA P-256 */

test("ecdsaP256: the imgtool image's signature, key as SPKI DER and as a raw point", () => {
	equal(ecdsaP256(ecdsaSpki, ecdsaImage.digest, ecdsaImage.signature), true);
	equal(ecdsaP256(ecdsaPoint, ecdsaImage.digest, ecdsaImage.signature), true);
});

test("ecdsaP256: ArrayBuffer, DataView and offset views are read where they point", () => {
	const inside = (bytes: Uint8Array) => concat([0xee, 0xee, 0xee], bytes, [0xee]).subarray(3, 3 + bytes.length);
	equal(ecdsaP256(ecdsaSpki.slice().buffer, new DataView(ecdsaImage.digest.slice().buffer), inside(ecdsaImage.signature)), true);
	equal(ecdsaP256(inside(ecdsaPoint), inside(ecdsaImage.digest), ecdsaImage.signature.slice().buffer), true);
});

test("ecdsaP256: DER integers shorter than 32 bytes are left-padded (node:crypto vectors)", () => {
	for (const v of [vectors.ecdsa.shortR, vectors.ecdsa.shortS]) {
		const signature = fromHex(v.signature);
		const [r, s] = integers(signature);
		ok(r.length <= 31 || s.length <= 31, "vector has a short integer");
		bytesEqual(sha256(fromHex(v.message)), fromHex(v.digest));
		equal(ecdsaP256(ecdsaSpki, fromHex(v.digest), signature), true);
		// the same values zero-padded to 32 bytes: not DER's shortest form
		const pad = (x: Uint8Array) => (x.length < 32 && x[0] < 0x80 ? concat(new Uint8Array(32 - x.length), x) : x);
		equal(ecdsaP256(ecdsaSpki, fromHex(v.digest), derSignature(pad(r), pad(s))), false);
	}
});

test("ecdsaP256: 33-byte DER integers (0x00 sign byte) are read; without the sign byte they are negative", () => {
	for (const [v, which] of [[vectors.ecdsa.longR, 0], [vectors.ecdsa.longS, 1]] as const) {
		const signature = fromHex(v.signature);
		const [r, s] = integers(signature);
		const long = which ? s : r;
		ok(long.length === 33 && long[0] === 0 && long[1] >= 0x80, "vector has a 33-byte integer");
		equal(ecdsaP256(ecdsaSpki, fromHex(v.digest), signature), true);
		// the same bits without the sign byte: a negative INTEGER, however right its magnitude
		const negative = long.subarray(1);
		equal(ecdsaP256(ecdsaSpki, fromHex(v.digest), which ? derSignature(r, negative) : derSignature(negative, s)), false);
	}
});

test("ecdsaP256: every flipped bit of the digest or of the signature is refused", () => {
	for (let bit = 0; bit < 256; bit++) equal(ecdsaP256(ecdsaSpki, flip(ecdsaImage.digest, bit), ecdsaImage.signature), false, `digest bit ${bit}`);
	const signature = ecdsaImage.signature;
	for (let bit = 0; bit < signature.length * 8; bit++) equal(ecdsaP256(ecdsaSpki, ecdsaImage.digest, flip(signature, bit)), false, `signature bit ${bit}`);
});

test("ecdsaP256: malformed DER signatures are refused", () => {
	const good = ecdsaImage.signature;
	const [r, s] = integers(good);
	const digest = ecdsaImage.digest;
	const strip = (x: Uint8Array) => (x[0] === 0 ? x.subarray(1) : x);
	const cases: [string, Uint8Array][] = [
		["empty", new Uint8Array(0)],
		["trailing byte", concat(good, [0])],
		["--pad-sig padding to 72 bytes", concat(good, new Uint8Array(72 - good.length))],
		["truncated", good.subarray(0, good.length - 1)],
		["SEQUENCE length + 1", concat([0x30, good[1] + 1], good.subarray(2), [0])],
		["SEQUENCE length - 1", concat([0x30, good[1] - 1], good.subarray(2))],
		["long-form SEQUENCE length", concat([0x30, 0x81, good[1]], good.subarray(2))],
		["indefinite length", concat([0x30, 0x80], good.subarray(2), [0, 0])],
		["SET instead of SEQUENCE", concat([0x31], good.subarray(1))],
		["BIT STRING instead of INTEGER", concat([0x30, good[1], 0x03], good.subarray(3))],
		["only r", concat([0x30, 2 + r.length, 0x02, r.length], r)],
		["r, s and one more", derSignature(r, concat(s, [0x02, 0x01, 0x01]))],
		["raw r||s (IEEE P1363)", fromHex(vectors.ecdsa.raw.signature)],
		["r negative (sign byte dropped)", derSignature(concat([0x80 | strip(r)[0]], strip(r).subarray(1)), s)],
		["r with a redundant 0x00", derSignature(concat([0], r), s)],
		["r = 0", derSignature([0], s)],
		["s = 0", derSignature(r, [0])],
		["r empty", derSignature([], s)],
		["r of 33 bytes", derSignature(concat([0x01], new Uint8Array(32).fill(0x11)), s)],
		["r of 34 bytes with 0x00", derSignature(concat([0x00], new Uint8Array(33).fill(0x91)), s)],
		["r = s = 2^256 - 1 (not below n)", derSignature(concat([0], new Uint8Array(32).fill(0xff)), concat([0], new Uint8Array(32).fill(0xff)))],
		["r and s swapped", derSignature(s, r)],
	];
	for (const [name, signature] of cases) equal(ecdsaP256(ecdsaSpki, digest, signature), false, name);
	equal(ecdsaP256(ecdsaSpki, fromHex(vectors.ecdsa.raw.digest), fromHex(vectors.ecdsa.raw.signature)), false, "raw r||s of its own digest");
	// the same values in DER are fine: only the encoding was wrong
	const raw = fromHex(vectors.ecdsa.raw.signature);
	const positive = (x: Uint8Array) => {
		let i = 0;
		while (i < x.length - 1 && x[i] === 0 && x[i + 1] < 0x80) i++;
		return x[i] >= 0x80 ? concat([0], x.subarray(i)) : x.subarray(i);
	};
	equal(ecdsaP256(ecdsaSpki, fromHex(vectors.ecdsa.raw.digest), derSignature(positive(raw.subarray(0, 32)), positive(raw.subarray(32)))), true, "re-encoded as DER");
});

test("ecdsaP256: another key, or a malformed, compressed or non-P-256 key is refused", () => {
	const { digest, signature } = ecdsaImage;
	const otherPoint = fromHex("04" + "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296" + "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"); // the P-256 generator
	equal(ecdsaP256(otherPoint, digest, signature), false, "the generator as key");
	equal(ecdsaP256(otherSpki, digest, signature), false, "another P-256 key (imgtool's enc-ec256)");
	const cases: [string, Uint8Array][] = [
		["empty", new Uint8Array(0)],
		["point without 04", ecdsaPoint.subarray(1)],
		["point with 05 prefix", concat([0x05], ecdsaPoint.subarray(1))],
		["compressed point", concat([0x02 | (ecdsaPoint[64] & 1)], ecdsaPoint.subarray(1, 33))],
		["SPKI with a trailing byte", concat(ecdsaSpki, [0])],
		["SPKI truncated", ecdsaSpki.subarray(0, ecdsaSpki.length - 1)],
		["SPKI with unused bits", (() => { const k = ecdsaSpki.slice(); k[25] = 1; return k; })()],
		["SPKI of a P-384 key", p384Spki],
		["SPKI of an Ed25519 key", ed25519Spki],
		["RSA key", rsa2048Pkcs1],
		["point at infinity", concat([0x04], new Uint8Array(64))],
	];
	for (const [name, key] of cases) throws(() => ecdsaP256(key, digest, signature), RANGE, name);
	for (const bit of [8 + 3, 8 + 100, 8 + 255, 8 + 256 + 7, 8 + 511]) {
		throws(() => ecdsaP256(flip(ecdsaPoint, bit), digest, signature), RANGE, `point bit ${bit}`);
		throws(() => ecdsaP256(flip(ecdsaSpki, 26 * 8 + bit), digest, signature), RANGE, `SPKI point bit ${bit}`);
	}
	for (let bit = 0; bit < 26 * 8; bit++) throws(() => ecdsaP256(flip(ecdsaSpki, bit), digest, signature), RANGE, `SPKI header bit ${bit}`);
});

/* RSA-PSS */

test("rsaPss: the imgtool RSA-2048 image's signature, key as PKCS#1 and as SPKI", () => {
	equal(rsaPss(rsa2048Pkcs1, rsaImage.digest, rsaImage.signature), true);
	equal(rsaPss(rsa2048Spki, rsaImage.digest, rsaImage.signature), true);
	bytesEqual(rsaImage.digest, fromHex(vectors.rsa2048.digest), "vectors made from the same image");
	const inside = concat([1, 2, 3], rsaImage.signature, [4]).subarray(3, 3 + 256);
	equal(rsaPss(new DataView(rsa2048Pkcs1.slice().buffer), rsaImage.digest.slice().buffer, inside), true, "other views");
});

test("rsaPss: RSA-3072 (node:crypto), key as PKCS#1 and as SPKI", () => {
	const v = vectors.rsa3072;
	equal(rsaPss(fromHex(v.pkcs1), fromHex(v.digest), fromHex(v.signature)), true);
	equal(rsaPss(fromHex(v.spki), fromHex(v.digest), fromHex(v.signature)), true);
});

test("rsaPss: a salt length other than 32, or PKCS#1 v1.5, is refused", () => {
	const v = vectors.rsa3072;
	equal(rsaPss(fromHex(v.pkcs1), fromHex(v.digest), fromHex(v.salt20)), false, "3072, salt 20");
	equal(rsaPss(fromHex(v.pkcs1), fromHex(v.digest), fromHex(v.salt0)), false, "3072, salt 0");
	equal(rsaPss(fromHex(v.pkcs1), fromHex(v.digest), fromHex(v.pkcs1v15)), false, "3072, PKCS#1 v1.5");
	equal(rsaPss(rsa2048Pkcs1, rsaImage.digest, fromHex(vectors.rsa2048.salt20)), false, "2048, salt 20 over the image digest");
});

test("rsaPss: flipped bits of digest, signature or modulus are refused", () => {
	const { digest, signature } = rsaImage;
	for (let bit = 0; bit < 256; bit += 7) equal(rsaPss(rsa2048Pkcs1, flip(digest, bit), signature), false, `digest bit ${bit}`);
	for (let bit = 0; bit < 2048; bit += 61) equal(rsaPss(rsa2048Pkcs1, digest, flip(signature, bit)), false, `signature bit ${bit}`);
	// modulus: rsa2048Pkcs1 = 30 82 01 0a 02 82 01 01 00 <256 bytes n> 02 03 <e>; keep n odd and 2048 bits
	for (const byte of [10, 50, 100, 200, 263]) equal(rsaPss(flip(rsa2048Pkcs1, byte * 8 + 1), digest, signature), false, `modulus byte ${byte}`);
	const v = vectors.rsa3072;
	equal(rsaPss(fromHex(v.pkcs1), flip(fromHex(v.digest), 0), fromHex(v.signature)), false, "3072 digest");
	equal(rsaPss(fromHex(v.pkcs1), fromHex(v.digest), flip(fromHex(v.signature), 3000)), false, "3072 signature");
});

test("rsaPss: a signature of the wrong length, from another key, or not below the modulus is refused", () => {
	const { digest, signature } = rsaImage;
	const v = vectors.rsa3072;
	equal(rsaPss(rsa2048Pkcs1, digest, signature.subarray(1)), false, "255 bytes");
	equal(rsaPss(rsa2048Pkcs1, digest, concat(signature, [0])), false, "257 bytes");
	equal(rsaPss(rsa2048Pkcs1, digest, concat([0], signature.subarray(0, 255))), false, "shifted");
	equal(rsaPss(rsa2048Pkcs1, digest, new Uint8Array(0)), false, "empty");
	equal(rsaPss(rsa2048Pkcs1, digest, new Uint8Array(256).fill(0xff)), false, "all 0xff: above n");
	equal(rsaPss(rsa2048Pkcs1, digest, new Uint8Array(256)), false, "zero");
	equal(rsaPss(fromHex(v.pkcs1), fromHex(v.digest), signature), false, "2048 signature, 3072 key");
	equal(rsaPss(rsa2048Pkcs1, fromHex(v.digest), fromHex(v.signature)), false, "3072 signature, 2048 key");
	equal(rsaPss(fromHex(v.pkcs1), digest, fromHex(v.signature)), false, "3072 key, another digest");
});

test("rsaPss: malformed keys, other key types and sizes throw RangeError", () => {
	const { digest, signature } = rsaImage;
	const pkcs1 = rsa2048Pkcs1;
	const cases: [string, Uint8Array][] = [
		["empty", new Uint8Array(0)],
		["PKCS#1 with a trailing byte", concat(pkcs1, [0])],
		["PKCS#1 truncated", pkcs1.subarray(0, pkcs1.length - 1)],
		["PKCS#1 with a third INTEGER", concat([0x30, 0x82, 0x01, 0x0d], pkcs1.subarray(4), [0x02, 0x01, 0x01])],
		["SPKI with a trailing byte", concat(rsa2048Spki, [0])],
		["SPKI without the NULL parameters", concat([0x30, 0x82, 0x01, 0x20, 0x30, 0x0b], rsa2048Spki.subarray(6, 17), rsa2048Spki.subarray(19))],
		["negative modulus", (() => { const k = pkcs1.slice(); k[8] = 0x80; return k; })()],
		["modulus with a redundant 0x00", concat([0x30, 0x82, 0x01, 0x0b, 0x02, 0x82, 0x01, 0x02, 0x00], pkcs1.subarray(8))],
		["modulus of 2047 bits", concat([0x30, 0x82, 0x01, 0x09, 0x02, 0x82, 0x01, 0x00, pkcs1[9] & 0x7f], pkcs1.subarray(10))],
		["RSA-1024", fromHex(vectors.rsa1024.pkcs1)],
		["P-256 SPKI", ecdsaSpki],
		["P-256 point", ecdsaPoint],
		["Ed25519 SPKI", ed25519Spki],
	];
	for (const [name, key] of cases) throws(() => rsaPss(key, digest, signature), RANGE, name);
	throws(() => rsaPss(fromHex(vectors.rsa1024.pkcs1), fromHex(vectors.rsa1024.digest), fromHex(vectors.rsa1024.signature)), RANGE, "RSA-1024 with its own good signature");
});

/* Arguments */

test("verify: arguments that are not byte buffers throw TypeError, a digest not of 32 bytes RangeError", () => {
	const { digest, signature } = ecdsaImage;
	const bad: unknown[] = [undefined, null, 1, "bytes", [1, 2, 3], {}, new Uint16Array(32), Symbol("x"), () => 0];
	for (const f of [ecdsaP256, rsaPss] as ((...args: unknown[]) => boolean)[]) {
		const key = f === ecdsaP256 ? ecdsaSpki : rsa2048Pkcs1;
		for (const b of bad) {
			throws(() => f(b, digest, signature), TYPE, `${f.name} key ${String(b)}`);
			throws(() => f(key, b, signature), TYPE, `${f.name} digest ${String(b)}`);
			throws(() => f(key, digest, b), TYPE, `${f.name} signature ${String(b)}`);
		}
		throws(() => f(), TYPE, `${f.name}()`);
		throws(() => f(key, digest), TYPE, `${f.name} without signature`);
		for (const n of [0, 20, 31, 33, 48, 64]) throws(() => f(key, new Uint8Array(n), signature), RANGE, `${f.name} digest of ${n} bytes`);
	}
	throws(() => ecdsaP256(ecdsaSpki, sha256(new Uint8Array(1)).subarray(1), signature), { type: RangeError, message: /32 bytes/ });
});
