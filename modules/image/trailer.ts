/**
 * The image trailer at the end of a slot (MCUboot bootutil_misc.h:28-64, bootutil_public.c,
 * bootutil_area.c:45-94; reference §D). Offsets are from the start of the slot.
 */
import { fail } from "sealdrop/base/errors";
import { alignDown, alignUp, equalBytes } from "sealdrop/base/bytes";

/** The magic when BOOT_MAX_ALIGN is 8 (bootutil_public.c:60-79). */
const MAGIC_ALIGN8 = Uint8Array.of(0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f, 0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80);
/** For other max-aligns: u16 LE align followed by this tail. */
const MAGIC_TAIL = Uint8Array.of(0x2d, 0xe1, 0x5d, 0x29, 0x41, 0x0b, 0x8d, 0x77, 0x67, 0x9c, 0x11, 0x0f, 0x1f, 0x8a);
export const BOOT_MAGIC_SIZE = 16;

export const FLAG_SET = 0x01;

/** BOOT_SWAP_TYPE_* (bootutil_public.h:54-75). */
export const SwapType = { NONE: 1, TEST: 2, PERM: 3, REVERT: 4, FAIL: 5, PANIC: 0xff } as const;

export function bootMagic(maxAlign = 8): Uint8Array {
	if (maxAlign === 8) return MAGIC_ALIGN8.slice();
	const out = new Uint8Array(BOOT_MAGIC_SIZE);
	out[0] = maxAlign & 0xff;
	out[1] = maxAlign >> 8;
	out.set(MAGIC_TAIL, 2);
	return out;
}

export interface TrailerOptions {
	slotSize: number;
	/** BOOT_MAX_ALIGN: 8 (default), 16 or 32. */
	maxAlign?: number;
	/** AES key size the bootloader stores per slot during a swap (0 when not built with encryption). */
	encKeySize?: 0 | 16 | 32;
}

/** Where each trailer field lives in a slot, as bootutil computes it. */
export interface TrailerLayout {
	slotSize: number;
	maxAlign: number;
	magic: Uint8Array;
	magicOffset: number;      // the 16 magic bytes
	magicBlockOffset: number; // where the aligned magic write starts (leading erased pad)
	imageOkOffset: number;
	copyDoneOffset: number;
	swapInfoOffset: number;
	swapSizeOffset: number;
	/** enc key of slot 0 and slot 1 (slot 0 is at the higher address, next to swap_size). */
	encKeyOffsets: [number, number] | null;
	/** Lowest trailer byte other than the swap status area. */
	infoOffset: number;
}

export function trailerLayout(options: TrailerOptions): TrailerLayout {
	const maxAlign = options.maxAlign ?? 8;
	if (![8, 16, 32].includes(maxAlign)) fail("E_USAGE", `max-align must be 8, 16 or 32, not ${maxAlign}`);
	const slotSize = options.slotSize;
	const magicAlignSize = alignUp(BOOT_MAGIC_SIZE, maxAlign);
	const magicOffset = slotSize - BOOT_MAGIC_SIZE;
	const imageOkOffset = alignDown(slotSize - BOOT_MAGIC_SIZE - maxAlign, maxAlign);
	const copyDoneOffset = imageOkOffset - maxAlign;
	const swapInfoOffset = copyDoneOffset - maxAlign;
	const swapSizeOffset = swapInfoOffset - maxAlign;
	let encKeyOffsets: [number, number] | null = null;
	let infoOffset = swapSizeOffset;
	if (options.encKeySize) {
		const ek = alignUp(options.encKeySize, maxAlign);
		encKeyOffsets = [swapSizeOffset - ek, swapSizeOffset - 2 * ek];
		infoOffset = encKeyOffsets[1];
	}
	if (infoOffset < 0) fail("E_TOO_LARGE", `slot of ${slotSize} bytes cannot hold a trailer`);
	return {
		slotSize, maxAlign, magic: bootMagic(maxAlign), magicOffset,
		magicBlockOffset: slotSize - magicAlignSize,
		imageOkOffset, copyDoneOffset, swapInfoOffset, swapSizeOffset, encKeyOffsets, infoOffset,
	};
}

/** boot_write_trailer's buffer: `value` padded with the erased value to whole write units. */
export function trailerFieldBytes(value: Uint8Array, writeAlign: number, erasedVal = 0xff): Uint8Array {
	const unit = new Uint8Array(alignUp(value.length, writeAlign)).fill(erasedVal);
	unit.set(value);
	return unit;
}

/**
 * boot_write_magic's buffer, written at `layout.magicBlockOffset`: BOOT_MAGIC_ALIGN_SIZE bytes,
 * erased padding then the 16 magic bytes.
 */
export function magicBlock(layout: TrailerLayout, erasedVal = 0xff): Uint8Array {
	const block = new Uint8Array(layout.slotSize - layout.magicBlockOffset).fill(erasedVal);
	block.set(layout.magic, block.length - layout.magic.length);
	return block;
}

export interface ImgtoolTrailerOptions {
	align?: number;        // --align, write size (1..32)
	maxAlign?: number;     // --max-align
	maxSectors?: number;   // -M, default 128
	overwriteOnly?: boolean;
	encrypted?: boolean;
}

/**
 * The trailer size imgtool reserves when checking that an image fits its slot (image.py
 * _trailer_size): status area for 3 states per sector, 16-byte key per slot when encrypted (even
 * for AES-256, a known imgtool quirk), four flag fields and the magic.
 */
export function imgtoolTrailerSize(o: ImgtoolTrailerOptions = {}): number {
	const align = o.align ?? 1;
	const maxAlign = o.maxAlign ?? Math.max(8, align);
	const magicAlignSize = alignUp(BOOT_MAGIC_SIZE, maxAlign);
	if (o.overwriteOnly) return maxAlign * 2 + magicAlignSize;
	let size = (o.maxSectors ?? 128) * 3 * align;
	if (o.encrypted) size += alignUp(16, maxAlign) * 2;
	return size + maxAlign * 4 + magicAlignSize;
}

export type MagicState = "good" | "unset" | "bad";
export type FlagState = "set" | "unset" | "bad";

export interface TrailerState {
	magic: MagicState;
	imageOk: FlagState;
	copyDone: FlagState;
	/** swap_info byte: image number in the high nibble, swap type in the low one; null if erased. */
	swapInfo: { imageNumber: number; swapType: number } | null;
	swapSize: number | null;
}

/**
 * Reads the trailer fields from the last bytes of a slot. `tail` holds the slot's final
 * `tail.length` bytes (at least up to swap_size).
 */
export function readTrailer(tail: Uint8Array, layout: TrailerLayout, erasedVal = 0xff): TrailerState {
	const base = layout.slotSize - tail.length;
	if (base > layout.swapSizeOffset) fail("E_TRUNCATED", "not enough bytes to read the trailer");
	const at = (offset: number) => tail[offset - base];
	const isErased = (offset: number, length: number) => {
		for (let i = 0; i < length; i++) if (at(offset + i) !== erasedVal) return false;
		return true;
	};
	const flag = (offset: number): FlagState => (at(offset) === erasedVal ? "unset" : at(offset) === FLAG_SET ? "set" : "bad");
	const magicBytes = tail.subarray(layout.magicOffset - base, layout.magicOffset - base + BOOT_MAGIC_SIZE);
	const magic: MagicState = isErased(layout.magicOffset, BOOT_MAGIC_SIZE) ? "unset" : equalBytes(magicBytes, layout.magic) ? "good" : "bad";
	const info = at(layout.swapInfoOffset);
	const swapSizeBytes = tail.subarray(layout.swapSizeOffset - base, layout.swapSizeOffset - base + 4);
	return {
		magic,
		imageOk: flag(layout.imageOkOffset),
		copyDone: flag(layout.copyDoneOffset),
		swapInfo: info === erasedVal ? null : { imageNumber: info >> 4, swapType: info & 0x0f },
		swapSize: isErased(layout.swapSizeOffset, 4) ? null : new DataView(swapSizeBytes.buffer, swapSizeBytes.byteOffset, 4).getUint32(0, true),
	};
}

/** The swap the bootloader decides on from both slots' trailers (bootutil_public.c:105-150, 424-492). */
export function swapTypeFor(primary: TrailerState, secondary: TrailerState): number {
	if (secondary.magic === "good" && secondary.imageOk === "unset") return SwapType.TEST;
	if (secondary.magic === "good" && secondary.imageOk === "set") return SwapType.PERM;
	if (primary.magic === "good" && primary.imageOk === "unset" && primary.copyDone === "set") return SwapType.REVERT;
	return SwapType.NONE;
}

export function swapTypeName(type: number): string {
	for (const [name, value] of Object.entries(SwapType)) if (value === type) return name;
	return `0x${type.toString(16)}`;
}
