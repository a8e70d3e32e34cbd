/**
 * The device side of test/unit/sim-mcuboot.test.ts, run on the Linux XS host:
 *
 *   SEALDROP_LAYOUT=L SEALDROP_FLASH=F sealdrop-xs --state DIR build/js/test/sim/mcuboot-boot.js L COMMAND...
 *
 * L is the board layout JSON (its "sealdrop" section is the board config). Commands run in order:
 *   install PARTITION FILE    erase the partition, write the file's bytes at its start
 *   pending IMAGE test|perm   what boot_set_pending_multi writes to the secondary trailer (§D.4)
 *   confirm IMAGE             what boot_set_confirmed_multi writes to the primary trailer
 *   import-key p256|x25519 FILE  the device key (a raw 32-byte private key), unless there is one
 *   aes256                    later boots model an MCUBOOT_AES_256 build (AES-128 otherwise)
 *   downgrade-prevention security-counter|version|off   for later boots (security-counter by default)
 *   boot KEYFILE              run the MCUboot model, trusting the raw public key in KEYFILE; prints
 *                             one JSON line {"report": BootReport, "operations": flash ops}
 *   dump PARTITION FILE       write the partition's bytes to FILE (to look at the flash between
 *                             two boots run by one process: a reset is just another boot)
 * The trailer bytes are written here from sealdrop/image's trailer layout, independently of the
 * model's own trailer code, as the update agent (or mcumgr) would write them.
 */
import Flash from "sealdrop/native/flash";
import DeviceKey from "sealdrop/native/device-key";
import { alignUp, bootMagic, BOOT_MAGIC_SIZE, equalBytes, fail, FLAG_SET, SwapType, trailerLayout, type TrailerLayout } from "sealdrop/image";
import { parseBoardConfig, type BoardConfig } from "sealdrop/update/board";
import { argv, exit, readFile, startDirectory, writeFile } from "sealdrop/xs-host";
import { mcubootBoot } from "../../host/sim/mcuboot.js";

const absolute = (path: string) => (path.startsWith("/") ? path : `${startDirectory}/${path}`);
const file = (path: string) => readFile(absolute(path));

const layoutJson = JSON.parse(new TextDecoder().decode(file(argv[1]))) as { name: string; sealdrop: unknown };
const board: BoardConfig = parseBoardConfig(layoutJson.name, layoutJson.sealdrop);
const maxAlign = board.maxAlign ?? 8;
let keyBits: 128 | 256 = 128;
let downgradePrevention: "security-counter" | "version" | "off" = "security-counter";

function withPartition<T>(name: string, fn: (flash: Flash) => T): T {
	const flash = Flash.open({ path: name });
	try {
		return fn(flash);
	} finally {
		flash.close();
	}
}

/** A trailer field write as bootutil's boot_write_trailer does it: padded with erased bytes to the write size. */
function writeField(flash: Flash, offset: number, value: Uint8Array): void {
	const { writeAlign, eraseValue } = flash.status();
	const block = new Uint8Array(alignUp(value.length, writeAlign)).fill(eraseValue);
	block.set(value);
	flash.write(block, offset);
}

function writeMagic(flash: Flash, layout: TrailerLayout): void {
	const { eraseValue } = flash.status();
	const block = new Uint8Array(layout.slotSize - layout.magicBlockOffset).fill(eraseValue);
	block.set(bootMagic(maxAlign), block.length - BOOT_MAGIC_SIZE);
	flash.write(block, layout.magicBlockOffset);
}

function trailerOf(flash: Flash): { layout: TrailerLayout; magic: "good" | "unset" | "bad"; imageOk: number } {
	const { size, eraseValue } = flash.status();
	const layout = trailerLayout({ slotSize: size, maxAlign });
	const magic = new Uint8Array(flash.read(BOOT_MAGIC_SIZE, layout.magicOffset));
	const state = magic.every((b) => b === eraseValue) ? "unset" : equalBytes(magic, layout.magic) ? "good" : "bad";
	return { layout, magic: state, imageOk: new Uint8Array(flash.read(1, layout.imageOkOffset))[0] };
}

const commands: Record<string, { arity: number; run: (args: string[]) => void }> = {
	install: {
		arity: 2,
		run: ([partition, path]) => withPartition(partition, (flash) => {
			const { blocks, writeAlign, eraseValue } = flash.status();
			const bytes = file(path);
			const padded = new Uint8Array(alignUp(bytes.length, writeAlign)).fill(eraseValue);
			padded.set(bytes);
			flash.eraseBlock(0, blocks);
			flash.write(padded, 0);
		}),
	},
	pending: {
		arity: 2,
		run: ([image, kind]) => withPartition(board.images![Number(image)].secondary, (flash) => {
			const { layout, magic } = trailerOf(flash);
			if (magic !== "unset") fail("E_STATE", `secondary trailer magic is ${magic}: already pending or bad`);
			const permanent = kind === "perm";
			writeMagic(flash, layout);
			if (permanent) writeField(flash, layout.imageOkOffset, Uint8Array.of(FLAG_SET));
			writeField(flash, layout.swapInfoOffset, Uint8Array.of((Number(image) << 4) | (permanent ? SwapType.PERM : SwapType.TEST)));
		}),
	},
	confirm: {
		arity: 1,
		run: ([image]) => withPartition(board.images![Number(image)].primary, (flash) => {
			const { layout, magic, imageOk } = trailerOf(flash);
			if (magic === "good" && imageOk === flash.status().eraseValue) writeField(flash, layout.imageOkOffset, Uint8Array.of(FLAG_SET));
		}),
	},
	"import-key": {
		arity: 2,
		run: ([kind, path]) => {
			const slot = board.deviceKeySlot ?? 0;
			if (!DeviceKey.exists({ slot })) DeviceKey.import(kind as "p256" | "x25519", file(path), { slot }).close();
		},
	},
	dump: {
		arity: 2,
		run: ([partition, path]) => withPartition(partition, (flash) => {
			writeFile(absolute(path), new Uint8Array(flash.read(flash.status().size, 0)));
		}),
	},
	"downgrade-prevention": {
		arity: 1,
		run: ([value]) => {
			if (value !== "security-counter" && value !== "version" && value !== "off") fail("E_USAGE", `downgrade-prevention ${value}?`);
			downgradePrevention = value;
		},
	},
	aes256: {
		arity: 0,
		run: () => {
			keyBits = 256;
		},
	},
	boot: {
		arity: 1,
		run: ([keyFile]) => {
			const before = Flash.operations;
			const encryption = board.installer === "mcuboot-encrypted" ? { keyBits } : false;
			const report = mcubootBoot({ board, trust: [{ publicKey: file(keyFile) }], encryption, downgradePrevention });
			console.log(JSON.stringify({ report, operations: Flash.operations - before }));
		},
	},
};

let at = 2;
while (at < argv.length) {
	const command = commands[argv[at]];
	if (!command) fail("E_USAGE", `unknown command ${argv[at]}`);
	command.run(argv.slice(at + 1, at + 1 + command.arity));
	at += 1 + command.arity;
}
exit(0);
