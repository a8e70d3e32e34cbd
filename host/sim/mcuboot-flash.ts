/**
 * The flash side of the MCUboot model: a partition as bootutil's `struct flash_area`, erasing as
 * `boot_erase_region` does (one flash operation per sector), and the image trailer's fields read
 * and written byte for byte as bootutil_public.c, bootutil_misc.c and bootutil_area.c do
 * (reference §D). The swap algorithms (mcuboot-swap.ts) and the loader (mcuboot.ts) only touch
 * flash through this file, so the sequence of flash operations, which is what a power cut test
 * counts, is MCUboot's.
 *
 * Build-time constants of MCUboot that shape the trailer are fields of `TrailerGeometry`:
 * BOOT_MAX_ALIGN, BOOT_WRITE_SZ, BOOT_STATUS_STATE_COUNT, BOOT_MAX_IMG_SECTORS and, for
 * MCUBOOT_ENC_IMAGES with MCUBOOT_SWAP_SAVE_ENCTLV, BOOT_ENC_TLV_SIZE.
 */
import Flash from "sealdrop/native/flash";
import { alignDown, alignUp, BOOT_MAGIC_SIZE, fail, FLAG_SET, magicBlock, putU32, readTrailer, SwapType, trailerFieldBytes, trailerLayout, u32, type FlagState, type MagicState, type TrailerLayout } from "sealdrop/image";

/** loader.c BUF_SZ: boot_copy_region moves data in chunks of this many bytes, one write each. */
export const COPY_CHUNK = 1024;

/** One flash partition, as MCUboot sees a flash area: uniform sectors of the flash's erase block. */
export class Area {
	readonly name: string;
	readonly size: number;
	readonly sectorSize: number;
	/** flash_area_align(): the write size. */
	readonly align: number;
	readonly erasedVal: number;
	readonly #flash: Flash;

	constructor(name: string) {
		this.name = name;
		try {
			this.#flash = Flash.open({ path: name });
		} catch (e) {
			fail("E_FLASH", `cannot open flash partition "${name}": ${(e as Error).message}`);
		}
		const status = this.#flash.status();
		this.size = status.size;
		this.sectorSize = status.blockLength;
		this.align = status.writeAlign;
		this.erasedVal = status.eraseValue;
	}

	get sectorCount(): number {
		return this.size / this.sectorSize;
	}

	/** boot_img_sector_off(): all sectors have the same size on this flash. */
	sectorOff(index: number): number {
		if (index < 0 || index >= this.sectorCount) fail("E_STATE", `MCUboot would read past the sectors of "${this.name}" (sector ${index})`);
		return index * this.sectorSize;
	}

	read(offset: number, length: number): Uint8Array {
		const out = new Uint8Array(length);
		this.readInto(out, offset);
		return out;
	}

	/** Fills `into` from `offset` without allocating. */
	readInto(into: Uint8Array, offset: number): void {
		if (into.length === 0) return;
		if (offset < 0 || offset + into.length > this.size) fail("E_FLASH", `read of ${into.length} bytes at ${offset} is outside "${this.name}"`);
		this.#flash.read(into, offset);
	}

	write(offset: number, bytes: Uint8Array): void {
		try {
			this.#flash.write(bytes, offset);
		} catch (e) {
			fail("E_FLASH", `flash write of ${bytes.length} bytes at ${offset} of "${this.name}" failed: ${(e as Error).message}`);
		}
	}

	/** flash_area_erase() of one sector. */
	eraseSector(offset: number): void {
		try {
			this.#flash.eraseBlock(offset / this.sectorSize);
		} catch (e) {
			fail("E_FLASH", `flash erase at ${offset} of "${this.name}" failed: ${(e as Error).message}`);
		}
	}

	isErased(bytes: Uint8Array): boolean {
		if (bytes.length === 0) return false; // bootutil_buffer_is_erased
		for (let i = 0; i < bytes.length; i++) if (bytes[i] !== this.erasedVal) return false;
		return true;
	}

	close(): void {
		this.#flash.close();
	}
}

/**
 * boot_erase_region (bootutil_area.c): erases every sector touching [off, off + size), one
 * flash_area_erase per sector, from the lowest up or, with `backwards`, from the highest down.
 * On NOR flash boot_scramble_region is the same call.
 */
export function eraseRegion(area: Area, off: number, size: number, backwards = false): void {
	if (size === 0) return; // boot_scramble_region skips empty ranges; boot_erase_region is never called with one
	if (off >= area.size || area.size - off < size) fail("E_FLASH", `erase of ${size} bytes at ${off} is outside "${area.name}"`);
	const first = Math.floor(off / area.sectorSize);
	const last = Math.floor((off + size - 1) / area.sectorSize);
	if (backwards) for (let s = last; s >= first; s--) area.eraseSector(s * area.sectorSize);
	else for (let s = first; s <= last; s++) area.eraseSector(s * area.sectorSize);
}

/** boot_scramble_slot without MCUBOOT_MINIMAL_SCRAMBLE: the whole area, forwards. */
export function scrambleSlot(area: Area): void {
	eraseRegion(area, 0, area.size, false);
}

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

/** boot_trailer_info_sz (bootutil_area.c): enc keys, four flag fields, the aligned magic. */
function trailerInfoSz(g: TrailerGeometry): number {
	return 2 * encTlvAlignSize(g) + 4 * g.maxAlign + alignUp(BOOT_MAGIC_SIZE, g.maxAlign);
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
	readonly layout: TrailerLayout;

	constructor(area: Area, g: TrailerGeometry, isScratch = false) {
		this.area = area;
		this.g = g;
		this.isScratch = isScratch;
		// magic, image_ok, copy_done, swap_info and swap_size offsets: bootutil_misc.h, public.c
		this.layout = trailerLayout({ slotSize: area.size, maxAlign: g.maxAlign });
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
		return this.layout.swapSizeOffset - (slot + 1) * encTlvAlignSize(this.g);
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

/** boot_read_swap_state (bootutil_public.c). */
export function readSwapState(t: Trailer): SwapState {
	const from = t.layout.swapSizeOffset;
	const state = readTrailer(t.area.read(from, t.area.size - from), t.layout, t.area.erasedVal);
	let swapType: number = SwapType.NONE;
	let imageNum = 0;
	if (state.swapInfo && state.swapInfo.swapType <= SwapType.REVERT) {
		swapType = state.swapInfo.swapType;
		imageNum = state.swapInfo.imageNumber;
	}
	return { magic: state.magic, swapType, imageNum, copyDone: state.copyDone, imageOk: state.imageOk };
}

/** The raw swap_info byte (swap_read_status reads it without bounding the type). */
export function readSwapInfoByte(t: Trailer): number {
	return t.area.read(t.layout.swapInfoOffset, 1)[0];
}

/** boot_read_swap_size. */
export function readSwapSize(t: Trailer): number {
	return u32(t.area.read(t.layout.swapSizeOffset, 4), 0);
}

/** Whether the area holds the good magic (boot_find_status's test). */
export function hasGoodMagic(t: Trailer): boolean {
	return readSwapState(t).magic === "good";
}

/**
 * boot_write_trailer: the value padded with the erased value to the write size, one write.
 * (MCUboot asserts when that is more than BOOT_MAX_ALIGN.)
 */
function writeTrailerField(t: Trailer, off: number, value: Uint8Array): void {
	const buf = trailerFieldBytes(value, t.area.align, t.area.erasedVal);
	if (buf.length > t.g.maxAlign) fail("E_USAGE", `flash write size ${t.area.align} is above BOOT_MAX_ALIGN ${t.g.maxAlign}`);
	t.area.write(off, buf);
}

/** boot_write_magic: an aligned block of erased padding then the 16 magic bytes, one write. */
export function writeMagic(t: Trailer): void {
	t.area.write(t.layout.magicBlockOffset, magicBlock(t.layout, t.area.erasedVal));
}

export function writeImageOk(t: Trailer): void {
	writeTrailerField(t, t.layout.imageOkOffset, Uint8Array.of(FLAG_SET));
}

export function writeCopyDone(t: Trailer): void {
	writeTrailerField(t, t.layout.copyDoneOffset, Uint8Array.of(FLAG_SET));
}

/** boot_write_swap_info: BOOT_SET_SWAP_INFO = image number in the high nibble, swap type in the low one. */
export function writeSwapInfo(t: Trailer, swapType: number, imageNum: number): void {
	writeTrailerField(t, t.layout.swapInfoOffset, Uint8Array.of(((imageNum & 0x0f) << 4) | (swapType & 0x0f)));
}

export function writeSwapSize(t: Trailer, swapSize: number): void {
	const value = new Uint8Array(4);
	putU32(value, 0, swapSize);
	writeTrailerField(t, t.layout.swapSizeOffset, value);
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

/** boot_write_status: the state number in the first byte of a write-size block of erased bytes. */
export function writeStatusByte(t: Trailer, internalOff: number, state: number): void {
	const buf = new Uint8Array(t.area.align).fill(t.area.erasedVal);
	buf[0] = state;
	t.area.write(t.statusOff + internalOff, buf);
}

/** The first byte of every status entry (write-size apart) of an area, in one read. */
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
