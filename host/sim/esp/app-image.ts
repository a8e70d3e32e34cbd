/**
 * The ESP-IDF bootloader's check of an app image (esp_image_verify with ESP_IMAGE_VERIFY, no secure
 * boot), written here from ESP-IDF and sharing no code with the agent's image check
 * (modules/update/esp-app-image.ts): a bug there cannot hide itself by being checked the same way.
 *
 * - esp_app_format.h: esp_image_header_t (24 bytes: magic 0xE9 at 0, segment_count at 1, chip_id
 *   at 12, hash_appended at 23), esp_image_segment_header_t { load_addr; data_len; },
 *   ESP_IMAGE_MAX_SEGMENTS 16.
 * - esp_app_desc.h: esp_app_desc_t (256 bytes at the start of segment 0's data: magic_word
 *   0xABCD5432 at 0, version char[32] at 16, project_name char[32] at 48).
 * - esp_image_format.c image_load(): verify_image_header (magic, then
 *   bootloader_common_check_chip_validity's chip id), process_segment / verify_segment_header
 *   (data_len a multiple of 4 and below 16 MiB), process_checksum (XOR of the segment data as
 *   32-bit words from ESP_ROM_CHECKSUM_INITIAL 0xEF, folded to one byte, stored as the last byte of
 *   the 16-byte aligned block after the segments), verify_simple_hash (SHA-256 of the image up to
 *   and including that block, appended when hash_appended is set), and the image must fit the
 *   partition.
 *
 * Not modelled: load addresses (the simulator loads nothing) and chip revisions (it has none).
 * The app description is refused when missing, as the agent's check refuses it, so that
 * an image the agent accepts and the bootloader would not start shows up as a failed boot.
 */
import Flash from "sealdrop/native/flash";
import Sha256 from "sealdrop/native/sha256";
import { fail } from "sealdrop/base/errors";

/** What the bootloader learns from an image that verifies. */
export interface EspAppFacts {
	version: string;
	projectName: string;
	/** SHA-256 from the header through the checksum block. */
	sha256: Uint8Array;
}

const IMAGE_MAGIC = 0xe9;
const HEADER_SIZE = 24;
const SEGMENT_HEADER_SIZE = 8;
const MAX_SEGMENTS = 16;
const SIXTEEN_MB = 0x1000000;
const CHECKSUM_INITIAL = 0xef;
const HASH_LEN = 32;
const APP_DESC_MAGIC = 0xabcd5432;
const APP_DESC_SIZE = 256;
/** How much segment data is read at a time. */
const CHUNK = 4096;

/**
 * Verifies the image at the start of a partition and returns its facts; a refusal is a
 * SealdropError (E_BAD_MAGIC, E_UNSUPPORTED, E_RANGE, E_TOO_LARGE, E_HASH).
 */
export function verifyEspApp(flash: Flash, chipId: number): EspAppFacts {
	const partitionSize = flash.status().size;
	/** The image must fit its partition ("Image length ... doesn't fit in partition length"). */
	const fits = (end: number): void => {
		if (end > partitionSize) fail("E_TOO_LARGE", `ESP image runs past the end of its ${partitionSize}-byte partition`);
	};
	const read = (offset: number, length: number): Uint8Array => {
		fits(offset + length);
		const bytes = new Uint8Array(length);
		if (length > 0) flash.read(bytes, offset);
		return bytes;
	};
	const sha = new Sha256();
	try {
		const header = read(0, HEADER_SIZE);
		const view = new DataView(header.buffer);
		if (header[0] !== IMAGE_MAGIC) fail("E_BAD_MAGIC", `image header magic 0x${header[0].toString(16)}, expected 0xe9`);
		const imageChip = view.getUint16(12, true);
		if (imageChip !== chipId) fail("E_UNSUPPORTED", `mismatch chip ID, expected ${chipId}, found ${imageChip}`);
		const segmentCount = header[1];
		if (segmentCount > MAX_SEGMENTS) fail("E_RANGE", `segment count ${segmentCount} exceeds max ${MAX_SEGMENTS}`);
		if (segmentCount === 0) fail("E_RANGE", "no segments, so no app description");
		sha.update(header);

		let checksumWord = CHECKSUM_INITIAL;
		let offset = HEADER_SIZE;
		let desc: Uint8Array | undefined;
		for (let index = 0; index < segmentCount; index++) {
			const segmentHeader = read(offset, SEGMENT_HEADER_SIZE);
			sha.update(segmentHeader);
			offset += SEGMENT_HEADER_SIZE;
			const dataLen = new DataView(segmentHeader.buffer).getUint32(4, true);
			if (dataLen % 4 !== 0 || dataLen >= SIXTEEN_MB) fail("E_RANGE", `invalid segment length 0x${dataLen.toString(16)} (segment ${index})`);
			fits(offset + dataLen);
			if (index === 0) {
				if (dataLen < APP_DESC_SIZE) fail("E_RANGE", `segment 0 is ${dataLen} bytes, too short for esp_app_desc_t`);
				desc = read(offset, APP_DESC_SIZE);
			}
			for (let at = 0; at < dataLen; at += CHUNK) {
				const data = read(offset + at, Math.min(CHUNK, dataLen - at));
				sha.update(data);
				const words = new DataView(data.buffer);
				for (let w = 0; w < data.length; w += 4) checksumWord ^= words.getUint32(w, true);
			}
			offset += dataLen;
		}

		// process_checksum(): one byte for the checksum, then up to the next 16-byte boundary
		const checksumBlock = read(offset, ((offset + 1 + 15) & ~15) - offset);
		sha.update(checksumBlock);
		const computed = (checksumWord ^ (checksumWord >>> 8) ^ (checksumWord >>> 16) ^ (checksumWord >>> 24)) & 0xff;
		const stored = checksumBlock[checksumBlock.length - 1];
		if (stored !== computed) fail("E_HASH", `checksum 0x${stored.toString(16)} in the image, 0x${computed.toString(16)} computed`);
		offset += checksumBlock.length;
		const digest = new Uint8Array(sha.digest());

		if (header[23] !== 0) {
			const appended = read(offset, HASH_LEN);
			if (appended.some((byte, i) => byte !== digest[i])) fail("E_HASH", "the appended SHA-256 does not match the image");
		}

		const descView = new DataView(desc!.buffer);
		const descMagic = descView.getUint32(0, true);
		if (descMagic !== APP_DESC_MAGIC) fail("E_BAD_MAGIC", `esp_app_desc_t magic 0x${descMagic.toString(16)}, expected 0xabcd5432`);
		return { version: cString(desc!, 16, 32), projectName: cString(desc!, 48, 32), sha256: digest };
	} finally {
		sha.close();
	}
}

/** A char[length] field: up to the first NUL, or all of it. */
function cString(bytes: Uint8Array, offset: number, length: number): string {
	let text = "";
	for (let i = offset; i < offset + length && bytes[i] !== 0; i++) text += String.fromCharCode(bytes[i]);
	return text;
}
