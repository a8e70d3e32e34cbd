/**
 * The image trailer as the bootloader reads and writes it, written here from MCUboot's bootutil
 * and sharing no code with the device's trailer writer (modules/update/bootutil.ts) or
 * sealdrop/image's trailer layout: a bug there cannot hide itself by being read back the same way.
 *
 * - Field offsets: bootutil_misc.h boot_magic_off, boot_image_ok_off, boot_copy_done_off,
 *   boot_swap_size_off; bootutil_public.c boot_swap_info_off; bootutil_misc.c boot_status_off,
 *   boot_enc_key_off (MCUBOOT_SWAP_SAVE_ENCTLV).
 * - Sizes: bootutil_area.c boot_trailer_info_sz, boot_trailer_sz, boot_scratch_trailer_sz;
 *   bootutil_misc.c boot_status_entries.
 * - Reading: bootutil_public.c boot_read_swap_state (boot_magic_decode, boot_read_flag,
 *   BOOT_GET_SWAP_TYPE / BOOT_GET_IMAGE_NUM), bootutil_misc.c boot_read_swap_size, boot_read_enc_key.
 * - Writing: bootutil_public.c boot_write_magic, boot_write_trailer, boot_write_image_ok,
 *   boot_write_copy_done, boot_write_swap_info (BOOT_SET_SWAP_INFO); bootutil_misc.c
 *   boot_write_swap_size, boot_write_enc_keys; loader.c boot_write_status's one status byte.
 * - The swap a pair of trailers asks for: bootutil_public.c boot_swap_tables, boot_swap_type_multi.
 *
 * Build-time constants of MCUboot that shape the trailer are fields of `TrailerGeometry`:
 * BOOT_MAX_ALIGN, BOOT_WRITE_SZ, BOOT_STATUS_STATE_COUNT, BOOT_MAX_IMG_SECTORS and, for
 * MCUBOOT_ENC_IMAGES with MCUBOOT_SWAP_SAVE_ENCTLV, BOOT_ENC_TLV_SIZE.
 */
import { alignDown, alignUp, equalBytes, fail, putU32, u32 } from "sealdrop/image";
import { eraseRegion, type Area } from "./flash.js";

/** BOOT_SWAP_TYPE_* (bootutil_public.h). */
export const SwapType = { NONE: 1, TEST: 2, PERM: 3, REVERT: 4, FAIL: 5, PANIC: 0xff } as const;

/** BOOT_MAGIC_SZ. */
const BOOT_MAGIC_SZ = 16;
/** BOOT_FLAG_SET: the one value bootutil writes to image_ok and copy_done. */
const BOOT_FLAG_SET = 1;

/** boot_img_magic when BOOT_MAX_ALIGN is 8 (bootutil_public.c). */
const MAGIC_MAX_ALIGN_8 = Uint8Array.of(0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f, 0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80);
/** boot_img_magic's tail for other BOOT_MAX_ALIGN values, after a uint16_t `align` field. */
const MAGIC_TAIL = Uint8Array.of(0x2d, 0xe1, 0x5d, 0x29, 0x41, 0x0b, 0x8d, 0x77, 0x67, 0x9c, 0x11, 0x0f, 0x1f, 0x8a);

/** boot_img_magic (union boot_img_magic_t) of a build with this BOOT_MAX_ALIGN; the align field is little-endian on our targets. */
function bootImgMagic(maxAlign: number): Uint8Array {
	if (maxAlign === 8) return MAGIC_MAX_ALIGN_8;
	const magic = new Uint8Array(BOOT_MAGIC_SZ);
	magic[0] = maxAlign & 0xff;
	magic[1] = (maxAlign >> 8) & 0xff;
	magic.set(MAGIC_TAIL, 2);
	return magic;
}

/** BOOT_MAGIC_GOOD / _UNSET / _BAD. */
export type MagicState = "good" | "unset" | "bad";
/** BOOT_FLAG_SET / _UNSET / _BAD. */
export type FlagState = "set" | "unset" | "bad";

/** Trailer-shaping build constants of one MCUboot build, for one image (bootutil_area.c). */
export interface TrailerGeometry {
	/** BOOT_MAX_ALIGN. */
	maxAlign: number;
	/** BOOT_WRITE_SZ: the larger write size of the primary slot and the scratch area (bootutil_misc.c boot_write_sz). */
	writeSz: number;
	/** BOOT_STATUS_STATE_COUNT: 3 for swap-using-scratch (and overwrite-only builds), 1 + 2 for swap-using-move. */
	stateCount: number;
	/** Move entries per sector in the status area (BOOT_STATUS_MOVE_STATE_COUNT), 0 unless swap-using-move. */
	moveStateCount: number;
	/** BOOT_MAX_IMG_SECTORS (= BOOT_STATUS_MAX_ENTRIES). */
	maxImgSectors: number;
	/** BOOT_ENC_TLV_SIZE when built with MCUBOOT_ENC_IMAGES and MCUBOOT_SWAP_SAVE_ENCTLV, else 0. */
	encTlvSize: number;
}

/** BOOT_ENC_TLV_ALIGN_SIZE, or 0 without encryption. */
export function encTlvAlignSize(g: TrailerGeometry): number {
	return g.encTlvSize ? alignUp(g.encTlvSize, g.maxAlign) : 0;
}

/** boot_trailer_info_sz (bootutil_area.c): enc keys, four flag fields, the aligned magic (BOOT_MAGIC_ALIGN_SIZE). */
function trailerInfoSz(g: TrailerGeometry): number {
	return 2 * encTlvAlignSize(g) + 4 * g.maxAlign + alignUp(BOOT_MAGIC_SZ, g.maxAlign);
}

/** boot_trailer_sz: status for BOOT_MAX_IMG_SECTORS sectors plus the trailer info. */
export function trailerSz(g: TrailerGeometry): number {
	return g.maxImgSectors * g.stateCount * g.writeSz + trailerInfoSz(g);
}

/** boot_scratch_trailer_sz: the scratch area keeps the status of one sector only. */
export function scratchTrailerSz(g: TrailerGeometry): number {
	return g.stateCount * g.writeSz + trailerInfoSz(g);
}

/** Where each trailer field of an area is, for this build. */
export class Trailer {
	readonly area: Area;
	readonly g: TrailerGeometry;
	readonly isScratch: boolean;
	/** boot_magic_off: the 16 magic bytes end the area. */
	readonly magicOff: number;
	/** boot_image_ok_off. */
	readonly imageOkOff: number;
	/** boot_copy_done_off. */
	readonly copyDoneOff: number;
	/** boot_swap_info_off. */
	readonly swapInfoOff: number;
	/** boot_swap_size_off (no swap-using-offset, so no unprotected TLV sizes field). */
	readonly swapSizeOff: number;

	constructor(area: Area, g: TrailerGeometry, isScratch = false) {
		this.area = area;
		this.g = g;
		this.isScratch = isScratch;
		this.magicOff = area.size - BOOT_MAGIC_SZ;
		this.imageOkOff = alignDown(this.magicOff - g.maxAlign, g.maxAlign);
		this.copyDoneOff = this.imageOkOff - g.maxAlign;
		this.swapInfoOff = this.copyDoneOff - g.maxAlign;
		this.swapSizeOff = this.swapInfoOff - g.maxAlign;
	}

	/** boot_status_off (bootutil_misc.c). */
	get statusOff(): number {
		const fromEnd = this.isScratch ? scratchTrailerSz(this.g) : trailerSz(this.g);
		if (fromEnd > this.area.size) fail("E_USAGE", `the MCUboot trailer (${fromEnd} bytes) does not fit "${this.area.name}"`);
		return this.area.size - fromEnd;
	}

	/** boot_status_entries: one sector's states in the scratch area, every sector's in a slot. */
	get statusEntries(): number {
		return this.isScratch ? this.g.stateCount : this.g.stateCount * this.g.maxImgSectors;
	}

	/** boot_enc_key_off with MCUBOOT_SWAP_SAVE_ENCTLV: slot 0 next to swap_size, slot 1 below it. */
	encTlvOff(slot: number): number {
		return this.swapSizeOff - (slot + 1) * encTlvAlignSize(this.g);
	}
}

/** struct boot_swap_state. */
export interface SwapState {
	magic: MagicState;
	/** BOOT_SWAP_TYPE_*: NONE when swap_info is erased or above REVERT. */
	swapType: number;
	imageNum: number;
	copyDone: FlagState;
	imageOk: FlagState;
}

/** boot_read_swap_state (bootutil_public.c), from one read of the trailer's last bytes. */
export function readSwapState(t: Trailer): SwapState {
	const base = t.swapSizeOff;
	const tail = t.area.read(base, t.area.size - base);
	const at = (off: number) => tail[off - base];
	const magic = tail.subarray(t.magicOff - base, t.magicOff - base + BOOT_MAGIC_SZ);
	// boot_read_flag: erased is UNSET, BOOT_FLAG_SET is SET, anything else BAD (boot_flag_decode)
	const flag = (off: number): FlagState => (t.area.isErased(tail.subarray(off - base, off - base + 1)) ? "unset" : at(off) === BOOT_FLAG_SET ? "set" : "bad");
	const swapInfo = at(t.swapInfoOff);
	let swapType = swapInfo & 0x0f; // BOOT_GET_SWAP_TYPE
	let imageNum = (swapInfo >> 4) & 0x0f; // BOOT_GET_IMAGE_NUM
	if (t.area.isErased(Uint8Array.of(swapInfo)) || swapType > SwapType.REVERT) {
		swapType = SwapType.NONE;
		imageNum = 0;
	}
	return {
		magic: t.area.isErased(magic) ? "unset" : equalBytes(magic, bootImgMagic(t.g.maxAlign)) ? "good" : "bad", // boot_magic_decode
		swapType, imageNum,
		copyDone: flag(t.copyDoneOff),
		imageOk: flag(t.imageOkOff),
	};
}

/** The raw swap_info byte (swap_read_status reads it without bounding the type). */
export function readSwapInfoByte(t: Trailer): number {
	return t.area.read(t.swapInfoOff, 1)[0];
}

/** boot_read_swap_size (bootutil_misc.c). */
export function readSwapSize(t: Trailer): number {
	return u32(t.area.read(t.swapSizeOff, 4), 0);
}

/** Whether the area holds the good magic (boot_find_status's test). */
export function hasGoodMagic(t: Trailer): boolean {
	return readSwapState(t).magic === "good";
}

/**
 * boot_write_trailer: the value padded with the erased value to the write size, one write.
 * (MCUboot asserts when that is more than BOOT_MAX_ALIGN.)
 */
function writeTrailer(t: Trailer, off: number, value: Uint8Array): void {
	const size = alignUp(value.length, t.area.align);
	if (size > t.g.maxAlign) fail("E_USAGE", `flash write size ${t.area.align} is above BOOT_MAX_ALIGN ${t.g.maxAlign}`);
	const buf = new Uint8Array(size).fill(t.area.erasedVal);
	buf.set(value);
	t.area.write(off, buf);
}

/**
 * boot_write_magic: BOOT_MAGIC_ALIGN_SIZE bytes written at ALIGN_DOWN(boot_magic_off,
 * BOOT_MAX_ALIGN), erased padding then the 16 magic bytes, one write.
 */
export function writeMagic(t: Trailer): void {
	const padOff = alignDown(t.magicOff, t.g.maxAlign);
	const buf = new Uint8Array(alignUp(BOOT_MAGIC_SZ, t.g.maxAlign)).fill(t.area.erasedVal);
	buf.set(bootImgMagic(t.g.maxAlign), buf.length - BOOT_MAGIC_SZ);
	t.area.write(padOff, buf);
}

/** boot_write_image_ok. */
export function writeImageOk(t: Trailer): void {
	writeTrailer(t, t.imageOkOff, Uint8Array.of(BOOT_FLAG_SET));
}

/** boot_write_copy_done. */
export function writeCopyDone(t: Trailer): void {
	writeTrailer(t, t.copyDoneOff, Uint8Array.of(BOOT_FLAG_SET));
}

/** boot_write_swap_info: BOOT_SET_SWAP_INFO = image number in the high nibble, swap type in the low one. */
export function writeSwapInfo(t: Trailer, swapType: number, imageNum: number): void {
	writeTrailer(t, t.swapInfoOff, Uint8Array.of(((imageNum & 0x0f) << 4) | (swapType & 0x0f)));
}

/** boot_write_swap_size: a little-endian uint32_t. */
export function writeSwapSize(t: Trailer, swapSize: number): void {
	const value = new Uint8Array(4);
	putU32(value, 0, swapSize);
	writeTrailer(t, t.swapSizeOff, value);
}

/**
 * boot_write_enc_keys with MCUBOOT_SWAP_SAVE_ENCTLV: each slot's ENC TLV (erased when that slot's
 * image is not encrypted), BOOT_ENC_TLV_ALIGN_SIZE bytes in one write per slot.
 */
export function writeEncTlvs(t: Trailer, tlvs: readonly (Uint8Array | null)[]): void {
	const size = encTlvAlignSize(t.g);
	if (!size) return;
	for (let slot = 0; slot < 2; slot++) {
		const buf = new Uint8Array(size).fill(t.area.erasedVal);
		const tlv = tlvs[slot];
		if (tlv) buf.set(tlv);
		t.area.write(t.encTlvOff(slot), buf);
	}
}

/**
 * boot_read_enc_key with MCUBOOT_SWAP_SAVE_ENCTLV: the saved ENC TLV of a slot, or null when its
 * place is all 0xff ("No key").
 */
export function readEncTlv(t: Trailer, slot: number): Uint8Array | null {
	const size = encTlvAlignSize(t.g);
	if (!size) return null;
	const bytes = t.area.read(t.encTlvOff(slot), size);
	if (bytes.every((b) => b === 0xff)) return null;
	return bytes.subarray(0, t.g.encTlvSize);
}

/** boot_write_status's write: the state number in the first byte of a write-size block of erased bytes. */
export function writeStatusByte(t: Trailer, internalOff: number, state: number): void {
	const buf = new Uint8Array(t.area.align).fill(t.area.erasedVal);
	buf[0] = state;
	t.area.write(t.statusOff + internalOff, buf);
}

/** The first byte of every status entry (write-size apart) of an area, in one read (swap_read_status_bytes' reads). */
export function readStatusBytes(t: Trailer): Uint8Array {
	const raw = t.area.read(t.statusOff, t.statusEntries * t.g.writeSz);
	const out = new Uint8Array(t.statusEntries);
	for (let i = 0; i < out.length; i++) out[i] = raw[i * t.g.writeSz];
	return out;
}

/**
 * swap_scramble_trailer_sectors (swap_misc.c): erases from the sector holding the start of the
 * trailer to the end of the area, last sector first.
 */
export function scrambleTrailerSectors(t: Trailer): void {
	const start = alignDown(t.area.size - trailerSz(t.g), t.area.sectorSize);
	eraseRegion(t.area, start, t.area.size - start, true);
}

/** BOOT_MAGIC_ANY / BOOT_FLAG_ANY in boot_swap_tables. */
const ANY = "any";

/**
 * boot_swap_tables (bootutil_public.c, no swap-using-offset): trailer states that ask for a swap,
 * searched in order; the secondary slot's rows come first.
 */
const SWAP_TABLES: readonly {
	magicPrimary: MagicState | typeof ANY; magicSecondary: MagicState | typeof ANY;
	imageOkPrimary: FlagState | typeof ANY; imageOkSecondary: FlagState | typeof ANY;
	copyDonePrimary: FlagState | typeof ANY; swapType: number;
}[] = [
	{ magicPrimary: ANY, magicSecondary: "good", imageOkPrimary: ANY, imageOkSecondary: "unset", copyDonePrimary: ANY, swapType: SwapType.TEST },
	{ magicPrimary: ANY, magicSecondary: "good", imageOkPrimary: ANY, imageOkSecondary: "set", copyDonePrimary: ANY, swapType: SwapType.PERM },
	{ magicPrimary: "good", magicSecondary: ANY, imageOkPrimary: "unset", imageOkSecondary: ANY, copyDonePrimary: "set", swapType: SwapType.REVERT },
];

/** boot_swap_type_multi (bootutil_public.c): the first row of boot_swap_tables both trailers match, else NONE. */
export function swapTypeMulti(primary: Trailer, secondary: Trailer): number {
	const p = readSwapState(primary);
	const s = readSwapState(secondary);
	const match = <T>(want: T | typeof ANY, have: T) => want === ANY || want === have;
	for (const row of SWAP_TABLES) {
		if (match(row.magicPrimary, p.magic) && match(row.magicSecondary, s.magic) && match(row.imageOkPrimary, p.imageOk)
			&& match(row.imageOkSecondary, s.imageOk) && match(row.copyDonePrimary, p.copyDone)) return row.swapType;
	}
	return SwapType.NONE;
}
