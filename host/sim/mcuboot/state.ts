/**
 * The loader's state for one image number, after bootutil_priv.h: struct boot_status (where an
 * interrupted swap is), struct boot_loader_state's per-image part (slots, headers, image keys,
 * swap type), the build's configuration, and the functions each upgrade strategy supplies to the
 * loader (swap_priv.h, plus the boot_read_image_header, boot_slots_compatible, app_max_size and
 * boot_status_internal_off that swap_move.c and swap_scratch.c each define).
 */
import { fail, type ErrorCode } from "sealdrop/image";
import { loadEncKey, type EncKey, type EncryptionBuild } from "./encrypted.js";
import type { Area } from "./flash.js";
import { readRawHeader, type RawHeader } from "./image.js";
import { SwapType, Trailer, type TrailerGeometry } from "./trailer.js";
import type { BootKey } from "./validate.js";

export type Mode = "overwrite" | "move" | "scratch";

export const SLOT_PRIMARY = 0;
export const SLOT_SECONDARY = 1;
/** boot_read_image_header's "slot" for the scratch area (BOOT_NUM_SLOTS). */
export const SLOT_SCRATCH = 2;

/** BOOT_STATUS_SOURCE_* (bootutil_area.h). */
export const StatusSource = { NONE: 0, SCRATCH: 1, PRIMARY: 2 } as const;
/** BOOT_STATUS_OP_* (bootutil_priv.h): swap-using-move first moves the primary image up, then swaps. */
export const OP_MOVE = 1;
export const OP_SWAP = 2;
/** BOOT_STATUS_IDX_0 and BOOT_STATUS_STATE_0..2: indices and states count from 1 in MCUboot. */
export const IDX_0 = 1;
export const STATE_0 = 1;
export const STATE_1 = 2;
export const STATE_2 = 3;

/** struct boot_status: where a swap is, what it is, and the ENC TLVs it saves (MCUBOOT_SWAP_SAVE_ENCTLV). */
export interface BootStatus {
	op: number;
	idx: number;
	state: number;
	swapType: number;
	swapSize: number;
	source: number;
	/** Swap-using-scratch: the status of the sector pair holding the trailer lives in the scratch area. */
	useScratch: boolean;
	encTlv: [Uint8Array | null, Uint8Array | null];
}

/** boot_status_reset (loader.c). */
export function resetStatus(): BootStatus {
	return { op: OP_MOVE, idx: IDX_0, state: STATE_0, swapType: SwapType.NONE, swapSize: 0, source: StatusSource.NONE, useScratch: false, encTlv: [null, null] };
}

/** boot_status_is_reset (loader.c). */
export function isReset(bs: BootStatus): boolean {
	return bs.op === OP_MOVE && bs.idx === IDX_0 && bs.state === STATE_0;
}

/** BOOT_IS_UPGRADE (bootutil_priv.h). */
export function isUpgrade(swapType: number): boolean {
	return swapType === SwapType.TEST || swapType === SwapType.REVERT || swapType === SwapType.PERM;
}

/**
 * What every upgrade strategy defines for the loader: swap_scratch.c for swap-using-scratch and
 * (without its scratch rules) for overwrite-only builds, swap_move.c for swap-using-move.
 */
export interface SlotRules {
	readonly mode: Mode;
	/** boot_slots_compatible. */
	slotsCompatible(img: ImageState): boolean;
	/** bootutil_max_image_size: app_max_size of the swap strategies, boot_swap_info_off for overwrite-only. */
	maxImageSize(img: ImageState, slot: number): number;
	/**
	 * boot_read_image_header: mid-swap (a `bs` that is not reset) the headers are where the swap
	 * has put them. Returns 0, or -1 when the header is not where it must be.
	 */
	readImageHeader(img: ImageState, slot: number, bs: BootStatus | null): number;
}

/** What a swap strategy adds (swap_priv.h): its status area and its swap_run. */
export interface SwapAlgorithm extends SlotRules {
	/** swap_status_source. */
	statusSource(img: ImageState): number;
	/** swap_read_status_bytes. */
	readStatusBytes(img: ImageState, t: Trailer, bs: BootStatus): void;
	/** boot_status_internal_off. */
	statusInternalOff(img: ImageState, bs: BootStatus): number;
	/** swap_run. */
	swapRun(img: ImageState, bs: BootStatus, copySize: number): void;
}

/** What a bootloader build was configured with; shared by every image. */
export interface LoaderConfig {
	/** The upgrade strategy: overwrite-only's slot rules, or a swap algorithm. */
	strategy: SlotRules | SwapAlgorithm;
	keys: readonly BootKey[];
	/** MCUBOOT_ENC_IMAGES build, or null. */
	enc: EncryptionBuild | null;
	/** MCUBOOT_DOWNGRADE_PREVENTION (and _SECURITY_COUNTER), or off. */
	downgradePrevention: "security-counter" | "version" | "off";
	maxAlign: number;
	maxImgSectors: number;
	/** BOOT_IMAGE_NUMBER. */
	imageCount: number;
	/** Swap-using-scratch: the scratch partition, shared by all images. */
	scratch: Area | null;
}

/** Why a slot's image was not used (kept for the boot report). */
export interface Refusal {
	code: ErrorCode;
	message: string;
}

/** The swap algorithm of a swapping build; null for overwrite-only. */
export function swapAlgorithm(img: ImageState): SwapAlgorithm | null {
	return "swapRun" in img.cfg.strategy ? img.cfg.strategy : null;
}

/** boot_loader_state for one image number: its slots, headers, keys, swap type and status. */
export class ImageState {
	readonly index: number;
	readonly cfg: LoaderConfig;
	readonly mode: Mode;
	readonly areas: [Area, Area];
	readonly g: TrailerGeometry;
	readonly trailers: [Trailer, Trailer];
	readonly scratch: Trailer | null;
	hdrs: [RawHeader, RawHeader];
	/** BOOT_CURR_ENC_SLOT: the image keys loaded so far, per slot. */
	enc: [EncKey | null, EncKey | null] = [null, null];
	/** BOOT_SWAP_TYPE(state). */
	swapType: number = SwapType.NONE;
	bs: BootStatus = resetStatus();
	/** Set when boot_prepare_image_for_update completed an interrupted swap. */
	resumed = false;
	/** Why each slot's image was last refused (boot_validate_slot), if it was. */
	refusals: [Refusal | null, Refusal | null] = [null, null];
	/** The image hash of each slot's image, once it validated. */
	hashes: [Uint8Array | null, Uint8Array | null] = [null, null];

	constructor(index: number, cfg: LoaderConfig, primary: Area, secondary: Area) {
		this.index = index;
		this.cfg = cfg;
		this.mode = cfg.strategy.mode;
		this.areas = [primary, secondary];
		if (cfg.maxAlign !== 8 && cfg.maxAlign !== 16 && cfg.maxAlign !== 32) fail("E_USAGE", `max-align must be 8, 16 or 32, not ${cfg.maxAlign}`);
		// boot_write_sz: status entries are as large as the larger write size of primary and scratch
		const writeSz = Math.max(primary.align, cfg.scratch?.align ?? 0);
		if (writeSz > cfg.maxAlign) fail("E_USAGE", `flash write size ${writeSz} is above BOOT_MAX_ALIGN ${cfg.maxAlign}`);
		this.g = {
			maxAlign: cfg.maxAlign, writeSz, maxImgSectors: cfg.maxImgSectors,
			stateCount: 3, moveStateCount: this.mode === "move" ? 1 : 0,
			encTlvSize: cfg.enc ? cfg.enc.tlvSize : 0,
		};
		this.trailers = [new Trailer(primary, this.g), new Trailer(secondary, this.g)];
		this.scratch = cfg.scratch ? new Trailer(cfg.scratch, this.g, true) : null;
		this.hdrs = [readRawHeader(primary, 0), readRawHeader(secondary, 0)];
	}

	/**
	 * boot_enc_load + boot_enc_set_key for a slot (loader.c): "loaded" when the key is already
	 * there, "ok" after loading it (its ENC TLV goes to bs for the trailer), "absent" or "error".
	 */
	loadKey(slot: number, bs: BootStatus | null): "loaded" | "ok" | "absent" | "error" {
		if (!this.cfg.enc) return "error";
		if (this.enc[slot]) return "loaded";
		const key = loadEncKey(this.areas[slot], this.hdrs[slot], this.cfg.enc);
		if (typeof key === "string") return key;
		this.enc[slot] = key;
		if (bs) bs.encTlv[slot] = key.tlv;
		return "ok";
	}

	/** Drops the image keys (boot_enc_zeroize): the native ciphers are closed. */
	dropKeys(): void {
		for (const key of this.enc) key?.ctr.close();
		this.enc = [null, null];
	}
}
