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

interface Partition { name: string; offset: number; size: number }
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

/** MCUboot swap-using-scratch's largest image for uniform sectors of `sector` bytes (§D.1; swap_scratch.c). */
function mcubootAppMax(slot: number, sector: number, maxImgSectors: number, writeSize: number, maxAlign: number, encrypted: boolean): number {
	const enc = encrypted ? 2 * Math.ceil(113 / maxAlign) * maxAlign : 0; // MCUBOOT_SWAP_SAVE_ENCTLV
	const info = enc + 4 * maxAlign + Math.ceil(16 / maxAlign) * maxAlign;
	const trailer = maxImgSectors * 3 * Math.max(writeSize, 1) + info;
	return slot - Math.ceil(trailer / sector) * sector;
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
			assert.ok(dt.length >= 7, "the overlay lists the partitions");
			for (const p of dt) {
				const sectors = sectorsOf(board, p.offset, p.size);
				assert.equal(new Set(sectors).size, 1, `${board}: ${p.name} spans sectors of different sizes`);
			}
			for (const name of ["mcuboot", "image-0", "image-1", "image-scratch", "storage", "sd-journal", "sd-records", "sd-keys"]) assert.ok(dt.some((p) => p.name === name), `${board}: no ${name} in the overlay`);
			// every partition of layout.json the agent or MCUboot opens is the overlay's, exactly
			const config = parseBoardConfig(layout.name, layout.sealdrop);
			for (const name of [config.journal, config.storage, config.keys!, config.images![0].primary, config.images![0].secondary, config.scratch!]) {
				assert.deepEqual(part(layout, name), dt.find((p) => p.name === name), `${board}: ${name}`);
				// the simulator's blocks divide the board's sectors, so each real erase is whole blocks in the simulator
				assert.equal(sectorsOf(board, part(layout, name).offset, part(layout, name).size)[0] % layout.flash.blockLength, 0);
			}
			// what layout.json leaves out is in its "bootloader" block, which nothing opens
			for (const p of dt.filter((d) => !layout.partitions.some((l) => l.name === d.name))) {
				const boot = part(layout, "bootloader");
				assert.ok(p.offset >= boot.offset && p.offset + p.size <= boot.offset + boot.size, `${board}: ${p.name} outside the layout`);
			}
			// MCUboot's image sectors: the build configuration and the agent's trailer agree, and cover a slot
			const mcubootConf = fs.readFileSync(path.join(boardsDir, board, "mcuboot.conf"), "utf8");
			assert.equal(Number(/^CONFIG_BOOT_MAX_IMG_SECTORS=(\d+)$/m.exec(mcubootConf)?.[1]), config.maxImgSectors);
			assert.match(mcubootConf, /^CONFIG_BOOT_SWAP_USING_SCRATCH=y$/m);
			const slot = part(layout, config.images![0].primary);
			const sector = sectorsOf(board, slot.offset, slot.size)[0];
			assert.ok(slot.size / sector <= config.maxImgSectors!, "BOOT_MAX_IMG_SECTORS covers a slot");
			assert.ok(part(layout, config.scratch!).size >= sector, "the scratch area holds a sector");
			// the agent's limit with the board's real sectors (what flasharea-zephyr.c reports) stays within MCUboot's
			const writeAlign = board === "nucleo_l4a6zg" ? 8 : 1;
			const agentMax = agentMaxImageSize(board, slot.size, sector, writeAlign);
			const mcubootMax = mcubootAppMax(slot.size, sector, config.maxImgSectors!, writeAlign, config.maxAlign!, config.installer === "mcuboot-encrypted");
			assert.ok(agentMax <= mcubootMax, `${board}: agent allows ${agentMax} > MCUboot's ${mcubootMax}`);
			assert.ok(agentMax >= 0);
		});
	}
});
