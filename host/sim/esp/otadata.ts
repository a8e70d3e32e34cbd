/**
 * otadata as the ESP-IDF bootloader reads and writes it, written here from ESP-IDF and sharing no
 * code with the agent's otadata (modules/update/esp-otadata.ts): a bug there cannot hide itself by
 * being read back the same way.
 *
 * - esp_flash_partitions.h: esp_ota_select_entry_t { uint32_t ota_seq; uint8_t seq_label[20];
 *   uint32_t ota_state; uint32_t crc; } (32 bytes, little-endian) and esp_ota_img_states_t.
 * - bootloader_common_loader.c: bootloader_common_ota_select_crc, _invalid, _valid,
 *   bootloader_common_get_active_otadata, bootloader_common_select_otadata.
 * - bootloader_utility.c: read_otadata (entry i at the start of sector i of the partition) and
 *   write_otadata (erase that sector, write the entry).
 * - esp_ota_ops.c esp_ota_get_state_partition: the state the report gives for the booted slot.
 */
import Flash from "sealdrop/native/flash";
import { crc32 } from "sealdrop/base/crc32";
import { fail } from "sealdrop/base/errors";

/** esp_ota_img_states_t. */
export const OtaState = { NEW: 0x0, PENDING_VERIFY: 0x1, VALID: 0x2, INVALID: 0x3, ABORTED: 0x4, UNDEFINED: 0xffffffff } as const;

/** One entry per flash sector (SPI_FLASH_SEC_SIZE), so rewriting one never touches the other. */
const SECTOR_SIZE = 0x1000;
const ENTRY_SIZE = 32;
const OFF_SEQ = 0;
const OFF_LABEL = 4;
const LABEL_SIZE = 20;
const OFF_STATE = 24;
const OFF_CRC = 28;
/** What an erased ota_seq reads as: "no entry". */
const SEQ_ERASED = 0xffffffff;

/** esp_ota_select_entry_t. */
export interface OtaEntry {
	seq: number;
	label: Uint8Array;
	state: number;
	crc: number;
}

/** bootloader_common_ota_select_crc(): esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4), over ota_seq alone. */
export function seqCrc(seq: number): number {
	const bytes = new Uint8Array(4);
	new DataView(bytes.buffer).setUint32(0, seq, true);
	return crc32(bytes, 0xffffffff);
}

/** bootloader_common_ota_select_invalid(): erased, INVALID or ABORTED; the CRC is not looked at. */
export function entryInvalid(entry: OtaEntry): boolean {
	return entry.seq === SEQ_ERASED || entry.state === OtaState.INVALID || entry.state === OtaState.ABORTED;
}

/** bootloader_common_ota_select_valid(): not invalid and the CRC matches ota_seq. */
export function entryValid(entry: OtaEntry): boolean {
	return !entryInvalid(entry) && entry.crc === seqCrc(entry.seq);
}

/** The entry was never written whole (erased or torn): what makes otadata "initial contents" at boot. */
export function entryBlank(entry: OtaEntry): boolean {
	return entry.seq === SEQ_ERASED || entry.crc !== seqCrc(entry.seq);
}

/**
 * bootloader_common_get_active_otadata(): of the valid entries the one with the highest ota_seq
 * (entry 0 on a tie, as bootloader_common_select_otadata compares with entry 0 first); -1 if none.
 */
export function activeEntry(entries: readonly OtaEntry[]): number {
	const [valid0, valid1] = [entryValid(entries[0]), entryValid(entries[1])];
	if (valid0 && valid1) return entries[1].seq > entries[0].seq ? 1 : 0;
	return valid0 ? 0 : valid1 ? 1 : -1;
}

/** bootloader_utility.c: boot_index = (ota_seq - 1) % app_count, in uint32_t arithmetic. */
export function slotOfSeq(seq: number, appCount: number): number {
	return ((seq - 1) >>> 0) % appCount;
}

/**
 * esp_ota_get_state_partition(): the state of the first entry (0, then 1) that maps to `slot` and
 * whose CRC matches; undefined when none does (ESP_ERR_NOT_FOUND).
 */
export function stateOfSlot(entries: readonly OtaEntry[], slot: number, appCount: number): number | undefined {
	const entry = entries.find((e) => slotOfSeq(e.seq, appCount) === slot && e.crc === seqCrc(e.seq));
	return entry?.state;
}

/** The otadata partition: two entries, entry i at the start of sector i. */
export class OtadataPartition {
	readonly #flash: Flash;

	constructor(flash: Flash) {
		const { size, blockLength } = flash.status();
		if (size < 2 * SECTOR_SIZE) fail("E_UNSUPPORTED", `otadata is ${size} bytes, two 4 KiB sectors are needed`);
		// write_otadata erases exactly one sector: the flash must be able to
		if (SECTOR_SIZE % blockLength !== 0) fail("E_UNSUPPORTED", `otadata: erase blocks of ${blockLength} bytes do not divide a 4 KiB sector`);
		this.#flash = flash;
	}

	/** read_otadata(): both entries as flash holds them. */
	read(): OtaEntry[] {
		return [0, 1].map((i) => {
			const bytes = new Uint8Array(ENTRY_SIZE);
			this.#flash.read(bytes, i * SECTOR_SIZE);
			const view = new DataView(bytes.buffer);
			return {
				seq: view.getUint32(OFF_SEQ, true),
				label: bytes.slice(OFF_LABEL, OFF_LABEL + LABEL_SIZE),
				state: view.getUint32(OFF_STATE, true),
				crc: view.getUint32(OFF_CRC, true),
			};
		});
	}

	/**
	 * write_otadata(): erase entry i's sector (one erase), then write the entry (one write, padded
	 * with erased bytes to the flash's write size). A failed step is E_FLASH: the other entry is
	 * still there to select an app.
	 */
	write(i: number, entry: OtaEntry): void {
		const { blockLength, writeAlign, eraseValue } = this.#flash.status();
		const bytes = new Uint8Array(Math.ceil(ENTRY_SIZE / writeAlign) * writeAlign).fill(eraseValue);
		const view = new DataView(bytes.buffer);
		view.setUint32(OFF_SEQ, entry.seq, true);
		bytes.set(entry.label.subarray(0, LABEL_SIZE), OFF_LABEL);
		view.setUint32(OFF_STATE, entry.state, true);
		view.setUint32(OFF_CRC, entry.crc, true);
		const first = (i * SECTOR_SIZE) / blockLength;
		try {
			this.#flash.eraseBlock(first, first + SECTOR_SIZE / blockLength);
			this.#flash.write(bytes, i * SECTOR_SIZE);
		} catch (error) {
			fail("E_FLASH", `bootloader: writing otadata[${i}] failed: ${error instanceof Error ? error.message : String(error)}`);
		}
	}
}
