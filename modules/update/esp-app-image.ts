/**
 * The app-image half of the `esp-idf` installer (ARCHITECTURE.md, "Installers"): what an ESP-IDF
 * app image must look like before it may be booted, checked as it streams in and again from flash.
 * Boot selection is the other half (esp-otadata.ts). The bootloader model checks images with
 * code of its own (host/sim/esp/app-image.ts).
 *
 * Followed from ESP-IDF (master, components/…):
 * - bootloader_support/include/esp_app_format.h: esp_image_header_t, esp_image_segment_header_t,
 *   ESP_IMAGE_MAX_SEGMENTS; esp_app_format/include/esp_app_desc.h: esp_app_desc_t.
 * - bootloader_support/src/esp_image_format.c: image_load() and its process_* / verify_* steps.
 *
 * Device code: runs on XS through sealdrop/native/flash and sealdrop/native/sha256 only.
 */
import Flash from "sealdrop/native/flash";
import Sha256 from "sealdrop/native/sha256";
import { alignUp, equalBytes, u16, u32 } from "sealdrop/base/bytes";
import { fail } from "sealdrop/base/errors";

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
