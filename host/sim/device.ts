/**
 * The simulated device: the update agent and the bootloader model on the Linux XS host, one
 * command per run (as a device between resets), driven by `sealdrop sim` (host/cli/commands/sim.ts).
 *
 *   SEALDROP_LAYOUT=D/layout.json SEALDROP_FLASH=D/flash.bin \
 *   sealdrop-xs --state D/state build/js/host/sim/device.js D/device.json COMMAND [ARGS]
 *
 * D/device.json: { "layout": "layout.json", "trust": [hex of each trusted key's getpub bytes],
 * "newerOnly": false }, written by `sealdrop sim init`; a relative layout path is relative to it.
 * The bootloader is built with the same trusted keys. D/boot.json remembers what the last boot
 * started (on esp-idf boards, which app partition runs: esp_ota_get_running_partition()).
 *
 * Commands print one JSON object on stdout, with the flash operations (erases and writes) the
 * run made as `flashOperations`; `install` also prints progress lines
 * ({"progress": ...}) on stderr. A refusal prints {"error": {code, message}} and exits 1.
 *   boot                      the bootloader model (MCUboot or ESP-IDF), then the app's view
 *   install PATH [--chunk N] [--session-id HEX] [--image N] [--pending none|test|permanent]
 *   state | confirm [N] | mark-pending [--image N] [--permanent]
 *   factory PATH [IMAGE]      programs a first image as a factory would (image IMAGE's primary slot, or ota_0)
 *   device-key generate KIND | import KIND HEX | public
 */
import { fromHex, SealdropError, toHex } from "sealdrop/image";
import { parseBoardConfig, UpdateAgent, type BoardConfig, type PendingMode, type TrustAnchor } from "sealdrop/update";
import { SlotWriter } from "sealdrop/update/slot-writer";
import { argv, exit, fileSize, readFile, readFileInto, writeFile } from "sealdrop/xs-host";
import DeviceKey, { type DeviceKeyKind } from "sealdrop/native/device-key";
import Flash from "sealdrop/native/flash";
import { mcubootBoot } from "./mcuboot.js";
import { bootEspIdf } from "./esp-bootloader.js";

interface DeviceConfig {
	layout: string;
	trust: string[];
	newerOnly?: boolean;
}

interface Device {
	board: BoardConfig;
	trust: TrustAnchor[];
	newerOnly: boolean;
	/** D/boot.json */
	bootFile: string;
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const print = (value: unknown) => console.log(JSON.stringify(value));
const directoryOf = (path: string) => path.includes("/") ? path.slice(0, path.lastIndexOf("/") + 1) : "";

function option(args: string[], name: string): string | undefined {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : undefined;
}

function loadDevice(configPath: string): Device {
	const config = JSON.parse(text(readFile(configPath))) as DeviceConfig;
	const layoutPath = config.layout.startsWith("/") ? config.layout : directoryOf(configPath) + config.layout;
	const layout = JSON.parse(text(readFile(layoutPath))) as { name: string; sealdrop: unknown };
	return {
		board: parseBoardConfig(layout.name, layout.sealdrop),
		trust: config.trust.map((hex) => ({ publicKey: fromHex(hex) })),
		newerOnly: config.newerOnly ?? false,
		bootFile: directoryOf(configPath) + "boot.json",
	};
}

/** The app partition the last boot started (esp-idf), as the running code would know it. */
function runningApp(device: Device): number | undefined {
	if (device.board.installer !== "esp-idf") return undefined;
	try {
		return (JSON.parse(text(readFile(device.bootFile))) as { runningApp?: number }).runningApp;
	} catch {
		return undefined; // never booted: otadata's choice
	}
}

function openAgent(device: Device, onProgress?: boolean): UpdateAgent {
	const running = runningApp(device);
	return new UpdateAgent({
		board: device.board, trust: device.trust, newerOnly: device.newerOnly,
		...(running === undefined ? {} : { runningApp: running }),
		...(onProgress ? { onProgress: (p) => console.error(JSON.stringify({ progress: p })) } : {}),
	});
}

function install(agent: UpdateAgent, args: string[]): unknown {
	const path = args[0];
	const size = fileSize(path);
	const chunk = Number(option(args, "--chunk") ?? 4096);
	const sessionId = option(args, "--session-id");
	const image = Number(option(args, "--image") ?? 0);
	const pending = (option(args, "--pending") ?? "test") as PendingMode;
	const started = agent.begin({ size, image, pending, ...(sessionId ? { sessionId: fromHex(sessionId) } : {}) });
	const buffer = new Uint8Array(chunk);
	let next = started.nextOffset;
	while (next < size) {
		const n = readFileInto(path, next, buffer.subarray(0, Math.min(chunk, size - next)));
		next = agent.write(next, buffer.subarray(0, n));
	}
	return { ...agent.finish(), resumed: started.resumed };
}

function state(agent: UpdateAgent): unknown {
	return { running: agent.running(0) ?? null, slots: agent.slots(), update: agent.status(), securityCounter: agent.securityCounter(0) };
}

/** A reset: the board's bootloader, then what the app it started sees. */
function boot(device: Device): unknown {
	let bootloader;
	if (device.board.installer === "esp-idf") {
		bootloader = bootEspIdf(device.board.ota!);
		writeFile(device.bootFile, new TextEncoder().encode(JSON.stringify({ runningApp: bootloader.index })));
	} else {
		bootloader = mcubootBoot({ board: device.board, trust: device.trust });
		if (bootloader.error) return { bootloader, running: null };
	}
	const agent = openAgent(device);
	try {
		return { bootloader, ...(state(agent) as object) };
	} finally {
		agent.close();
	}
}

/** Writes an image as the factory's programmer does: erased blocks, then the bytes, at the start of image `image`'s first slot. */
function factory(device: Device, path: string, image: number): unknown {
	const partition = device.board.installer === "esp-idf" ? (image === 0 ? device.board.ota!.apps[0] : undefined) : device.board.images![image]?.primary;
	if (!partition) throw new SealdropError("E_RANGE", `board ${device.board.name} has no image ${image}`);
	const flash = Flash.open({ path: partition });
	const size = fileSize(path);
	if (size > flash.status().size) throw new SealdropError("E_TOO_LARGE", `the ${size}-byte image does not fit the ${flash.status().size}-byte partition ${partition}`);
	const writer = new SlotWriter(flash, 0, () => {});
	try {
		const buffer = new Uint8Array(4096);
		for (let at = 0; at < size; at += buffer.length) writer.write(buffer.subarray(0, readFileInto(path, at, buffer.subarray(0, Math.min(buffer.length, size - at)))));
		writer.flush();
	} finally {
		writer.close();
		flash.close();
	}
	return { partition, bytes: size };
}

/** The device key: made here or injected (first-boot provisioning proper is modules/keys, to come). */
function deviceKey(args: string[]): unknown {
	const [action, kind, hex] = args;
	let key: DeviceKey;
	if (action === "generate") key = DeviceKey.generate(kind as DeviceKeyKind);
	else if (action === "import") key = DeviceKey.import(kind as DeviceKeyKind, fromHex(hex));
	else if (action === "public") key = new DeviceKey();
	else throw new SealdropError("E_USAGE", `device-key generate|import|public, not "${action}"`);
	const result = { kind: key.kind, publicKey: toHex(new Uint8Array(key.publicKey())) };
	key.close();
	return result;
}

function run(configPath: string, command: string, args: string[]): unknown {
	if (command === "device-key") return deviceKey(args);
	const device = loadDevice(configPath);
	if (command === "boot") return boot(device);
	if (command === "factory") return factory(device, args[0], Number(args[1] ?? 0));
	const agent = openAgent(device, command === "install");
	try {
		switch (command) {
			case "install": return install(agent, args);
			case "state": return state(agent);
			case "confirm": return agent.confirm(Number(args[0] ?? 0));
			case "mark-pending":
				agent.markPending(Number(option(args, "--image") ?? 0), args.includes("--permanent"));
				return state(agent);
			default: throw new SealdropError("E_USAGE", `unknown device command "${command}"`);
		}
	} finally {
		agent.close();
	}
}

const [, configPath, command, ...args] = argv;
try {
	print({ ...(run(configPath, command, args) as object), flashOperations: Flash.operations });
	exit(0);
} catch (e) {
	if (!(e instanceof SealdropError)) throw e;
	print({ error: { code: e.code, message: e.message } });
	exit(1);
}
