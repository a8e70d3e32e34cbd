/**
 * The image side of the MCUboot model: headers as bootutil reads them from a slot (raw, before
 * any check), boot_check_header_valid, the TLV areas (tlv.c), the image hash over the plaintext
 * (bootutil_img_hash.c, decrypting the body of an encrypted secondary slot on the fly),
 * bootutil_img_validate (image_validate.c) with the trusted-signer rules of
 * sealdrop/image/signature, and the ENC TLV → AES key step of encrypted.c (boot_enc_load),
 * which here happens inside the native DeviceKey so no AES key is ever a JS value.
 */
import type AesCtr from "sealdrop/native/aes-ctr";
import type DeviceKey from "sealdrop/native/device-key";
import {
	decodeVersion, equalBytes, fail, ImageFlag, IMAGE_MAGIC, SealdropError, TlvType, u16, u32,
	type ErrorCode, type ImageHeader, type ImageLayout, type ImageVersion,
} from "sealdrop/image";
import { checkSignature, type TrustAnchor } from "sealdrop/image/signature";
import { hashImage, readImageLayout as sharedReadImageLayout } from "sealdrop/update/slot-image";
import { COPY_CHUNK, type Area } from "./mcuboot-flash.js";

/** struct image_header as read from flash, whatever it holds (an erased slot reads all 0xff). */
export interface RawHeader {
	magic: number;
	hdrSize: number;
	protectTlvSize: number;
	imgSize: number;
	flags: number;
	version: ImageVersion;
	/** ih_magic is all erased bytes: no image (boot_check_header_erased). */
	erased: boolean;
}

export function readRawHeader(area: Area, off: number): RawHeader {
	const b = area.read(off, 32);
	return {
		magic: u32(b, 0),
		hdrSize: u16(b, 8),
		protectTlvSize: u16(b, 10),
		imgSize: u32(b, 12),
		flags: u32(b, 16),
		version: decodeVersion(b, 20),
		erased: area.isErased(b.subarray(0, 4)),
	};
}

/** IS_ENCRYPTED (image.h). */
export function isEncrypted(h: RawHeader): boolean {
	return (h.flags & (ImageFlag.ENCRYPTED_AES128 | ImageFlag.ENCRYPTED_AES256)) !== 0;
}

/** BOOT_TLV_OFF. */
export function tlvOff(h: RawHeader): number {
	return h.hdrSize + h.imgSize;
}

const COMPRESSION_FLAGS = ImageFlag.COMPRESSED_LZMA1 | ImageFlag.COMPRESSED_LZMA2 | ImageFlag.COMPRESSED_ARM_THUMB;

/**
 * boot_check_header_valid (bootutil_loader.c) for a build without MCUBOOT_DECOMPRESS_IMAGES:
 * the magic, header + body + protected TLVs inside the slot, encryption only in an encrypting
 * build and never both AES flags, no compression. Returns why the header is refused, or null.
 */
export function headerRefusal(area: Area, h: RawHeader, encryptingBuild: boolean): { code: ErrorCode; message: string } | null {
	if (h.magic !== IMAGE_MAGIC) return { code: "E_BAD_MAGIC", message: `no image header in "${area.name}" (magic 0x${h.magic.toString(16)})` };
	const size = h.imgSize + h.hdrSize + h.protectTlvSize;
	if (size > 0xffffffff || size >= area.size) return { code: "E_TOO_LARGE", message: `the image in "${area.name}" claims ${size} bytes, more than the slot` };
	if ((h.flags & ImageFlag.ENCRYPTED_AES128) && (h.flags & ImageFlag.ENCRYPTED_AES256)) return { code: "E_FLAGS", message: "both AES-128 and AES-256 flags are set" };
	if (isEncrypted(h) && !encryptingBuild) return { code: "E_UNSUPPORTED", message: "the image is encrypted and this bootloader is built without MCUBOOT_ENC_IMAGES" };
	if (h.flags & COMPRESSION_FLAGS) return { code: "E_UNSUPPORTED", message: "compressed images need MCUBOOT_DECOMPRESS_IMAGES" };
	return null;
}

/**
 * The TLV areas of the image in `area` (bootutil_tlv_iter_begin's checks: the protected area's
 * size must match the header, the unprotected info magic must follow), as an ImageLayout so
 * sealdrop/image's helpers (securityCounter, dependencies, findEncTlv...) apply. Throws a
 * SealdropError for anything bootutil would refuse.
 */
export function readImageLayout(area: Area, h: RawHeader): ImageLayout {
	if (h.magic !== IMAGE_MAGIC) fail("E_BAD_MAGIC", `no image header in "${area.name}"`);
	return sharedReadImageLayout((into, offset) => area.readInto(into, offset), imageHeader(h), area.size);
}

function imageHeader(h: RawHeader): ImageHeader {
	return { loadAddr: 0, hdrSize: h.hdrSize, protectTlvSize: h.protectTlvSize, imgSize: h.imgSize, flags: h.flags, version: h.version };
}

/** What an MCUBOOT_ENC_IMAGES build decrypts with: one ENC TLV kind and one AES size, fixed at build time. */
export interface EncryptionBuild {
	/** "ec256": ENC_EC256 (0x32) with a P-256 device key; "x25519": ENC_X25519 (0x33). */
	kind: "ec256" | "x25519";
	/** MCUBOOT_AES_256 or not. */
	keyBits: 128 | 256;
	/** BOOT_ENC_TLV. */
	tlvType: number;
	/** BOOT_ENC_TLV_SIZE: ephemeral key + 32-byte HMAC tag + wrapped AES key. */
	tlvSize: number;
	/**
	 * The keys the board's boot_enc_retrieve_private_key hook gives, tried in order: none before the
	 * device made its key (first boot), the old and the new one during a key rotation.
	 */
	deviceKeys: DeviceKey[];
}

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
 * boot_enc_load (encrypted.c): the slot image's ENC TLV of the build's type. Returns the key,
 * "absent" when the image has no such TLV (bootutil's rc 1), or "error" (rc -1) when the TLVs
 * cannot be read, the TLV has the wrong size or does not open with the device key.
 */
export function loadEncKey(area: Area, h: RawHeader, build: EncryptionBuild): EncKey | "absent" | "error" {
	let layout: ImageLayout;
	try {
		layout = readImageLayout(area, h);
	} catch {
		return "error";
	}
	const tlv = [...layout.protectedTlvs, ...layout.unprotectedTlvs].find((t) => t.type === build.tlvType);
	if (!tlv) return "absent";
	return unwrapEncTlv(build, tlv.value) ?? "error";
}

/** Decrypts (or encrypts: CTR is symmetric) body bytes that sit at `bodyOffset` of the body. */
export function cryptBody(key: EncKey, bytes: Uint8Array, bodyOffset: number): void {
	if (bytes.length) key.ctr.process(bytes, bytes, bodyOffset);
}

/**
 * bootutil_img_hash without a seed: SHA-256 of header, body and protected TLVs, in chunks, the
 * body decrypted when `key` is given (MUST_DECRYPT: an encrypted image in a secondary slot).
 */
export function imageHash(area: Area, h: RawHeader, key: EncKey | null): Uint8Array {
	return hashImage((into, offset) => area.readInto(into, offset), imageHeader(h), new Uint8Array(COPY_CHUNK), key?.ctr);
}

export type Validation =
	| { ok: true; hash: Uint8Array; layout: ImageLayout }
	| { ok: false; code: ErrorCode; message: string };

export interface ValidateOptions {
	/** Signers the bootloader trusts (its built-in keys). Empty: a build without signature checks (hash only). */
	trust: readonly TrustAnchor[];
	/** The key to decrypt the body with (MUST_DECRYPT), else null. */
	key: EncKey | null;
	/** bootutil_max_image_size for this slot. */
	maxImageSize: number;
}

/**
 * bootutil_img_validate for a SHA-256 build (image_validate.c): the TLV areas, the image size
 * against the slot's usable size, the SHA256 TLV against the hash of the plaintext, and a
 * signature by a trusted key (KEYHASH/PUBKEY then signature, via checkSignature).
 */
export function validateImage(area: Area, h: RawHeader, o: ValidateOptions): Validation {
	try {
		const layout = readImageLayout(area, h);
		if (layout.size > o.maxImageSize) fail("E_TOO_LARGE", `the image (${layout.size} bytes) runs into the space the swap needs (${o.maxImageSize} usable bytes)`);
		const digest = imageHash(area, h, o.key);
		// a SHA-256 build only knows IMAGE_TLV_SHA256; an image hashed otherwise has no hash it can check
		const hashTlv = layout.unprotectedTlvs.find((t) => t.type === TlvType.SHA256);
		if (!hashTlv) fail("E_NO_HASH", "the image has no SHA256 TLV (this bootloader is built for SHA-256)");
		if (!equalBytes(hashTlv.value, digest)) fail("E_HASH", "the image hash does not match its SHA256 TLV");
		if (o.trust.length) checkSignature(layout.unprotectedTlvs, digest, o.trust);
		return { ok: true, hash: digest, layout };
	} catch (e) {
		if (e instanceof SealdropError) return { ok: false, code: e.code, message: e.message };
		throw e;
	}
}
