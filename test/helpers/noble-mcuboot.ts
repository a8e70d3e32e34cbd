/**
 * An independent MCUboot image checker for the interop and round-trip tests, written from the
 * format reference (§A header/TLVs, §B hash and signatures, §C encryption) on @noble/hashes,
 * @noble/ciphers, @noble/curves and the BigInt RSA of noble-rsa.ts. It shares no code with the
 * product (no `sealdrop/image`, no host/cli): a bug common to both would have to be written twice.
 * node:crypto is only used to read key files (KeyObject → JWK); all the math is here.
 */
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { ctr } from "@noble/ciphers/aes.js";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { p256, p384 } from "@noble/curves/nist.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { concatBytes } from "@noble/hashes/utils.js";
import {
	base64UrlToBigInt, rsaOaepDecryptSha256, rsaPssVerifySha256, rsaPublicKeyDer, type RsaPrivateKey, type RsaPublicKey,
} from "./noble-rsa.js";

/* ---- Layout (§A) ---- */

export const MAGIC = 0x96f3b83d;
export const T = {
	KEYHASH: 0x01, PUBKEY: 0x02, SHA256: 0x10, SHA384: 0x11, SHA512: 0x12,
	RSA2048: 0x20, ECDSASIG: 0x22, RSA3072: 0x23, ED25519: 0x24, SIG_PURE: 0x25,
	ENC_RSA2048: 0x30, ENC_EC256: 0x32, ENC_X25519: 0x33, ENC_X25519_SHA512: 0x34,
	DEPENDENCY: 0x40, SEC_CNT: 0x50,
} as const;
const ENC_TYPES: readonly number[] = [T.ENC_RSA2048, T.ENC_EC256, T.ENC_X25519, T.ENC_X25519_SHA512];

export interface NobleTlv {
	type: number;
	/** Offset of the TLV's 4-byte header in the image. */
	offset: number;
	value: Uint8Array;
}

export interface NobleImage {
	loadAddr: number;
	hdrSize: number;
	protectTlvSize: number;
	imgSize: number;
	flags: number;
	version: [number, number, number, number];
	/** hdrSize + imgSize: the first TLV area. */
	tlvOffset: number;
	/** Start of the 0x6907 area: everything before it is hashed. */
	unprotectedOffset: number;
	/** End of the 0x6907 area. */
	end: number;
	protectedTlvs: NobleTlv[];
	tlvs: NobleTlv[];
}

function le16(b: Uint8Array, at: number): number {
	return b[at] | (b[at + 1] << 8);
}

function le32(b: Uint8Array, at: number): number {
	return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

function readArea(bytes: Uint8Array, at: number, magic: number): { tlvs: NobleTlv[]; end: number } {
	assert.ok(at + 4 <= bytes.length, `TLV area header at ${at} past the end`);
	assert.equal(le16(bytes, at), magic, `TLV area at ${at}: magic`);
	const total = le16(bytes, at + 2);
	const end = at + total;
	assert.ok(end <= bytes.length, `TLV area at ${at} (${total} bytes) past the end`);
	const tlvs: NobleTlv[] = [];
	for (let p = at + 4; p < end;) {
		assert.ok(p + 4 <= end, `TLV header at ${p} runs past its area`);
		const type = le16(bytes, p), len = le16(bytes, p + 2);
		assert.ok(p + 4 + len <= end, `TLV 0x${type.toString(16)} at ${p} runs past its area`);
		tlvs.push({ type, offset: p, value: bytes.subarray(p + 4, p + 4 + len) });
		p += 4 + len;
	}
	return { tlvs, end };
}

/** Reads header and TLV areas (struct image_header '<IIHHIIBBHII', 0x6908/0x6907 areas). */
export function nobleParse(bytes: Uint8Array): NobleImage {
	assert.ok(bytes.length >= 32, "shorter than a header");
	assert.equal(le32(bytes, 0), MAGIC, "image magic");
	const hdrSize = le16(bytes, 8), protectTlvSize = le16(bytes, 10), imgSize = le32(bytes, 12);
	assert.ok(hdrSize >= 32, "hdr_size below 32");
	const tlvOffset = hdrSize + imgSize;
	let protectedTlvs: NobleTlv[] = [];
	let unprotectedOffset = tlvOffset;
	if (protectTlvSize) {
		const area = readArea(bytes, tlvOffset, 0x6908);
		assert.equal(area.end - tlvOffset, protectTlvSize, "protected area size vs ih_protect_tlv_size");
		protectedTlvs = area.tlvs;
		unprotectedOffset = area.end;
	}
	const { tlvs, end } = readArea(bytes, unprotectedOffset, 0x6907);
	return {
		loadAddr: le32(bytes, 4), hdrSize, protectTlvSize, imgSize, flags: le32(bytes, 16),
		version: [bytes[20], bytes[21], le16(bytes, 22), le32(bytes, 24)],
		tlvOffset, unprotectedOffset, end, protectedTlvs, tlvs,
	};
}

/* ---- Keys (read with node:crypto as JWK; the bytes MCUboot hashes are built here) ---- */

export type NobleSigner =
	| { kind: "ecdsa-p256" | "ecdsa-p384"; point: Uint8Array }
	| { kind: "ed25519"; publicKey: Uint8Array }
	| { kind: "rsa-2048" | "rsa-3072"; rsa: RsaPublicKey };

export type NobleDevice =
	| { kind: "p256"; secret: Uint8Array }
	| { kind: "x25519"; secret: Uint8Array }
	| { kind: "rsa-2048"; rsa: RsaPrivateKey };

interface Jwk {
	kty?: string;
	crv?: string;
	x?: string;
	y?: string;
	d?: string;
	n?: string;
	e?: string;
}

function b64u(text: string | undefined): Uint8Array {
	assert.ok(text, "missing JWK field");
	return new Uint8Array(Buffer.from(text, "base64url"));
}

function publicJwk(pem: string | Uint8Array): Jwk {
	const data = typeof pem === "string" ? pem : Buffer.from(pem);
	const text = data.toString();
	const key = /PRIVATE KEY/.test(text) ? crypto.createPublicKey(crypto.createPrivateKey(data)) : crypto.createPublicKey(data);
	return key.export({ format: "jwk" }) as Jwk;
}

/** A signing key (public or private PEM) as the checker needs it. */
export function nobleSigner(pem: string | Uint8Array): NobleSigner {
	const jwk = publicJwk(pem);
	if (jwk.kty === "EC") {
		const point = new Uint8Array([4, ...b64u(jwk.x), ...b64u(jwk.y)]);
		if (jwk.crv === "P-256") return { kind: "ecdsa-p256", point };
		if (jwk.crv === "P-384") return { kind: "ecdsa-p384", point };
	}
	if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return { kind: "ed25519", publicKey: b64u(jwk.x) };
	if (jwk.kty === "RSA") {
		const rsa = { n: base64UrlToBigInt(jwk.n!), e: base64UrlToBigInt(jwk.e!) };
		const bits = rsa.n.toString(2).length;
		if (bits === 2048) return { kind: "rsa-2048", rsa };
		if (bits === 3072) return { kind: "rsa-3072", rsa };
	}
	throw new Error(`unsupported signing key ${jwk.kty} ${jwk.crv ?? ""}`);
}

/** A device private key (P-256, X25519 or RSA-2048 PEM). */
export function nobleDevice(pem: string | Uint8Array): NobleDevice {
	const jwk = crypto.createPrivateKey(typeof pem === "string" ? pem : Buffer.from(pem)).export({ format: "jwk" }) as Jwk;
	if (jwk.kty === "EC" && jwk.crv === "P-256") return { kind: "p256", secret: b64u(jwk.d) };
	if (jwk.kty === "OKP" && jwk.crv === "X25519") return { kind: "x25519", secret: b64u(jwk.d) };
	if (jwk.kty === "RSA") return { kind: "rsa-2048", rsa: { n: base64UrlToBigInt(jwk.n!), e: base64UrlToBigInt(jwk.e!), d: base64UrlToBigInt(jwk.d!) } };
	throw new Error(`unsupported device key ${jwk.kty} ${jwk.crv ?? ""}`);
}

function hexBytes(hex: string): Uint8Array {
	return new Uint8Array(Buffer.from(hex, "hex"));
}

/** SubjectPublicKeyInfo prefixes (RFC 5480 / RFC 8410) for the fixed-size key types. */
const SPKI_PREFIX = {
	"ecdsa-p256": hexBytes("3059301306072a8648ce3d020106082a8648ce3d030107034200"),
	"ecdsa-p384": hexBytes("3076301006072a8648ce3d020106052b81040022036200"),
	ed25519: hexBytes("302a300506032b6570032100"),
	x25519: hexBytes("302a300506032b656e032100"),
};

const concat = concatBytes; // noble's, so this checker shares no code with sealdrop/image

/** The public-key bytes MCUboot embeds and hashes: SPKI DER, PKCS#1 DER for RSA (reference §E.2). */
export function noblePublicKeyBytes(signer: NobleSigner): Uint8Array {
	switch (signer.kind) {
		case "ecdsa-p256": case "ecdsa-p384": return concat(SPKI_PREFIX[signer.kind], signer.point);
		case "ed25519": return concat(SPKI_PREFIX.ed25519, signer.publicKey);
		default: return rsaPublicKeyDer(signer.rsa);
	}
}

/** SPKI DER of an X25519 public key (for getpub raw comparisons). */
export function x25519Spki(publicKey: Uint8Array): Uint8Array {
	return concat(SPKI_PREFIX.x25519, publicKey);
}

/* ---- Hashes and encryption ---- */

export type NobleHash = "sha256" | "sha384" | "sha512";
const HASHES = { sha256, sha384, sha512 };
const HASH_TLV_ALG: Record<number, NobleHash> = { [T.SHA256]: "sha256", [T.SHA384]: "sha384", [T.SHA512]: "sha512" };

export function nobleHash(alg: NobleHash, ...parts: Uint8Array[]): Uint8Array {
	const h = HASHES[alg].create();
	for (const p of parts) h.update(p);
	return h.digest();
}

const ZERO_IV = new Uint8Array(16);
const ECIES_INFO = new TextEncoder().encode("MCUBoot_ECIES_v1");

/** AES-CTR with the counter block starting at 16 zero bytes (§C.1). */
export function nobleAesCtr(key: Uint8Array, data: Uint8Array): Uint8Array {
	return ctr(key, ZERO_IV).decrypt(data);
}

/**
 * Opens an ENC TLV (§C.2 ECIES, §C.3 RSA-OAEP) with a device key; `keyBytes` is what the header
 * flags call for (16 or 32). Throws an Error whose message starts with "ENC:" when it does not open.
 */
export function nobleUnwrap(tlv: { type: number; value: Uint8Array }, device: NobleDevice, keyBytes: number): Uint8Array {
	if (tlv.type === T.ENC_RSA2048) {
		if (device.kind !== "rsa-2048") throw new Error(`ENC: RSA TLV, ${device.kind} device key`);
		assert.equal(tlv.value.length, 256, "ENC_RSA2048 length");
		const key = rsaOaepDecryptSha256(device.rsa, tlv.value);
		if (!key) throw new Error("ENC: OAEP decoding failed");
		assert.equal(key.length, keyBytes, "AES key length in ENC_RSA2048");
		return key;
	}
	const isEc = tlv.type === T.ENC_EC256;
	const sha512Mac = tlv.type === T.ENC_X25519_SHA512;
	assert.ok(isEc || tlv.type === T.ENC_X25519 || sha512Mac, `not an ENC TLV: 0x${tlv.type.toString(16)}`);
	if (device.kind !== (isEc ? "p256" : "x25519")) throw new Error(`ENC: TLV 0x${tlv.type.toString(16)}, ${device.kind} device key`);
	const pointLength = isEc ? 65 : 32, macLength = sha512Mac ? 64 : 32;
	assert.equal(tlv.value.length, pointLength + macLength + keyBytes, "ECIES TLV length");
	const ephemeral = tlv.value.subarray(0, pointLength);
	const tag = tlv.value.subarray(pointLength, pointLength + macLength);
	const encryptedKey = tlv.value.subarray(pointLength + macLength);
	if (isEc) assert.equal(ephemeral[0], 0x04, "ephemeral P-256 point must be uncompressed");
	const shared = isEc ? p256.getSharedSecret(device.secret, ephemeral, true).subarray(1) : x25519.getSharedSecret(device.secret, ephemeral);
	const hash = sha512Mac ? sha512 : sha256;
	const okm = hkdf(hash, shared, undefined, ECIES_INFO, keyBytes + macLength);
	const kek = okm.subarray(0, keyBytes), macKey = okm.subarray(keyBytes);
	const expected = hmac(hash, macKey, encryptedKey);
	if (!expected.every((b, i) => b === tag[i])) throw new Error("ENC: HMAC tag does not match");
	return nobleAesCtr(kek, encryptedKey);
}

/* ---- The check ---- */

export interface NobleCheckOptions {
	/** Key the image must be signed with; no signature check without it. */
	signer?: NobleSigner;
	/** Device key that opens the ENC TLV. */
	device?: NobleDevice;
	/** Whether the body is stored as ciphertext (needs `device`). */
	bodyEncrypted: boolean;
}

export interface NobleCheckResult {
	image: NobleImage;
	hashAlg: NobleHash;
	digest: Uint8Array;
	/** The body in plaintext (decrypted when it was stored encrypted). */
	plaintextBody: Uint8Array;
	/** The AES key from the ENC TLV, when one was opened. */
	aesKey?: Uint8Array;
	aesKeyBytes: 0 | 16 | 32;
	pure: boolean;
}

export function aesKeyBytesOf(flags: number): 0 | 16 | 32 {
	assert.ok(!((flags & 0x04) && (flags & 0x08)), "both AES flags set");
	return flags & 0x04 ? 16 : flags & 0x08 ? 32 : 0;
}

/**
 * Checks an image the way a bootloader with these keys would: opens the ENC TLV, decrypts the
 * body, hashes header ‖ plaintext body ‖ protected TLVs (§B.1), compares the hash TLV, finds the
 * signer's KEYHASH (or PUBKEY) and verifies the signature TLV after it (§B.2). Assertion errors on
 * any mismatch.
 */
export function nobleCheck(bytes: Uint8Array, o: NobleCheckOptions): NobleCheckResult {
	const image = nobleParse(bytes);
	const hashTlvs = image.tlvs.filter((t) => HASH_TLV_ALG[t.type]);
	assert.equal(hashTlvs.length, 1, "exactly one hash TLV");
	const hashAlg = HASH_TLV_ALG[hashTlvs[0].type];
	const aesKeyBytes = aesKeyBytesOf(image.flags);
	const encTlvs = image.tlvs.filter((t) => ENC_TYPES.includes(t.type));
	assert.ok(encTlvs.length <= 1, "at most one ENC TLV");

	const storedBody = bytes.subarray(image.hdrSize, image.tlvOffset);
	let plaintextBody = storedBody;
	let aesKey: Uint8Array | undefined;
	if (o.device && encTlvs.length) {
		assert.ok(aesKeyBytes, "ENC TLV in an image without an ENCRYPTED flag");
		aesKey = nobleUnwrap(encTlvs[0], o.device, aesKeyBytes);
	}
	if (o.bodyEncrypted) {
		assert.ok(aesKeyBytes, "encrypted body but no ENCRYPTED_AES flag");
		assert.ok(aesKey, "encrypted body: needs an ENC TLV and the device key");
		plaintextBody = nobleAesCtr(aesKey, storedBody);
	}

	const header = bytes.subarray(0, image.hdrSize);
	const protectedArea = bytes.subarray(image.tlvOffset, image.unprotectedOffset);
	const digest = nobleHash(hashAlg, header, plaintextBody, protectedArea);
	assert.deepEqual(Buffer.from(digest).toString("hex"), Buffer.from(hashTlvs[0].value).toString("hex"), "hash TLV vs hash of header ‖ plaintext body ‖ protected TLVs");

	const pure = image.tlvs.some((t) => t.type === T.SIG_PURE);
	if (o.signer) {
		const signer = o.signer;
		const pub = noblePublicKeyBytes(signer);
		const keyHash = nobleHash(hashAlg, pub);
		const sigType = signer.kind.startsWith("ecdsa") ? T.ECDSASIG : signer.kind === "ed25519" ? T.ED25519 : signer.kind === "rsa-2048" ? T.RSA2048 : T.RSA3072;
		const idIndex = image.tlvs.findIndex((t) => (t.type === T.KEYHASH && equal(t.value, keyHash)) || (t.type === T.PUBKEY && equal(t.value, pub)));
		assert.ok(idIndex >= 0, `no KEYHASH/PUBKEY for the ${signer.kind} signer`);
		const sig = image.tlvs.slice(idIndex + 1).find((t) => t.type === sigType);
		assert.ok(sig, `no signature TLV 0x${sigType.toString(16)} after the key id`);
		let ok: boolean;
		// --pad-sig appends zeros after the DER (§B.2): the DER header says where it ends
		const der = (v: Uint8Array) => {
			assert.equal(v[0], 0x30, "ECDSA signature is a DER SEQUENCE");
			assert.ok(v.subarray(v[1] + 2).every((b) => b === 0), "only zero padding after the DER");
			return v.subarray(0, v[1] + 2);
		};
		switch (signer.kind) {
			case "ecdsa-p256":
				ok = p256.verify(der(sig.value), digest, signer.point, { prehash: false, format: "der", lowS: false });
				break;
			case "ecdsa-p384":
				ok = p384.verify(der(sig.value), digest, signer.point, { prehash: false, format: "der", lowS: false });
				break;
			case "ed25519":
				ok = ed25519.verify(sig.value, pure ? concat(header, plaintextBody, protectedArea) : digest, signer.publicKey);
				break;
			default:
				ok = rsaPssVerifySha256(signer.rsa, digest, sig.value, 32);
		}
		assert.ok(ok, `${signer.kind} signature does not verify`);
		if (pure) assert.equal(signer.kind, "ed25519", "SIG_PURE with a non-Ed25519 signature");
	}
	return { image, hashAlg, digest, plaintextBody: plaintextBody === storedBody ? storedBody.slice() : plaintextBody, aesKey, aesKeyBytes, pure };
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
	return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function sha256Hex(bytes: Uint8Array): string {
	return Buffer.from(sha256(bytes)).toString("hex");
}
