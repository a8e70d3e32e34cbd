/**
 * RSA for the independent image check: plain BigInt arithmetic plus MGF1 on @noble/hashes, written
 * from RFC 8017 without reusing anything of node:crypto or the product code. Node is only used (by
 * the callers) to read n, e and d out of key files.
 *
 * - RSASSA-PSS verification (§8.1.2 / EMSA-PSS-VERIFY §9.1.2), SHA-256, MGF1-SHA-256, salt 32:
 *   the scheme of MCUboot's RSA2048 / RSA3072 signature TLVs (reference §B.2).
 * - RSAES-OAEP decryption (§7.1.2), SHA-256, MGF1-SHA-256, empty label: the ENC_RSA2048 TLV (§C.3).
 */
import { sha256 } from "@noble/hashes/sha2.js";

export interface RsaPublicKey {
	n: bigint;
	e: bigint;
}

export interface RsaPrivateKey extends RsaPublicKey {
	d: bigint;
}

export function bytesToBigInt(bytes: Uint8Array): bigint {
	let x = 0n;
	for (const b of bytes) x = (x << 8n) | BigInt(b);
	return x;
}

/** I2OSP: big-endian, exactly `length` bytes; throws if x does not fit. */
export function bigIntToBytes(x: bigint, length: number): Uint8Array {
	const out = new Uint8Array(length);
	let v = x;
	for (let i = length - 1; i >= 0; i--) {
		out[i] = Number(v & 0xffn);
		v >>= 8n;
	}
	if (v !== 0n) throw new RangeError(`integer too large for ${length} bytes`);
	return out;
}

export function base64UrlToBigInt(text: string): bigint {
	return bytesToBigInt(new Uint8Array(Buffer.from(text, "base64url")));
}

export function bitLength(x: bigint): number {
	return x === 0n ? 0 : x.toString(2).length;
}

/** base^exp mod m, left-to-right square and multiply. */
export function modPow(base: bigint, exp: bigint, m: bigint): bigint {
	if (m === 1n) return 0n;
	let result = 1n;
	const b = ((base % m) + m) % m;
	for (let i = bitLength(exp) - 1; i >= 0; i--) {
		result = (result * result) % m;
		if ((exp >> BigInt(i)) & 1n) result = (result * b) % m;
	}
	return result;
}

/** MGF1 with SHA-256 (RFC 8017 §B.2.1). */
export function mgf1Sha256(seed: Uint8Array, length: number): Uint8Array {
	const out = new Uint8Array(length);
	const block = new Uint8Array(seed.length + 4);
	block.set(seed);
	for (let counter = 0, at = 0; at < length; counter++) {
		new DataView(block.buffer).setUint32(seed.length, counter, false);
		const h = sha256(block);
		out.set(h.subarray(0, Math.min(h.length, length - at)), at);
		at += h.length;
	}
	return out;
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
	const out = new Uint8Array(a.length);
	for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
	return out;
}

function modulusBytes(key: RsaPublicKey): number {
	return Math.ceil(bitLength(key.n) / 8);
}

/** RSASSA-PSS-VERIFY with SHA-256 over an already computed message hash `mHash`. */
export function rsaPssVerifySha256(key: RsaPublicKey, mHash: Uint8Array, signature: Uint8Array, saltLength = 32): boolean {
	const hLen = 32;
	const k = modulusBytes(key);
	if (signature.length !== k || mHash.length !== hLen) return false;
	const s = bytesToBigInt(signature);
	if (s >= key.n) return false;
	const modBits = bitLength(key.n);
	const emBits = modBits - 1;
	const emLen = Math.ceil(emBits / 8);
	const m = modPow(s, key.e, key.n);
	let em: Uint8Array;
	try {
		em = bigIntToBytes(m, emLen);
	} catch {
		return false;
	}
	if (emLen < hLen + saltLength + 2) return false;
	if (em[emLen - 1] !== 0xbc) return false;
	const maskedDb = em.subarray(0, emLen - hLen - 1);
	const h = em.subarray(emLen - hLen - 1, emLen - 1);
	const topBits = 8 * emLen - emBits;
	const topMask = (0xff << (8 - topBits)) & 0xff;
	if (maskedDb[0] & topMask) return false;
	const db = xor(maskedDb, mgf1Sha256(h, emLen - hLen - 1));
	db[0] &= ~topMask & 0xff;
	const psLength = emLen - hLen - saltLength - 2;
	for (let i = 0; i < psLength; i++) if (db[i] !== 0) return false;
	if (db[psLength] !== 0x01) return false;
	const salt = db.subarray(db.length - saltLength);
	const mPrime = new Uint8Array(8 + hLen + saltLength);
	mPrime.set(mHash, 8);
	mPrime.set(salt, 8 + hLen);
	const hPrime = sha256(mPrime);
	return hPrime.every((b, i) => b === h[i]);
}

/** RSAES-OAEP-DECRYPT with SHA-256 and an empty label; null on any decoding error. */
export function rsaOaepDecryptSha256(key: RsaPrivateKey, ciphertext: Uint8Array): Uint8Array | null {
	const hLen = 32;
	const k = modulusBytes(key);
	if (ciphertext.length !== k || k < 2 * hLen + 2) return null;
	const c = bytesToBigInt(ciphertext);
	if (c >= key.n) return null;
	const em = bigIntToBytes(modPow(c, key.d, key.n), k);
	const lHash = sha256(new Uint8Array(0));
	const maskedSeed = em.subarray(1, 1 + hLen);
	const maskedDb = em.subarray(1 + hLen);
	const seed = xor(maskedSeed, mgf1Sha256(maskedDb, hLen));
	const db = xor(maskedDb, mgf1Sha256(seed, k - hLen - 1));
	let bad = em[0] !== 0;
	for (let i = 0; i < hLen; i++) if (db[i] !== lHash[i]) bad = true;
	let at = hLen;
	while (at < db.length && db[at] === 0) at++;
	if (at >= db.length || db[at] !== 0x01) bad = true;
	return bad ? null : db.slice(at + 1);
}

/**
 * The matching encryption and signing primitives (public exponent for OAEP, private for PSS), so
 * the helper can be checked against itself and against node:crypto in tests.
 */
export function rsaOaepEncryptSha256(key: RsaPublicKey, message: Uint8Array, seed: Uint8Array): Uint8Array {
	const hLen = 32;
	const k = modulusBytes(key);
	const db = new Uint8Array(k - hLen - 1);
	db.set(sha256(new Uint8Array(0)));
	db[db.length - message.length - 1] = 0x01;
	db.set(message, db.length - message.length);
	const maskedDb = xor(db, mgf1Sha256(seed, db.length));
	const maskedSeed = xor(seed, mgf1Sha256(maskedDb, hLen));
	const em = new Uint8Array(k);
	em.set(maskedSeed, 1);
	em.set(maskedDb, 1 + hLen);
	return bigIntToBytes(modPow(bytesToBigInt(em), key.e, key.n), k);
}

/** DER encoding of PKCS#1 RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }. */
export function rsaPublicKeyDer(key: RsaPublicKey): Uint8Array {
	const integer = (x: bigint): Uint8Array => {
		let hex = x.toString(16);
		if (hex.length % 2) hex = "0" + hex;
		if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = "00" + hex;
		return derTlv(0x02, new Uint8Array(Buffer.from(hex, "hex")));
	};
	const n = integer(key.n), e = integer(key.e);
	const body = new Uint8Array(n.length + e.length);
	body.set(n);
	body.set(e, n.length);
	return derTlv(0x30, body);
}

export function derTlv(tag: number, value: Uint8Array): Uint8Array {
	let length: number[];
	if (value.length < 0x80) length = [value.length];
	else {
		const bytes: number[] = [];
		for (let l = value.length; l > 0; l >>= 8) bytes.unshift(l & 0xff);
		length = [0x80 | bytes.length, ...bytes];
	}
	const out = new Uint8Array(1 + length.length + value.length);
	out[0] = tag;
	out.set(length, 1);
	out.set(value, 1 + length.length);
	return out;
}
