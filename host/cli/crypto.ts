/**
 * Host-side cryptography for the MCUboot format, on Node's crypto (OpenSSL): image hashes,
 * signatures (reference §B.2), AES-CTR body encryption and the key-wrapping TLVs (§C).
 */
import crypto from "node:crypto";
import { fail, splitEciesTlv, TlvType } from "sealdrop/image";
import { ECIES_INFO, eciesWrap, hkdf } from "./ecies.js";
import { rawPublicKey, type Key, type KeyKind } from "./keys.js";

export { eciesWrap, hkdf };

export type HashAlg = "sha256" | "sha384" | "sha512";

export const HASH_TLV_TYPE: Record<HashAlg, number> = { sha256: TlvType.SHA256, sha384: TlvType.SHA384, sha512: TlvType.SHA512 };

/** Signature TLV type for a signing key kind. */
export function signatureTlvType(kind: KeyKind): number {
	switch (kind) {
		case "ecdsa-p256": case "ecdsa-p384": return TlvType.ECDSA_SIG;
		case "rsa-2048": return TlvType.RSA2048_PSS;
		case "rsa-3072": return TlvType.RSA3072_PSS;
		case "ed25519": return TlvType.ED25519;
		default: fail("E_KEY_TYPE", `${kind} keys cannot sign images (use ecdsa-p256, ecdsa-p384, ed25519, rsa-2048 or rsa-3072)`);
	}
}

/** The hash imgtool picks for a key (image.py:171-241): P-384 → SHA-384, pure Ed25519 → SHA-512. */
export function hashAlgFor(kind: KeyKind | undefined, requested: "auto" | HashAlg, pure: boolean): HashAlg {
	if (pure) {
		if (requested !== "auto") fail("E_USAGE", "--pure selects SHA-512 itself; do not combine it with --sha");
		return "sha512";
	}
	const natural: HashAlg = kind === "ecdsa-p384" ? "sha384" : "sha256";
	if (requested === "auto" || requested === natural) return natural;
	if (kind === undefined || kind === "ed25519") return requested;
	fail("E_USAGE", `${kind} keys sign SHA-${natural.slice(3)} images only, not --sha ${requested.slice(3)}`);
}

const PSS = { padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };

/** Node's digest name for the message a key kind signs, or null where the message is given raw. */
function signDigest(kind: KeyKind): string | null {
	return kind === "ecdsa-p384" ? "sha384" : kind === "ed25519" ? null : "sha256";
}

/**
 * Signs like imgtool: ECDSA/RSA over the hashed region (so over its digest), Ed25519 over the
 * digest bytes as its message, or over the region itself when pure.
 */
export function signImage(key: Key, region: Uint8Array, digest: Uint8Array, pure: boolean): Buffer {
	if (key.kind === "ed25519") return crypto.sign(null, pure ? region : digest, key.privateKey!);
	return crypto.sign(signDigest(key.kind), region, key.kind.startsWith("rsa") ? { key: key.privateKey!, ...PSS } : key.privateKey!);
}

/**
 * A signature check that is fed the hashed region chunk by chunk (never the whole image),
 * except pure Ed25519, which by definition needs the whole region.
 */
export class SignatureCheck {
	readonly #key: Key;
	readonly #pure: boolean;
	readonly #verifier: crypto.Verify | null;
	readonly #chunks: Uint8Array[] = [];

	constructor(key: Key, pure: boolean) {
		this.#key = key;
		this.#pure = pure;
		const digest = signDigest(key.kind);
		this.#verifier = digest ? crypto.createVerify(digest) : null;
	}

	update(bytes: Uint8Array): void {
		if (this.#verifier) this.#verifier.update(bytes);
		else if (this.#pure) this.#chunks.push(bytes.slice());
	}

	verify(signature: Uint8Array, digest: Uint8Array): boolean {
		try {
			if (this.#verifier) {
				// imgtool's --pad-sig zero-pads the DER; the DER itself says how long it is
				const sig = this.#key.kind.startsWith("ecdsa") && signature[0] === 0x30 ? signature.subarray(0, signature[1] + 2) : signature;
				return this.#verifier.verify(this.#key.kind.startsWith("rsa") ? { key: this.#key.publicKey, ...PSS } : this.#key.publicKey, sig);
			}
			return crypto.verify(null, this.#pure ? Buffer.concat(this.#chunks) : digest, this.#key.publicKey, signature);
		} catch {
			return false;
		}
	}
}

/**
 * AES-CTR as MCUboot applies it to the body (§C.1): counter block starts at 16 zero bytes and
 * increments big-endian; `offset` is the body offset of the first byte, so any range can be
 * processed on its own (the property resume relies on).
 */
export class BodyCipher {
	readonly #key: Buffer;
	#cipher: crypto.Cipher | null = null;
	#position = -1;

	constructor(key: Uint8Array) {
		if (key.length !== 16 && key.length !== 32) throw new RangeError("AES key must be 16 or 32 bytes");
		this.#key = Buffer.from(key);
	}

	get keyBits(): number { return this.#key.length * 8; }

	process(input: Uint8Array, offset: number): Buffer {
		if (offset !== this.#position) {
			const iv = Buffer.alloc(16);
			iv.writeUIntBE(Math.floor(offset / 16), 10, 6);
			this.#cipher = crypto.createCipheriv(this.#key.length === 16 ? "aes-128-ctr" : "aes-256-ctr", this.#key, iv);
			this.#cipher.update(Buffer.alloc(offset % 16));
		}
		this.#position = offset + input.length;
		return this.#cipher!.update(input);
	}
}

export function randomAesKey(bits: 128 | 256): Buffer {
	return crypto.randomBytes(bits / 8);
}

/* Key wrapping: the ENC TLVs */

export type EncKind = "ec256" | "x25519" | "x25519-sha512" | "rsa2048";

export function encTlvType(kind: EncKind): number {
	return { ec256: TlvType.ENC_EC256, x25519: TlvType.ENC_X25519, "x25519-sha512": TlvType.ENC_X25519_SHA512, rsa2048: TlvType.ENC_RSA2048 }[kind];
}

/** The ENC TLV a device key calls for (imgtool's choice, reference §C). */
export function encKindFor(deviceKey: Key, hmacSha: "auto" | "256" | "512" = "auto"): EncKind {
	if (hmacSha === "512" && deviceKey.kind !== "x25519") fail("E_USAGE", "--hmac-sha 512 works with X25519 encryption keys only");
	switch (deviceKey.kind) {
		case "ecdsa-p256": return "ec256";
		case "x25519": return hmacSha === "512" ? "x25519-sha512" : "x25519";
		case "rsa-2048": return "rsa2048";
		default: fail("E_KEY_TYPE", `${deviceKey.source}: ${deviceKey.kind} keys cannot receive images; device keys are P-256, X25519 or RSA-2048`);
	}
}

/**
 * Wraps `aesKey` for a device public key. P-256 and X25519 use MCUboot's ECIES with a fresh
 * ephemeral key; RSA uses OAEP-SHA256.
 */
export function wrapKey(kind: EncKind, device: Key, aesKey: Uint8Array): Buffer {
	if (kind === "rsa2048") {
		return crypto.publicEncrypt({ key: device.publicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, aesKey);
	}
	return eciesWrap(kind, rawPublicKey(device), aesKey);
}

/** Opens an ENC TLV with the device private key; E_DEVICE_KEY if it is not for this key or was altered. */
export function unwrapKey(tlv: { type: number; value: Uint8Array }, device: Key, expectedBits: number): Buffer {
	if (!device.privateKey) fail("E_KEY_TYPE", `${device.source}: the device key must be a private key`);
	let aesKey: Buffer;
	if (tlv.type === TlvType.ENC_RSA2048) {
		if (device.kind !== "rsa-2048") fail("E_DEVICE_KEY", `image key is wrapped for an RSA-2048 device key, ${device.source} is ${device.kind}`);
		try {
			aesKey = crypto.privateDecrypt({ key: device.privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, tlv.value);
		} catch {
			fail("E_DEVICE_KEY", `ENC_RSA2048 TLV does not open with ${device.source}: wrong device key or altered TLV`);
		}
	} else {
		const parts = splitEciesTlv(tlv);
		const wanted: KeyKind = tlv.type === TlvType.ENC_EC256 ? "ecdsa-p256" : "x25519";
		if (device.kind !== wanted) fail("E_DEVICE_KEY", `image key is wrapped for an ${wanted} device key, ${device.source} is ${device.kind}`);
		let shared: Buffer;
		try {
			const peer = wanted === "ecdsa-p256"
				? crypto.createPublicKey({ key: { kty: "EC", crv: "P-256", x: b64url(parts.ephemeral.subarray(1, 33)), y: b64url(parts.ephemeral.subarray(33, 65)) }, format: "jwk" })
				: crypto.createPublicKey({ key: { kty: "OKP", crv: "X25519", x: b64url(parts.ephemeral) }, format: "jwk" });
			if (wanted === "ecdsa-p256" && parts.ephemeral[0] !== 4) throw new Error("compressed point");
			shared = crypto.diffieHellman({ privateKey: device.privateKey, publicKey: peer });
		} catch {
			fail("E_ENC_TLV", "the ENC TLV's ephemeral public key is not a valid curve point");
		}
		const macAlg = tlv.type === TlvType.ENC_X25519_SHA512 ? "sha512" : "sha256";
		const okm = hkdf(macAlg, shared, ECIES_INFO, parts.encryptedKey.length + parts.tag.length);
		shared.fill(0);
		const macKey = okm.subarray(parts.encryptedKey.length);
		const tag = crypto.createHmac(macAlg, macKey).update(parts.encryptedKey).digest();
		if (!crypto.timingSafeEqual(tag, parts.tag)) {
			okm.fill(0);
			fail("E_DEVICE_KEY", `ENC TLV tag does not match: the image was sealed for another device key than ${device.source}, or its ENC TLV was altered`);
		}
		aesKey = new BodyCipher(okm.subarray(0, parts.encryptedKey.length)).process(parts.encryptedKey, 0);
		okm.fill(0);
	}
	if (expectedBits && aesKey.length * 8 !== expectedBits)
		fail("E_ENC_TLV", `ENC TLV holds an AES-${aesKey.length * 8} key but the header flags say AES-${expectedBits}`);
	return aesKey;
}

function b64url(bytes: Uint8Array): string {
	return Buffer.from(bytes).toString("base64url");
}
