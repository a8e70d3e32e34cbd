/**
 * A model of the MCUboot bootloader for the device simulator: what MCUboot's boot_go
 * (boot/bootutil/src/loader.c, context_boot_go) does at reset, on the simulator's flash
 * (sealdrop/native/flash), written like device code so it runs on XS.
 *
 *   const report = mcubootBoot({ board, trust: [{ publicKey }] });
 *   report.images[0].booted  // { version: "1.2.0+0", hash: "…", slot: "primary" } or null
 *
 * For every image number of the board: read both slots' trailers and any interrupted swap's
 * status; finish an interrupted swap; otherwise decide the swap type as bootutil does
 * (§D.5: TEST, PERM, REVERT), validate the secondary image (hash of the plaintext, a signature
 * by a trusted key, the downgrade rule), then overwrite or swap (mcuboot-swap.ts follows
 * swap_move.c, swap_scratch.c and loader.c boot_copy_image step for step); finally validate every
 * primary image, as MCUBOOT_VALIDATE_PRIMARY_SLOT does, and report what boots.
 *
 * The build this models, per board (modules/update/board.ts):
 * - `swap: "overwrite"`: MCUBOOT_OVERWRITE_ONLY + MCUBOOT_OVERWRITE_ONLY_FAST (Zephyr's
 *   CONFIG_BOOT_UPGRADE_ONLY); `"move"`: MCUBOOT_SWAP_USING_MOVE; `"scratch"`:
 *   MCUBOOT_SWAP_USING_SCRATCH with the board's scratch partition.
 * - BOOT_MAX_ALIGN = board.maxAlign; BOOT_MAX_IMG_SECTORS = options.maxImgSectors, else board.maxImgSectors (128).
 * - installer `"mcuboot-encrypted"` (or options.encryption): MCUBOOT_ENC_IMAGES with the device
 *   key of board.deviceKeySlot (ENC_EC256 for a P-256 key, ENC_X25519 for an X25519 one,
 *   AES-128 unless keyBits says 256). The AES key is unwrapped inside the native DeviceKey and
 *   never is a JS value, so where MCUboot saves the plain key in the trailer this model follows
 *   MCUBOOT_SWAP_SAVE_ENCTLV: it saves the ENC TLV and unwraps it again on resume.
 * - MCUBOOT_DOWNGRADE_PREVENTION with _SECURITY_COUNTER (options.downgradePrevention).
 * - SHA-256 image hashes; signatures checked by sealdrop/image/signature against `trust`.
 * - MCUBOOT_VALIDATE_PRIMARY_SLOT; several image numbers (dependencies, a shared scratch area).
 * Where MCUboot would assert or panic, mcubootBoot throws a SealdropError E_STATE; a flash
 * failure is E_FLASH. A power cut (SEALDROP_FLASH_CUT on the Linux host) just ends the process,
 * and the next call resumes as MCUboot does.
 *
 * Not modelled: swap-using-offset, direct-XIP and RAM-load, MCUBOOT_HW_ROLLBACK_PROT (stored
 * security counters), bootstrap, serial recovery, compressed images, ENC_RSA2048/ENC_KW,
 * SHA-384/512 and pure-signature builds, measured boot and shared data, MINIMAL_SCRAMBLE, flash
 * without erase. Sectors are the flash's (uniform) erase blocks.
 */
import DeviceKey from "sealdrop/native/device-key";
import { compareVersions, dependencies, fail, formatVersion, SwapType, toHex, type ErrorCode } from "sealdrop/image";
import { DEFAULT_MAX_IMG_SECTORS, type BoardConfig } from "sealdrop/update/board";
import type { TrustAnchor } from "sealdrop/image/signature";
import { Area, readSwapState } from "./mcuboot-flash.js";
import { encryptionBuild, readImageLayout, type EncryptionBuild } from "./mcuboot-image.js";
import { ImageBoot, isReset, isUpgrade, resetStatus, SLOT_PRIMARY, SLOT_SECONDARY, type LoaderConfig } from "./mcuboot-swap.js";

export interface McubootOptions {
	board: BoardConfig;
	/** The keys the bootloader is built with. Empty: a build that checks image hashes only. */
	trust: TrustAnchor[];
	/**
	 * MCUBOOT_ENC_IMAGES: true (or an AES size) for a build that decrypts with the device key,
	 * false for one that refuses encrypted images. Default: true for the "mcuboot-encrypted"
	 * installer, else false; the AES size defaults to the board's aesKeyBits (MCUboot's AES-128 without it).
	 */
	encryption?: boolean | { keyBits: 128 | 256 };
	/** MCUBOOT_DOWNGRADE_PREVENTION: "security-counter" (default; overwrite-only compares versions, as MCUboot does), "version" or "off". */
	downgradePrevention?: "security-counter" | "version" | "off";
	/** The device key kind the build opens (MCUBOOT_ENCRYPT_EC256 or _X25519) when no key exists yet to tell (default p256). */
	deviceKeyKind?: "p256" | "x25519";
	/** The device key slots the board's key hook offers, in order (default: board.deviceKeySlot); a key rotation offers two. */
	deviceKeySlots?: number[];
	/** BOOT_MAX_IMG_SECTORS: sizes the status area of the trailer (default: the board's, else MCUboot's 128). */
	maxImgSectors?: number;
}

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

/** Runs the bootloader once, as after a reset, and reports what it did and what boots. */
export function mcubootBoot(options: McubootOptions): BootReport {
	const { board } = options;
	if ((board.installer !== "mcuboot" && board.installer !== "mcuboot-encrypted") || !board.swap || !board.images?.length)
		fail("E_USAGE", `board ${board.name}: the MCUboot model needs an MCUboot installer with swap and images`);
	const maxImgSectors = options.maxImgSectors ?? board.maxImgSectors ?? DEFAULT_MAX_IMG_SECTORS;
	if (!Number.isInteger(maxImgSectors) || maxImgSectors < 1) fail("E_USAGE", "maxImgSectors must be a positive integer");
	const areas: Area[] = [];
	const open = (name: string) => {
		const area = new Area(name);
		areas.push(area);
		return area;
	};
	const images: ImageBoot[] = [];
	const deviceKeys: DeviceKey[] = [];
	try {
		const scratch = board.swap === "scratch" ? open(board.scratch ?? fail("E_USAGE", `board ${board.name}: swap-using-scratch needs a scratch partition`)) : null;
		const encryption = options.encryption ?? board.installer === "mcuboot-encrypted";
		let enc: EncryptionBuild | null = null;
		if (encryption) {
			// before the app's first boot made the device key, nothing encrypted opens (boot_enc_retrieve_private_key fails)
			for (const slot of options.deviceKeySlots ?? [board.deviceKeySlot ?? 0]) if (DeviceKey.exists({ slot })) deviceKeys.push(new DeviceKey({ slot }));
			const kind = deviceKeys.length ? deviceKeys[0].kind : options.deviceKeyKind ?? "p256";
			enc = encryptionBuild(kind === "p256" ? "ec256" : "x25519", typeof encryption === "object" ? encryption.keyBits : board.aesKeyBits ?? 128, deviceKeys);
		}
		const cfg: LoaderConfig = {
			mode: board.swap, trust: options.trust, enc,
			downgradePrevention: options.downgradePrevention ?? "security-counter",
			maxAlign: board.maxAlign ?? 8, maxImgSectors, imageCount: board.images.length, scratch,
		};
		board.images.forEach((p, i) => images.push(new ImageBoot(i, cfg, open(p.primary), open(p.secondary))));
		return bootGo(images);
	} finally {
		for (const img of images) img.dropKeys();
		for (const key of deviceKeys) key.close();
		for (const area of areas) area.close();
	}
}

/** context_boot_go (loader.c) for swap and overwrite strategies. */
function bootGo(images: ImageBoot[]): BootReport {
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
				if (img.swapType !== SwapType.REVERT && !img.downgradeAllowed()) {
					img.swapType = SwapType.NONE;
					break;
				}
				performed[img.index] = img.swapType;
				img.performUpdate(img.bs);
				break;
			case SwapType.FAIL:
				// the secondary image was refused and erased; confirm the primary so no revert follows
				performed[img.index] = SwapType.FAIL;
				if (img.cfg.mode !== "overwrite") img.setImageOk();
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
		if (img.swapType !== SwapType.NONE) img.readImageHeaders(false, null);
		if (img.validateSlot(SLOT_PRIMARY, null) !== "ok") {
			report.error = img.refusals[SLOT_PRIMARY];
			for (const r of reports) r.booted = null;
			return { images: reports, error: { code: "E_NO_IMAGE", message: `image ${img.index}: no valid image in the primary slot (${report.error?.message ?? "invalid"}); MCUboot boots nothing` } };
		}
		const primary = readSwapState(img.trailers[SLOT_PRIMARY]);
		report.booted = { version: formatVersion(img.hdrs[SLOT_PRIMARY].version), hash: toHex(img.hashes[SLOT_PRIMARY]!), slot: "primary" };
		// the next reset reverts an unconfirmed image that a swap put there (the REVERT row of §D.5)
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
function prepareImageForUpdate(img: ImageBoot, images: ImageBoot[]): void {
	if (img.readImageHeaders(false, null) !== 0 || !img.slotsCompatible()) {
		img.swapType = SwapType.NONE;
		return;
	}
	const bs = (img.bs = resetStatus());
	if (img.cfg.mode !== "overwrite") {
		img.readStatus(bs);
		// the headers may be mid-swap
		if (img.readImageHeaders(!isReset(bs), bs) !== 0) {
			img.swapType = SwapType.NONE;
			return;
		}
	}
	if (!isReset(bs)) {
		reviewImageSwapTypes(img, images, true);
		img.completePartialSwap(bs);
		img.readImageHeaders(false, null);
		img.resumed = true;
		img.swapType = SwapType.NONE;
		return;
	}
	if (bs.swapType === SwapType.NONE) img.swapType = img.validatedSwapType(bs);
	else img.swapType = img.validateSlot(SLOT_SECONDARY, bs) === "ok" ? bs.swapType : SwapType.FAIL;
	reviewImageSwapTypes(img, images, false);
}

/**
 * boot_review_image_swap_types (loader.c, several images): after a reset between two images'
 * upgrades, the earlier images look like REVERT (their image_ok is not set yet); they are not.
 */
function reviewImageSwapTypes(img: ImageBoot, images: ImageBoot[], abortedSwap: boolean): void {
	if (img.index === 0) return;
	if (!abortedSwap && (img.swapType === SwapType.NONE || img.swapType === SwapType.REVERT)) return;
	for (let i = 0; i < img.index; i++) if (images[i].swapType === SwapType.REVERT) images[i].swapType = SwapType.NONE;
}

/**
 * boot_verify_dependencies (loader.c, several images): every image that will be in a primary
 * slot must satisfy its DEPENDENCY TLVs against the images that will be in the others' primary
 * slots; if one does not, no image is upgraded.
 */
function verifyDependencies(images: ImageBoot[]): void {
	for (const img of images) {
		const slot = img.swapType !== SwapType.NONE && img.swapType !== SwapType.FAIL ? SLOT_SECONDARY : SLOT_PRIMARY;
		let satisfied = true;
		try {
			for (const dep of dependencies(readImageLayout(img.areas[slot], img.hdrs[slot]))) {
				const other = images[dep.imageId];
				if (!other) {
					satisfied = false;
					break;
				}
				const depSlot = isUpgrade(other.swapType) ? SLOT_SECONDARY : SLOT_PRIMARY;
				if (compareVersions(other.hdrs[depSlot].version, dep.minVersion) < 0) {
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
