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
 *   checkEspAppPartition) and booting the first that passes. The fallback does not look at
 *   otadata states, as in ESP-IDF.
 * - set_actual_ota_seq(): when otadata was blank, the slot that booted is written to entry 0 as
 *   sequence slot + 1, VALID.
 * Each otadata change is write_otadata(): erase the entry's sector, write the entry.
 */
import { fail, SealdropError, toHex } from "sealdrop/image";
import { checkEspAppPartition, ESP_CHIP_ID_ESP32, type EspAppInfo } from "sealdrop/update/esp-app-image";
import {
	activeOtaData, OtaData, OtaImgState, otaSelectCrc, otaSelectInvalid, otaSlotOfSeq, otaStateOf, type OpenPartition, type OtaLayout, type OtaSelectEntry,
} from "sealdrop/update/esp-otadata";
import Flash from "sealdrop/native/flash";

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
	/** CONFIG_IDF_FIRMWARE_CHIP_ID of the chip (default ESP32). */
	chipId?: number;
}

const UINT32_MAX = 0xffffffff;

/**
 * One boot: picks and verifies an app as the ESP-IDF bootloader does, updates otadata on the way,
 * and reports what it would start. E_NO_IMAGE when no OTA partition holds a bootable image
 * (ESP-IDF: "No bootable app partitions in the partition table", then a reset).
 */
export function bootEspIdf(layout: OtaLayout, options: EspBootOptions = {}): EspBootReport {
	const open = options.open ?? ((name: string) => Flash.open({ path: name }));
	const otadata = new OtaData(layout, { open, running: 0 }); // no app runs yet: `running` is not used here
	try {
		const entries = otadata.readEntries();
		abortUnconfirmed(otadata, entries);
		const { start, blank } = selectBootSlot(otadata, entries);
		for (const index of tryOrder(start, otadata.appCount)) {
			const info = loadApp(layout.apps[index], open, options.chipId ?? ESP_CHIP_ID_ESP32);
			if (!info) continue;
			if (blank) setActualOtaSeq(otadata, entries, index);
			return {
				partition: layout.apps[index],
				index,
				version: info.version,
				projectName: info.projectName,
				state: otaStateOf(entries, index, otadata.appCount),
				sha256: toHex(info.sha256),
			};
		}
		fail("E_NO_IMAGE", "no bootable app in the OTA partitions");
	} finally {
		otadata.close();
	}
}

/** CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE: an app still PENDING_VERIFY never confirmed itself. */
function abortUnconfirmed(otadata: OtaData, entries: OtaSelectEntry[]): void {
	for (const sector of [0, 1]) {
		if (entries[sector].state !== OtaImgState.PENDING_VERIFY) continue;
		entries[sector] = { ...entries[sector], state: OtaImgState.ABORTED };
		otadata.writeEntry(sector, entries[sector]);
	}
}

/**
 * bootloader_utility_get_selected_boot_partition() without factory app: the slot to try first
 * (-1: none selected, try them all from ota_0), and whether otadata is blank (both entries
 * erased or torn), which makes the boot write entry 0.
 */
function selectBootSlot(otadata: OtaData, entries: OtaSelectEntry[]): { start: number; blank: boolean } {
	if (otaSelectInvalid(entries[0]) && otaSelectInvalid(entries[1])) {
		const blank = entries.every((e) => e.seq === UINT32_MAX || e.crc !== otaSelectCrc(e.seq));
		return { start: 0, blank };
	}
	const active = activeOtaData(entries);
	if (active === -1) return { start: -1, blank: false }; // "ota data partition invalid and no factory, will try all partitions"
	if (entries[active].state === OtaImgState.NEW) {
		entries[active] = { ...entries[active], state: OtaImgState.PENDING_VERIFY };
		otadata.writeEntry(active, entries[active]);
	}
	return { start: otaSlotOfSeq(entries[active].seq, otadata.appCount), blank: false };
}

/** bootloader_utility_load_boot_image(): from `start` down to ota_0, then upwards from start + 1. */
function tryOrder(start: number, appCount: number): number[] {
	const order: number[] = [];
	for (let index = start; index >= 0; index--) order.push(index);
	for (let index = start + 1; index < appCount; index++) order.push(index);
	return order;
}

/** try_load_partition(): the image's facts when it verifies, undefined when it does not. */
function loadApp(name: string, open: OpenPartition, chipId: number): EspAppInfo | undefined {
	const flash = open(name);
	try {
		return checkEspAppPartition(flash, { chipId });
	} catch (error) {
		if (error instanceof SealdropError) return undefined; // log_invalid_app_partition(): "... is not bootable"
		throw error;
	} finally {
		flash.close();
	}
}

/** set_actual_ota_seq(): blank otadata gets entry 0 = { seq index + 1, VALID }, the rest 0xFF. */
function setActualOtaSeq(otadata: OtaData, entries: OtaSelectEntry[], index: number): void {
	const seq = index + 1;
	entries[0] = { seq, label: new Uint8Array(20).fill(0xff), state: OtaImgState.VALID, crc: otaSelectCrc(seq) };
	otadata.writeEntry(0, entries[0]);
}
