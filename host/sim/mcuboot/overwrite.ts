/**
 * Overwrite-only (MCUBOOT_OVERWRITE_ONLY with MCUBOOT_OVERWRITE_ONLY_FAST, what Zephyr's
 * CONFIG_BOOT_UPGRADE_ONLY sets): loader.c boot_copy_image copies the secondary image over the
 * primary and keeps no swap status, so nothing can be reverted. Its slot rules are swap_scratch.c's
 * (an overwrite-only build compiles that file, without the scratch checks), and
 * bootutil_max_image_size (bootutil_misc.c) stops at boot_swap_info_off.
 */
import { fail } from "sealdrop/image";
import { eraseRegion } from "./flash.js";
import { readRawHeader, isEncrypted } from "./image.js";
import { SLOT_PRIMARY, SLOT_SECONDARY, type BootStatus, type ImageState, type SlotRules } from "./state.js";
import { copyRegion } from "./swap-misc.js";
import { scratchSlotsCompatible } from "./swap-scratch.js";
import { imageSize } from "./tlv.js";
import { trailerSz, writeMagic } from "./trailer.js";

export const overwriteOnly: SlotRules = {
	mode: "overwrite",
	slotsCompatible: (img) => scratchSlotsCompatible(img, false),
	maxImageSize: (img, slot) => img.trailers[slot].swapInfoOff,
	/** No swap status: the headers are always at the start of their slots. */
	readImageHeader(img, slot) {
		img.hdrs[slot] = readRawHeader(img.areas[slot], 0);
		return 0;
	},
};

/**
 * boot_copy_image (loader.c) with MCUBOOT_OVERWRITE_ONLY_FAST: erase the primary sectors the
 * new image needs and the trailer sectors, copy (decrypting), write the magic, then erase the
 * secondary's first sector (its header) and last sector (its trailer). */
export function copyImage(img: ImageState, bs: BootStatus): void {
	const [pri, sec] = img.areas;
	const w = img.g.writeSz;
	const srcSize = imageSize(sec, img.hdrs[SLOT_SECONDARY]);
	let size = 0;
	for (let sect = 0; sect < pri.sectorCount; sect++) {
		eraseRegion(pri, size, pri.sectorSize);
		if (size + pri.sectorSize >= srcSize) {
			size = srcSize;
			// MCUboot adds a whole write size when already aligned: for an image that ends on a
			// sector boundary, the copy then writes into the next, unerased sector
			size += w - (size % w);
			break;
		}
		size += pri.sectorSize;
	}
	// the trailer's sectors, counted from the end
	let sz = 0;
	do sz += pri.sectorSize;
	while (sz < trailerSz(img.g));
	eraseRegion(pri, pri.size - sz, sz);
	if (img.cfg.enc && isEncrypted(img.hdrs[SLOT_SECONDARY])) {
		const rc = img.loadKey(SLOT_SECONDARY, bs);
		if (rc === "error" || rc === "absent") fail("E_DEVICE_KEY", "MCUboot would assert: the secondary image's key does not load");
	}
	copyRegion(img, sec, pri, 0, 0, size);
	writeMagic(img.trailers[SLOT_PRIMARY]);
	eraseRegion(sec, sec.sectorOff(0), sec.sectorSize);
	eraseRegion(sec, sec.sectorOff(sec.sectorCount - 1), sec.sectorSize);
}
