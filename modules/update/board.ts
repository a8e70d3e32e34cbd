/**
 * What the agent needs to know about a board: which installer lands images, how the bootloader
 * swaps, and the flash partitions involved. Boards keep it in their layout JSON
 * (boards/<name>/layout.json, member "sealdrop"), the same file the Linux host's flash reads, so
 * the simulator runs the real layout.
 */
import { fail } from "sealdrop/image";

export type InstallerKind = "mcuboot" | "mcuboot-encrypted" | "esp-idf";
/** MCUboot's upgrade strategy: MCUBOOT_OVERWRITE_ONLY, MCUBOOT_SWAP_USING_MOVE, MCUBOOT_SWAP_USING_SCRATCH. */
export type SwapMode = "overwrite" | "move" | "scratch";

export interface BoardConfig {
	name: string;
	installer: InstallerKind;
	/** MCUboot installers: the bootloader's upgrade strategy. */
	swap?: SwapMode;
	/** MCUboot's BOOT_MAX_ALIGN (8 unless the board's flash needs more). */
	maxAlign?: 8 | 16 | 32;
	/** MCUboot's BOOT_MAX_IMG_SECTORS (CONFIG_BOOT_MAX_IMG_SECTORS), which sizes the trailer's status area. */
	maxImgSectors?: number;
	/** MCUboot installers: flash partitions of each image number (index = image number). */
	images?: { primary: string; secondary: string }[];
	/** swap-using-scratch: the scratch partition. */
	scratch?: string;
	/** esp-idf installer: the otadata partition and the OTA app partitions, in order. */
	ota?: { otadata: string; apps: string[] };
	/** The agent's resume journal. */
	journal: string;
	/** The agent's persistent records (security counters). */
	storage: string;
	/** The device key's lock record (modules/keys): provisioning needs it. */
	keys?: string;
	/**
	 * mcuboot-encrypted: the AES key size the bootloader decrypts with, fixed when MCUboot is built
	 * (boot/zephyr/Kconfig's choice BOOT_ENCRYPT_ALG: CONFIG_BOOT_ENCRYPT_ALG_AES_256 defines
	 * MCUBOOT_AES_256; AES-128 by default). The board's mcuboot.conf says the same.
	 */
	aesKeyBits?: 128 | 256;
	/** Whether images flagged RAM_LOAD may be installed (the bootloader is built for it). */
	allowRamLoad?: boolean;
	/** The DeviceKey slot that opens sealed images (0 unless rotating). */
	deviceKeySlot?: number;
}

/** MCUboot's default BOOT_MAX_IMG_SECTORS (Zephyr's CONFIG_BOOT_MAX_IMG_SECTORS default). */
export const DEFAULT_MAX_IMG_SECTORS = 128;

const INSTALLERS: readonly string[] = ["mcuboot", "mcuboot-encrypted", "esp-idf"];
const SWAPS: readonly string[] = ["overwrite", "move", "scratch"];

function partitionName(value: unknown, what: string): string {
	if (typeof value !== "string" || !/^[A-Za-z0-9._-]{1,31}$/.test(value)) fail("E_USAGE", `board config: ${what} must be a partition name`);
	return value;
}

/** Checks a board config read from outside (a layout JSON's "sealdrop" member). */
export function parseBoardConfig(name: string, value: unknown): BoardConfig {
	if (typeof value !== "object" || value === null) fail("E_USAGE", `board ${name}: the layout has no "sealdrop" section`);
	const v = value as Record<string, unknown>;
	if (typeof v.installer !== "string" || !INSTALLERS.includes(v.installer)) fail("E_USAGE", `board ${name}: installer must be one of ${INSTALLERS.join(", ")}`);
	const config: BoardConfig = {
		name,
		installer: v.installer as InstallerKind,
		journal: partitionName(v.journal, "journal"),
		storage: partitionName(v.storage, "storage"),
		...(v.keys === undefined ? {} : { keys: partitionName(v.keys, "keys") }),
		allowRamLoad: v.allowRamLoad === true,
		deviceKeySlot: typeof v.deviceKeySlot === "number" ? v.deviceKeySlot : 0,
	};
	if (config.installer === "esp-idf") {
		const ota = v.ota as { otadata?: unknown; apps?: unknown } | undefined;
		if (!ota || !Array.isArray(ota.apps) || ota.apps.length < 2) fail("E_USAGE", `board ${name}: the esp-idf installer needs ota.otadata and at least two ota.apps`);
		config.ota = { otadata: partitionName(ota.otadata, "ota.otadata"), apps: ota.apps.map((a, i) => partitionName(a, `ota.apps[${i}]`)) };
	} else {
		if (typeof v.swap !== "string" || !SWAPS.includes(v.swap)) fail("E_USAGE", `board ${name}: swap must be one of ${SWAPS.join(", ")}`);
		config.swap = v.swap as SwapMode;
		const maxAlign = v.maxAlign ?? 8;
		if (maxAlign !== 8 && maxAlign !== 16 && maxAlign !== 32) fail("E_USAGE", `board ${name}: maxAlign must be 8, 16 or 32`);
		config.maxAlign = maxAlign;
		const maxImgSectors = v.maxImgSectors ?? DEFAULT_MAX_IMG_SECTORS;
		if (typeof maxImgSectors !== "number" || !Number.isInteger(maxImgSectors) || maxImgSectors < 1 || maxImgSectors > 8192) fail("E_USAGE", `board ${name}: maxImgSectors must be an integer from 1 to 8192`);
		config.maxImgSectors = maxImgSectors;
		if (!Array.isArray(v.images) || v.images.length === 0) fail("E_USAGE", `board ${name}: images must list each image's primary and secondary partitions`);
		config.images = (v.images as { primary?: unknown; secondary?: unknown }[]).map((p, i) => ({
			primary: partitionName(p?.primary, `images[${i}].primary`),
			secondary: partitionName(p?.secondary, `images[${i}].secondary`),
		}));
		if (config.swap === "scratch") config.scratch = partitionName(v.scratch, "scratch");
		if (config.installer === "mcuboot-encrypted") {
			const aesKeyBits = v.aesKeyBits ?? 128;
			if (aesKeyBits !== 128 && aesKeyBits !== 256) fail("E_USAGE", `board ${name}: aesKeyBits must be 128 or 256 (the AES key size the board's MCUboot is built for)`);
			config.aesKeyBits = aesKeyBits;
		} else if (v.aesKeyBits !== undefined) fail("E_USAGE", `board ${name}: aesKeyBits is for the mcuboot-encrypted installer (the agent decrypts for the others, with either size)`);
	}
	return config;
}
