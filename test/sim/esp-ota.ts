/**
 * XS program for test/unit/sim-esp-idf.test.ts: drives the otadata model (sealdrop/update/esp-otadata)
 * and the ESP-IDF bootloader model (host/sim/esp-bootloader.ts) on the simulator's flash, one
 * command after the other, printing one JSON line per command. The flash comes from the
 * environment (SEALDROP_LAYOUT, SEALDROP_FLASH, and SEALDROP_FLASH_CUT for power cuts).
 *
 *   sealdrop-xs esp-ota.js LAYOUT_JSON COMMAND...
 *   write:N:FILE   erase the blocks an image needs in app partition N and write FILE there
 *   erase:N        erase app partition N
 *   begin:N        the otadata half of esp_ota_begin (begin: the next update partition)
 *   invalidate     esp_ota_invalidate_inactive_ota_data_slot
 *   set:N          esp_ota_set_boot_partition (set-skip:N: ..._skip_validate)
 *   valid          esp_ota_mark_app_valid_cancel_rollback
 *   invalid        esp_ota_mark_app_invalid_rollback
 *   boot           the bootloader; later commands run "in" the app it started
 *   state:N  next  boot-partition  rollback-possible  last-invalid  entries  ops
 *
 * Lines: { cmd, ok: true, ... } or { cmd, ok: false, code, message }. A SealdropError does not
 * stop the program (the test checks the code); any other error exits 1.
 */
import Flash from "sealdrop/native/flash";
import { alignUp, toHex } from "sealdrop/image";
import { parseBoardConfig } from "sealdrop/update/board";
import { OtaData, OtaImgState, type OtaLayout } from "sealdrop/update/esp-otadata";
import { argv, readFile } from "sealdrop/xs-host";
import { runCommands } from "./commands.js";
import { bootEspIdf } from "../../host/sim/esp-bootloader.js";

const STATE_NAMES = new Map<number, string>(Object.entries(OtaImgState).map(([name, value]) => [value, name]));

function stateName(state: number | undefined): string | null {
	return state === undefined ? null : STATE_NAMES.get(state) ?? `0x${state.toString(16)}`;
}

function loadLayout(path: string): OtaLayout {
	const layout = JSON.parse(new TextDecoder().decode(readFile(path))) as { sealdrop?: unknown };
	const config = parseBoardConfig("sim-esp32", layout.sealdrop);
	if (!config.ota) throw new Error(`${path}: not an esp-idf board`);
	return config.ota;
}

/** What the agent's slot writer will do, simply: erase what the image needs, write it in 4 KiB pieces. */
function writeImage(name: string, image: Uint8Array): void {
	const flash = Flash.open({ path: name });
	try {
		const { blockLength, writeAlign, eraseValue } = flash.status();
		flash.eraseBlock(0, Math.max(1, alignUp(image.length, blockLength) / blockLength));
		for (let at = 0; at < image.length; at += 4096) {
			const piece = image.subarray(at, at + 4096);
			const padded = new Uint8Array(alignUp(piece.length, writeAlign)).fill(eraseValue);
			padded.set(piece);
			flash.write(padded, at);
		}
	} finally {
		flash.close();
	}
}

function eraseApp(name: string): void {
	const flash = Flash.open({ path: name });
	try {
		flash.eraseBlock(0, flash.status().blocks);
	} finally {
		flash.close();
	}
}

const layout = loadLayout(argv[1]);
let running: number | undefined; // set by "boot": the app the bootloader started

function withOtaData<T>(fn: (ota: OtaData) => T): T {
	const ota = new OtaData(layout, { running });
	try {
		return fn(ota);
	} finally {
		ota.close();
	}
}

function index(text: string): number {
	return Number(text);
}

function run(command: string): Record<string, unknown> {
	const [verb, arg, file] = command.split(":");
	switch (verb) {
		case "write":
			writeImage(layout.apps[index(arg)], readFile(file));
			return {};
		case "erase":
			eraseApp(layout.apps[index(arg)]);
			return {};
		case "begin":
			return { partition: withOtaData((ota) => (arg === undefined ? ota.beginUpdate() : ota.beginUpdate(index(arg)))) };
		case "invalidate":
			return { erased: withOtaData((ota) => ota.invalidateInactiveEntry()) };
		case "set":
			withOtaData((ota) => ota.setBootPartition(index(arg)));
			return {};
		case "set-skip":
			withOtaData((ota) => ota.setBootPartition(index(arg), { skipValidate: true }));
			return {};
		case "valid":
			withOtaData((ota) => ota.markValid());
			return {};
		case "invalid":
			withOtaData((ota) => ota.markInvalidAndRollback());
			return {};
		case "boot": {
			const report = bootEspIdf(layout);
			running = report.index;
			return { ...report, state: stateName(report.state) };
		}
		case "state":
			return { state: stateName(withOtaData((ota) => ota.stateOf(index(arg)))) };
		case "next":
			return { next: withOtaData((ota) => ota.nextUpdatePartition()) };
		case "boot-partition":
			return { partition: withOtaData((ota) => ota.bootPartition()) };
		case "rollback-possible":
			return { possible: withOtaData((ota) => ota.rollbackPossible()) };
		case "last-invalid":
			return { partition: withOtaData((ota) => ota.lastInvalidPartition()) };
		case "entries":
			return {
				entries: withOtaData((ota) => ota.readEntries()).map((e) => ({ seq: e.seq, state: stateName(e.state), crc: e.crc, label: toHex(e.label) })),
			};
		case "ops":
			return { operations: Flash.operations };
		default:
			throw new Error(`unknown command ${command}`);
	}
}

runCommands(argv.slice(2), run);
