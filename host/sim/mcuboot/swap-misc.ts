/**
 * What both swap algorithms share: swap_misc.c (swap_status_init, swap_read_status,
 * swap_set_image_ok, swap_set_copy_done), bootutil_misc.c boot_find_status, and the two loader.c
 * functions the algorithms call back into, boot_write_status and boot_copy_region.
 */
import { fail } from "sealdrop/image";
import { COPY_CHUNK, type Area } from "./flash.js";
import { cryptBody } from "./encrypted.js";
import { isEncrypted, tlvOff } from "./image.js";
import { SLOT_PRIMARY, SLOT_SECONDARY, StatusSource, type BootStatus, type ImageState, type SwapAlgorithm } from "./state.js";
import {
	hasGoodMagic, readSwapInfoByte, readSwapState, SwapType, writeCopyDone, writeEncTlvs, writeImageOk, writeMagic, writeStatusByte,
	writeSwapInfo, writeSwapSize, type Trailer,
} from "./trailer.js";

/** boot_find_status (bootutil_misc.c): the area whose trailer has the good magic, scratch first. */
export function findStatus(img: ImageState): Trailer {
	const candidates = img.scratch ? [img.scratch, img.trailers[SLOT_PRIMARY]] : [img.trailers[SLOT_PRIMARY]];
	for (const t of candidates) if (hasGoodMagic(t)) return t;
	return candidates[candidates.length - 1];
}

/** swap_read_status (swap_misc.c): the interrupted swap's position and type, if any. */
export function readStatus(img: ImageState, swap: SwapAlgorithm, bs: BootStatus): void {
	bs.source = swap.statusSource(img);
	if (bs.source === StatusSource.NONE) return;
	const t = bs.source === StatusSource.SCRATCH ? img.scratch! : img.trailers[SLOT_PRIMARY];
	swap.readStatusBytes(img, t, bs);
	const info = readSwapInfoByte(t);
	bs.swapType = t.area.isErased(Uint8Array.of(info)) ? SwapType.NONE : info & 0x0f;
}

/** boot_write_status (loader.c): to the scratch area while it holds the status, else to the primary slot. */
export function writeStatus(img: ImageState, swap: SwapAlgorithm, bs: BootStatus): void {
	const t = swap.mode === "scratch" && bs.useScratch ? img.scratch! : img.trailers[SLOT_PRIMARY];
	writeStatusByte(t, swap.statusInternalOff(img, bs), bs.state);
}

/**
 * swap_status_init (swap_misc.c): the trailer a swap starts from: swap_info, image_ok when
 * the secondary asked for a permanent swap, swap_size, the ENC TLVs, and the magic last, so a
 * trailer with a good magic is complete.
 */
export function statusInit(img: ImageState, t: Trailer, bs: BootStatus): void {
	const secondary = readSwapState(img.trailers[SLOT_SECONDARY]);
	if (bs.swapType !== SwapType.NONE) writeSwapInfo(t, bs.swapType, img.index);
	if (secondary.imageOk === "set") writeImageOk(t);
	writeSwapSize(t, bs.swapSize);
	if (img.cfg.enc) writeEncTlvs(t, bs.encTlv);
	writeMagic(t);
}

/** swap_set_image_ok: confirm the primary slot's image if it is not yet. */
export function setImageOk(img: ImageState): void {
	const t = img.trailers[SLOT_PRIMARY];
	if (readSwapState(t).imageOk === "unset") writeImageOk(t);
}

/** swap_set_copy_done. */
export function setCopyDone(img: ImageState): void {
	writeCopyDone(img.trailers[SLOT_PRIMARY]);
}

/**
 * boot_copy_region (loader.c): copies in COPY_CHUNK pieces, one write each. With encryption,
 * data leaving the primary slot (for the secondary or the scratch area) is encrypted with the
 * primary image's key and data entering the primary slot from elsewhere is decrypted with the
 * secondary image's key; only the body is touched, at its offset in the image (the destination
 * offset is the image offset in every call MCUboot makes).
 */
export function copyRegion(img: ImageState, src: Area, dst: Area, offSrc: number, offDst: number, size: number): void {
	const primary = img.areas[SLOT_PRIMARY];
	const encryptedSrc = src !== primary;
	const encryptedDst = dst !== primary;
	const onlyCopy = encryptedSrc === encryptedDst;
	const sourceSlot = encryptedDst ? SLOT_PRIMARY : SLOT_SECONDARY;
	const hdr = img.hdrs[sourceSlot];
	for (let copied = 0; copied < size;) {
		const chunk = Math.min(COPY_CHUNK, size - copied);
		const buf = src.read(offSrc + copied, chunk);
		if (img.cfg.enc && !onlyCopy && isEncrypted(hdr)) {
			const absOff = offDst + copied;
			let idx = 0;
			let blkSz = chunk;
			if (absOff < hdr.hdrSize) {
				// the header is never encrypted
				if (absOff + chunk > hdr.hdrSize) {
					idx = hdr.hdrSize - absOff;
					blkSz = chunk - idx;
				} else {
					blkSz = 0;
				}
			}
			if (blkSz > 0 && absOff + chunk > tlvOff(hdr)) blkSz = absOff >= tlvOff(hdr) ? 0 : tlvOff(hdr) - absOff - idx; // nor the TLVs
			if (blkSz > 0) {
				const key = img.enc[sourceSlot];
				if (!key) fail("E_STATE", `MCUboot would assert: the image key of the ${sourceSlot ? "secondary" : "primary"} slot is not loaded`);
				cryptBody(key, buf.subarray(idx, idx + blkSz), absOff + idx - hdr.hdrSize);
			}
		}
		dst.write(offDst + copied, buf);
		copied += chunk;
	}
}
