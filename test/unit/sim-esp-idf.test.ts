/**
 * The ESP-IDF side of the esp-idf installer on real XS (the Linux XS host): the app image check
 * (EspAppImageCheck), the otadata model with app rollback (OtaData) and the ESP-IDF bootloader
 * model (host/sim/esp-bootloader.ts), driven through test/sim/esp-image.ts and test/sim/esp-ota.ts
 * on the sim-esp32 board's flash. ESP app images come from test/helpers/esp-app.ts, made in Node the way esptool's
 * elf2image lays them out (header, segments, 16-byte aligned XOR checksum, appended SHA-256), so
 * the device code is checked against an independent writer.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { makeEspApp } from "../helpers/esp-app.js";

const root = fileURLToPath(new URL("../../../..", import.meta.url));
const binary = path.join(root, "build", "xs", "release", "sealdrop-xs");
const programs = path.join(root, "build", "js", "test", "sim");
const layoutFile = path.join(root, "boards", "sim-esp32", "layout.json");
const layout = JSON.parse(fs.readFileSync(layoutFile, "utf8")) as { partitions: { name: string; offset: number; size: number }[] };
const partition = (name: string) => layout.partitions.find((p) => p.name === name)!;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "sealdrop-esp-idf-"));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// ESP app images, written independently of the device code (esp_app_format.h, esp_app_desc.h)

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

let files = 0;
function save(bytes: Buffer, name = "image"): string {
	const file = path.join(scratch, `${name}-${files++}.bin`);
	fs.writeFileSync(file, bytes);
	return file;
}

function runXs(program: string, args: string[], env: Record<string, string> = {}) {
	const r = spawnSync(binary, [path.join(programs, program), ...args], { encoding: "utf8", timeout: 30_000, env: { ...process.env, ...env } });
	const lines = r.stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
	return { status: r.status, lines, stderr: r.stderr };
}

/** Checks each image file on XS; returns one outcome per file. */
function checkImages(files: string[], options: Record<string, unknown> = {}) {
	const r = runXs("esp-image.js", [JSON.stringify({ chunks: [0, 1, 3, 7, 64, 4096], ...options }), ...files]);
	assert.equal(r.status, 0, r.stderr);
	assert.equal(r.lines.length, files.length, r.stderr);
	return r.lines;
}

function checkOne(image: Buffer, options: Record<string, unknown> = {}) {
	return checkImages([save(image)], options)[0];
}

function assertFails(outcome: Record<string, unknown>, code: string, message: RegExp) {
	assert.equal(outcome.ok, false, JSON.stringify(outcome));
	assert.equal(outcome.code, code, JSON.stringify(outcome));
	assert.match(String(outcome.message), message);
	assert.doesNotMatch(String(outcome.message), /\n/, "messages are one line");
}

describe("esp-idf: app image check (EspAppImageCheck on XS)", () => {
	test("accepts good images in any chunking and reports version, project, size and SHA-256", () => {
		const images = [
			makeEspApp({ version: "2.4.1", project: "thermostat" }),
			makeEspApp({ version: "v9", hashAppended: false, segments: [256, 4, 0, 1028] }),
			makeEspApp({ version: "x".repeat(32), segments: [256, ...Array<number>(15).fill(0)] }), // 32-char version: no NUL
			makeEspApp({ version: "7.0.0", segments: [70000, 33000], seed: 7 }),
		];
		const outcomes = checkImages(images.map((image) => save(image)), { announce: true, maxSize: partition("ota_0").size, chipId: 0 });
		outcomes.forEach((o, i) => {
			const image = images[i];
			const hashed = image[23] ? image.subarray(0, image.length - 32) : image;
			assert.equal(o.ok, true, JSON.stringify(o));
			assert.equal(o.size, image.length);
			assert.equal(o.sha256, sha256(hashed));
			assert.equal(o.hashAppended, image[23] === 1);
			if (image[23]) assert.equal(o.sha256, image.subarray(image.length - 32).toString("hex"));
		});
		assert.equal(outcomes[0].version, "2.4.1");
		assert.equal(outcomes[0].projectName, "thermostat");
		assert.equal(outcomes[0].idfVersion, "v5.4");
		assert.equal(outcomes[1].version, "v9");
		assert.equal(outcomes[2].version, "x".repeat(32));
		assert.equal(outcomes[3].version, "7.0.0");
	});

	test("rejects a truncated image with E_TRUNCATED wherever it is cut", () => {
		const image = makeEspApp();
		const cuts = [0, 10, 24, 28, 100, 24 + 8 + 1024 + 4, image.length - 40, image.length - 33, image.length - 1];
		const outcomes = checkImages(cuts.map((n) => save(image.subarray(0, n))));
		const where = [/the image header/, /the image header/, /a segment header/, /a segment header/, /segment data/, /segment header/, /segment data|checksum block/, /checksum block/, /appended SHA-256/];
		outcomes.forEach((o, i) => assertFails(o, "E_TRUNCATED", where[i]));
	});

	test("rejects bad magic bytes with E_BAD_MAGIC (image header, app description, erased flash)", () => {
		const image = makeEspApp();
		image[0] = 0xe8;
		assertFails(checkOne(image), "E_BAD_MAGIC", /first byte 0xe8/);
		assertFails(checkOne(Buffer.alloc(64, 0xff)), "E_BAD_MAGIC", /first byte 0xff/);
		assertFails(checkOne(makeEspApp({ descMagic: 0x12345678 })), "E_BAD_MAGIC", /no app description/);
	});

	test("rejects a bad checksum and a bad SHA-256 with E_HASH", () => {
		assertFails(checkOne(makeEspApp({ checksumDelta: 0x10 })), "E_HASH", /checksum/);
		assertFails(checkOne(makeEspApp({ checksumDelta: 0x01, hashAppended: false })), "E_HASH", /checksum/);
		const badHash = makeEspApp();
		badHash[badHash.length - 1] ^= 1;
		assertFails(checkOne(badHash), "E_HASH", /SHA-256/);
		// two flips of the same bit in segment data cancel out in the XOR checksum: only the hash sees them
		const balanced = makeEspApp();
		balanced[24 + 8 + 300] ^= 4;
		balanced[24 + 8 + 600] ^= 4;
		assertFails(checkOne(balanced), "E_HASH", /SHA-256/);
	});

	test("rejects segment counts and lengths out of bounds (E_RANGE, E_TOO_LARGE) before waiting for their bytes", () => {
		assertFails(checkOne(makeEspApp({ segments: [256, ...Array<number>(16).fill(4)] })), "E_RANGE", /17 segments, at most 16/);
		assertFails(checkOne(makeEspApp({ segmentCount: 0 })), "E_RANGE", /no segments/);
		assertFails(checkOne(makeEspApp({ segments: [128, 64] })), "E_RANGE", /too short for the app description/);
		assertFails(checkOne(makeEspApp({ lengthOverride: { index: 1, value: 2050 } })), "E_RANGE", /invalid length 0x802/);
		assertFails(checkOne(makeEspApp({ lengthOverride: { index: 1, value: 0xfffffffc } })), "E_RANGE", /invalid length 0xfffffffc/);
		const pastEnd = makeEspApp({ lengthOverride: { index: 1, value: 0x100000 } });
		assertFails(checkOne(pastEnd, { announce: true }), "E_RANGE", /needs at least \d+ bytes but \d+ were announced/);
		assertFails(checkOne(pastEnd, { maxSize: 65536 }), "E_TOO_LARGE", /does not fit the partition of 65536 bytes/);
		assertFails(checkOne(pastEnd), "E_TRUNCATED", /segment data/);
		const image = makeEspApp();
		assertFails(checkOne(image, { announce: image.length - 1 }), "E_RANGE", /needs at least \d+ bytes but \d+ were announced/);
		assertFails(checkOne(image, { maxSize: image.length - 1 }), "E_TOO_LARGE", /does not fit the partition/);
		const countPastEnd = makeEspApp({ segmentCount: 16 });
		assertFails(checkOne(countPastEnd, { announce: true }), "E_RANGE", /were announced/);
	});

	test("rejects bytes past the image, a size that disagrees, and another chip's image", () => {
		const image = makeEspApp();
		const longer = Buffer.concat([image, Buffer.alloc(16)]);
		assertFails(checkOne(longer, { announce: true }), "E_RANGE", /past the end/);
		assertFails(checkOne(longer), "E_RANGE", /past the end/);
		assertFails(checkOne(image, { announce: image.length + 16 }), "E_RANGE", new RegExp(`is ${image.length} bytes but ${image.length + 16} were announced`));
		assertFails(checkOne(makeEspApp({ chipId: 9 }), { chipId: 0 }), "E_UNSUPPORTED", /chip id 9/);
		assert.equal(checkOne(makeEspApp({ chipId: 9 })).ok, true, "without chipId any chip is accepted");
	});

	test("damaged images (3,000 random mutations) always end in a stable code, never a crash or a hang", () => {
		const files = [save(makeEspApp({ segments: [512, 100 * 4, 0, 64] })), save(makeEspApp({ hashAppended: false, segments: [300 * 4] }))];
		const r = runXs("esp-image.js", [JSON.stringify({ mutations: 1500, seed: 20260723, announce: true }), ...files]);
		assert.equal(r.status, 0, r.stderr);
		for (const line of r.lines) {
			assert.deepEqual(line.crashes, [], JSON.stringify(line));
			const codes = Object.keys(line.codes as object);
			for (const code of codes) assert.match(code, /^(ok|E_TRUNCATED|E_BAD_MAGIC|E_HASH|E_RANGE|E_UNSUPPORTED|E_TOO_LARGE)$/);
			assert.ok(codes.length >= 4, `a spread of failures: ${codes.join(", ")}`);
		}
	});
});

// ---------------------------------------------------------------------------------------------
// otadata and the bootloader (sim-esp32 flash)

const V1 = makeEspApp({ version: "1.0.0", segments: [4096 + 256, 20000, 8000], seed: 1 });
const V2 = makeEspApp({ version: "2.0.0", segments: [4096 + 256, 22000, 6000], seed: 2 });
const V3 = makeEspApp({ version: "3.0.0", segments: [2048, 30000], seed: 3 });
const [v1, v2, v3] = [V1, V2, V3].map((image, i) => save(image, `v${i + 1}`));

let flashes = 0;
function newFlash(): string {
	return path.join(scratch, `flash-${flashes++}.bin`);
}

function copyFlash(from: string): string {
	const to = newFlash();
	fs.copyFileSync(from, to);
	return to;
}

function ota(flash: string, commands: string[], env: Record<string, string> = {}) {
	return runXs("esp-ota.js", [layoutFile, ...commands], { SEALDROP_LAYOUT: layoutFile, SEALDROP_FLASH: flash, ...env });
}

/** Runs commands that must all succeed; returns their lines. */
function okRun(flash: string, commands: string[]) {
	const r = ota(flash, commands);
	assert.equal(r.status, 0, r.stderr + JSON.stringify(r.lines));
	assert.equal(r.lines.length, commands.length, r.stderr);
	for (const line of r.lines) assert.equal(line.ok, true, JSON.stringify(line));
	return r.lines;
}

const otadataOffset = partition("otadata").offset;

/** The raw entry in sector `sector` of otadata, read from the flash file. */
function rawEntry(flash: string, sector: number) {
	const bytes = Buffer.alloc(32);
	const fd = fs.openSync(flash, "r");
	fs.readSync(fd, bytes, 0, 32, otadataOffset + sector * 4096);
	fs.closeSync(fd);
	return { seq: bytes.readUInt32LE(0), state: bytes.readUInt32LE(24), crc: bytes.readUInt32LE(28) };
}

function patchFlash(flash: string, offset: number, bytes: Buffer) {
	const fd = fs.openSync(flash, "r+");
	fs.writeSync(fd, bytes, 0, bytes.length, offset);
	fs.closeSync(fd);
}

/** A device that booted v1 from ota_0 on blank otadata, with v2 written to ota_1 as the agent would. */
function deviceWithUpdate(): string {
	const flash = newFlash();
	const lines = okRun(flash, [`write:0:${v1}`, "boot", "begin", `write:1:${v2}`]);
	assert.equal(lines[1].version, "1.0.0");
	assert.equal(lines[2].partition, 1);
	return flash;
}

describe("esp-idf: otadata and the ESP-IDF bootloader model (on XS)", () => {
	test("otadata CRC is esp_rom_crc32_le(UINT32_MAX, ota_seq): blank otadata boots ota_0 and records seq 1 VALID", () => {
		const flash = newFlash();
		const lines = okRun(flash, [`write:0:${v1}`, "boot-partition", "boot", "entries", "state:0", "next"]);
		assert.equal(lines[1].partition, 0);
		assert.equal(lines[2].partition, "ota_0");
		assert.equal(lines[2].version, "1.0.0");
		assert.equal(lines[2].sha256, sha256(V1.subarray(0, V1.length - 32)));
		assert.equal(lines[2].state, "VALID", "set_actual_ota_seq writes VALID");
		// values from ESP-IDF's otatool.py: binascii.crc32(struct.pack("<I", seq), 0xFFFFFFFF)
		assert.deepEqual(rawEntry(flash, 0), { seq: 1, state: 2, crc: 0x4743989a });
		assert.deepEqual(rawEntry(flash, 1), { seq: 0xffffffff, state: 0xffffffff, crc: 0xffffffff });
		assert.equal(lines[4].state, "VALID");
		assert.equal(lines[5].next, 1);
	});

	test("blank otadata with ota_0 empty boots ota_1 (seq 2); no image at all is E_NO_IMAGE", () => {
		const flash = newFlash();
		const lines = okRun(flash, [`write:1:${v2}`, "boot"]);
		assert.equal(lines[1].partition, "ota_1");
		assert.deepEqual(rawEntry(flash, 0), { seq: 2, state: 2, crc: 0x55f63774 });
		const none = ota(newFlash(), ["boot"]);
		assert.equal(none.lines[0].code, "E_NO_IMAGE");
	});

	test("update: set boot partition → NEW → boot → PENDING_VERIFY → markValid → VALID, and it stays", () => {
		const flash = deviceWithUpdate();
		const lines = okRun(flash, ["set:1", "state:1", "entries", "boot", "state:1", "next", "valid", "state:1", "boot", "boot"]);
		assert.equal(lines[1].state, "NEW");
		assert.deepEqual(rawEntry(flash, 0).seq, 1, "the old entry is untouched");
		assert.equal(lines[3].partition, "ota_1");
		assert.equal(lines[3].version, "2.0.0");
		assert.equal(lines[3].state, "PENDING_VERIFY");
		assert.equal(lines[5].next, 0);
		assert.equal(lines[7].state, "VALID");
		for (const boot of [lines[8], lines[9]]) {
			assert.equal(boot.partition, "ota_1");
			assert.equal(boot.state, "VALID");
		}
		assert.deepEqual(rawEntry(flash, 1), { seq: 2, state: 2, crc: 0x55f63774 });
		// the next update goes back to ota_0 with seq 3
		const again = okRun(flash, ["boot", "entries", "begin", "entries", `write:0:${v3}`, "set:0", "boot", "valid", "boot"]);
		assert.equal((again[1].entries as { seq: number }[])[0].seq, 1);
		assert.equal(again[2].partition, 0);
		assert.equal((again[3].entries as { seq: number }[])[0].seq, 0xffffffff, "the inactive entry (ota_0, seq 1) is erased before ota_0 is rewritten");
		assert.equal(again[6].version, "3.0.0");
		assert.equal(again[8].state, "VALID");
		assert.equal(rawEntry(flash, 0).seq, 3);
	});

	test("no markValid: the next boot marks it ABORTED and boots the previous app", () => {
		const flash = deviceWithUpdate();
		const lines = okRun(flash, ["set:1", "boot", "boot", "state:1", "last-invalid", "boot"]);
		assert.equal(lines[1].version, "2.0.0");
		assert.equal(lines[2].partition, "ota_0");
		assert.equal(lines[2].version, "1.0.0");
		assert.equal(lines[2].state, "VALID");
		assert.equal(lines[3].state, "ABORTED");
		assert.equal(lines[4].partition, 1, "esp_ota_get_last_invalid_partition names the aborted app");
		assert.equal(lines[5].version, "1.0.0");
	});

	test("markInvalidAndRollback: INVALID, the previous app boots; refused when there is nothing to go back to", () => {
		const flash = deviceWithUpdate();
		const lines = okRun(flash, ["set:1", "boot", "rollback-possible", "invalid", "state:1", "boot"]);
		assert.equal(lines[2].possible, true);
		assert.equal(lines[4].state, "INVALID");
		assert.equal(lines[5].version, "1.0.0");
		const lone = newFlash();
		const r = ota(lone, [`write:0:${v1}`, "boot", "rollback-possible", "ops", "invalid", "valid", "ops"]);
		assert.equal(r.lines[2].possible, false);
		assert.equal(r.lines[4].code, "E_STATE");
		assert.match(String(r.lines[4].message), /rollback is not possible/);
		assert.equal(r.lines[5].ok, true, "markValid on an already VALID entry");
		assert.equal(r.lines[6].operations, r.lines[3].operations, "neither wrote anything");
	});

	test("beginUpdate refuses the running partition and any update while the running app is PENDING_VERIFY", () => {
		const flash = deviceWithUpdate();
		const r = ota(flash, ["set:1", "boot", "begin", "begin:1", "valid", "begin", "invalidate"]);
		assert.equal(r.lines[2].code, "E_STATE");
		assert.match(String(r.lines[2].message), /PENDING_VERIFY/);
		assert.equal(r.lines[3].code, "E_STATE");
		assert.match(String(r.lines[3].message), /ota_1 is the running app partition/);
		assert.equal(r.lines[5].partition, 0);
		assert.equal(r.lines[6].erased, false, "begin already erased the inactive entry");
		assert.equal(rawEntry(flash, 0).seq, 0xffffffff);
	});

	test("a CRC-corrupt entry is ignored: the other entry selects the app", () => {
		const flash = deviceWithUpdate();
		okRun(flash, ["set:1", "boot", "valid"]);
		const entry = rawEntry(flash, 1);
		const crc = Buffer.alloc(4);
		crc.writeUInt32LE((entry.crc ^ 0x00010000) >>> 0);
		patchFlash(flash, otadataOffset + 4096 + 28, crc);
		const lines = okRun(flash, ["boot", "state:1", "boot-partition"]);
		assert.equal(lines[0].partition, "ota_0");
		assert.equal(lines[0].version, "1.0.0");
		assert.equal(lines[1].state, null, "esp_ota_get_state_partition finds no intact entry for ota_1");
		assert.equal(lines[2].partition, 0);
	});

	test("the bootloader verifies the selected image and falls back when it is corrupt; setBootPartition refuses a bad image", () => {
		const flash = deviceWithUpdate();
		const refused = ota(flash, ["erase:1", "ops", "set:1", "ops", `write:1:${v2}`, "set:1"]);
		assert.equal(refused.lines[2].code, "E_BAD_MAGIC");
		assert.equal(refused.lines[3].operations, refused.lines[1].operations, "nothing written for a refused image");
		assert.equal(refused.lines[5].ok, true);
		patchFlash(flash, partition("ota_1").offset + 5000, Buffer.from([0x00, 0x00]));
		const lines = okRun(flash, ["boot", "entries", "boot", "state:1"]);
		assert.equal(lines[0].partition, "ota_0", "the corrupt ota_1 is skipped");
		assert.equal((lines[1].entries as { state: string }[])[1].state, "PENDING_VERIFY", "marked before loading, as in ESP-IDF");
		assert.equal(lines[2].partition, "ota_0");
		assert.equal(lines[3].state, "ABORTED");
		const skip = ota(copyFlash(flash), ["set-skip:1", "state:1", "boot"]);
		assert.equal(skip.lines[1].state, "NEW");
		assert.equal(skip.lines[2].partition, "ota_0", "skip-validate sets it, the bootloader still refuses it");
	});

	test("otadata sequence numbers select slots as ESP-IDF computes them", () => {
		const flash = deviceWithUpdate();
		okRun(flash, ["set:1", "boot", "valid", "boot", "begin", `write:0:${v3}`, "set:0", "boot", "valid"]);
		okRun(flash, ["boot", "begin", `write:1:${v2}`, "set:1", "boot", "valid"]);
		assert.deepEqual([rawEntry(flash, 0).seq, rawEntry(flash, 1).seq], [3, 4]);
		assert.equal(okRun(flash, ["boot"])[0].partition, "ota_1");
	});
});

// ---------------------------------------------------------------------------------------------
// power cuts

interface Sweep {
	cuts: number;
	booted: Record<string, number>;
}

/**
 * Runs `steps` on a copy of `base` once whole, noting which flash operations each step does, then
 * once per operation k with SEALDROP_FLASH_CUT=k (the process dies at the cut, exit 99), followed
 * by two boots. Both must start an app whose image verifies (the bootloader model checks it), and
 * it must be the last app confirmed before the step that was cut: `confirmed` at first, then the
 * version booted before each "valid" step once that step has completed.
 */
function cutSweep(base: string, steps: string[], confirmed: string): Sweep {
	const whole = okRun(copyFlash(base), steps.flatMap((step) => [step, "ops"]));
	const ends = whole.filter((line) => line.cmd === "ops").map((line) => line.operations as number);
	const expected: string[] = []; // the confirmed version while step i runs
	let booted = confirmed;
	steps.forEach((step, i) => {
		expected.push(confirmed);
		const line = whole[2 * i];
		if (step === "boot") booted = line.version as string;
		if (step === "valid") confirmed = booted;
	});
	const sweep: Sweep = { cuts: ends[ends.length - 1], booted: {} };
	for (let k = 1; k <= sweep.cuts; k++) {
		const step = ends.findIndex((end) => k <= end);
		const flash = copyFlash(base);
		const cut = ota(flash, steps, { SEALDROP_FLASH_CUT: String(k) });
		assert.equal(cut.status, 99, `cut ${k} (${steps[step]}): ${cut.stderr}`);
		assert.match(cut.stderr, new RegExp(`power cut at flash operation ${k} `));
		const r = ota(flash, ["boot", "boot"]);
		assert.equal(r.status, 0, `after cut ${k} (${steps[step]}): ${r.stderr}`);
		for (const boot of r.lines) {
			assert.equal(boot.ok, true, `after cut ${k} (${steps[step]}): ${JSON.stringify(boot)}`);
			assert.equal(boot.version, expected[step], `after cut ${k} (${steps[step]}): booted ${String(boot.version)}`);
		}
		sweep.booted[expected[step]] = (sweep.booted[expected[step]] ?? 0) + 1;
		fs.rmSync(flash);
	}
	return sweep;
}

describe("esp-idf: a power cut at every flash operation still boots a valid app, old or new", () => {
	test("two updates: set, first boot (NEW → PENDING_VERIFY), markValid; begin, rewrite ota_0, set, boot, markValid", () => {
		const steps = ["set:1", "boot", "valid", "boot", "begin", `write:0:${v3}`, "set:0", "boot", "valid", "boot"];
		const sweep = cutSweep(deviceWithUpdate(), steps, "1.0.0");
		// set, boot, valid: erase + write each; begin: 1 erase (the inactive entry); the image: 1 erase + 8 writes
		assert.equal(sweep.cuts, 6 + 1 + 9 + 6);
		assert.deepEqual(sweep.booted, { "1.0.0": 6, "2.0.0": 16 });
	});

	test("an update never confirmed, and the boot that aborts it", () => {
		const sweep = cutSweep(deviceWithUpdate(), ["set:1", "boot", "boot"], "1.0.0");
		assert.deepEqual(sweep, { cuts: 6, booted: { "1.0.0": 6 } });
	});

	test("markInvalidAndRollback", () => {
		const base = deviceWithUpdate();
		okRun(base, ["set:1", "boot"]);
		const sweep = cutSweep(base, ["invalid", "boot"], "1.0.0");
		assert.deepEqual(sweep, { cuts: 2, booted: { "1.0.0": 2 } });
	});

	test("blank otadata: the first boot writing entry 0", () => {
		const base = newFlash();
		okRun(base, [`write:0:${v1}`]);
		const sweep = cutSweep(base, ["boot"], "1.0.0");
		assert.deepEqual(sweep, { cuts: 2, booted: { "1.0.0": 2 } });
	});
});
