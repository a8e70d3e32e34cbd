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
 * (boot_swap_tables: TEST, PERM, REVERT), validate the secondary image (hash of the plaintext, a
 * signature by a trusted key, the downgrade rule), then overwrite or swap; finally validate every
 * primary image, as MCUBOOT_VALIDATE_PRIMARY_SLOT does, and report what boots.
 *
 * The model is independent of the device code it tests: it reads trailers, walks TLVs, checks
 * hashes, signatures and security counters with its own code, written from MCUboot's bootutil,
 * and takes only the image byte format and byte helpers from sealdrop/image. It is split along
 * MCUboot's own files, under mcuboot/:
 *   loader.ts        loader.c: context_boot_go and the per-image loader functions
 *   swap-move.ts     swap_move.c          swap-scratch.ts  swap_scratch.c
 *   overwrite.ts     loader.c boot_copy_image (MCUBOOT_OVERWRITE_ONLY)
 *   swap-misc.ts     swap_misc.c, boot_find_status, boot_write_status, boot_copy_region
 *   state.ts         bootutil_priv.h: boot_status, boot_loader_state, what a strategy supplies
 *   trailer.ts       bootutil_public.c, bootutil_misc.c/.h, bootutil_area.c: the image trailer
 *   image.ts         image headers, bootutil_loader.c boot_check_header_valid
 *   tlv.ts           tlv.c, bootutil_img_security_cnt.c, the DEPENDENCY TLVs
 *   validate.ts      bootutil_img_hash.c, image_validate.c, bootutil_find_key.c, image_*.c
 *   encrypted.ts     encrypted.c          flash.ts  flash_area, bootutil_area.c erase/scramble
 *
 * The build this models, per board (the board layout's "sealdrop" member):
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
 * - SHA-256 image hashes; signatures by the keys in `trust` (mcuboot/validate.ts).
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
import { fail } from "sealdrop/image";
import { encryptionBuild, type EncryptionBuild } from "./mcuboot/encrypted.js";
import { Area } from "./mcuboot/flash.js";
import { bootGo, type BootReport } from "./mcuboot/loader.js";
import { overwriteOnly } from "./mcuboot/overwrite.js";
import { ImageState, type LoaderConfig, type Mode, type SlotRules } from "./mcuboot/state.js";
import { swapMove } from "./mcuboot/swap-move.js";
import { swapScratch } from "./mcuboot/swap-scratch.js";
import type { BootKey } from "./mcuboot/validate.js";

export type { BootReport, ImageBootReport, SwapTypeName } from "./mcuboot/loader.js";
export type { BootKey } from "./mcuboot/validate.js";

/** MCUboot's default BOOT_MAX_IMG_SECTORS (Zephyr's CONFIG_BOOT_MAX_IMG_SECTORS default). */
const DEFAULT_MAX_IMG_SECTORS = 128;

/** What the model reads of a board's config (the agent's BoardConfig has these members). */
export interface McubootBoard {
	name: string;
	installer: string;
	swap?: Mode;
	maxAlign?: number;
	maxImgSectors?: number;
	images?: readonly { primary: string; secondary: string }[];
	scratch?: string;
	aesKeyBits?: 128 | 256;
	deviceKeySlot?: number;
}

export interface McubootOptions {
	board: McubootBoard;
	/** The keys the bootloader is built with. Empty: a build that checks image hashes only. */
	trust: readonly BootKey[];
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

/** The upgrade strategy of a build: MCUBOOT_OVERWRITE_ONLY, _SWAP_USING_MOVE or _SWAP_USING_SCRATCH. */
export function strategyFor(mode: Mode): SlotRules {
	return mode === "move" ? swapMove : mode === "scratch" ? swapScratch : overwriteOnly;
}

/**
 * bootutil_max_image_size of one slot for a build (the agent's tests compare their own figure with it).
 * `encTlvSize` is BOOT_ENC_TLV_SIZE of an encrypting build, 0 otherwise.
 */
export function maxImageSize(o: { mode: Mode; maxAlign: number; maxImgSectors: number; encTlvSize: number; primary: Area; secondary: Area; scratch: Area | null }, slot: number): number {
	const enc = o.encTlvSize ? ({ tlvSize: o.encTlvSize } as EncryptionBuild) : null;
	const strategy = strategyFor(o.mode);
	const img = new ImageState(0, { strategy, keys: [], enc, downgradePrevention: "off", maxAlign: o.maxAlign, maxImgSectors: o.maxImgSectors, imageCount: 1, scratch: o.scratch }, o.primary, o.secondary);
	return strategy.maxImageSize(img, slot);
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
	const images: ImageState[] = [];
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
			strategy: strategyFor(board.swap), keys: options.trust, enc,
			downgradePrevention: options.downgradePrevention ?? "security-counter",
			maxAlign: board.maxAlign ?? 8, maxImgSectors, imageCount: board.images.length, scratch,
		};
		board.images.forEach((p, i) => images.push(new ImageState(i, cfg, open(p.primary), open(p.secondary))));
		return bootGo(images);
	} finally {
		for (const img of images) img.dropKeys();
		for (const key of deviceKeys) key.close();
		for (const area of areas) area.close();
	}
}
