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
 *   boot                      the bootloader model (MCUboot or ESP-IDF), then the app: first-boot provisioning and its view
 *   first-boot                the app's provisioning alone (a board powered on before it has firmware to boot)
 *   install PATH [--chunk N] [--session-id HEX] [--image N] [--pending none|test|permanent]
 *   state | confirm [N] | mark-pending [--image N] [--permanent]
 *   factory PATH [IMAGE]      programs a first image as a factory would (image IMAGE's primary slot, or ota_0)
 *   device-key import KIND HEX-FILE | public [ENCODING] | rotate REQUEST-FILE
 *                             factory injection (then locked) | the production interface's report and export | a key rotation
 *   pull URL [--image N] [--pending M] [--retries N] [--timeout MS] [--stall-timeout MS] [--backoff MS] [--deadline S]
 *                             downloads and installs over HTTP through the bridge on the console UART (./device-pull.ts)
 *   serve                     an SMP server in the serial framing on the console UART (host/smp/device-serve.ts)
 *                             until its input ends (exit 0) or an SMP reset (exit 3, after the answer)
 *   app                       the device app a board runs out of the box (modules/app): provisioning, agent,
 *                             health check and confirm, SMP on the console UART; a line {"app": ...} on
 *                             stderr once booted, {"memory": ...} at an SMP reset (then exit 3)
 */
import { fail, fromHex, SealdropError, toHex } from "sealdrop/image";
import { DeviceKeyRing, deviceKeyInfo, encodeDevicePublicKey, provision, rotateDeviceKey, type DeviceKeyInfo, type PublicKeyEncoding } from "sealdrop/keys";
import { parseBoardConfig, UpdateAgent, type BoardConfig, type PendingMode, type TrustAnchor } from "sealdrop/update";
import { SlotWriter } from "sealdrop/update/slot-writer";
import { argv, exit, fileSize, gc, memory, readFile, readFileInto, resetPeaks, writeFile } from "sealdrop/xs-host";
import type { DeviceKeyKind } from "sealdrop/native/device-key";
import Flash from "sealdrop/native/flash";
import { mcubootBoot } from "./mcuboot.js";
import { bootEspIdf } from "./esp-bootloader.js";
import { RESET_EXIT, serveSmpOnUart } from "../smp/device-serve.js";
import { pullOverUart } from "./device-pull.js";
import { bootDeviceKey, startDeviceApp } from "../../modules/app/app.js";
import Serial from "../xs/serial.js";

interface DeviceConfig {
	layout: string;
	trust: string[];
	newerOnly?: boolean;
	/** The kind of key the app makes on first boot (its build configuration). */
	keyType?: DeviceKeyKind;
}

interface Device {
	board: BoardConfig;
	trust: TrustAnchor[];
	newerOnly: boolean;
	keyType: DeviceKeyKind;
	/** D/boot.json */
	bootFile: string;
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const print = (value: unknown) => console.log(JSON.stringify(value));
const directoryOf = (path: string) => path.includes("/") ? path.slice(0, path.lastIndexOf("/") + 1) : "";

/**
 * A file of the host's, read with the XS host's calls (whose errors carry E_IO): one that cannot
 * be read is E_IO naming the file, as the CLI reports it when it checks the file before starting
 * the device.
 */
function hostFile<T>(path: string, read: () => T): T {
	try {
		return read();
	} catch (e) {
		throw new SealdropError("E_IO", `${path}: cannot read (${(e as Error)?.message ?? String(e)})`);
	}
}

function option(args: string[], name: string): string | undefined {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : undefined;
}

function loadDevice(configPath: string): Device {
	const config = JSON.parse(text(hostFile(configPath, () => readFile(configPath)))) as DeviceConfig;
	const layoutPath = config.layout.startsWith("/") ? config.layout : directoryOf(configPath) + config.layout;
	const layout = JSON.parse(text(hostFile(layoutPath, () => readFile(layoutPath)))) as { name: string; sealdrop: unknown };
	return {
		board: parseBoardConfig(layout.name, layout.sealdrop),
		trust: config.trust.map((hex) => ({ publicKey: fromHex(hex) })),
		newerOnly: config.newerOnly ?? false,
		keyType: config.keyType ?? "p256",
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
		...(device.board.keys ? { deviceKeys: new DeviceKeyRing(device.board.keys) } : {}),
		...(running === undefined ? {} : { runningApp: running }),
		...(onProgress ? { onProgress: (p) => console.error(JSON.stringify({ progress: p })) } : {}),
	});
}

function install(agent: UpdateAgent, args: string[]): unknown {
	const path = args[0];
	const size = hostFile(path, () => fileSize(path));
	const chunk = Number(option(args, "--chunk") ?? 4096);
	const sessionId = option(args, "--session-id");
	const image = Number(option(args, "--image") ?? 0);
	const pending = (option(args, "--pending") ?? "test") as PendingMode;
	const started = agent.begin({ size, image, pending, ...(sessionId ? { sessionId: fromHex(sessionId) } : {}) });
	const buffer = new Uint8Array(chunk);
	let next = started.nextOffset;
	while (next < size) {
		const n = hostFile(path, () => readFileInto(path, next, buffer.subarray(0, Math.min(chunk, size - next))));
		next = agent.write(next, buffer.subarray(0, n));
	}
	return { ...agent.finish(), resumed: started.resumed };
}

function state(agent: UpdateAgent): unknown {
	return { running: agent.running(0) ?? null, slots: agent.slots(), update: agent.status(), securityCounter: agent.securityCounter(0) };
}

/** A reset: the board's bootloader, then the app it started: first-boot provisioning, and what it sees. */
function boot(device: Device): unknown {
	let bootloader;
	if (device.board.installer === "esp-idf") {
		bootloader = bootEspIdf(device.board.ota!);
		writeFile(device.bootFile, new TextEncoder().encode(JSON.stringify({ runningApp: bootloader.index })));
	} else {
		bootloader = mcubootBoot({ board: device.board, trust: device.trust, deviceKeyKind: device.keyType, ...keySlots(device) });
		if (bootloader.error) return { bootloader, running: null };
	}
	const provisioning = firstBoot(device);
	const agent = openAgent(device);
	try {
		return { bootloader, ...(state(agent) as object), deviceKey: provisioning };
	} finally {
		agent.close();
	}
}

/** What the app does before anything else at every boot: makes the device key once (modules/keys). */
function firstBoot(device: Device): unknown {
	const { deviceKey, created } = bootDeviceKey(device.board, device.keyType);
	return deviceKey instanceof SealdropError ? { error: { code: deviceKey.code, message: deviceKey.message } } : { ...keyInfoJson(deviceKey), created };
}

/** The key slots the board's bootloader key hook offers: the locked key, and a rotation's new key. */
function keySlots(device: Device): { deviceKeySlots?: number[] } {
	if (!device.board.keys) return {};
	try {
		return { deviceKeySlots: new DeviceKeyRing(device.board.keys).slots() };
	} catch {
		return {}; // not provisioned yet
	}
}

function keysPartition(device: Device): string {
	return device.board.keys ?? fail("E_USAGE", `board ${device.board.name} has no "keys" partition for the device key's lock record`);
}

function keyInfoJson(info: DeviceKeyInfo): object {
	return {
		kind: info.kind, publicKey: toHex(info.publicKey), fingerprint: toHex(info.fingerprint), mode: info.mode, provisionedAt: info.provisionedAt, slot: info.slot, exportable: info.exportable,
		...(info.rotating ? { rotating: { counter: info.rotating.counter, fingerprint: toHex(info.rotating.fingerprint) } } : {}),
	};
}

/** Writes an image as the factory's programmer does: erased blocks, then the bytes, at the start of image `image`'s first slot. */
function factory(device: Device, path: string, image: number): unknown {
	const partition = device.board.installer === "esp-idf" ? (image === 0 ? device.board.ota!.apps[0] : undefined) : device.board.images![image]?.primary;
	if (!partition) throw new SealdropError("E_RANGE", `board ${device.board.name} has no image ${image}`);
	const size = hostFile(path, () => fileSize(path));
	const flash = Flash.open({ path: partition });
	if (size > flash.status().size) throw new SealdropError("E_TOO_LARGE", `the ${size}-byte image does not fit the ${flash.status().size}-byte partition ${partition}`);
	const writer = new SlotWriter(flash, 0, () => {});
	try {
		const buffer = new Uint8Array(4096);
		for (let at = 0; at < size; at += buffer.length) writer.write(buffer.subarray(0, hostFile(path, () => readFileInto(path, at, buffer.subarray(0, Math.min(buffer.length, size - at))))));
		writer.flush();
	} finally {
		writer.close();
		flash.close();
	}
	return { partition, bytes: size };
}

/**
 * The device key over the production interface: `import KIND HEX` injects a factory-made key and
 * locks it (instead of the first boot making one), `public` reports the locked key.
 */
function deviceKey(device: Device, args: string[]): unknown {
	const [action, kind, keyFile] = args;
	if (action === "import") {
		// the key's hex in a file (the CLI's handover in the private state folder), never an argument
		const privateKey = fromHex(text(hostFile(keyFile, () => readFile(keyFile))).trim());
		const { info, created } = provision({ partition: keysPartition(device), mode: "import", kind: kind as DeviceKeyKind, privateKey, slot: device.board.deviceKeySlot ?? 0 });
		privateKey.fill(0);
		if (!created) throw new SealdropError("E_STATE", "the device key is already provisioned and locked: an import cannot replace it");
		return keyInfoJson(info);
	}
	if (action === "public") {
		const info = deviceKeyInfo(keysPartition(device));
		return { ...keyInfoJson(info), encoded: toHex(encodeDevicePublicKey(info.kind, info.publicKey, (kind ?? "pem") as PublicKeyEncoding)) };
	}
	if (action === "rotate") {
		const answer = rotateDeviceKey(hostFile(kind, () => readFile(kind)), { partition: keysPartition(device), trust: device.trust });
		return { answer: toHex(answer), ...keyInfoJson(deviceKeyInfo(keysPartition(device))) };
	}
	throw new SealdropError("E_USAGE", `device-key import|public|rotate, not "${action}"`);
}

function run(configPath: string, command: string, args: string[]): unknown {
	const device = loadDevice(configPath);
	if (command === "device-key") return deviceKey(device, args);
	if (command === "boot") return boot(device);
	if (command === "first-boot") return firstBoot(device);
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
// From here on the figures are the device's: this host loads and links its modules at run time
// (deep in the stack), a board has them preloaded.
resetPeaks();
if (command === "serve") {
	const device = loadDevice(configPath);
	serveSmpOnUart(openAgent(device), device.board, device.trust);
} else if (command === "app") {
	const device = loadDevice(configPath);
	const running = runningApp(device);
	const app = startDeviceApp({
		board: device.board, trust: device.trust, newerOnly: device.newerOnly, keyKind: device.keyType,
		...(running === undefined ? {} : { runningApp: running }),
		openUart: (onReadable) => new Serial({ onReadable }),
		reset: () => {
			gc(); // live figures: what the app keeps, for manifest.json's creation sizes
			console.error(JSON.stringify({ memory: memory() }));
			exit(RESET_EXIT);
		},
	});
	const key = app.deviceKey instanceof SealdropError ? { error: { code: app.deviceKey.code, message: app.deviceKey.message } } : { ...keyInfoJson(app.deviceKey), created: app.created };
	gc();
	console.error(JSON.stringify({ app: { deviceKey: key, health: app.health, running: app.agent.running(0) ?? null }, memory: memory() }));
} else if (command === "pull") {
	await pullOverUart(openAgent(loadDevice(configPath), true), args);
} else try {
	print({ ...(run(configPath, command, args) as object), flashOperations: Flash.operations, stackPeak: memory().stackPeak });
	exit(0);
} catch (e) {
	if (!(e instanceof SealdropError)) throw e;
	print({ error: { code: e.code, message: e.message } });
	exit(1);
}
