/**
 * Which trusted key signed an image, checked as MCUboot's bootutil does (image_validate.c,
 * reference §B.2): a KEYHASH TLV (SHA-256 of the key's getpub bytes) or a PUBKEY TLV names the
 * key, and the signature TLV that follows is verified with it over the image digest. An image is
 * accepted when one signature verifies with a trusted key; a signature with no key TLV before it
 * counts for nothing, as in bootutil.
 *
 * ECDSA P-256 and RSA-PSS run in C (sealdrop/native/verify); Ed25519 through @noble/curves, on
 * public data only (mbedTLS has no Ed25519).
 */
import * as Verify from "sealdrop/native/verify";
import { equalBytes, toHex } from "sealdrop/base/bytes";
import { fail } from "sealdrop/base/errors";
import { sha256 } from "sealdrop/base/hash";
import { TlvType, type Tlv } from "./tlv.js";
import { ed25519 } from "@noble/curves/ed25519.js";

/**
 * A key the device trusts to sign its firmware: its bytes as `imgtool getpub -e raw` prints them
 * (SubjectPublicKeyInfo DER for EC and Ed25519, PKCS#1 DER for RSA), or only their SHA-256 (then
 * images must carry the whole key in a PUBKEY TLV, `--public-key-format full`, as with
 * MCUBOOT_HW_KEY).
 */
export type TrustAnchor = { publicKey: Uint8Array } | { keyHash: Uint8Array };

export interface SignatureCheck {
	/** The signature TLV type that verified (ECDSA_SIG, RSA2048_PSS, RSA3072_PSS, ED25519). */
	type: number;
	/** SHA-256 of the signer's key bytes (what a KEYHASH TLV holds). */
	keyHash: Uint8Array;
}

/** An Ed25519 SubjectPublicKeyInfo is this 12-byte prefix and the 32-byte key (RFC 8410 §4). */
const ED25519_SPKI_PREFIX = Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00);

function verifyOne(type: number, key: Uint8Array, digest: Uint8Array, signature: Uint8Array): boolean {
	try {
		switch (type) {
			case TlvType.ECDSA_SIG: {
				// imgtool --pad-sig pads the DER with zeros to 72 bytes; the DER itself says its length
				const der = signature.length >= 2 && signature[0] === 0x30 && signature[1] < 0x80 ? signature.subarray(0, 2 + signature[1]) : signature;
				return Verify.ecdsaP256(key, digest, der);
			}
			case TlvType.RSA2048_PSS:
			case TlvType.RSA3072_PSS:
				return Verify.rsaPss(key, digest, signature);
			case TlvType.ED25519:
				if (key.length !== 44 || !equalBytes(key.subarray(0, 12), ED25519_SPKI_PREFIX)) return false;
				return ed25519.verify(signature, digest, key.subarray(12));
		}
	} catch {
		return false; // a key of another type than the signature (RangeError from Verify): not this signer
	}
	return false;
}

/**
 * Checks that a trusted key signed the image whose SHA-256 digest is `digest`. Throws
 * E_UNSUPPORTED for pure Ed25519 signatures (they need the whole image, not a digest),
 * E_NO_SIGNATURE when the image names no key and signature pair, E_WRONG_SIGNER when it is signed
 * only by keys the device does not trust, E_SIGNATURE when a trusted key's signature is bad.
 */
export function checkSignature(unprotectedTlvs: readonly Tlv[], digest: Uint8Array, trust: readonly TrustAnchor[]): SignatureCheck {
	if (unprotectedTlvs.some((t) => t.type === TlvType.SIG_PURE))
		fail("E_UNSUPPORTED", "pure Ed25519 signatures (SIG_PURE) need the whole image in memory; sign over the digest instead");
	const anchors = trust.map((a) => "publicKey" in a ? { key: a.publicKey, hash: sha256(a.publicKey) } : { key: undefined, hash: a.keyHash });
	let named: { key: Uint8Array | undefined; hash: Uint8Array; trusted: boolean } | undefined;
	let sawSignature = false;
	let trustedButBad = false;
	const signers: string[] = [];
	for (const tlv of unprotectedTlvs) {
		if (tlv.type === TlvType.KEYHASH) {
			const anchor = anchors.find((a) => equalBytes(a.hash, tlv.value));
			named = { key: anchor?.key, hash: tlv.value, trusted: !!anchor?.key };
		} else if (tlv.type === TlvType.PUBKEY) {
			const hash = sha256(tlv.value);
			named = { key: tlv.value, hash, trusted: anchors.some((a) => equalBytes(a.hash, hash)) };
		} else if (tlv.type === TlvType.ECDSA_SIG || tlv.type === TlvType.RSA2048_PSS || tlv.type === TlvType.RSA3072_PSS || tlv.type === TlvType.ED25519) {
			sawSignature = true;
			if (!named) continue;
			if (!named.trusted || !named.key) {
				signers.push(toHex(named.hash).slice(0, 16));
				continue;
			}
			if (verifyOne(tlv.type, named.key, digest, tlv.value)) return { type: tlv.type, keyHash: named.hash };
			trustedButBad = true;
		}
	}
	if (trustedButBad) fail("E_SIGNATURE", "the signature by a trusted key does not verify: the image was altered or signed over other bytes");
	if (!sawSignature || signers.length === 0) fail("E_NO_SIGNATURE", sawSignature ? "the image's signature names no key (no KEYHASH or PUBKEY TLV before it)" : "the image is not signed");
	fail("E_WRONG_SIGNER", `the image is signed by a key this device does not trust (key hash ${signers.join(", ")}…)`);
}
