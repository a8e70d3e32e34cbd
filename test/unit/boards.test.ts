/**
 * The board folders (boards/<board>): every layout.json runs in the simulator (`sim init --board
 * NAME` with a factory image, then an update installed, rebooted on trial and confirmed); each
 * board's other files agree with its layout: the ESP-IDF partitions.csv (names, offsets, sizes,
 * OTA and rollback settings), the Zephyr overlay (labels, offsets, sizes), the MCUboot image
 * sectors, and the board manifest's config.sealdrop.board. On boards with mixed sector sizes
 * (STM32F4), every partition lies in sectors of one size, and the agent's largest image with the
 * board's real sectors stays within MCUboot's (swap_scratch.c app_max_size, computed here from
 * mcuboot-image-format.md §D).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import { spawnSync } from "node:child_process";
import { parseBoardConfig } from "../../modules/update/board.js";
import { repoRoot, tempDir, cliOk } from "../helpers/cli.js";
import { makeEspApp } from "../helpers/esp-app.js";

interface Partition { name: string; offset: number; size: number; blockLength?: number }
interface Layout {
	name: string;
	sealdrop: Record<string, unknown> & { installer: string; swap?: string; maxImgSectors?: number; images?: { primary: string; secondary: string }[]; ota?: { apps: string[]; otadata: string } };
	flash: { size: number; blockLength: number; writeAlign: number };
	partitions: Partition[];
}

const DEVICE_BOARDS = ["esp32", "esp32s3", "nucleo_f413zh", "stm32f4_disco", "nucleo_l4a6zg"];
const ZEPHYR_BOARDS = ["nucleo_f413zh", "stm32f4_disco", "nucleo_l4a6zg"];
const K = 1024;
/** The SoCs' flash sectors (reference manuals RM0430, RM0090, RM0351). */
const SECTORS: Record<string, number[]> = {
	nucleo_f413zh: [16, 16, 16, 16, 64, ...Array<number>(11).fill(128)].map((s) => s * K),
	stm32f4_disco: [16, 16, 16, 16, 64, ...Array<number>(7).fill(128)].map((s) => s * K),
	nucleo_l4a6zg: Array<number>(512).fill(2 * K),
};

const boardsDir = path.join(repoRoot, "boards");
const layoutOf = (board: string) => JSON.parse(fs.readFileSync(path.join(boardsDir, board, "layout.json"), "utf8")) as Layout;
const part = (layout: Layout, name: string) => layout.partitions.find((p) => p.name === name) ?? assert.fail(`${layout.name}: no partition ${name}`);

const tmp = tempDir("sealdrop-boards-");
after(() => tmp.cleanup());
const cli = (...args: string[]) => cliOk(tmp.dir, ...args);
const json = (...args: string[]) => JSON.parse(cli(...args, "-f", "json")) as Record<string, unknown>;

/** The sectors [offset, offset + size) covers, each with its size; fails unless both ends are sector boundaries. */
function sectorsOf(board: string, offset: number, size: number): number[] {
	const out: number[] = [];
	let at = 0;
	for (const s of SECTORS[board]) {
		if (at >= offset && at < offset + size) out.push(s);
		at += s;
	}
	assert.equal(out.reduce((a, b) => a + b, 0), size, `${board}: [${offset}, +${size}) is not whole sectors`);
	return out;
}

/**
 * MCUboot swap-using-scratch's largest image for uniform sectors of `sector` bytes, worked from
 * reference §D.1 and swap_scratch.c app_max_size_adjust_to_trailer: up to the trailer, which may
 * share a sector with the image, less padding when that sector holds less than the scratch's
 * trailer. Encrypting builds save two EC256 AES-128 ENC TLVs (113 bytes each).
 */
function mcubootAppMax(slot: number, sector: number, maxImgSectors: number, writeSize: number, maxAlign: number, encrypted: boolean): number {
	const alignUp = (n: number) => Math.ceil(n / maxAlign) * maxAlign;
	const info = (encrypted ? 2 * alignUp(113) : 0) + 4 * maxAlign + alignUp(16);
	const trailer = maxImgSectors * 3 * writeSize + info;
	const trailerOffset = slot - trailer;
	const firstTrailerSectorEnd = slot - (Math.ceil(trailer / sector) - 1) * sector;
	const scratchTrailer = 3 * writeSize + info;
	return trailerOffset - Math.max(0, scratchTrailer - (firstTrailerSectorEnd - trailerOffset));
}

/** The agent's maxImageSize on XS (test/sim/board-limits.ts) for a slot of the board's real geometry. */
function agentMaxImageSize(board: string, slotSize: number, sector: number, writeAlign: number): number {
	const r = spawnSync(path.join(repoRoot, "build", "xs", "release", "sealdrop-xs"), [path.join(repoRoot, "build", "js", "test", "sim", "board-limits.js"), path.join(boardsDir, board, "layout.json"), String(slotSize), String(sector), String(writeAlign)], { encoding: "utf8" });
	assert.equal(r.status, 0, r.stderr);
	return (JSON.parse(r.stdout.trim().split("\n").pop()!) as { maxImageSize: number }).maxImageSize;
}

describe("board folders run in the simulator", () => {
	cli("keygen", "-k", "sign.pem", "-t", "ecdsa-p256");
	for (const board of DEVICE_BOARDS) {
		test(`${board}: sim init --board ${board}, install an update, reboot on trial, confirm`, () => {
			const layout = layoutOf(board);
			const esp = layout.sealdrop.installer === "esp-idf";
			const slotSize = esp ? part(layout, layout.sealdrop.ota!.apps[0]).size : part(layout, layout.sealdrop.images![0].primary).size;
			const hex = (n: number) => `0x${n.toString(16)}`;
			const dir = `dev-${board}`;
			if (esp) fs.writeFileSync(tmp.file(`${board}.factory`), makeEspApp({ version: "1.0.0", segments: [20_000, 4_000], seed: 1 }));
			else {
				fs.writeFileSync(tmp.file(`${board}.app0`), randomBytes(20_000));
				cli("sign", "-k", "sign.pem", "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", hex(slotSize), `${board}.app0`, `${board}.factory`);
			}
			const booted = json("sim", "init", "--dir", dir, "--board", board, "--trust", "sign.pem", "--factory-image", `${board}.factory`);
			assert.equal(booted.board, board);
			assert.equal((booted.running as { version: string } | null)?.version, esp ? "1.0.0" : "1.0.0+0", JSON.stringify(booted));
			cli("sim", "pubkey", "--dir", dir, "-o", `${dir}.pub.pem`);
			if (esp) {
				fs.writeFileSync(tmp.file(`${board}.app1`), makeEspApp({ version: "2.0.0", segments: [30_000, 2_000], seed: 2 }));
				cli("sign", "-k", "sign.pem", "-v", "2.0.0", "-H", "0x200", "--pad-header", "-S", hex(slotSize), "--sealable", `${board}.app1`, `${board}.release`);
			} else {
				fs.writeFileSync(tmp.file(`${board}.app1`), randomBytes(30_000));
				if (layout.sealdrop.installer === "mcuboot-encrypted") {
					cli("sign", "-k", "sign.pem", "-v", "2.0.0", "-H", "0x200", "--pad-header", "-S", hex(slotSize), "--sealable", `${board}.app1`, `${board}.release`);
				} else {
					cli("sign", "-k", "sign.pem", "-v", "2.0.0", "-H", "0x200", "--pad-header", "-S", hex(slotSize), `${board}.app1`, `${board}.inner`);
					cli("wrap", "-k", "sign.pem", "-S", hex(slotSize + 0x1000), `${board}.inner`, `${board}.release`);
				}
			}
			cli("seal", "--device-pub", `${dir}.pub.pem`, "-o", `${board}.sealed`, `${board}.release`);
			assert.equal(json("sim", "install", "--dir", dir, `${board}.sealed`).state, "pending-test");
			const trial = json("sim", "reboot", "--dir", dir).running as { version: string; state: string };
			assert.deepEqual([trial.version, trial.state], [esp ? "2.0.0" : "2.0.0+0", "trial"]);
			assert.equal((json("sim", "confirm", "--dir", dir) as { state: string }).state, "confirmed");
		});
	}
});

describe("the largest image on the STM32F4 boards, whose last sector it shares with the trailer", () => {
	for (const board of ZEPHYR_BOARDS.filter((b) => layoutOf(b).sealdrop.installer === "mcuboot")) {
		test(`${board}: an image of the agent's largest size installs, swaps and confirms; one byte more is refused`, () => {
			const layout = layoutOf(board);
			const slot = part(layout, layout.sealdrop.images![0].primary);
			const sector = slot.blockLength ?? layout.flash.blockLength;
			const largest = agentMaxImageSize(board, slot.size, sector, layout.flash.writeAlign);
			assert.ok(largest > slot.size - sector, `${board}: the image reaches into the trailer's sector (${largest} of ${slot.size})`);
			const dir = `big-${board}`;
			const hex = (n: number) => `0x${n.toString(16)}`;
			fs.writeFileSync(tmp.file(`${dir}.app0`), randomBytes(20_000));
			cli("sign", "-k", "sign.pem", "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", hex(slot.size), `${dir}.app0`, `${dir}.factory`);
			json("sim", "init", "--dir", dir, "--board", board, "--trust", "sign.pem", "--factory-image", `${dir}.factory`);
			cli("sim", "pubkey", "--dir", dir, "-o", `${dir}.pub.pem`);
			/** Signs a release whose stored image is `total` bytes (ECDSA signatures padded to a fixed length) and seals it. imgtool's own check (`signSlot`) agrees for the largest image. */
			const release = (version: string, total: number, signSlot: string[]): string => {
				const overhead = (() => {
					fs.writeFileSync(tmp.file(`${dir}.probe`), new Uint8Array(1000));
					cli("sign", "-k", "sign.pem", "-v", version, "-H", "0x200", "--pad-header", "--pad-sig", ...signSlot, `${dir}.probe`, `${dir}.probe.signed`);
					return fs.statSync(tmp.file(`${dir}.probe.signed`)).size - 1000;
				})();
				fs.writeFileSync(tmp.file(`${dir}.${version}.bin`), randomBytes(total - overhead));
				cli("sign", "-k", "sign.pem", "-v", version, "-H", "0x200", "--pad-header", "--pad-sig", ...signSlot, `${dir}.${version}.bin`, `${dir}.${version}.inner`);
				assert.equal(fs.statSync(tmp.file(`${dir}.${version}.inner`)).size, total);
				cli("wrap", "-k", "sign.pem", "-S", hex(slot.size + 0x1000), `${dir}.${version}.inner`, `${dir}.${version}.release`);
				cli("seal", "--device-pub", `${dir}.pub.pem`, "-o", `${dir}.${version}.sealed`, `${dir}.${version}.release`);
				return `${dir}.${version}.sealed`;
			};
			const tooLarge = spawnSync(process.execPath, [path.join(repoRoot, "bin", "sealdrop.js"), "sim", "install", "--dir", dir, release("3.0.0", largest + 1, ["-S", hex(2 * slot.size)]), "-f", "json"], { cwd: tmp.dir, encoding: "utf8" });
			assert.notEqual(tooLarge.status, 0);
			assert.match(tooLarge.stdout + tooLarge.stderr, /E_TOO_LARGE/);
			assert.equal(json("sim", "install", "--dir", dir, release("2.0.0", largest, ["-S", hex(slot.size), "-M", String(layout.sealdrop.maxImgSectors), "--align", String(layout.flash.writeAlign)])).state, "pending-test");
			const trial = json("sim", "reboot", "--dir", dir).running as { version: string; state: string };
			assert.deepEqual([trial.version, trial.state], ["2.0.0+0", "trial"], "MCUboot's model validated the image and swapped it in");
			assert.equal((json("sim", "confirm", "--dir", dir) as { state: string }).state, "confirmed");
			const after = json("sim", "reboot", "--dir", dir).running as { version: string; state: string };
			assert.deepEqual([after.version, after.state], ["2.0.0+0", "confirmed"]);
		});
	}
});

describe("board files agree with their layout", () => {
	for (const board of DEVICE_BOARDS) {
		test(`${board}: layout.json parses, and the board manifest carries its sealdrop section`, () => {
			const layout = layoutOf(board);
			const config = parseBoardConfig(layout.name, layout.sealdrop);
			for (const name of [config.journal, config.storage, config.keys!, ...(config.images ?? []).flatMap((i) => [i.primary, i.secondary]), ...(config.scratch ? [config.scratch] : []), ...(config.ota ? [config.ota.otadata, ...config.ota.apps] : [])]) part(layout, name);
			const manifest = JSON.parse(fs.readFileSync(path.join(boardsDir, board, "manifest.json"), "utf8")) as { config: { sealdrop: { board: { name: string; sealdrop: unknown } } } };
			assert.deepEqual(manifest.config.sealdrop.board, { name: layout.name, sealdrop: layout.sealdrop });
		});
	}

	for (const board of ["esp32", "esp32s3"]) {
		test(`${board}: partitions.csv is layout.json's table; app rollback on`, () => {
			const layout = layoutOf(board);
			const rows = fs.readFileSync(path.join(boardsDir, board, "sdkconfig", "partitions.csv"), "utf8").split("\n")
				.filter((l) => l.trim() && !l.startsWith("#")).map((l) => l.split(",").map((f) => f.trim()));
			const csv = rows.map(([name, type, subtype, offset, size]) => ({ name, type, subtype, offset: Number(offset), size: Number(size) }));
			const expected = layout.partitions.filter((p) => p.name !== "bootloader" && p.name !== "partition_table");
			assert.deepEqual(csv.map(({ name, offset, size }) => ({ name, offset, size })), expected);
			const byName = new Map(csv.map((r) => [r.name, r]));
			assert.deepEqual([byName.get("otadata")?.type, byName.get("otadata")?.subtype], ["data", "ota"]);
			assert.deepEqual(layout.sealdrop.ota!.apps.map((a) => [byName.get(a)?.type, byName.get(a)?.subtype, byName.get(a)!.offset % 0x10000]), [["app", "ota_0", 0], ["app", "ota_1", 0]]);
			assert.equal(csv.some((r) => r.type === "app" && r.subtype === "factory"), false, "no factory app: rollback goes between the OTA apps");
			assert.equal(byName.get("nvs_keys")?.subtype, "nvs_keys");
			assert.equal(byName.get("nvs")?.subtype, "nvs");
			const end = Math.max(...csv.map((r) => r.offset + r.size));
			assert.ok(end <= layout.flash.size, "the table fits the flash");
			const sdk = fs.readFileSync(path.join(boardsDir, board, "sdkconfig", "sdkconfig.defaults"), "utf8");
			assert.match(sdk, /^CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y$/m);
			assert.match(sdk, /^CONFIG_PARTITION_TABLE_CUSTOM=y$/m);
		});
	}

	for (const board of ZEPHYR_BOARDS) {
		test(`${board}: the overlay's partitions, MCUboot's image sectors and the agent's limit match MCUboot's`, () => {
			const layout = layoutOf(board);
			const overlay = fs.readFileSync(path.join(boardsDir, board, `${board}.overlay`), "utf8");
			const dt = [...overlay.matchAll(/label = "([^"]+)";\s*reg = <0x([0-9a-f]+) 0x([0-9a-f]+)>;/g)].map((m) => ({ name: m[1], offset: parseInt(m[2], 16), size: parseInt(m[3], 16) }));
			assert.ok(dt.length >= 6, "the overlay lists the partitions");
			for (const p of dt) {
				const sectors = sectorsOf(board, p.offset, p.size);
				assert.equal(new Set(sectors).size, 1, `${board}: ${p.name} spans sectors of different sizes`);
			}
			const config = parseBoardConfig(layout.name, layout.sealdrop);
			for (const name of ["mcuboot", "image-0", "image-1", "image-scratch", "storage", config.journal, config.storage, config.keys!]) assert.ok(dt.some((p) => p.name === name), `${board}: no ${name} in the overlay`);
			// the overlay and layout.json list the same partitions, and the simulator erases each in the board's sectors
			assert.deepEqual(layout.partitions.map((p) => p.name).sort(), dt.map((p) => p.name).sort());
			for (const p of layout.partitions) {
				assert.deepEqual({ name: p.name, offset: p.offset, size: p.size }, dt.find((d) => d.name === p.name), `${board}: ${p.name}`);
				assert.equal(p.blockLength ?? layout.flash.blockLength, sectorsOf(board, p.offset, p.size)[0], `${board}: ${p.name} is erased in its sectors`);
			}
			// MCUboot's image sectors: the build configuration and the agent's trailer agree, and cover a slot
			const mcubootConf = fs.readFileSync(path.join(boardsDir, board, "mcuboot.conf"), "utf8");
			assert.equal(Number(/^CONFIG_BOOT_MAX_IMG_SECTORS=(\d+)$/m.exec(mcubootConf)?.[1]), config.maxImgSectors);
			assert.match(mcubootConf, /^CONFIG_BOOT_SWAP_USING_SCRATCH=y$/m);
			// the AES key size MCUboot decrypts with (boot/zephyr/Kconfig: choice BOOT_ENCRYPT_ALG, AES-128 unless
			// CONFIG_BOOT_ENCRYPT_ALG_AES_256) is the one the agent holds images to
			const encrypting = /^CONFIG_BOOT_ENCRYPT_IMAGE=y$/m.test(mcubootConf);
			assert.equal(encrypting, config.installer === "mcuboot-encrypted", `${board}: MCUboot decrypts exactly when the installer is mcuboot-encrypted`);
			if (encrypting) assert.equal(/^CONFIG_BOOT_ENCRYPT_ALG_AES_256=y$/m.test(mcubootConf) ? 256 : 128, config.aesKeyBits, `${board}: AES key size`);
			assert.equal((layout.sealdrop as { aesKeyBits?: number }).aesKeyBits, config.aesKeyBits, `${board}: layout.json says the AES key size itself`);
			const slot = part(layout, config.images![0].primary);
			const sector = sectorsOf(board, slot.offset, slot.size)[0];
			assert.ok(slot.size / sector <= config.maxImgSectors!, "BOOT_MAX_IMG_SECTORS covers a slot");
			assert.ok(part(layout, config.scratch!).size >= sector, "the scratch area holds a sector");
			// the agent's limit with the board's real sectors (what flasharea-zephyr.c reports) is MCUboot's
			// (an encrypting build: within the room its ENC TLVs at their largest take)
			const writeAlign = board === "nucleo_l4a6zg" ? 8 : 1;
			const agentMax = agentMaxImageSize(board, slot.size, sector, writeAlign);
			const encrypted = config.installer === "mcuboot-encrypted";
			const mcubootMax = mcubootAppMax(slot.size, sector, config.maxImgSectors!, writeAlign, config.maxAlign!, encrypted);
			if (encrypted) assert.ok(agentMax <= mcubootMax && mcubootMax - agentMax <= 2 * (136 - 120), `${board}: agent ${agentMax}, MCUboot ${mcubootMax}`);
			else assert.equal(agentMax, mcubootMax, board);
		});
	}
});
