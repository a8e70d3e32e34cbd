/**
 * Swap-using-move (MCUBOOT_SWAP_USING_MOVE), after swap_move.c: the primary image first moves up
 * one sector (boot_move_sector_up), then the slots swap sector by sector (boot_swap_sectors), with
 * the status area's move entries before its swap entries. Also from swap_move.c:
 * boot_read_image_header (where the headers are mid-swap), boot_slots_compatible, app_max_size,
 * swap_status_source, swap_read_status_bytes, boot_status_internal_off, find_last_idx,
 * fixup_revert and swap_run.
 */
import { fail, IMAGE_MAGIC } from "sealdrop/image";
import { eraseRegion } from "./flash.js";
import { readRawHeader } from "./image.js";
import {
	IDX_0, isReset, OP_MOVE, OP_SWAP, SLOT_PRIMARY, SLOT_SECONDARY, STATE_0, STATE_1, StatusSource,
	type BootStatus, type ImageState, type SwapAlgorithm,
} from "./state.js";
import { copyRegion, findStatus, statusInit, writeStatus } from "./swap-misc.js";
import { readStatusBytes, readSwapSize, readSwapState, scrambleTrailerSectors, SwapType, trailerSz, writeImageOk, writeMagic, writeSwapSize, type Trailer } from "./trailer.js";

/** find_last_idx: sectors the swap covers. */
function findLastIdx(img: ImageState, swapSize: number): number {
	const sector = img.areas[SLOT_PRIMARY].sectorSize;
	const idx = Math.max(1, Math.ceil(swapSize / sector));
	if (idx > img.areas[SLOT_PRIMARY].sectorCount) fail("E_STATE", `swap size ${swapSize} is larger than the slot: the trailer is corrupt`);
	return idx;
}

/**
 * fixup_revert: a revert starts by rewriting the primary trailer; if the power fails in
 * between, the secondary trailer written here makes the next boot finish it as a permanent
 * swap.
 */
function fixupRevert(img: ImageState, bs: BootStatus): void {
	if (bs.swapType !== SwapType.REVERT || bs.op !== OP_MOVE || bs.idx !== IDX_0) return;
	const sec = img.trailers[SLOT_SECONDARY];
	if (readSwapState(sec).magic !== "unset") return;
	scrambleTrailerSectors(sec);
	writeImageOk(sec);
	writeSwapSize(sec, bs.swapSize);
	writeMagic(sec);
}

/** boot_move_sector_up: sector idx-1 of the primary image to idx; the first move prepares both trailers. */
function moveSectorUp(img: ImageState, idx: number, sz: number, bs: BootStatus): void {
	const pri = img.areas[SLOT_PRIMARY];
	const newOff = pri.sectorOff(idx);
	const oldOff = pri.sectorOff(idx - 1);
	if (bs.idx === IDX_0) {
		if (bs.source !== StatusSource.PRIMARY) {
			scrambleTrailerSectors(img.trailers[SLOT_PRIMARY]);
			statusInit(img, img.trailers[SLOT_PRIMARY], bs);
		}
		scrambleTrailerSectors(img.trailers[SLOT_SECONDARY]);
	}
	eraseRegion(pri, newOff, sz);
	copyRegion(img, pri, pri, oldOff, newOff, sz);
	writeStatus(img, swapMove, bs);
	bs.idx++;
}

/** boot_swap_sectors (swap_move.c): secondary idx-1 → primary idx-1, then the moved-up primary idx → secondary idx-1. */
function swapSectors(img: ImageState, idx: number, sz: number, bs: BootStatus): void {
	const [pri, sec] = img.areas;
	const priUpOff = pri.sectorOff(idx);
	const priOff = pri.sectorOff(idx - 1);
	const secOff = sec.sectorOff(idx - 1);
	if (bs.state === STATE_0) {
		eraseRegion(pri, priOff, sz);
		copyRegion(img, sec, pri, secOff, priOff, sz);
		writeStatus(img, swapMove, bs);
		bs.state = STATE_1;
	}
	if (bs.state === STATE_1) {
		eraseRegion(sec, secOff, sz);
		copyRegion(img, pri, sec, priUpOff, secOff, sz);
		writeStatus(img, swapMove, bs);
		bs.idx++;
		bs.state = STATE_0;
	}
}

export const swapMove: SwapAlgorithm = {
	mode: "move",

	/** boot_slots_compatible: the primary has the secondary's sectors or one more, same sizes, at most BOOT_MAX_IMG_SECTORS. */
	slotsCompatible(img) {
		const [pri, sec] = img.areas;
		if (pri.sectorCount > img.g.maxImgSectors || sec.sectorCount > img.g.maxImgSectors) return false;
		if (pri.sectorSize !== sec.sectorSize) return false;
		return pri.sectorCount === sec.sectorCount || pri.sectorCount === sec.sectorCount + 1;
	},

	/** app_max_size: the trailer rounded up to sectors, and one sector of room for the move. */
	maxImageSize(img) {
		const [pri, sec] = img.areas;
		const sector = pri.sectorSize;
		const alignedTrailer = Math.ceil(trailerSz(img.g) / sector) * sector;
		return Math.min(pri.sectorCount * sector - alignedTrailer - sector, sec.sectorCount * sector - alignedTrailer);
	},

	/**
	 * boot_read_image_header: mid-move the primary header is one sector up; mid-swap the slots'
	 * headers have traded places. With a boot status, the header must be where the status says.
	 */
	readImageHeader(img, slot, bs) {
		let s = slot;
		let off = 0;
		if (bs && !isReset(bs)) {
			const lastIdx = findLastIdx(img, readSwapSize(findStatus(img)));
			const sz = img.areas[SLOT_PRIMARY].sectorSize;
			if (bs.op === OP_MOVE && slot === SLOT_PRIMARY && bs.idx > lastIdx) {
				off = sz; // the primary image has moved up one sector
			} else if (bs.op === OP_SWAP) {
				if (bs.idx > 1 && bs.idx <= lastIdx) s = slot === SLOT_PRIMARY ? SLOT_SECONDARY : SLOT_PRIMARY;
				else if (bs.idx === 1) {
					if (slot === SLOT_PRIMARY) off = sz;
					else if (slot === SLOT_SECONDARY && bs.state === STATE_1) s = SLOT_PRIMARY;
				}
			}
		}
		img.hdrs[slot] = readRawHeader(img.areas[s], off);
		if (bs && img.hdrs[slot].magic !== IMAGE_MAGIC) return -1;
		return 0;
	},

	/** swap_status_source: the primary slot holds the status while its copy_done is unset and the secondary has no good magic. */
	statusSource(img) {
		const primary = readSwapState(img.trailers[SLOT_PRIMARY]);
		const secondary = readSwapState(img.trailers[SLOT_SECONDARY]);
		return primary.magic === "good" && primary.copyDone === "unset" && secondary.magic !== "good" ? StatusSource.PRIMARY : StatusSource.NONE;
	},

	/** swap_read_status_bytes: the last written entry says where the move or the swap is. */
	readStatusBytes(img, t: Trailer, bs) {
		const status = readStatusBytes(t);
		let found = -1;
		for (let i = status.length; i > 0; i--) if (status[i - 1] !== t.area.erasedVal && found === -1) found = i;
		const moveEntries = img.g.maxImgSectors * img.g.moveStateCount;
		if (found === -1) return;
		if (found < moveEntries) {
			bs.op = OP_MOVE;
			bs.idx = found + IDX_0;
			bs.state = STATE_0;
		} else {
			bs.op = OP_SWAP;
			bs.idx = Math.floor((found - moveEntries) / 2) + IDX_0;
			bs.state = ((found - moveEntries) % 2) + STATE_0;
		}
	},

	/** boot_status_internal_off: move entries (one per sector) first, then two swap entries per sector. */
	statusInternalOff(img, bs) {
		const w = img.g.writeSz;
		const perIdx = bs.op === OP_MOVE ? img.g.moveStateCount : 2;
		const base = bs.op === OP_MOVE ? 0 : img.g.maxImgSectors * img.g.moveStateCount * w;
		return base + (bs.idx - IDX_0) * perIdx * w + (bs.state - STATE_0) * w;
	},

	/** swap_run: move the primary image up one sector, then swap sector by sector. */
	swapRun(img, bs, copySize) {
		const pri = img.areas[SLOT_PRIMARY];
		const lastIdx = findLastIdx(img, copySize);
		const sectorSz = pri.sectorSize;
		if (isReset(bs)) {
			let sz = 0;
			let firstTrailerIdx = pri.sectorCount - 1;
			for (;;) {
				sz += sectorSz;
				if (sz >= trailerSz(img.g)) break;
				firstTrailerIdx--;
			}
			if (lastIdx >= firstTrailerIdx) {
				bs.swapType = SwapType.NONE; // "Not enough free space to run swap upgrade"
				return;
			}
		}
		fixupRevert(img, bs);
		if (bs.op === OP_MOVE) {
			for (let idx = lastIdx; idx > 0; idx--) if (idx <= lastIdx - bs.idx + 1) moveSectorUp(img, idx, sectorSz, bs);
			bs.idx = IDX_0;
		}
		bs.op = OP_SWAP;
		for (let idx = 1; idx <= lastIdx; idx++) if (idx >= bs.idx) swapSectors(img, idx, sectorSz, bs);
	},
};
