/**
 * The ESP-IDF side of the `esp-idf` installer (ARCHITECTURE.md, "Installers"): what an ESP-IDF app
 * image must look like before it may be booted, and the otadata partition through which the app
 * picks its next boot partition and confirms or rolls back (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE).
 *
 * Followed from ESP-IDF (master, components/…):
 * - bootloader_support/include/esp_app_format.h: esp_image_header_t, esp_image_segment_header_t,
 *   ESP_IMAGE_MAX_SEGMENTS; esp_app_format/include/esp_app_desc.h: esp_app_desc_t.
 * - bootloader_support/src/esp_image_format.c: image_load() and its process_* / verify_* steps.
 * - bootloader_support/include/esp_flash_partitions.h: esp_ota_select_entry_t, esp_ota_img_states_t.
 * - bootloader_support/src/bootloader_common_loader.c: the otadata CRC, validity and selection.
 * - app_update/esp_ota_ops.c: esp_ota_set_boot_partition, esp_ota_mark_app_valid_cancel_rollback,
 *   esp_ota_mark_app_invalid_rollback, esp_ota_get_boot_partition, esp_ota_get_next_update_partition,
 *   esp_ota_get_state_partition, esp_ota_check_rollback_is_possible,
 *   esp_ota_invalidate_inactive_ota_data_slot, esp_ota_get_last_invalid_partition.
 * The bootloader's half lives in host/sim/esp-bootloader.ts and uses the same entry functions, as
 * ESP-IDF's bootloader and app share bootloader_common_loader.c.
 *
 * Device code: runs on XS through sealdrop/native/flash and sealdrop/native/sha256 only.
 */
import Flash from "sealdrop/native/flash";
import Sha256 from "sealdrop/native/sha256";
import { alignUp, equalBytes, fail, putU32, SealdropError, u16, u32 } from "sealdrop/image";
import { crc32 } from "sealdrop/base/crc32";

// ---------------------------------------------------------------------------------------------
// App image (esp_app_format.h, esp_app_desc.h, esp_image_format.c)

/** esp_app_format.h ESP_IMAGE_HEADER_MAGIC: the first byte of every image. */
export const ESP_IMAGE_HEADER_MAGIC = 0xe9;
/** sizeof(esp_image_header_t). */
export const ESP_IMAGE_HEADER_SIZE = 24;
/** sizeof(esp_image_segment_header_t): { uint32_t load_addr; uint32_t data_len; }. */
export const ESP_IMAGE_SEGMENT_HEADER_SIZE = 8;
/** esp_app_format.h ESP_IMAGE_MAX_SEGMENTS. */
export const ESP_IMAGE_MAX_SEGMENTS = 16;
/** esp_image_format.h ESP_IMAGE_HASH_LEN: the appended SHA-256 ("simple hash"). */
export const ESP_IMAGE_HASH_LEN = 32;
/** esp_app_desc.h ESP_APP_DESC_MAGIC_WORD. */
export const ESP_APP_DESC_MAGIC_WORD = 0xabcd5432;
/** sizeof(esp_app_desc_t). */
export const ESP_APP_DESC_SIZE = 256;
/** esp_app_format.h esp_chip_id_t ESP_CHIP_ID_ESP32. */
export const ESP_CHIP_ID_ESP32 = 0x0000;
/** esp_image_format.c ESP_ROM_CHECKSUM_INITIAL: the checksum's starting value. */
const ESP_ROM_CHECKSUM_INITIAL = 0xef;
/**
 * esp_image_format.c ESP_IMAGE_MAX_FLASH_ADDR_SIZE (chips without 32-bit cache mapping, e.g. the
 * ESP32): verify_segment_header() refuses a segment of this length or more.
 */
const ESP_IMAGE_MAX_SEGMENT_LENGTH = 0x1000000;

// esp_image_header_t field offsets
const HEADER_SEGMENT_COUNT = 1;
const HEADER_CHIP_ID = 12;
const HEADER_HASH_APPENDED = 23;
// esp_app_desc_t field offsets and string lengths
const DESC_SECURE_VERSION = 4;
const DESC_VERSION = 16;
const DESC_PROJECT_NAME = 48;
const DESC_IDF_VERSION = 112;
const DESC_STRING_32 = 32;

/** What an ESP-IDF app image says about itself, once every check passed. */
export interface EspAppInfo {
	/** esp_app_desc_t.version (PROJECT_VER). */
	version: string;
	/** esp_app_desc_t.project_name. */
	projectName: string;
	/** esp_app_desc_t.secure_version (anti-rollback; reported, not enforced here). */
	secureVersion: number;
	/** esp_app_desc_t.idf_ver. */
	idfVersion: string;
	/** esp_image_header_t.chip_id. */
	chipId: number;
	/** Bytes of the whole image: header, segments, checksum padding and, if any, the appended hash. */
	size: number;
	/** esp_image_header_t.hash_appended: a SHA-256 of the image follows the checksum. */
	hashAppended: boolean;
	/** SHA-256 from the header through the checksum byte (equal to the appended hash when there is one). */
	sha256: Uint8Array;
}

export interface EspAppCheckOptions {
	/**
	 * Bytes the image is announced to be (e.g. the payload size of the container it came in): the
	 * image must end exactly there; a length field pointing past it fails at once with E_RANGE.
	 */
	size?: number;
	/** The most bytes the image may take (the app partition's size): E_TOO_LARGE past it. */
	maxSize?: number;
	/**
	 * The chip this image must be built for (esp_chip_id_t, e.g. ESP_CHIP_ID_ESP32), as
	 * bootloader_common_check_chip_validity() checks; undefined accepts any chip.
	 */
	chipId?: number;
}

/** Where the streaming check is in the image, in image order. */
type Stage = "header" | "segmentHeader" | "segmentData" | "checksum" | "hash" | "done";

const STAGE_NAMES: Record<Stage, string> = {
	header: "the image header",
	segmentHeader: "a segment header",
	segmentData: "segment data",
	checksum: "the checksum block",
	hash: "the appended SHA-256",
	done: "",
};

/**
 * A streaming check of an ESP-IDF app image, as esp_image_verify(ESP_IMAGE_VERIFY) does it on a
 * partition (esp_image_format.c image_load): header (magic, chip, segment count), each segment
 * header (length a multiple of 4 and below 16 MiB, segment 0 long enough for the esp_app_desc_t
 * it starts with), the XOR checksum over all segment data (initial 0xEF) stored in the last byte
 * of the 16-byte aligned block after the segments (process_checksum), and, when hash_appended is
 * set, the SHA-256 of everything before it (verify_simple_hash). Bytes come in chunks split
 * anywhere; only the small headers and the app description are copied, segment data is hashed and
 * checksummed as it passes, so memory stays flat.
 *
 * Every length read from the image is checked against `size`/`maxSize` before any byte it
 * announces is awaited, so a hostile header fails at once instead of waiting for data. After the
 * first failure every call throws that same error again.
 */
export class EspAppImageCheck {
	readonly #size: number | undefined;
	readonly #maxSize: number;
	readonly #chipId: number | undefined;
	#stage: Stage = "header";
	#offset = 0;                            // image offset of the next byte
	#stageEnd = ESP_IMAGE_HEADER_SIZE;      // image offset where the current stage ends
	readonly #field = new Uint8Array(ESP_IMAGE_HASH_LEN); // header, segment header, checksum block or hash being collected
	#fieldStart = 0;
	#sha: Sha256 | undefined = new Sha256();
	#checksum = ESP_ROM_CHECKSUM_INITIAL;
	#segmentCount = 0;
	#segment = 0;
	#chip = 0;
	#hashAppended = false;
	readonly #desc = new Uint8Array(ESP_APP_DESC_SIZE);
	#descFilled = 0;
	#digest: Uint8Array | undefined;
	#failure: unknown;
	#info: EspAppInfo | undefined;

	constructor(options: EspAppCheckOptions = {}) {
		this.#size = options.size;
		this.#maxSize = options.maxSize ?? Infinity;
		this.#chipId = options.chipId;
	}

	/** Bytes taken so far. */
	get offset(): number { return this.#offset; }
	/** True once the last byte of the image has been taken and checked. */
	get complete(): boolean { return this.#stage === "done"; }
	/**
	 * How many bytes may come next before the check knows more about the image's length (0 when
	 * complete): a reader of a partition reads at most this much and never past the image.
	 */
	get wanted(): number { return this.#stage === "done" ? 0 : this.#stageEnd - this.#offset; }

	/** Takes the next chunk (any length, any split); throws a SealdropError at the first bad byte. */
	push(chunk: Uint8Array): void {
		this.#guard(() => {
			for (let at = 0; at < chunk.length;) at += this.#take(chunk.subarray(at));
		});
	}

	/** Declares the input finished: the image's facts, or E_TRUNCATED / E_RANGE. */
	finish(): EspAppInfo {
		this.#guard(() => {
			if (this.#stage !== "done")
				fail("E_TRUNCATED", `ESP image truncated in ${STAGE_NAMES[this.#stage]} at offset ${this.#offset} (${this.#stageEnd - this.#offset} more bytes expected)`);
			if (this.#size !== undefined && this.#offset !== this.#size)
				fail("E_RANGE", `ESP image is ${this.#offset} bytes but ${this.#size} were announced`);
		});
		return this.#info!;
	}

	/** Frees the native hash of an unfinished check (an abandoned update); safe to call twice. */
	close(): void {
		this.#release();
	}

	#guard(step: () => void): void {
		if (this.#failure !== undefined) throw this.#failure;
		try {
			step();
		} catch (error) {
			this.#failure = error;
			this.#release();
			throw error;
		}
	}

	#release(): void {
		this.#sha?.close();
		this.#sha = undefined;
	}

	/** Takes bytes up to the end of the current stage; returns how many. */
	#take(bytes: Uint8Array): number {
		if (this.#stage === "done") fail("E_RANGE", `bytes past the end of the ESP image (${this.#offset} bytes)`);
		const n = Math.min(bytes.length, this.#stageEnd - this.#offset);
		const piece = bytes.subarray(0, n);
		if (this.#stage === "segmentData") this.#segmentData(piece);
		else {
			this.#field.set(piece, this.#offset - this.#fieldStart);
			// the appended hash is the only part the hash does not cover (verify_simple_hash)
			if (this.#stage !== "hash") this.#sha!.update(piece);
		}
		this.#offset += n;
		if (this.#offset === this.#stageEnd) this.#advance();
		return n;
	}

	/** Segment data: hashed and XOR-ed into the checksum (process_segment_data); segment 0 starts with esp_app_desc_t. */
	#segmentData(piece: Uint8Array): void {
		this.#sha!.update(piece);
		this.#checksum = xorBytes(this.#checksum, piece);
		if (this.#segment === 0 && this.#descFilled < ESP_APP_DESC_SIZE) {
			const n = Math.min(piece.length, ESP_APP_DESC_SIZE - this.#descFilled);
			this.#desc.set(piece.subarray(0, n), this.#descFilled);
			this.#descFilled += n;
			if (this.#descFilled === ESP_APP_DESC_SIZE) this.#checkDescription();
		}
	}

	#enter(stage: Stage, length: number): void {
		this.#stage = stage;
		this.#fieldStart = this.#offset;
		this.#stageEnd = this.#offset + length;
		if (length === 0) this.#advance(); // an empty segment
	}

	/** The current stage is complete: check what it held and move on. */
	#advance(): void {
		switch (this.#stage) {
			case "header":
				this.#checkHeader();
				this.#enter("segmentHeader", ESP_IMAGE_SEGMENT_HEADER_SIZE);
				break;
			case "segmentHeader":
				this.#enter("segmentData", this.#checkSegmentHeader());
				break;
			case "segmentData":
				this.#segment++;
				if (this.#segment < this.#segmentCount) this.#enter("segmentHeader", ESP_IMAGE_SEGMENT_HEADER_SIZE);
				else this.#enterChecksum();
				break;
			case "checksum":
				this.#checkChecksum();
				this.#digest = new Uint8Array(this.#sha!.digest());
				this.#release();
				if (this.#hashAppended) this.#enter("hash", ESP_IMAGE_HASH_LEN);
				else this.#done();
				break;
			case "hash":
				if (!equalBytes(this.#field, this.#digest!))
					fail("E_HASH", "ESP image SHA-256 does not match the appended hash (image corrupt)");
				this.#done();
				break;
		}
	}

	/** verify_image_header() and bootloader_common_check_chip_validity() (chip id only). */
	#checkHeader(): void {
		const header = this.#field;
		if (header[0] !== ESP_IMAGE_HEADER_MAGIC)
			fail("E_BAD_MAGIC", `not an ESP image: first byte 0x${hex2(header[0])}, expected 0xe9`);
		this.#chip = u16(header, HEADER_CHIP_ID);
		if (this.#chipId !== undefined && this.#chip !== this.#chipId)
			fail("E_UNSUPPORTED", `ESP image is for chip id ${this.#chip}, this device is chip id ${this.#chipId}`);
		this.#segmentCount = header[HEADER_SEGMENT_COUNT];
		if (this.#segmentCount > ESP_IMAGE_MAX_SEGMENTS)
			fail("E_RANGE", `ESP image has ${this.#segmentCount} segments, at most ${ESP_IMAGE_MAX_SEGMENTS} are allowed`);
		// an app's esp_app_desc_t is in segment 0 (esp_ota_get_partition_description), so it needs one
		if (this.#segmentCount === 0) fail("E_RANGE", "ESP app image has no segments (no app description)");
		this.#hashAppended = header[HEADER_HASH_APPENDED] !== 0; // image_load() tests it as a boolean
		this.#checkFits(this.#minimumEnd(ESP_IMAGE_HEADER_SIZE, this.#segmentCount));
	}

	/** verify_segment_header() and process_segment(): returns the data length. */
	#checkSegmentHeader(): number {
		const length = u32(this.#field, 4);
		const index = this.#segment;
		if (length % 4 !== 0 || length >= ESP_IMAGE_MAX_SEGMENT_LENGTH)
			fail("E_RANGE", `ESP image segment ${index} has an invalid length 0x${length.toString(16)}`);
		if (index === 0 && length < ESP_APP_DESC_SIZE)
			fail("E_RANGE", `ESP image segment 0 is ${length} bytes, too short for the app description`);
		this.#checkFits(this.#minimumEnd(this.#offset + length, this.#segmentCount - index - 1));
		return length;
	}

	/** After the last segment: the checksum block, then the hash, must still fit. */
	#enterChecksum(): void {
		const length = checksumBlockLength(this.#offset);
		this.#checkFits(this.#offset + length + (this.#hashAppended ? ESP_IMAGE_HASH_LEN : 0));
		this.#enter("checksum", length);
	}

	/** esp_app_desc_t at the start of segment 0 (esp_ota_get_partition_description). */
	#checkDescription(): void {
		const magic = u32(this.#desc, 0);
		if (magic !== ESP_APP_DESC_MAGIC_WORD)
			fail("E_BAD_MAGIC", `ESP image has no app description (magic 0x${magic.toString(16)}, expected 0xabcd5432)`);
	}

	/** process_checksum(): the last byte of the 16-byte aligned block after the segments. */
	#checkChecksum(): void {
		const stored = this.#field[this.#offset - this.#fieldStart - 1];
		if (stored !== this.#checksum)
			fail("E_HASH", `ESP image checksum is 0x${hex2(stored)}, the segments give 0x${hex2(this.#checksum)} (image corrupt)`);
	}

	/**
	 * The smallest image that can still follow: `end`, then `segments` more segment headers, the
	 * checksum block (at least 1 byte) and the appended hash.
	 */
	#minimumEnd(end: number, segments: number): number {
		return end + segments * ESP_IMAGE_SEGMENT_HEADER_SIZE + 1 + (this.#hashAppended ? ESP_IMAGE_HASH_LEN : 0);
	}

	/** Lengths announced by the image must stay inside the announced size and the partition. */
	#checkFits(end: number): void {
		if (this.#size !== undefined && end > this.#size)
			fail("E_RANGE", `ESP image needs at least ${end} bytes but ${this.#size} were announced`);
		// process_appended_hash_and_sig(): "Image length doesn't fit in partition length"
		if (end > this.#maxSize) fail("E_TOO_LARGE", `ESP image of at least ${end} bytes does not fit the partition of ${this.#maxSize} bytes`);
	}

	#done(): void {
		this.#stage = "done";
		this.#stageEnd = this.#offset;
		const desc = this.#desc;
		this.#info = {
			version: cString(desc, DESC_VERSION, DESC_STRING_32),
			projectName: cString(desc, DESC_PROJECT_NAME, DESC_STRING_32),
			secureVersion: u32(desc, DESC_SECURE_VERSION),
			idfVersion: cString(desc, DESC_IDF_VERSION, DESC_STRING_32),
			chipId: this.#chip,
			size: this.#offset,
			hashAppended: this.#hashAppended,
			sha256: this.#digest!,
		};
	}
}

/**
 * process_checksum(): after the segments comes padding to the next 16-byte boundary with room for
 * at least one byte, the checksum; returns that block's length (1..16).
 */
function checksumBlockLength(end: number): number {
	return alignUp(end + 1, 16) - end;
}

/**
 * XOR of the bytes into an 8-bit checksum. ESP-IDF XORs 32-bit words and folds the four bytes of
 * the result at the end (process_checksum); folding gives the same byte whatever the grouping, so
 * chunks may split anywhere. The aligned middle of a chunk goes a word at a time: this loop is the
 * one per-byte cost of the check in JavaScript (the hash is native), 4 times fewer steps on XS.
 */
function xorBytes(checksum: number, bytes: Uint8Array): number {
	let i = 0;
	while (i < bytes.length && (bytes.byteOffset + i) % 4 !== 0) checksum ^= bytes[i++];
	const words = (bytes.length - i) >> 2;
	if (words > 0) {
		const view = new Uint32Array(bytes.buffer, bytes.byteOffset + i, words);
		let word = 0;
		for (let w = 0; w < words; w++) word ^= view[w];
		checksum ^= (word ^ (word >>> 8) ^ (word >>> 16) ^ (word >>> 24)) & 0xff;
		i += words * 4;
	}
	while (i < bytes.length) checksum ^= bytes[i++];
	return checksum;
}

function hex2(byte: number): string {
	return (byte < 16 ? "0" : "") + byte.toString(16);
}

/** A char[length] field: the bytes up to the first NUL (all of them when there is none). */
function cString(bytes: Uint8Array, offset: number, length: number): string {
	let s = "";
	for (let i = offset; i < offset + length && bytes[i] !== 0; i++) s += String.fromCharCode(bytes[i]);
	return s;
}

/** How many bytes a partition check reads at a time. */
const READ_CHUNK = 4096;

/**
 * esp_image_verify() over a whole app partition: reads only as far as the image goes (never past
 * the partition) and returns its facts, or throws the check's error (E_BAD_MAGIC for an erased
 * partition).
 */
export function checkEspAppPartition(flash: Flash, options: { chipId?: number } = {}): EspAppInfo {
	const size = flash.status().size;
	const check = new EspAppImageCheck({ maxSize: size, chipId: options.chipId });
	const buffer = new Uint8Array(READ_CHUNK);
	let offset = 0;
	while (check.wanted > 0 && offset < size) {
		const piece = buffer.subarray(0, Math.min(check.wanted, READ_CHUNK, size - offset));
		flash.read(piece, offset);
		check.push(piece);
		offset += piece.length;
	}
	return check.finish();
}

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
