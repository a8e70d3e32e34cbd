/**
 * The simulated device: the update agent on the Linux XS host, one command per run (as a device
 * between resets), driven by `sealdrop sim` (host/cli/commands/sim.ts).
 *
 *   SEALDROP_LAYOUT=D/layout.json SEALDROP_FLASH=D/flash.bin \
 *   sealdrop-xs --state D/state build/js/host/sim/device.js COMMAND [ARGS]
 *
 * The device's configuration is D/device.json: { "trust": [hex of each trusted key's getpub
 * bytes], "newerOnly": false }, written by `sealdrop sim init`. Commands print one JSON object on
 * stdout; `install` also prints progress lines ({"progress": ...}) on stderr. A refusal prints
 * {"error": {code, message}} and exits 1.
 */
import { fromHex, SealdropError, toHex } from "sealdrop/image";
import { parseBoardConfig, UpdateAgent, type PendingMode, type TrustAnchor } from "sealdrop/update";
import { argv, exit, fileSize, readFile, readFileInto } from "sealdrop/xs-host";
import DeviceKey, { type DeviceKeyKind } from "sealdrop/native/device-key";
import Flash from "sealdrop/native/flash";

interface DeviceConfig {
	layout: string;
	trust: string[];
	newerOnly?: boolean;
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const print = (value: unknown) => console.log(JSON.stringify(value));

function option(args: string[], name: string): string | undefined {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : undefined;
}

function openAgent(configPath: string, onProgress?: boolean): UpdateAgent {
	const config = JSON.parse(text(readFile(configPath))) as DeviceConfig;
	const layout = JSON.parse(text(readFile(config.layout))) as { name: string; sealdrop: unknown };
	const board = parseBoardConfig(layout.name, layout.sealdrop);
	const trust: TrustAnchor[] = config.trust.map((hex) => ({ publicKey: fromHex(hex) }));
	return new UpdateAgent({
		board, trust, newerOnly: config.newerOnly ?? false,
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
	return { ...agent.finish(), resumed: started.resumed, flashOperations: Flash.operations };
}

function state(agent: UpdateAgent): unknown {
	return { running: agent.running(0) ?? null, update: agent.status(), securityCounter: agent.securityCounter(0) };
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
	const agent = openAgent(configPath, command === "install");
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
	print(run(configPath, command, args));
	exit(0);
} catch (e) {
	if (!(e instanceof SealdropError)) throw e;
	print({ error: { code: e.code, message: e.message } });
	exit(1);
}
