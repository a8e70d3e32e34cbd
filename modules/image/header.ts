/**
 * struct image_header: 32 packed little-endian bytes at the start of every image
 * (MCUboot image.h:166-176; imgtool packs it as '<IIHHIIBBHII').
 */
import { fail } from "sealdrop/base/errors";
import { putU16, putU32, u16, u32 } from "sealdrop/base/bytes";
import { decodeVersion, encodeVersion, type ImageVersion } from "./version.js";

export const IMAGE_MAGIC = 0x96f3b83d;
export const IMAGE_HEADER_SIZE = 32;

/** IMAGE_F_* (image.h:61-83). */
export const ImageFlag = {
	PIC: 0x00000001,
	ENCRYPTED_AES128: 0x00000004,
	ENCRYPTED_AES256: 0x00000008,
	NON_BOOTABLE: 0x00000010,
	RAM_LOAD: 0x00000020,
	ROM_FIXED: 0x00000100,
	COMPRESSED_LZMA1: 0x00000200,
	COMPRESSED_LZMA2: 0x00000400,
	COMPRESSED_ARM_THUMB: 0x00000800,
} as const;

export interface ImageHeader {
	loadAddr: number;
	hdrSize: number;        // body starts here; the bytes [32, hdrSize) are hashed too
	protectTlvSize: number; // protected TLV area including its 4-byte info header, or 0
	imgSize: number;        // body size (for encrypted images, including imgtool's zero pad)
	flags: number;
	version: ImageVersion;
}

export function parseHeader(bytes: Uint8Array): ImageHeader {
	if (bytes.length < IMAGE_HEADER_SIZE) fail("E_TRUNCATED", `image truncated in the header (${bytes.length} of 32 bytes)`);
	const magic = u32(bytes, 0);
	if (magic !== IMAGE_MAGIC) fail("E_BAD_MAGIC", `not an MCUboot image: header magic 0x${magic.toString(16)}, expected 0x96f3b83d`);
	const header: ImageHeader = {
		loadAddr: u32(bytes, 4),
		hdrSize: u16(bytes, 8),
		protectTlvSize: u16(bytes, 10),
		imgSize: u32(bytes, 12),
		flags: u32(bytes, 16),
		version: decodeVersion(bytes, 20),
	};
	if (header.hdrSize < IMAGE_HEADER_SIZE) fail("E_HEADER_SIZE", `header size ${header.hdrSize} is below the 32-byte minimum`);
	if ((header.flags & ImageFlag.ENCRYPTED_AES128) && (header.flags & ImageFlag.ENCRYPTED_AES256))
		fail("E_FLAGS", "both AES-128 and AES-256 flags are set; no bootloader accepts that");
	return header;
}

export function encodeHeader(header: ImageHeader): Uint8Array {
	const out = new Uint8Array(IMAGE_HEADER_SIZE);
	putU32(out, 0, IMAGE_MAGIC);
	putU32(out, 4, header.loadAddr);
	putU16(out, 8, header.hdrSize);
	putU16(out, 10, header.protectTlvSize);
	putU32(out, 12, header.imgSize);
	putU32(out, 16, header.flags);
	encodeVersion(header.version, out, 20);
	// bytes 28..31 are _pad1, written as 0 by imgtool
	return out;
}

/** The flag names set in `flags`, unknown bits as hex. */
export function flagNames(flags: number): string[] {
	const names: string[] = [];
	let known = 0;
	for (const [name, bit] of Object.entries(ImageFlag)) {
		known |= bit;
		if (flags & bit) names.push(name);
	}
	const unknown = (flags & ~known) >>> 0;
	if (unknown) names.push(`0x${unknown.toString(16)}`);
	return names;
}

/** AES key size the header asks for: 128, 256, or 0 when the image is not encrypted. */
export function aesKeyBits(flags: number): 0 | 128 | 256 {
	if (flags & ImageFlag.ENCRYPTED_AES128) return 128;
	if (flags & ImageFlag.ENCRYPTED_AES256) return 256;
	return 0;
}

/** Offset of the first TLV info header (BOOT_TLV_OFF, bootutil_priv.h:464). */
export function tlvOffset(header: ImageHeader): number {
	return header.hdrSize + header.imgSize;
}
