/**
 * A model of the ESP-IDF second-stage bootloader's app selection, built with
 * CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE, no factory or test app, no anti-rollback and no secure
 * boot, on the simulator's flash. It follows ESP-IDF (components/bootloader_support/src/):
 * - bootloader_utility.c bootloader_utility_get_selected_boot_partition(): read both otadata
 *   entries; any entry still PENDING_VERIFY (its app started and never confirmed) becomes
 *   ABORTED; when no entry is usable start from ota_0 (and remember whether otadata was blank);
 *   else the valid entry with the highest sequence number selects the slot, and a NEW entry
 *   becomes PENDING_VERIFY before its app is even loaded.
 * - bootloader_utility.c bootloader_utility_load_boot_image(): try the selected slot, then every
 *   slot below it, then every slot above it, verifying each image (esp_image_format.c, here
 *   esp/app-image.ts) and booting the first that passes. The fallback does not look at
 *   otadata states, as in ESP-IDF.
 * - set_actual_ota_seq(): when otadata was blank, the slot that booted is written to entry 0 as
 *   sequence slot + 1, VALID.
 * Each otadata change is write_otadata(): erase the entry's sector, write the entry.
 *
 * The model reads otadata and app images with code of its own (esp/otadata.ts, esp/app-image.ts),
 * nothing from modules/update: it checks the agent's esp-idf installer, so it must not share the
 * agent's mistakes.
 */
import { fail, SealdropError } from "sealdrop/base/errors";
import { toHex } from "sealdrop/base/bytes";
import Flash from "sealdrop/native/flash";
import { verifyEspApp, type EspAppFacts } from "./esp/app-image.js";
import { activeEntry, entryBlank, entryInvalid, OtadataPartition, OtaState, seqCrc, slotOfSeq, stateOfSlot, type OtaEntry } from "./esp/otadata.js";

/** The board's OTA partitions by name: otadata, and the app partitions ota_0, ota_1, ... in order. */
export interface EspOtaLayout {
	otadata: string;
	apps: readonly string[];
}

/** Opens a partition by name. */
export type OpenPartition = (name: string) => Flash;

/** What the bootloader started. */
export interface EspBootReport {
	/** The app partition's name (ota_N). */
	partition: string;
	/** Its index in the board's OTA app list (N). */
	index: number;
	/** esp_app_desc_t.version of the image. */
	version: string;
	projectName: string;
	/** The partition's otadata state after this boot (esp_ota_get_state_partition), undefined if no entry selects it. */
	state: number | undefined;
	/** SHA-256 of the image (header through checksum), hex. */
	sha256: string;
}

export interface EspBootOptions {
	open?: OpenPartition;
	/** CONFIG_IDF_FIRMWARE_CHIP_ID of the chip (default 0, the ESP32). */
	chipId?: number;
}

/** esp_chip_id_t ESP_CHIP_ID_ESP32. */
const ESP_CHIP_ID_ESP32 = 0x0000;

/**
 * One boot: picks and verifies an app as the ESP-IDF bootloader does, updates otadata on the way,
 * and reports what it would start. E_NO_IMAGE when no OTA partition holds a bootable image
 * (ESP-IDF: "No bootable app partitions in the partition table", then a reset).
 */
export function bootEspIdf(layout: EspOtaLayout, options: EspBootOptions = {}): EspBootReport {
	const open = options.open ?? ((name: string) => Flash.open({ path: name }));
	const appCount = layout.apps.length;
	// bootloader_config.h MAX_OTA_SLOTS
	if (appCount < 1 || appCount > 16) fail("E_USAGE", `${appCount} OTA app partitions, between 1 and 16 are possible`);
	const flash = open(layout.otadata);
	try {
		const otadata = new OtadataPartition(flash);
		const entries = otadata.read();
		abortUnconfirmed(otadata, entries);
		const { start, blank } = selectBootSlot(otadata, entries, appCount);
		for (const index of tryOrder(start, appCount)) {
			const app = loadApp(layout.apps[index], open, options.chipId ?? ESP_CHIP_ID_ESP32);
			if (!app) continue;
			if (blank) setActualOtaSeq(otadata, entries, index);
			return {
				partition: layout.apps[index],
				index,
				version: app.version,
				projectName: app.projectName,
				state: stateOfSlot(entries, index, appCount),
				sha256: toHex(app.sha256),
			};
		}
		fail("E_NO_IMAGE", "no bootable app in the OTA partitions");
	} finally {
		flash.close();
	}
}

/** CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE: an app still PENDING_VERIFY never confirmed itself. */
function abortUnconfirmed(otadata: OtadataPartition, entries: OtaEntry[]): void {
	for (const i of [0, 1]) {
		if (entries[i].state !== OtaState.PENDING_VERIFY) continue;
		entries[i] = { ...entries[i], state: OtaState.ABORTED };
		otadata.write(i, entries[i]);
	}
}

/**
 * bootloader_utility_get_selected_boot_partition() without factory app: the slot to try first
 * (-1: none selected, try them all from ota_0), and whether otadata is blank (both entries
 * erased or torn), which makes the boot write entry 0.
 */
function selectBootSlot(otadata: OtadataPartition, entries: OtaEntry[], appCount: number): { start: number; blank: boolean } {
	if (entryInvalid(entries[0]) && entryInvalid(entries[1])) return { start: 0, blank: entries.every(entryBlank) };
	const active = activeEntry(entries);
	if (active === -1) return { start: -1, blank: false }; // "ota data partition invalid and no factory, will try all partitions"
	if (entries[active].state === OtaState.NEW) {
		entries[active] = { ...entries[active], state: OtaState.PENDING_VERIFY };
		otadata.write(active, entries[active]);
	}
	return { start: slotOfSeq(entries[active].seq, appCount), blank: false };
}

/** bootloader_utility_load_boot_image(): from `start` down to ota_0, then upwards from start + 1. */
function tryOrder(start: number, appCount: number): number[] {
	const order: number[] = [];
	for (let index = start; index >= 0; index--) order.push(index);
	for (let index = start + 1; index < appCount; index++) order.push(index);
	return order;
}

/** try_load_partition(): the image's facts when it verifies, undefined when it does not. */
function loadApp(name: string, open: OpenPartition, chipId: number): EspAppFacts | undefined {
	const flash = open(name);
	try {
		return verifyEspApp(flash, chipId);
	} catch (error) {
		if (error instanceof SealdropError) return undefined; // log_invalid_app_partition(): "... is not bootable"
		throw error;
	} finally {
		flash.close();
	}
}

/** set_actual_ota_seq(): blank otadata gets entry 0 = { seq index + 1, VALID }, the rest 0xFF. */
function setActualOtaSeq(otadata: OtadataPartition, entries: OtaEntry[], index: number): void {
	const seq = index + 1;
	entries[0] = { seq, label: new Uint8Array(20).fill(0xff), state: OtaState.VALID, crc: seqCrc(seq) };
	otadata.write(0, entries[0]);
}
