/**
 * The loader, after MCUboot's loader.c: context_boot_go for the swap and overwrite strategies
 * (boot_prepare_image_for_update, boot_review_image_swap_types, boot_verify_dependencies, then
 * the update of each image and the validation of each primary slot, MCUBOOT_VALIDATE_PRIMARY_SLOT),
 * and the per-image functions it calls: boot_read_image_headers, boot_check_image,
 * boot_validate_slot, boot_validated_swap_type, check_downgrade_prevention, boot_swap_image,
 * boot_perform_update and boot_complete_partial_swap. What each strategy does its own way is in
 * swap-move.ts, swap-scratch.ts and overwrite.ts.
 */
import { fail, formatVersion, ImageFlag, IMAGE_MAGIC, TlvType, toHex, type ErrorCode } from "sealdrop/image";
import { unwrapEncTlv, type EncKey } from "./encrypted.js";
import { scrambleSlot } from "./flash.js";
import { compareVersion, headerRefusal, isEncrypted } from "./image.js";
import { copyImage } from "./overwrite.js";
import {
	isReset, isUpgrade, resetStatus, SLOT_PRIMARY, SLOT_SECONDARY, swapAlgorithm, type BootStatus, type ImageState, type Refusal,
} from "./state.js";
import { findStatus, readStatus, setCopyDone, setImageOk } from "./swap-misc.js";
import { imageDependencies, imageSecurityCounter, imageSize } from "./tlv.js";
import { readEncTlv, readSwapSize, readSwapState, scrambleTrailerSectors, SwapType, swapTypeMulti } from "./trailer.js";
import { validateImage } from "./validate.js";

export type SwapTypeName = "none" | "test" | "perm" | "revert" | "fail";

export interface ImageBootReport {
	image: number;
	/** The swap done at this boot: started and finished, or finished after an interruption ("none" if none). */
	swapType: SwapTypeName;
	/** True when this boot completed a swap a reset had interrupted. */
	resumed: boolean;
	/** The image that boots: version, its SHA256 TLV in hex, and the slot (always the primary with these strategies). */
	booted: { version: string; hash: string; slot: "primary" } | null;
	/**
	 * Whether the booted image stays at the next reset without the application confirming it:
	 * false right after a test swap (unconfirmed, it would be reverted), true otherwise.
	 */
	confirmed: boolean;
	/** Why the secondary slot's image was refused (and erased) at this boot, if it was. */
	rejected: { code: ErrorCode; message: string } | null;
	/** Why the primary slot's image cannot boot, if it cannot. */
	error: { code: ErrorCode; message: string } | null;
}

export interface BootReport {
	images: ImageBootReport[];
	/** E_NO_IMAGE when an image number has no valid primary image: MCUboot then boots nothing. */
	error: { code: "E_NO_IMAGE"; message: string } | null;
}

const SWAP_NAMES: Record<number, SwapTypeName> = {
	[SwapType.NONE]: "none", [SwapType.TEST]: "test", [SwapType.PERM]: "perm", [SwapType.REVERT]: "revert", [SwapType.FAIL]: "fail",
};

/** A resumed swap's type comes from a trailer byte; MCUboot finishes the swap whatever it says. */
function swapName(type: number): SwapTypeName {
	return SWAP_NAMES[type] ?? "none";
}

function slotName(slot: number): string {
	return slot === SLOT_PRIMARY ? "primary" : "secondary";
}

/**
 * boot_validate_slot's outcome: FIH_SUCCESS or FIH_NO_BOOTABLE_IMAGE (an invalid image is erased
 * and then counts as no image, so FIH_FAILURE does not come out of it in these strategies).
 */
type SlotCheck = "ok" | "none";

// ---------------------------------------------------------------------------------------------
// Per image

/** boot_read_image_headers (bootutil_loader.c): a missing secondary is fine unless `requireAll`. */
export function readImageHeaders(img: ImageState, requireAll: boolean, bs: BootStatus | null): number {
	for (let slot = 0; slot < 2; slot++) {
		const rc = img.cfg.strategy.readImageHeader(img, slot, bs);
		if (rc !== 0) return slot > 0 && !requireAll ? 0 : rc;
	}
	return 0;
}

/** boot_check_image + bootutil_img_validate: the secondary slot's image is decrypted to be hashed. */
function checkImage(img: ImageState, slot: number, bs: BootStatus | null): Refusal | { hash: Uint8Array } {
	const h = img.hdrs[slot];
	let key: EncKey | null = null;
	if (slot === SLOT_SECONDARY && isEncrypted(h)) { // MUST_DECRYPT
		const rc = img.loadKey(SLOT_SECONDARY, bs);
		if (rc === "error") return { code: "E_DEVICE_KEY", message: `the image's ${img.cfg.enc?.kind ?? "ENC"} TLV is missing the right size or does not open with this device key` };
		if (rc === "absent") return { code: "E_ENC_TLV", message: "the image is encrypted but has no ENC TLV this bootloader reads" };
		key = img.enc[SLOT_SECONDARY];
	}
	const v = validateImage(img.areas[slot], h, { keys: img.cfg.keys, key, maxImageSize: img.cfg.strategy.maxImageSize(img, slot) });
	return v.ok ? { hash: v.hash } : { code: v.code, message: v.message };
}

/**
 * boot_validate_slot (loader.c): no image (erased header or NON_BOOTABLE) is "none", and in a
 * secondary slot its leftover trailer is scrambled; an invalid secondary image is erased.
 * Overwrite-only with downgrade prevention erases a secondary image older than the primary's.
 */
export function validateSlot(img: ImageState, slot: number, bs: BootStatus | null): SlotCheck {
	const h = img.hdrs[slot];
	const area = img.areas[slot];
	if (h.erased || (h.flags & ImageFlag.NON_BOOTABLE)) {
		if (img.mode !== "overwrite" && slot !== SLOT_PRIMARY) {
			scrambleTrailerSectors(img.trailers[SLOT_SECONDARY]);
			// swap_move.c: a revert whose secondary image is gone would be stuck; clear the primary's trailer
			if (img.mode === "move" && ((bs && bs.swapType === SwapType.REVERT) || swapTypeMulti(img.trailers[SLOT_PRIMARY], img.trailers[SLOT_SECONDARY]) === SwapType.REVERT))
				scrambleTrailerSectors(img.trailers[SLOT_PRIMARY]);
		}
		img.refusals[slot] = { code: "E_NO_IMAGE", message: h.erased ? `no image in the ${slotName(slot)} slot` : `the ${slotName(slot)} image is marked non-bootable` };
		return "none";
	}
	if (img.mode === "overwrite" && img.cfg.downgradePrevention !== "off" && slot !== SLOT_PRIMARY) {
		const primary = img.hdrs[SLOT_PRIMARY];
		if (compareVersion(h.version, primary.version) < 0 && !primary.erased) {
			scrambleSlot(area);
			img.refusals[slot] = { code: "E_DOWNGRADE", message: "the secondary image's version is below the primary's (downgrade prevention)" };
			return "none";
		}
	}
	const result = headerRefusal(area, h, !!img.cfg.enc) ?? checkImage(img, slot, bs);
	if ("code" in result) {
		// "Image is invalid, erase it to prevent further unnecessary attempts to validate and boot it"
		if (slot !== SLOT_PRIMARY) scrambleSlot(area);
		img.refusals[slot] = result;
		return "none";
	}
	img.hashes[slot] = result.hash;
	img.refusals[slot] = null;
	return "ok";
}

/** boot_validated_swap_type: the trailers' swap (boot_swap_type_multi), if the secondary image checks out. */
function validatedSwapType(img: ImageState, bs: BootStatus): number {
	const swapType = swapTypeMulti(img.trailers[SLOT_PRIMARY], img.trailers[SLOT_SECONDARY]);
	if (!isUpgrade(swapType)) return swapType;
	return validateSlot(img, SLOT_SECONDARY, bs) === "ok" ? swapType : SwapType.NONE;
}

/**
 * check_downgrade_prevention (loader.c, swap modes): with the security-counter variant an
 * upgrade needs a SEC_CNT (bootutil_get_img_security_cnt) not below the primary image's (if the
 * primary has one); with the version variant a version not below. A refused image is erased.
 * True if the swap may go on.
 */
function downgradeAllowed(img: ImageState): boolean {
	if (img.mode === "overwrite" || img.cfg.downgradePrevention === "off") return true;
	let allowed: boolean;
	if (img.cfg.downgradePrevention === "security-counter") {
		const counter = (slot: number) => imageSecurityCounter(img.areas[slot], img.hdrs[slot], TlvType.SEC_CNT);
		const primary = counter(SLOT_PRIMARY);
		const secondary = primary === null ? null : counter(SLOT_SECONDARY);
		allowed = primary === null || (secondary !== null && secondary >= primary);
	} else {
		allowed = compareVersion(img.hdrs[SLOT_SECONDARY].version, img.hdrs[SLOT_PRIMARY].version) >= 0;
	}
	if (!allowed) {
		scrambleSlot(img.areas[SLOT_SECONDARY]);
		img.refusals[SLOT_SECONDARY] = { code: "E_SECURITY_COUNTER", message: img.cfg.downgradePrevention === "security-counter"
			? "the secondary image's security counter is missing or below the primary's (downgrade prevention)"
			: "the secondary image's version is below the primary's (downgrade prevention)" };
	}
	return allowed;
}

/**
 * boot_swap_image (loader.c): a new swap sizes itself on the larger image and loads both
 * images' keys; a resumed one reads swap_size and the saved ENC TLVs from the trailer that
 * holds the status. Then the strategy's swap_run.
 */
function swapImage(img: ImageState, bs: BootStatus): void {
	const swap = swapAlgorithm(img) ?? fail("E_STATE", "boot_swap_image in an overwrite-only build");
	if (isReset(bs)) {
		let copySize = 0;
		const primary = img.hdrs[SLOT_PRIMARY];
		if (primary.magic === IMAGE_MAGIC) copySize = imageSize(img.areas[SLOT_PRIMARY], primary);
		if (img.cfg.enc) {
			// the primary image goes to the secondary slot encrypted again with its own key, if it has one;
			// MCUboot asserts when that key does not load (here: nothing gets encrypted without it, or copyRegion stops)
			if (isEncrypted(primary)) img.loadKey(SLOT_PRIMARY, bs);
			else bs.encTlv[SLOT_PRIMARY] = null;
		}
		const secondary = img.hdrs[SLOT_SECONDARY];
		let size = 0;
		if (secondary.magic === IMAGE_MAGIC) size = imageSize(img.areas[SLOT_SECONDARY], secondary);
		if (img.cfg.enc) {
			if (isEncrypted(secondary)) img.loadKey(SLOT_SECONDARY, bs);
			else bs.encTlv[SLOT_SECONDARY] = null;
		}
		bs.swapSize = Math.max(size, copySize);
	} else {
		const t = findStatus(img);
		bs.swapSize = readSwapSize(t);
		if (img.cfg.enc) {
			img.dropKeys();
			for (let slot = 0; slot < 2; slot++) {
				const tlv = readEncTlv(t, slot);
				const key = tlv ? unwrapEncTlv(img.cfg.enc, tlv) : null;
				bs.encTlv[slot] = tlv ? tlv.slice() : null;
				img.enc[slot] = key;
			}
		}
	}
	swap.swapRun(img, bs, bs.swapSize);
}

/**
 * boot_perform_update (loader.c): overwrite, or swap; then a permanent swap and a revert are
 * confirmed (image_ok) and every upgrade marks copy_done.
 */
function performUpdate(img: ImageState, bs: BootStatus): void {
	if (!swapAlgorithm(img)) {
		copyImage(img, bs);
		return;
	}
	swapImage(img, bs);
	const swapType = img.swapType;
	if (swapType === SwapType.REVERT || swapType === SwapType.PERM) setImageOk(img);
	if (isUpgrade(swapType)) setCopyDone(img);
}

/** boot_complete_partial_swap (loader.c): finish the interrupted swap, then mark it as boot_perform_update does. */
function completePartialSwap(img: ImageState, bs: BootStatus): void {
	swapImage(img, bs);
	img.swapType = bs.swapType;
	if (bs.swapType === SwapType.REVERT || bs.swapType === SwapType.PERM) setImageOk(img);
	if (isUpgrade(bs.swapType)) setCopyDone(img);
}

// ---------------------------------------------------------------------------------------------
// context_boot_go

/** context_boot_go (loader.c) for swap and overwrite strategies: updates, then what boots. */
export function bootGo(images: ImageState[]): BootReport {
	const performed = images.map(() => SwapType.NONE as number);
	let hasUpgrade = false;

	// 1. per image: finish an interrupted swap, or decide the swap type
	for (const img of images) {
		prepareImageForUpdate(img, images);
		if (img.resumed) performed[img.index] = img.bs.swapType;
		if (isUpgrade(img.swapType)) hasUpgrade = true;
	}
	if (images.length > 1 && hasUpgrade) verifyDependencies(images);

	// 2. per image: the update
	for (const img of images) {
		if (images.length > 1) {
			// the keys may belong to another image: reload them (boot_enc_zeroize); the swap is not an aborted one
			img.dropKeys();
			img.bs = resetStatus();
		}
		img.bs.swapType = img.swapType;
		switch (img.swapType) {
			case SwapType.NONE:
				break;
			case SwapType.TEST:
			case SwapType.PERM:
			case SwapType.REVERT:
				if (img.swapType !== SwapType.REVERT && !downgradeAllowed(img)) {
					img.swapType = SwapType.NONE;
					break;
				}
				performed[img.index] = img.swapType;
				performUpdate(img, img.bs);
				break;
			case SwapType.FAIL:
				// the secondary image was refused and erased; confirm the primary so no revert follows
				performed[img.index] = SwapType.FAIL;
				if (img.mode !== "overwrite") setImageOk(img);
				break;
			default:
				fail("E_STATE", `MCUboot would panic: swap type 0x${img.swapType.toString(16)} for image ${img.index}`);
		}
	}

	// 3. per image: validate what is in the primary slot now (MCUBOOT_VALIDATE_PRIMARY_SLOT)
	const reports: ImageBootReport[] = images.map((img) => ({
		image: img.index, swapType: swapName(performed[img.index]), resumed: img.resumed,
		booted: null, confirmed: false, rejected: img.refusals[SLOT_SECONDARY], error: null,
	}));
	for (const img of images) {
		const report = reports[img.index];
		if (img.swapType !== SwapType.NONE) readImageHeaders(img, false, null);
		if (validateSlot(img, SLOT_PRIMARY, null) !== "ok") {
			report.error = img.refusals[SLOT_PRIMARY];
			for (const r of reports) r.booted = null;
			return { images: reports, error: { code: "E_NO_IMAGE", message: `image ${img.index}: no valid image in the primary slot (${report.error?.message ?? "invalid"}); MCUboot boots nothing` } };
		}
		const primary = readSwapState(img.trailers[SLOT_PRIMARY]);
		report.booted = { version: formatVersion(img.hdrs[SLOT_PRIMARY].version), hash: toHex(img.hashes[SLOT_PRIMARY]!), slot: "primary" };
		// the next reset reverts an unconfirmed image that a swap put there (the REVERT row of boot_swap_tables)
		report.confirmed = !(primary.magic === "good" && primary.imageOk === "unset" && primary.copyDone === "set");
	}
	return { images: reports, error: null };
}

/**
 * boot_prepare_image_for_update (loader.c): read the headers and the swap status; an
 * interrupted swap is completed now (its headers are read from where the status says they are);
 * otherwise the swap type comes from the trailers, or from the status trailer's swap_info when a
 * swap was set up but no sector moved yet, and the secondary image is validated.
 */
function prepareImageForUpdate(img: ImageState, images: ImageState[]): void {
	if (readImageHeaders(img, false, null) !== 0 || !img.cfg.strategy.slotsCompatible(img)) {
		img.swapType = SwapType.NONE;
		return;
	}
	const bs = (img.bs = resetStatus());
	const swap = swapAlgorithm(img);
	if (swap) {
		readStatus(img, swap, bs);
		// the headers may be mid-swap
		if (readImageHeaders(img, !isReset(bs), bs) !== 0) {
			img.swapType = SwapType.NONE;
			return;
		}
	}
	if (!isReset(bs)) {
		reviewImageSwapTypes(img, images, true);
		completePartialSwap(img, bs);
		readImageHeaders(img, false, null);
		img.resumed = true;
		img.swapType = SwapType.NONE;
		return;
	}
	if (bs.swapType === SwapType.NONE) img.swapType = validatedSwapType(img, bs);
	else img.swapType = validateSlot(img, SLOT_SECONDARY, bs) === "ok" ? bs.swapType : SwapType.FAIL;
	reviewImageSwapTypes(img, images, false);
}

/**
 * boot_review_image_swap_types (loader.c, several images): after a reset between two images'
 * upgrades, the earlier images look like REVERT (their image_ok is not set yet); they are not.
 */
function reviewImageSwapTypes(img: ImageState, images: ImageState[], abortedSwap: boolean): void {
	if (img.index === 0) return;
	if (!abortedSwap && (img.swapType === SwapType.NONE || img.swapType === SwapType.REVERT)) return;
	for (let i = 0; i < img.index; i++) if (images[i].swapType === SwapType.REVERT) images[i].swapType = SwapType.NONE;
}

/**
 * boot_verify_dependencies (loader.c, several images): every image that will be in a primary
 * slot must satisfy its DEPENDENCY TLVs (boot_verify_slot_dependencies) against the images that
 * will be in the others' primary slots; if one does not, no image is upgraded.
 */
function verifyDependencies(images: ImageState[]): void {
	for (const img of images) {
		const slot = img.swapType !== SwapType.NONE && img.swapType !== SwapType.FAIL ? SLOT_SECONDARY : SLOT_PRIMARY;
		let satisfied = true;
		try {
			for (const dep of imageDependencies(img.areas[slot], img.hdrs[slot], TlvType.DEPENDENCY)) {
				const other = images[dep.imageId];
				if (!other) {
					satisfied = false;
					break;
				}
				const depSlot = isUpgrade(other.swapType) ? SLOT_SECONDARY : SLOT_PRIMARY;
				if (compareVersion(other.hdrs[depSlot].version, dep.minVersion) < 0) {
					satisfied = false;
					break;
				}
			}
		} catch {
			satisfied = false; // the TLVs cannot be read: bootutil gives up the same way
		}
		if (!satisfied) {
			for (const i of images) {
				if (isUpgrade(i.swapType) && i.swapType !== SwapType.REVERT)
					i.refusals[SLOT_SECONDARY] = { code: "E_DEPENDENCY", message: `image ${img.index}'s dependencies are not met, so no image is upgraded` };
				i.swapType = SwapType.NONE;
			}
			return;
		}
	}
}
