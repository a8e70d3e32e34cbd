/**
 * MCUBOOT_ENC_IMAGES in the model, after encrypted.c: boot_enc_load (find the build's ENC TLV,
 * check its length BOOT_ENC_TLV_SIZE), boot_decrypt_key (ECIES: ECDH, HKDF, HMAC check, AES key
 * unwrap) and boot_enc_encrypt / boot_enc_decrypt (AES-CTR over body bytes at their body offset).
 * boot_decrypt_key happens inside the native DeviceKey, so the image key is an AesCtr object and
 * never a JS value; where MCUboot keeps the plain key in its state and trailer, the model keeps
 * the ENC TLV (MCUBOOT_SWAP_SAVE_ENCTLV) and unwraps it again.
 */
import type AesCtr from "sealdrop/native/aes-ctr";
import type DeviceKey from "sealdrop/native/device-key";
import { TlvType } from "sealdrop/image";
import type { Area } from "./flash.js";
import type { RawHeader } from "./image.js";
import { TlvIter, tlvValue } from "./tlv.js";

/** What an MCUBOOT_ENC_IMAGES build decrypts with: one ENC TLV kind and one AES size, fixed at build time. */
export interface EncryptionBuild {
	/** "ec256": MCUBOOT_ENCRYPT_EC256, ENC_EC256 TLVs with a P-256 device key; "x25519": MCUBOOT_ENCRYPT_X25519, ENC_X25519. */
	kind: "ec256" | "x25519";
	/** MCUBOOT_AES_256 or not. */
	keyBits: 128 | 256;
	/** EXPECTED_ENC_TLV. */
	tlvType: number;
	/** BOOT_ENC_TLV_SIZE: ephemeral key + 32-byte HMAC tag + wrapped AES key (enc_key_public.h). */
	tlvSize: number;
	/**
	 * The keys the board's boot_enc_retrieve_private_key hook gives, tried in order: none before the
	 * device made its key (first boot), the old and the new one during a key rotation.
	 */
	deviceKeys: DeviceKey[];
}

/** EC256: a 65-byte uncompressed point; X25519: a 32-byte key; both then a SHA-256 HMAC tag and the wrapped key. */
export function encryptionBuild(kind: "ec256" | "x25519", keyBits: 128 | 256, deviceKeys: DeviceKey[]): EncryptionBuild {
	const keyBytes = keyBits / 8;
	return kind === "ec256"
		? { kind, keyBits, tlvType: TlvType.ENC_EC256, tlvSize: 65 + 32 + keyBytes, deviceKeys }
		: { kind, keyBits, tlvType: TlvType.ENC_X25519, tlvSize: 32 + 32 + keyBytes, deviceKeys };
}

/** An image key of one slot: the ENC TLV it came from (saved in the trailer) and the native cipher. */
export interface EncKey {
	tlv: Uint8Array;
	ctr: AesCtr;
}

/** boot_decrypt_key: ECDH, HKDF, HMAC check and key unwrap, inside native code. Null if the TLV does not open. */
export function unwrapEncTlv(build: EncryptionBuild, tlv: Uint8Array): EncKey | null {
	if (tlv.length !== build.tlvSize) return null;
	for (const key of build.deviceKeys) {
		try {
			return { tlv: tlv.slice(), ctr: key.unwrap(tlv, build.kind, build.keyBits) };
		} catch {
			// sealed for another key: the next one
		}
	}
	return null;
}

/**
 * boot_enc_load (encrypted.c): the first TLV of the build's ENC type in the image (either area).
 * Returns the key, "absent" when there is none (bootutil's rc 1), or "error" (rc -1) when the TLVs
 * cannot be walked, the TLV is not BOOT_ENC_TLV_SIZE bytes or does not open with the device key.
 */
export function loadEncKey(area: Area, h: RawHeader, build: EncryptionBuild): EncKey | "absent" | "error" {
	let value: Uint8Array;
	try {
		const e = new TlvIter(area, h, build.tlvType, false).next();
		if (!e) return "absent";
		if (e.len !== build.tlvSize) return "error";
		value = tlvValue(area, e);
	} catch {
		return "error";
	}
	return unwrapEncTlv(build, value) ?? "error";
}

/** boot_enc_decrypt / boot_enc_encrypt: CTR is symmetric; `bodyOffset` is the bytes' offset in the body. */
export function cryptBody(key: EncKey, bytes: Uint8Array, bodyOffset: number): void {
	if (bytes.length) key.ctr.process(bytes, bytes, bodyOffset);
}
