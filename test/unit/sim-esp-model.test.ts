/**
 * The ESP-IDF bootloader model (host/sim/esp-bootloader.ts, host/sim/esp/) against bytes written
 * here by hand from ESP-IDF's formats, with no agent code in the way: otadata entries laid out as
 * esp_ota_select_entry_t with their CRC from zlib (esp_rom_crc32_le(UINT32_MAX, ota_seq) is
 * zlib's crc32 started at 0xFFFFFFFF, as ESP-IDF's otatool.py computes it), and app images from
 * esp_app_format.h as esptool lays them out. sim-esp-idf.test.ts drives the model through the
 * agent's otadata code; this file makes sure the model's own reading is right on its own.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { makeEspApp } from "../helpers/esp-app.js";

const root = fileURLToPath(new URL("../../../..", import.meta.url));
const binary = path.join(root, "build", "xs", "release", "sealdrop-xs");
const program = path.join(root, "build", "js", "test", "sim", "esp-model.js");
const layoutFile = path.join(root, "boards", "sim-esp32", "layout.json");
const layout = JSON.parse(fs.readFileSync(layoutFile, "utf8")) as {
	flash: { size: number };
	partitions: { name: string; offset: number; size: number }[];
	sealdrop: { ota: { otadata: string; apps: string[] } };
};
const offsetOf = (name: string) => layout.partitions.find((p) => p.name === name)!.offset;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "sealdrop-esp-model-"));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

// esp_ota_img_states_t
const NEW = 0, PENDING_VERIFY = 1, VALID = 2, INVALID = 3, ABORTED = 4, UNDEFINED = 0xffffffff;
const ERASED = 0xffffffff;

/** esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4). */
function seqCrc(seq: number): number {
	const bytes = Buffer.alloc(4);
	bytes.writeUInt32LE(seq);
	return zlib.crc32(bytes, 0xffffffff);
}

/** esp_ota_select_entry_t { ota_seq; seq_label[20]; ota_state; crc; }, little-endian, label erased. */
function entry(seq: number, state: number, crc = seqCrc(seq)): Buffer {
	const bytes = Buffer.alloc(32, 0xff);
	bytes.writeUInt32LE(seq, 0);
	bytes.writeUInt32LE(state, 24);
	bytes.writeUInt32LE(crc, 28);
	return bytes;
}

const V1 = makeEspApp({ version: "1.0.0", project: "one", segments: [512, 4000], seed: 11 });
const V2 = makeEspApp({ version: "2.0.0", project: "two", segments: [1024, 3000, 8], seed: 12 });

let flashes = 0;
/** A whole erased flash with these partitions written (otadata entry i goes to sector i). */
function flashWith(contents: { ota0?: Buffer; ota1?: Buffer; entries?: (Buffer | undefined)[] }): string {
	const bytes = Buffer.alloc(layout.flash.size, 0xff);
	if (contents.ota0) contents.ota0.copy(bytes, offsetOf("ota_0"));
	if (contents.ota1) contents.ota1.copy(bytes, offsetOf("ota_1"));
	contents.entries?.forEach((e, i) => e?.copy(bytes, offsetOf("otadata") + i * 4096));
	const file = path.join(scratch, `flash-${flashes++}.bin`);
	fs.writeFileSync(file, bytes);
	return file;
}

/** The two otadata entries as the flash file holds them after the model ran. */
function entries(flash: string) {
	const bytes = fs.readFileSync(flash);
	return [0, 1].map((i) => {
		const at = offsetOf("otadata") + i * 4096;
		return { seq: bytes.readUInt32LE(at), state: bytes.readUInt32LE(at + 24), crc: bytes.readUInt32LE(at + 28) };
	});
}

function model(flash: string, commands: string[]) {
	const r = spawnSync(binary, [program, JSON.stringify(layout.sealdrop.ota), ...commands], {
		encoding: "utf8", timeout: 30_000, env: { ...process.env, SEALDROP_LAYOUT: layoutFile, SEALDROP_FLASH: flash },
	});
	assert.equal(r.status, 0, r.stderr + r.stdout);
	const lines = r.stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
	assert.equal(lines.length, commands.length, r.stdout);
	return lines;
}

function boot(flash: string) {
	return model(flash, ["boot"])[0];
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

describe("ESP-IDF bootloader model: otadata written by hand", () => {
	test("the CRC is over ota_seq alone, from 0xFFFFFFFF (the values ESP-IDF's otatool computes)", () => {
		assert.equal(seqCrc(1), 0x4743989a);
		assert.equal(seqCrc(2), 0x55f63774);
	});

	test("blank otadata: ota_0 boots and entry 0 becomes { seq 1, VALID }; entry 1 stays erased", () => {
		const flash = flashWith({ ota0: V1, ota1: V2 });
		const r = boot(flash);
		assert.equal(r.partition, "ota_0");
		assert.equal(r.version, "1.0.0");
		assert.equal(r.projectName, "one");
		assert.equal(r.sha256, sha256(V1.subarray(0, V1.length - 32)));
		assert.deepEqual(entries(flash), [{ seq: 1, state: VALID, crc: 0x4743989a }, { seq: ERASED, state: ERASED, crc: ERASED }]);
	});

	test("the valid entry with the highest seq selects slot (seq - 1) % 2", () => {
		for (const [seq0, seq1, slot] of [[1, 2, 1], [3, 2, 0], [4, 3, 1], [2, 2, 1], [5, 6, 1], [7, 6, 0]]) {
			const flash = flashWith({ ota0: V1, ota1: V2, entries: [entry(seq0, VALID), entry(seq1, VALID)] });
			const r = boot(flash);
			assert.equal(r.index, slot, `seq ${seq0} / ${seq1}`);
			assert.equal(r.state, VALID);
			assert.deepEqual(entries(flash), [{ seq: seq0, state: VALID, crc: seqCrc(seq0) }, { seq: seq1, state: VALID, crc: seqCrc(seq1) }], "nothing rewritten");
		}
	});

	test("NEW becomes PENDING_VERIFY as it boots; PENDING_VERIFY found at boot becomes ABORTED and the other app boots", () => {
		const flash = flashWith({ ota0: V1, ota1: V2, entries: [entry(1, VALID), entry(2, NEW)] });
		const first = boot(flash);
		assert.equal(first.partition, "ota_1");
		assert.equal(first.state, PENDING_VERIFY);
		assert.deepEqual(entries(flash)[1], { seq: 2, state: PENDING_VERIFY, crc: seqCrc(2) });
		const second = boot(flash);
		assert.equal(second.partition, "ota_0");
		assert.equal(second.state, VALID);
		assert.deepEqual(entries(flash), [{ seq: 1, state: VALID, crc: seqCrc(1) }, { seq: 2, state: ABORTED, crc: seqCrc(2) }]);
	});

	test("an entry with a wrong CRC, INVALID or ABORTED selects nothing; UNDEFINED (no rollback tracking) does", () => {
		for (const [e1, slot] of [[entry(2, VALID, seqCrc(2) ^ 1), 0], [entry(2, INVALID), 0], [entry(2, ABORTED), 0], [entry(2, UNDEFINED), 1]] as const) {
			const flash = flashWith({ ota0: V1, ota1: V2, entries: [entry(1, VALID), e1] });
			assert.equal(boot(flash).index, slot, `entry 1 state 0x${e1.readUInt32LE(24).toString(16)}`);
			assert.equal(entries(flash)[0].seq, 1, "not blank: entry 0 is not rewritten");
		}
	});

	test("blank means both entries invalid and neither intact: only then does the boot rewrite entry 0", () => {
		// a torn entry that is not INVALID/ABORTED is no selection, but otadata is not blank either
		const torn = flashWith({ ota0: V1, ota1: V2, entries: [entry(2, VALID, 0x12345678)] });
		assert.equal(boot(torn).partition, "ota_0");
		assert.deepEqual(entries(torn)[0], { seq: 2, state: VALID, crc: 0x12345678 });
		// an ABORTED entry with a wrong CRC and an erased one: blank
		const blank = flashWith({ ota0: V1, ota1: V2, entries: [entry(2, ABORTED, 0x12345678)] });
		assert.equal(boot(blank).partition, "ota_0");
		assert.deepEqual(entries(blank)[0], { seq: 1, state: VALID, crc: 0x4743989a });
	});

	test("every entry unusable but intact (ABORTED): ota_0 boots and otadata is left alone", () => {
		const flash = flashWith({ ota0: V1, ota1: V2, entries: [entry(1, ABORTED)] });
		assert.equal(boot(flash).partition, "ota_0");
		assert.deepEqual(entries(flash)[0], { seq: 1, state: ABORTED, crc: seqCrc(1) });
	});

	test("the selected slot's image does not verify: the bootloader falls back to the other slot", () => {
		const broken = Buffer.from(V2);
		broken[24 + 8 + 600] ^= 0x40; // segment data: the checksum and the hash both disagree now
		const flash = flashWith({ ota0: V1, ota1: broken, entries: [entry(1, VALID), entry(2, VALID)] });
		assert.equal(boot(flash).partition, "ota_0");
		const none = flashWith({ entries: [entry(1, VALID)] });
		assert.deepEqual(model(none, ["boot"])[0], { cmd: "boot", ok: false, code: "E_NO_IMAGE" });
	});
});

// ---------------------------------------------------------------------------------------------
// app images

/**
 * The smallest app image, byte by byte (esp_app_format.h, esp_app_desc.h): a 24-byte header, one
 * 256-byte segment holding esp_app_desc_t, then the 16-byte block whose last byte is the checksum.
 * 24 + 8 + 256 = 288 bytes, so the block is bytes 288..303 and the image is 304 bytes; no hash.
 */
function handImage(): Buffer {
	const header = Buffer.from([
		0xe9, 0x01, 0x02, 0x20, // magic, segment_count 1, spi_mode DIO, 4 MB / 40 MHz
		0x00, 0x10, 0x08, 0x40, // entry_addr 0x40081000
		0xee, 0x00, 0x00, 0x00, // wp_pin, spi_pin_drv
		0x00, 0x00, 0x00, 0x00, 0x00, // chip_id ESP32, min_chip_rev, min_chip_rev_full
		0x8f, 0x01, 0x00, 0x00, 0x00, 0x00, // max_chip_rev_full 399, reserved
		0x00, // hash_appended
	]);
	const segment = Buffer.from([0x20, 0x00, 0x40, 0x3f, 0x00, 0x01, 0x00, 0x00]); // load_addr, data_len 256
	const desc = Buffer.alloc(256);
	Buffer.from([0x32, 0x54, 0xcd, 0xab]).copy(desc, 0); // ESP_APP_DESC_MAGIC_WORD
	desc.write("1.2.3", 16, "latin1");
	desc.write("hand", 48, "latin1");
	const block = Buffer.alloc(16);
	// 0xEF ^ the magic's bytes ^ "1.2.3" ^ "hand", worked out once by hand
	block[15] = 0xdc;
	return Buffer.concat([header, segment, desc, block]);
}

function verify(image: Buffer) {
	return model(flashWith({ ota0: image }), ["verify:0"])[0];
}

describe("ESP-IDF bootloader model: app images written by hand", () => {
	test("the hand-made image verifies, with its checksum in the last byte of the 16-byte block", () => {
		const image = handImage();
		assert.equal(image.length, 304);
		const r = verify(image);
		assert.deepEqual(r, { cmd: "verify:0", ok: true, version: "1.2.3", projectName: "hand", sha256: sha256(image) });
		for (const at of [303, 24 + 8 + 20, 24 + 8 + 255]) { // the checksum byte, segment data
			const bad = Buffer.from(image);
			bad[at] ^= 0x01;
			assert.equal(verify(bad).code, "E_HASH", `byte ${at} changed`);
		}
	});

	test("esptool-style images verify; the appended SHA-256 covers everything up to it", () => {
		for (const image of [V1, V2, makeEspApp({ hashAppended: false, segments: [256, 4, 0, 1028] })]) {
			const hashed = image[23] ? image.subarray(0, image.length - 32) : image;
			assert.equal(verify(image).sha256, sha256(hashed));
		}
		const badHash = Buffer.from(V1);
		badHash[badHash.length - 1] ^= 1;
		assert.equal(verify(badHash).code, "E_HASH");
	});

	test("refusals: header magic, chip, segment count and length, app description, partition size", () => {
		const header = (at: number, value: number) => {
			const image = handImage();
			image[at] = value;
			return image;
		};
		assert.equal(verify(header(0, 0xe8)).code, "E_BAD_MAGIC");
		assert.equal(verify(Buffer.alloc(0)).code, "E_BAD_MAGIC", "erased partition");
		assert.equal(verify(header(12, 0x05)).code, "E_UNSUPPORTED", "another chip's image");
		assert.equal(verify(header(1, 17)).code, "E_RANGE", "more than ESP_IMAGE_MAX_SEGMENTS");
		assert.equal(verify(header(1, 0)).code, "E_RANGE", "no segment, no app description");
		assert.equal(verify(header(24 + 4, 0x02)).code, "E_RANGE", "data_len 0x102 is not a multiple of 4");
		assert.equal(verify(header(24 + 4 + 3, 0x01)).code, "E_RANGE", "data_len 16 MiB");
		assert.equal(verify(header(24 + 4 + 2, 0x1f)).code, "E_TOO_LARGE", "data_len 0x1f0100 runs past the 0x1e0000-byte partition");
		assert.equal(verify(makeEspApp({ segments: [128, 64] })).code, "E_RANGE", "segment 0 shorter than esp_app_desc_t");
		assert.equal(verify(makeEspApp({ descMagic: 0x12345678 })).code, "E_BAD_MAGIC");
	});
});
