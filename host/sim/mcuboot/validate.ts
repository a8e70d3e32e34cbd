/**
 * Image validation as the bootloader does it, written from MCUboot's bootutil and sharing no code
 * with the device's checks (sealdrop/image/signature, sealdrop/update/slot-image):
 * - bootutil_img_hash.c bootutil_img_hash without a seed: SHA-256 over header, body and protected
 *   TLVs, the body decrypted on the way for an encrypted image in the secondary slot (MUST_DECRYPT).
 * - image_validate.c bootutil_img_validate for a SHA-256 build: the TLV walk, the image size
 *   against bootutil_max_image_size, the SHA256 TLV against the hash, then the signatures: a key
 *   TLV (KEYHASH, bootutil_find_key; or PUBKEY, whose hash must be trusted as with
 *   MCUBOOT_HW_KEY) names the key for the signature TLV that follows (bootutil_verify_sig:
 *   image_ecdsa.c, image_rsa.c, image_ed25519.c).
 * The primitives are native (sealdrop/native/sha256, sealdrop/native/verify) and @noble/curves
 * for Ed25519 on public data.
 *
 * Where this model accepts more than one MCUboot build does (it stays as the model was before
 * the split; see the differences listed for issue 23): KEYHASH and PUBKEY keys and every
 * signature type in one build; the SHA256 and signature TLVs are taken from the unprotected
 * area; one good signature by a trusted key is enough, and a key TLV names the key for every
 * signature after it (bootutil forgets it after one, key_id = -1, and the last checked signature
 * decides).
 */
import Sha256 from "sealdrop/native/sha256";
import * as Verify from "sealdrop/native/verify";
import { ed25519 } from "@noble/curves/ed25519.js";
import { equalBytes, fail, SealdropError, TlvType, toHex, type ErrorCode } from "sealdrop/image";
import { COPY_CHUNK, type Area } from "./flash.js";
import { cryptBody, type EncKey } from "./encrypted.js";
import type { RawHeader } from "./image.js";
import { allTlvs, tlvValue, type TlvEntry } from "./tlv.js";

/**
 * A key the bootloader is built with (bootutil_keys[], sign_key.h): its bytes as `imgtool getpub
 * -e raw` prints them, or only their SHA-256 (MCUBOOT_HW_KEY: images carry the key in a PUBKEY TLV).
 * The same shape as the device's TrustAnchor, so one list configures both.
 */
export type BootKey = { publicKey: Uint8Array } | { keyHash: Uint8Array };

function sha256(bytes: Uint8Array): Uint8Array {
	const h = new Sha256();
	try {
		h.update(bytes);
		return new Uint8Array(h.digest());
	} finally {
		h.close();
	}
}

/**
 * bootutil_img_hash without a seed: SHA-256 of header, body and protected TLVs, read in
 * COPY_CHUNK pieces that never straddle the body's edges; body pieces are decrypted first when
 * `key` is given (MUST_DECRYPT).
 */
export function imageHash(area: Area, h: RawHeader, key: EncKey | null): Uint8Array {
	const bodyStart = h.hdrSize;
	const bodyEnd = h.hdrSize + h.imgSize;
	const end = bodyEnd + h.protectTlvSize;
	const buf = new Uint8Array(COPY_CHUNK);
	const sha = new Sha256();
	try {
		for (let off = 0; off < end;) {
			let size = Math.min(COPY_CHUNK, end - off);
			if (off < bodyStart && off + size > bodyStart) size = bodyStart - off;
			if (off < bodyEnd && off + size > bodyEnd) size = bodyEnd - off;
			const piece = buf.subarray(0, size);
			area.readInto(piece, off);
			if (key && off >= bodyStart && off < bodyEnd) cryptBody(key, piece, off - bodyStart);
			sha.update(piece);
			off += size;
		}
		return new Uint8Array(sha.digest());
	} finally {
		sha.close();
	}
}

/** An Ed25519 SubjectPublicKeyInfo (RFC 8410 §4): this 12-byte prefix, then the 32-byte key. */
const ED25519_SPKI_PREFIX = Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00);

/**
 * bootutil_verify_sig for a SHA-256 digest. ECDSA (image_ecdsa.c): the DER SEQUENCE is read by its
 * own length, so imgtool's --pad-sig zeros after it do not matter. RSA (image_rsa.c): PSS with
 * SHA-256. Ed25519 (image_ed25519.c): the key from its SubjectPublicKeyInfo, over the digest.
 */
function verifySig(type: number, key: Uint8Array, digest: Uint8Array, sig: Uint8Array): boolean {
	try {
		switch (type) {
			case TlvType.ECDSA_SIG: {
				const der = sig.length >= 2 && sig[0] === 0x30 && sig[1] < 0x80 ? sig.subarray(0, 2 + sig[1]) : sig;
				return Verify.ecdsaP256(key, digest, der);
			}
			case TlvType.RSA2048_PSS:
			case TlvType.RSA3072_PSS:
				return Verify.rsaPss(key, digest, sig);
			case TlvType.ED25519:
				if (key.length !== 44 || !equalBytes(key.subarray(0, 12), ED25519_SPKI_PREFIX)) return false;
				return ed25519.verify(sig, digest, key.subarray(12));
		}
	} catch {
		return false; // a key of another type than the signature: not this signer
	}
	return false;
}

const SIGNATURE_TYPES: readonly number[] = [TlvType.ECDSA_SIG, TlvType.RSA2048_PSS, TlvType.RSA3072_PSS, TlvType.ED25519];

/**
 * The signature part of bootutil_img_validate over the unprotected TLVs. A KEYHASH TLV names one
 * of the built-in keys by the SHA-256 of its bytes (bootutil_find_key); a PUBKEY TLV carries the
 * key, trusted when its SHA-256 is a trusted hash. Throws why no trusted signature verifies.
 */
function checkSignatures(area: Area, tlvs: readonly TlvEntry[], digest: Uint8Array, keys: readonly BootKey[]): void {
	if (tlvs.some((e) => e.type === TlvType.SIG_PURE))
		fail("E_UNSUPPORTED", "pure Ed25519 signatures (SIG_PURE) need MCUBOOT_SIGN_PURE; this build signs the digest");
	const built = keys.map((k) => ("publicKey" in k ? { key: k.publicKey as Uint8Array | undefined, hash: sha256(k.publicKey) } : { key: undefined, hash: k.keyHash }));
	let named: { key: Uint8Array | undefined; hash: Uint8Array; trusted: boolean } | null = null;
	let signed = false;
	let badTrusted = false;
	const strangers: string[] = [];
	for (const e of tlvs) {
		if (e.type === TlvType.KEYHASH) {
			const hash = tlvValue(area, e);
			const key = built.find((k) => equalBytes(k.hash, hash))?.key;
			named = { key, hash, trusted: !!key };
		} else if (e.type === TlvType.PUBKEY) {
			const key = tlvValue(area, e);
			const hash = sha256(key);
			named = { key, hash, trusted: built.some((k) => equalBytes(k.hash, hash)) };
		} else if (SIGNATURE_TYPES.includes(e.type)) {
			signed = true;
			if (!named) continue; // no key before it: bootutil ignores the signature
			if (!named.trusted || !named.key) {
				strangers.push(toHex(named.hash).slice(0, 16));
				continue;
			}
			if (verifySig(e.type, named.key, digest, tlvValue(area, e))) return;
			badTrusted = true;
		}
	}
	if (badTrusted) fail("E_SIGNATURE", "the signature by a trusted key does not verify");
	if (!signed) fail("E_NO_SIGNATURE", "the image is not signed");
	if (!strangers.length) fail("E_NO_SIGNATURE", "the image's signature names no key (no KEYHASH or PUBKEY TLV before it)");
	fail("E_WRONG_SIGNER", `the image is signed by a key this bootloader is not built with (key hash ${strangers.join(", ")}…)`);
}

export type Validation = { ok: true; hash: Uint8Array } | { ok: false; code: ErrorCode; message: string };

export interface ValidateOptions {
	/** The built-in keys. Empty: a build without signature checks (hash only). */
	keys: readonly BootKey[];
	/** The key to decrypt the body with (MUST_DECRYPT), else null. */
	key: EncKey | null;
	/** bootutil_max_image_size for this slot. */
	maxImageSize: number;
}

/**
 * bootutil_img_validate for a SHA-256 build (image_validate.c): the TLV areas, the image size
 * (tlv_end) against the slot's usable size, the SHA256 TLV against the hash of the plaintext,
 * and a signature by a built-in key.
 */
export function validateImage(area: Area, h: RawHeader, o: ValidateOptions): Validation {
	try {
		const { tlvs, tlvEnd } = allTlvs(area, h);
		if (tlvEnd > o.maxImageSize) fail("E_TOO_LARGE", `the image (${tlvEnd} bytes) runs into the space the swap needs (${o.maxImageSize} usable bytes)`);
		const digest = imageHash(area, h, o.key);
		const unprotected = tlvs.filter((e) => !e.prot);
		// EXPECTED_HASH_TLV of a SHA-256 build: an image hashed otherwise has no hash this build checks
		const hashTlv = unprotected.find((e) => e.type === TlvType.SHA256);
		if (!hashTlv) fail("E_NO_HASH", "the image has no SHA256 TLV (this bootloader is built for SHA-256)");
		if (!equalBytes(tlvValue(area, hashTlv), digest)) fail("E_HASH", "the image hash does not match its SHA256 TLV");
		if (o.keys.length) checkSignatures(area, unprotected, digest, o.keys);
		return { ok: true, hash: digest };
	} catch (e) {
		if (e instanceof SealdropError) return { ok: false, code: e.code, message: e.message };
		throw e;
	}
}
