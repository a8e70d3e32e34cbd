/**
 * Image headers as the bootloader reads them from a slot, before any check (bootutil's
 * boot_read_image_header reads `struct image_header` as raw bytes, image.h), and the header
 * checks of bootutil_loader.c: boot_check_header_erased, boot_check_header_valid,
 * boot_compare_version. Only the byte format comes from sealdrop/image (IMAGE_MAGIC, the flag
 * bits, struct image_version's layout); what is accepted is decided here.
 */
import { decodeVersion, ImageFlag, IMAGE_MAGIC, u16, u32, type ErrorCode, type ImageVersion } from "sealdrop/image";
import type { Area } from "./flash.js";

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

/** struct image_header: ih_magic, ih_load_addr, ih_hdr_size, ih_protect_tlv_size, ih_img_size, ih_flags, ih_ver. */
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
 * boot_compare_version (bootutil_loader.c) without MCUBOOT_VERSION_CMP_USE_BUILD_NUMBER: major,
 * minor, then revision; the build number is not compared.
 */
export function compareVersion(a: ImageVersion, b: ImageVersion): number {
	if (a.major !== b.major) return a.major > b.major ? 1 : -1;
	if (a.minor !== b.minor) return a.minor > b.minor ? 1 : -1;
	if (a.revision !== b.revision) return a.revision > b.revision ? 1 : -1;
	return 0;
}
