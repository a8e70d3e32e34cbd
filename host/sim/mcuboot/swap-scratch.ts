/**
 * Swap-using-scratch (MCUBOOT_SWAP_USING_SCRATCH), after swap_scratch.c: scratch-sized ranges of
 * sectors, from the end of the images down to sector 0, each in three steps (secondary → scratch,
 * primary → secondary, scratch → primary; boot_swap_sectors); the range holding the trailer keeps
 * its status in the scratch area until the primary trailer is rewritten. Also from
 * swap_scratch.c: boot_read_image_header (where the headers are mid-swap), boot_slots_compatible,
 * app_max_size (app_max_size_adjust_to_trailer), boot_get_first_trailer_sector,
 * swap_status_source (its table), swap_read_status_bytes, boot_status_internal_off,
 * boot_copy_sz, find_last_sector_idx, find_swap_count and swap_run. An overwrite-only build
 * compiles this file's slot rules without the scratch ones (overwrite.ts).
 */
import { fail } from "sealdrop/image";
import { eraseRegion } from "./flash.js";
import { readRawHeader } from "./image.js";
import {
	IDX_0, isReset, SLOT_PRIMARY, SLOT_SCRATCH, SLOT_SECONDARY, STATE_0, STATE_1, STATE_2, StatusSource,
	type BootStatus, type ImageState, type SwapAlgorithm,
} from "./state.js";
import { copyRegion, findStatus, statusInit, writeStatus } from "./swap-misc.js";
import {
	readStatusBytes, readSwapSize, readSwapState, scrambleTrailerSectors, scratchTrailerSz, SwapType, trailerSz, writeImageOk, writeEncTlvs,
	writeMagic, writeSwapInfo, writeSwapSize, type Trailer,
} from "./trailer.js";

/**
 * boot_slots_compatible (swap_scratch.c), for uniform sectors: at most BOOT_MAX_IMG_SECTORS,
 * same sector size and total size and, when `scratch` is given, each sector fits the scratch area.
 */
export function scratchSlotsCompatible(img: ImageState, withScratch: boolean): boolean {
	const [pri, sec] = img.areas;
	if (pri.sectorCount > img.g.maxImgSectors || sec.sectorCount > img.g.maxImgSectors) return false;
	if (pri.sectorSize !== sec.sectorSize) return false;
	if (pri.size !== sec.size) return false;
	if (withScratch && pri.sectorSize > img.scratch!.area.size) return false;
	return true;
}

/** boot_get_first_trailer_sector: the lowest sector holding trailer bytes. */
function firstTrailerSector(img: ImageState, slot: number): number {
	const area = img.areas[slot];
	let sector = area.sectorCount - 1;
	let covered = area.sectorSize;
	while (covered < trailerSz(img.g)) {
		sector--;
		covered += area.sectorSize;
	}
	return sector;
}

/** boot_copy_sz: how many sectors ending at `lastSectorIdx` fit the scratch area, and the first of them. */
function copySz(img: ImageState, lastSectorIdx: number): { sz: number; first: number } {
	const pri = img.areas[SLOT_PRIMARY];
	const scratchSz = img.scratch!.area.size;
	let sz = 0;
	let i = lastSectorIdx;
	for (; i >= 0; i--) {
		const next = sz + pri.sectorSize;
		if (next > scratchSz) break;
		sz = next;
	}
	return { sz, first: i + 1 };
}

/** find_last_sector_idx: the last primary sector the swap covers. */
function findLastSectorIdx(img: ImageState, copySize: number): number {
	const [pri, sec] = img.areas;
	let priSize = 0;
	let secSize = 0;
	let priIdx = 0;
	let secIdx = 0;
	for (;;) {
		if (priSize < copySize || priSize < secSize) {
			if (priIdx >= pri.sectorCount) fail("E_STATE", `swap size ${copySize} is larger than the slot: the trailer is corrupt`);
			priSize += pri.sectorSize;
			priIdx++;
		}
		if (secSize < copySize || secSize < priSize) {
			if (secIdx >= sec.sectorCount) fail("E_STATE", `swap size ${copySize} is larger than the slot: the trailer is corrupt`);
			secSize += sec.sectorSize;
			secIdx++;
		}
		if (priSize >= copySize && secSize >= copySize && priSize === secSize) break;
	}
	return priIdx - 1;
}

/** find_swap_count: scratch-sized swap operations for `copySize` bytes. */
function findSwapCount(img: ImageState, copySize: number): number {
	let last = findLastSectorIdx(img, copySize);
	let count = 0;
	while (last >= 0) {
		last = copySz(img, last).first - 1;
		count++;
	}
	return count;
}

/**
 * boot_swap_sectors (swap_scratch.c), three states per scratch-sized range: secondary →
 * scratch, primary → secondary, scratch → primary. The range holding the trailer (swapped
 * first) keeps its status in the scratch area until the primary trailer is rewritten.
 */
function swapSectors(img: ImageState, idx: number, sz: number, bs: BootStatus): void {
	const [pri, sec] = img.areas;
	const scratch = img.scratch!;
	const imgOff = pri.sectorOff(idx);
	let copySize = sz;
	const trailer = trailerSz(img.g);
	const firstTrailerSectorPrimary = firstTrailerSector(img, SLOT_PRIMARY);
	if (imgOff + sz > pri.sectorOff(firstTrailerSectorPrimary)) {
		copySize = pri.size - imgOff - trailer;
		copySize = Math.min(copySize, scratch.statusOff); // do not run into the scratch trailer
	}
	bs.useScratch = bs.idx === IDX_0 && copySize !== sz;

	if (bs.state === STATE_0) {
		eraseRegion(scratch.area, 0, scratch.area.size);
		if (bs.idx === IDX_0) {
			// the scratch trailer keeps swap_type while the primary trailer is erased
			statusInit(img, scratch, bs);
			if (!bs.useScratch) {
				scrambleTrailerSectors(img.trailers[SLOT_PRIMARY]);
				statusInit(img, img.trailers[SLOT_PRIMARY], bs);
				eraseRegion(scratch.area, 0, scratch.area.size);
			}
		}
		copyRegion(img, sec, scratch.area, imgOff, 0, copySize);
		writeStatus(img, swapScratch, bs);
		bs.state = STATE_1;
	}

	if (bs.state === STATE_1) {
		let eraseSz = sz;
		if (bs.idx === IDX_0) {
			scrambleTrailerSectors(img.trailers[SLOT_SECONDARY]);
			if (bs.useScratch) eraseSz = sec.sectorOff(firstTrailerSector(img, SLOT_SECONDARY)) - imgOff;
		}
		if (eraseSz > 0) eraseRegion(sec, imgOff, eraseSz);
		copyRegion(img, pri, sec, imgOff, imgOff, copySize);
		writeStatus(img, swapScratch, bs);
		bs.state = STATE_2;
	}

	if (bs.state === STATE_2) {
		let eraseSz = sz;
		if (bs.useScratch) {
			scrambleTrailerSectors(img.trailers[SLOT_PRIMARY]);
			eraseSz = pri.sectorOff(firstTrailerSectorPrimary) - imgOff;
		}
		if (eraseSz > 0) eraseRegion(pri, imgOff, eraseSz);
		copyRegion(img, scratch.area, pri, 0, imgOff, copySize);
		if (bs.useScratch) {
			// the status kept in the scratch area, then a full trailer, magic last
			copyRegion(img, scratch.area, pri, scratch.statusOff, imgOff + copySize, (img.g.stateCount - 1) * img.g.writeSz);
			const state = readSwapState(scratch);
			const t = img.trailers[SLOT_PRIMARY];
			if (state.imageOk === "set") writeImageOk(t);
			if (state.swapType !== SwapType.NONE) writeSwapInfo(t, state.swapType, img.index);
			writeSwapSize(t, bs.swapSize);
			if (img.cfg.enc) writeEncTlvs(t, bs.encTlv);
			writeMagic(t);
		}
		const eraseScratch = bs.useScratch;
		bs.useScratch = false;
		writeStatus(img, swapScratch, bs);
		bs.idx++;
		bs.state = STATE_0;
		// Backwards, so an interrupted erase removes the scratch trailer before its data. With a
		// one-sector scratch area that ordering cannot help: a cut that erases only the first
		// half of the sector (as the Linux host tears an erase) leaves the scratch magic, the
		// next boot redoes STATE_2 from the half-erased scratch, and image bytes that share the
		// primary's first trailer sector are lost. MCUboot does the same; the tests keep their
		// images out of that sector.
		if (eraseScratch) eraseRegion(scratch.area, 0, scratch.area.size, true);
	}
}

export const swapScratch: SwapAlgorithm = {
	mode: "scratch",

	slotsCompatible: (img) => scratchSlotsCompatible(img, true),

	/** app_max_size_adjust_to_trailer: room for the scratch trailer when the last sector is swapped. */
	maxImageSize(img) {
		const [pri, sec] = img.areas;
		const slotTrailerOff = pri.size - trailerSz(img.g);
		const endOff = Math.max(
			pri.sectorOff(firstTrailerSector(img, SLOT_PRIMARY)) + pri.sectorSize,
			sec.sectorOff(firstTrailerSector(img, SLOT_SECONDARY)) + sec.sectorSize);
		const inFirstSector = endOff - slotTrailerOff;
		const padding = Math.max(0, scratchTrailerSz(img.g) - inFirstSector);
		return slotTrailerOff - padding;
	},

	/**
	 * boot_read_image_header: once every range is swapped the headers have traded slots; during
	 * the last range (sector 0) the secondary header is in the scratch area from STATE_1 and the
	 * primary's in the secondary slot from STATE_2.
	 */
	readImageHeader(img, slot, bs) {
		let area = img.areas[slot];
		if (bs && !isReset(bs)) {
			const swapCount = findSwapCount(img, readSwapSize(findStatus(img)));
			let hdrSlot = slot;
			if (bs.idx - IDX_0 >= swapCount) {
				hdrSlot = slot === SLOT_PRIMARY ? SLOT_SECONDARY : SLOT_PRIMARY; // all swapped
			} else if (bs.idx - IDX_0 === swapCount - 1) {
				if (slot === SLOT_SECONDARY && bs.state >= STATE_1) hdrSlot = SLOT_SCRATCH;
				else if (slot === SLOT_PRIMARY && bs.state >= STATE_2) hdrSlot = SLOT_SECONDARY;
			}
			area = hdrSlot === SLOT_SCRATCH ? img.scratch!.area : img.areas[hdrSlot];
		}
		img.hdrs[slot] = readRawHeader(area, 0);
		return 0;
	},

	/** swap_status_source: boot_status_tables, and with several images the scratch status must be this image's. */
	statusSource(img) {
		const primary = readSwapState(img.trailers[SLOT_PRIMARY]);
		const scratch = readSwapState(img.scratch!);
		if (primary.magic === "good" && scratch.magic !== "good" && primary.copyDone === "set") return StatusSource.NONE;
		if (primary.magic === "good" && scratch.magic !== "good" && primary.copyDone === "unset") return StatusSource.PRIMARY;
		if (scratch.magic === "good") {
			if (img.cfg.imageCount > 1 && scratch.imageNum !== img.index) return StatusSource.NONE;
			return StatusSource.SCRATCH;
		}
		if (primary.magic === "unset" && primary.copyDone === "unset") return StatusSource.PRIMARY;
		return StatusSource.NONE;
	},

	/** swap_read_status_bytes: counts written entries from the start; the first erased one after them is where the swap is. */
	readStatusBytes(img, t: Trailer, bs) {
		const status = readStatusBytes(t);
		const erased = (i: number) => status[i] === t.area.erasedVal;
		let found = false;
		let foundIdx = 0;
		let i = 0;
		for (; i < status.length; i++) {
			if (erased(i)) {
				if (found && !foundIdx) foundIdx = i;
			} else if (!found) {
				found = true;
			} else if (foundIdx) {
				break; // "Detected inconsistent status!": with the primary slot validated, MCUboot carries on
			}
		}
		if (found) {
			if (!foundIdx) foundIdx = i;
			bs.idx = Math.floor(foundIdx / img.g.stateCount) + IDX_0;
			bs.state = (foundIdx % img.g.stateCount) + STATE_0;
		}
	},

	/** boot_status_internal_off: BOOT_STATUS_STATE_COUNT entries per range. */
	statusInternalOff(img, bs) {
		const w = img.g.writeSz;
		return (bs.idx - IDX_0) * img.g.stateCount * w + (bs.state - STATE_0) * w;
	},

	/** swap_run: scratch-sized ranges from the end of the images down to sector 0. */
	swapRun(img, bs, copySize) {
		let last = findLastSectorIdx(img, copySize);
		let swapIdx = 0;
		while (last >= 0) {
			const { sz, first } = copySz(img, last);
			if (swapIdx >= bs.idx - IDX_0) swapSectors(img, first, sz, bs);
			last = first - 1;
			swapIdx++;
		}
	},
};
