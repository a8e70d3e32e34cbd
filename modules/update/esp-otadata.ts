/**
 * The boot-selection half of the `esp-idf` installer (ARCHITECTURE.md, "Installers"): the otadata
 * partition through which the app picks its next boot partition and confirms or rolls back
 * (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE). The app image check is the other half (esp-app-image.ts).
 *
 * Followed from ESP-IDF (master, components/…):
 * - bootloader_support/include/esp_flash_partitions.h: esp_ota_select_entry_t, esp_ota_img_states_t.
 * - bootloader_support/src/bootloader_common_loader.c: the otadata CRC, validity and selection.
 * - app_update/esp_ota_ops.c: esp_ota_set_boot_partition, esp_ota_mark_app_valid_cancel_rollback,
 *   esp_ota_mark_app_invalid_rollback, esp_ota_get_boot_partition, esp_ota_get_next_update_partition,
 *   esp_ota_get_state_partition, esp_ota_check_rollback_is_possible,
 *   esp_ota_invalidate_inactive_ota_data_slot, esp_ota_get_last_invalid_partition.
 * The bootloader model reads otadata with code of its own (host/sim/esp/otadata.ts).
 *
 * Device code: runs on XS through sealdrop/native/flash only.
 */
import Flash from "sealdrop/native/flash";
import { alignUp, putU32, u32 } from "sealdrop/base/bytes";
import { crc32 } from "sealdrop/base/crc32";
import { fail, SealdropError } from "sealdrop/base/errors";
import { checkEspAppPartition, ESP_CHIP_ID_ESP32, type EspAppInfo } from "./esp-app-image.js";

// ---------------------------------------------------------------------------------------------
// otadata (esp_flash_partitions.h, bootloader_common_loader.c, esp_ota_ops.c)

/** esp_flash_partitions.h esp_ota_img_states_t. */
export const OtaImgState = {
	/** Set by esp_ota_set_boot_partition with rollback on: the bootloader has not started it yet. */
	NEW: 0x0,
	/** The bootloader started it once; if it finds this state again the app never confirmed: ABORTED. */
	PENDING_VERIFY: 0x1,
	/** Confirmed by esp_ota_mark_app_valid_cancel_rollback. */
	VALID: 0x2,
	/** Refused by esp_ota_mark_app_invalid_rollback: never selected again. */
	INVALID: 0x3,
	/** Never confirmed: never selected again. */
	ABORTED: 0x4,
	/** No rollback tracking (what erased flash reads as). */
	UNDEFINED: 0xffffffff,
} as const;

/** The otadata keeps one entry per 4 KiB flash sector (SPI_SEC_SIZE / the partition's erase_size). */
export const OTADATA_SECTOR_SIZE = 4096;
/** sizeof(esp_ota_select_entry_t): "32 bytes is friendly to flash encryption". */
export const OTA_SELECT_ENTRY_SIZE = 32;
/** bootloader_config.h MAX_OTA_SLOTS: ota_0 .. ota_15. */
export const MAX_OTA_SLOTS = 16;
const UINT32_MAX = 0xffffffff;
const SEQ_LABEL_SIZE = 20;

/** esp_ota_select_entry_t: { uint32_t ota_seq; uint8_t seq_label[20]; uint32_t ota_state; uint32_t crc; }. */
export interface OtaSelectEntry {
	seq: number;
	label: Uint8Array;
	state: number;
	crc: number;
}

/** An entry from its 32 bytes (little-endian, as on the chip). */
export function parseOtaSelectEntry(bytes: Uint8Array): OtaSelectEntry {
	if (bytes.length < OTA_SELECT_ENTRY_SIZE) fail("E_TRUNCATED", `otadata entry is ${bytes.length} bytes, expected ${OTA_SELECT_ENTRY_SIZE}`);
	return {
		seq: u32(bytes, 0),
		label: bytes.slice(4, 4 + SEQ_LABEL_SIZE),
		state: u32(bytes, 24),
		crc: u32(bytes, 28),
	};
}

export function encodeOtaSelectEntry(entry: OtaSelectEntry): Uint8Array {
	const bytes = new Uint8Array(OTA_SELECT_ENTRY_SIZE);
	putU32(bytes, 0, entry.seq);
	bytes.set(entry.label.subarray(0, SEQ_LABEL_SIZE), 4);
	putU32(bytes, 24, entry.state);
	putU32(bytes, 28, entry.crc);
	return bytes;
}

/** bootloader_common_ota_select_crc(): esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4). seq 1 gives 0x4743989a. */
export function otaSelectCrc(seq: number): number {
	const bytes = new Uint8Array(4);
	putU32(bytes, 0, seq);
	return crc32(bytes, UINT32_MAX); // esp_rom_crc32_le(UINT32_MAX, ...)
}

/** bootloader_common_ota_select_invalid(): erased, or marked INVALID/ABORTED (the CRC is not looked at). */
export function otaSelectInvalid(entry: OtaSelectEntry): boolean {
	return entry.seq === UINT32_MAX || entry.state === OtaImgState.INVALID || entry.state === OtaImgState.ABORTED;
}

/** bootloader_common_ota_select_valid(): not invalid, and the CRC matches the sequence number. */
export function otaSelectValid(entry: OtaSelectEntry): boolean {
	return !otaSelectInvalid(entry) && entry.crc === otaSelectCrc(entry.seq);
}

/** True when the CRC matches and the sequence number is not erased: the entry was written whole. */
function otaSelectIntact(entry: OtaSelectEntry): boolean {
	return entry.seq !== UINT32_MAX && entry.crc === otaSelectCrc(entry.seq);
}

/**
 * bootloader_common_select_otadata(): among the entries flagged in `usable`, the one with the
 * highest (max) or lowest sequence number; a tie goes to entry 0. -1 when none is usable.
 */
export function selectOtaData(entries: readonly OtaSelectEntry[], usable: readonly boolean[], max: boolean): number {
	if (usable[0] && usable[1]) {
		const pick = max ? Math.max(entries[0].seq, entries[1].seq) : Math.min(entries[0].seq, entries[1].seq);
		return pick === entries[0].seq ? 0 : 1;
	}
	if (usable[0]) return 0;
	if (usable[1]) return 1;
	return -1;
}

/** bootloader_common_get_active_otadata(): the valid entry with the highest sequence number, or -1. */
export function activeOtaData(entries: readonly OtaSelectEntry[]): number {
	return selectOtaData(entries, entries.map(otaSelectValid), true);
}

/** The OTA slot a sequence number selects: (ota_seq - 1) % ota_app_count, in uint32 arithmetic. */
export function otaSlotOfSeq(seq: number, appCount: number): number {
	return ((seq - 1) >>> 0) % appCount;
}

/**
 * compute_ota_seq_for_target_slot(): the smallest sequence number at or above `current` that
 * selects `slot`. ESP-IDF's loop would wrap to UINT32_MAX (an erased entry) after about 4e9
 * updates; this refuses with E_RANGE instead.
 */
export function otaSeqForSlot(current: number, slot: number, appCount: number): number {
	const base = (slot + 1) % appCount;
	const seq = current > base ? base + Math.ceil((current - base) / appCount) * appCount : base;
	if (seq >= UINT32_MAX) fail("E_RANGE", "otadata sequence numbers are exhausted");
	return seq;
}

/**
 * esp_ota_get_state_partition(): the state of the first entry (0, then 1) that selects `slot`
 * and has a matching CRC; undefined when none does (ESP_ERR_NOT_FOUND).
 */
export function otaStateOf(entries: readonly OtaSelectEntry[], slot: number, appCount: number): number | undefined {
	for (const entry of entries)
		if (otaSlotOfSeq(entry.seq, appCount) === slot && entry.crc === otaSelectCrc(entry.seq)) return entry.state;
	return undefined;
}

/** The OTA partitions of a board (BoardConfig.ota): the otadata partition and ota_0, ota_1, ... in order. */
export interface OtaLayout {
	otadata: string;
	apps: readonly string[];
}

/** Opens a partition by name. On an ESP32 app partitions are reached as "running"/"nextota" (Moddable's flash module). */
export type OpenPartition = (name: string) => Flash;

export interface OtaDataOptions {
	open?: OpenPartition;
	/**
	 * The app partition (index into `apps`) that is running, as esp_ota_get_running_partition()
	 * finds it from the code's address; the bootloader model reports it. Defaults to the boot
	 * partition the otadata selects when this object is made.
	 */
	running?: number;
	/** The chip images must be built for when they are validated (default ESP_CHIP_ID_ESP32). */
	chipId?: number;
}

const openByName: OpenPartition = (name) => Flash.open({ path: name });

/**
 * The otadata partition of a board with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE and no factory app:
 * two esp_ota_select_entry_t, one at the start of each of its first two 4 KiB sectors. The entry
 * with the highest valid sequence number selects the app (ota_{(seq-1) % apps}); every change
 * erases one sector and writes one entry (rewrite_ota_seq), so a power cut loses at most the entry
 * being written and the other one still selects an app.
 *
 * Every method reads the entries from flash again, as esp_ota_ops.c does, so several objects (and
 * the bootloader model) may work on the same partition.
 */
export class OtaData {
	readonly layout: OtaLayout;
	readonly #flash: Flash;
	readonly #open: OpenPartition;
	readonly #chipId: number;
	readonly #firstBlock: number[]; // the first erase block of each sector
	readonly #blocksPerSector: number;
	readonly #writeLength: number;
	readonly #eraseValue: number;
	readonly running: number;

	constructor(layout: OtaLayout, options: OtaDataOptions = {}) {
		if (layout.apps.length < 1 || layout.apps.length > MAX_OTA_SLOTS)
			fail("E_USAGE", `otadata: ${layout.apps.length} OTA app partitions, between 1 and ${MAX_OTA_SLOTS} are possible`);
		this.layout = layout;
		this.#open = options.open ?? openByName;
		this.#chipId = options.chipId ?? ESP_CHIP_ID_ESP32;
		this.#flash = this.#open(layout.otadata);
		const status = this.#flash.status();
		// bootloader_common_read_otadata(): "ota_info partition size ... is too small"
		if (status.size < 2 * OTADATA_SECTOR_SIZE) fail("E_UNSUPPORTED", `otadata partition is ${status.size} bytes, at least ${2 * OTADATA_SECTOR_SIZE} are needed`);
		if (OTADATA_SECTOR_SIZE % status.blockLength !== 0) fail("E_UNSUPPORTED", `otadata: erase blocks of ${status.blockLength} bytes do not divide a 4 KiB sector`);
		this.#blocksPerSector = OTADATA_SECTOR_SIZE / status.blockLength;
		this.#firstBlock = [0, this.#blocksPerSector];
		this.#writeLength = alignUp(OTA_SELECT_ENTRY_SIZE, status.writeAlign);
		this.#eraseValue = status.eraseValue;
		const running = options.running ?? this.bootPartition();
		if (!Number.isInteger(running) || running < 0 || running >= layout.apps.length) fail("E_USAGE", `otadata: no app partition ${running}`);
		this.running = running;
	}

	get appCount(): number { return this.layout.apps.length; }

	close(): void {
		this.#flash.close();
	}

	/** Both entries as flash holds them (read_otadata / bootloader_common_read_otadata). */
	readEntries(): OtaSelectEntry[] {
		const bytes = new Uint8Array(OTA_SELECT_ENTRY_SIZE);
		const entries: OtaSelectEntry[] = [];
		for (const sector of [0, 1]) {
			this.#flash.read(bytes, sector * OTADATA_SECTOR_SIZE);
			entries.push(parseOtaSelectEntry(bytes));
		}
		return entries;
	}

	/** Erases the entry's sector and writes the entry (rewrite_ota_seq; the bootloader's write_otadata). */
	writeEntry(sector: number, entry: OtaSelectEntry): void {
		const bytes = new Uint8Array(this.#writeLength).fill(this.#eraseValue);
		bytes.set(encodeOtaSelectEntry(entry));
		this.eraseEntry(sector);
		flashStep(`write otadata[${sector}]`, () => this.#flash.write(bytes, sector * OTADATA_SECTOR_SIZE));
	}

	/** Erases one entry's sector (the erase half of esp_ota_invalidate_inactive_ota_data_slot). */
	eraseEntry(sector: number): void {
		const first = this.#firstBlock[sector];
		flashStep(`erase otadata[${sector}]`, () => this.#flash.eraseBlock(first, first + this.#blocksPerSector));
	}

	/** bootloader_common_get_active_otadata() on the entries in flash. */
	activeEntry(): number {
		return activeOtaData(this.readEntries());
	}

	/**
	 * esp_ota_get_boot_partition(): the app the bootloader will pick (before it checks the image):
	 * ota_0 when no entry is usable (no factory app here), else the active entry's slot.
	 */
	bootPartition(): number {
		const entries = this.readEntries();
		if (otaSelectInvalid(entries[0]) && otaSelectInvalid(entries[1])) return 0;
		const active = activeOtaData(entries);
		return active === -1 ? 0 : otaSlotOfSeq(entries[active].seq, this.appCount);
	}

	/** esp_ota_get_next_update_partition(NULL): the OTA partition after the running one, wrapping to ota_0. */
	nextUpdatePartition(): number {
		return (this.running + 1) % this.appCount;
	}

	/** esp_ota_get_state_partition(): the partition's state, or undefined when no intact entry selects it. */
	stateOf(index: number): number | undefined {
		this.#checkIndex(index);
		return otaStateOf(this.readEntries(), index, this.appCount);
	}

	/** esp_image_verify() of one app partition: its facts, or the image's error. */
	checkApp(index: number): EspAppInfo {
		this.#checkIndex(index);
		const flash = this.#open(this.layout.apps[index]);
		try {
			return checkEspAppPartition(flash, { chipId: this.#chipId });
		} finally {
			flash.close();
		}
	}

	/**
	 * esp_ota_set_boot_partition(): validates the image (unless skipValidate, as
	 * esp_ota_set_boot_partition_skip_validate), then esp_rewrite_ota_data(): if the active entry
	 * already selects this partition, that entry is rewritten in place with state NEW; otherwise
	 * the other sector gets the next sequence number that selects it, state NEW, and the active
	 * entry is left untouched until the bootloader takes the new one. Fresh otadata: entry 0 with
	 * sequence index + 1. `state` VALID (not an ESP-IDF option) selects the app for good, without
	 * a trial boot: what an update marked permanent asks for.
	 */
	setBootPartition(index: number, options: { skipValidate?: boolean; state?: number } = {}): void {
		this.#checkIndex(index);
		if (!options.skipValidate) this.checkApp(index);
		const entries = this.readEntries();
		const active = activeOtaData(entries);
		let sector: number;
		let seq: number;
		if (active === -1) {
			sector = 0;
			seq = index + 1;
		} else if (otaSlotOfSeq(entries[active].seq, this.appCount) === index) {
			sector = active;
			seq = entries[active].seq;
		} else {
			sector = active ^ 1;
			seq = otaSeqForSlot(entries[active].seq, index, this.appCount);
		}
		// set_new_state_otadata(): NEW with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE; seq_label is kept as read
		this.writeEntry(sector, { ...entries[sector], seq, state: options.state ?? OtaImgState.NEW, crc: otaSelectCrc(seq) });
	}

	/**
	 * esp_ota_mark_app_valid_cancel_rollback(): the active entry becomes VALID (rewritten in place),
	 * nothing is written when it already is. E_STATE when no entry is active ("Running firmware
	 * is factory").
	 */
	markValid(): void {
		const entries = this.readEntries();
		const active = this.#requireActive(entries);
		if (entries[active].state === OtaImgState.VALID) return;
		this.writeEntry(active, { ...entries[active], state: OtaImgState.VALID });
	}

	/**
	 * esp_ota_mark_app_invalid_rollback(): when another app can boot (rollbackPossible), the
	 * active entry becomes INVALID so the next boot takes the other one; the caller then restarts
	 * (esp_ota_mark_app_invalid_rollback_and_reboot). E_STATE when there is nothing to go back to.
	 */
	markInvalidAndRollback(): void {
		const entries = this.readEntries();
		const active = this.#requireActive(entries);
		if (!this.rollbackPossible()) fail("E_STATE", "rollback is not possible: no other valid app in the OTA partitions");
		this.writeEntry(active, { ...entries[active], state: OtaImgState.INVALID });
	}

	/**
	 * esp_ota_check_rollback_is_possible() without factory app or anti-rollback: the entry other
	 * than the active one is valid and its partition holds an image that verifies.
	 */
	rollbackPossible(): boolean {
		const entries = this.readEntries();
		const valid = entries.map(otaSelectValid);
		const active = selectOtaData(entries, valid, true);
		if (active === -1) return false;
		const previous = active ^ 1;
		return valid[previous] && this.#verifies(otaSlotOfSeq(entries[previous].seq, this.appCount));
	}

	/**
	 * The otadata half of esp_ota_begin() for an OTA app partition, to call before erasing it:
	 * refuses the running partition (ESP_ERR_OTA_PARTITION_CONFLICT) and refuses any update while
	 * the running app is still PENDING_VERIFY (ESP_ERR_OTA_ROLLBACK_INVALID_STATE), both E_STATE,
	 * then invalidates the inactive entry. Returns the partition to write.
	 */
	beginUpdate(index: number = this.nextUpdatePartition()): number {
		this.#checkIndex(index);
		if (index === this.running) fail("E_STATE", `${this.layout.apps[index]} is the running app partition`);
		if (this.stateOf(this.running) === OtaImgState.PENDING_VERIFY)
			fail("E_STATE", "the running app has not confirmed itself yet (PENDING_VERIFY): mark it valid first");
		this.invalidateInactiveEntry();
		return index;
	}

	/**
	 * esp_ota_invalidate_inactive_ota_data_slot() (esp_ota_begin does it with rollback on): erases
	 * the inactive entry when it is intact and selects a partition other than the running one,
	 * so a half-written image there can never be rolled back to. Returns whether it erased.
	 */
	invalidateInactiveEntry(): boolean {
		const entries = this.readEntries();
		const active = activeOtaData(entries);
		if (active === -1) return false;
		const inactive = active ^ 1;
		if (!otaSelectIntact(entries[inactive])) return false;
		if (otaSlotOfSeq(entries[inactive].seq, this.appCount) === this.running) return false;
		this.eraseEntry(inactive);
		return true;
	}

	/**
	 * esp_ota_get_last_invalid_partition(): the partition of the lowest-sequence intact entry
	 * marked INVALID or ABORTED whose image still verifies (the app that was rolled back), or -1.
	 */
	lastInvalidPartition(): number {
		const entries = this.readEntries();
		const marked = entries.map((e) => otaSelectIntact(e) && (e.state === OtaImgState.INVALID || e.state === OtaImgState.ABORTED));
		const which = selectOtaData(entries, marked, false);
		if (which === -1) return -1;
		const slot = otaSlotOfSeq(entries[which].seq, this.appCount);
		return this.#verifies(slot) ? slot : -1;
	}

	#requireActive(entries: OtaSelectEntry[]): number {
		const active = activeOtaData(entries);
		if (active === -1) fail("E_STATE", "no otadata entry is active (the running app was not selected through otadata)");
		return active;
	}

	#verifies(index: number): boolean {
		try {
			this.checkApp(index);
			return true;
		} catch (error) {
			if (error instanceof SealdropError) return false;
			throw error;
		}
	}

	#checkIndex(index: number): void {
		if (!Number.isInteger(index) || index < 0 || index >= this.appCount) fail("E_RANGE", `no OTA app partition ${index} (there are ${this.appCount})`);
	}
}

/** A flash write or erase; a failure becomes E_FLASH (the other entry still selects an app). */
function flashStep(what: string, step: () => void): void {
	try {
		step();
	} catch (error) {
		fail("E_FLASH", `otadata: ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
	}
}
