/**
 * `sealdrop sim`: a simulated device in a folder, for anyone without a board. The device code
 * (host/sim/device.ts: the update agent, the bootloader model) runs on the Linux XS host against a
 * flash file laid out by a board's layout JSON; each command here is one run of it, as a device
 * between resets.
 *
 * The folder D: device.json (trusted signing keys), layout.json (the board's flash layout),
 * flash.bin (the flash), state/ (the XS host's key storage: the device key), boot.json (what the
 * last boot started).
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { fail, parseImage, SealdropError, toHex, type ErrorCode } from "sealdrop/image";
import { parseBoardConfig } from "../../../modules/update/board.js";
import { FORMAT, parseInteger, parseIntegerIn, type CommandSpec, type ParsedArgs } from "../args.js";
import { HttpBridgeHost } from "../../sim/http-bridge.js";
import { printJson, ProgressBar, readInput, writeOutput, writeResult } from "../io.js";
import { simServe } from "../../smp/sim-serve.js";
import { deviceDir, runDevice, type DeviceOutput } from "../sim-device.js";
import { loadKey, PUBLIC_ENCODINGS, publicKeyBytes, type PublicEncoding } from "../keys.js";

const root = fileURLToPath(new URL("../../../../../", import.meta.url));
const boardsDir = path.join(root, "boards");

const DIR = { long: "dir", short: "d", metavar: "D", help: "the simulated device's folder (required)" } as const;
const IMAGE_NUMBER = { long: "image", metavar: "N", help: "image number on multi-image boards (default 0)" } as const;

interface Layout {
	name: string;
	sealdrop: { installer: string; swap?: string; images?: { primary: string; secondary: string }[]; ota?: { apps: string[] } };
	partitions: { name: string; offset: number; size: number }[];
}

function boardLayoutPath(board: string): string {
	if (board.endsWith(".json")) return board;
	const file = path.join(boardsDir, board, "layout.json");
	if (!fs.existsSync(file)) fail("E_USAGE", `no board "${board}" (boards: ${fs.readdirSync(boardsDir).filter((b) => fs.existsSync(path.join(boardsDir, b, "layout.json"))).join(", ")})`);
	return file;
}

/**
 * The absolute path of a file the device program will read, once it is known to be readable:
 * its failure is then E_IO here, before the device starts.
 */
function readableFile(file: string, what: string): string {
	readInput(file, what);
	return path.resolve(file);
}

/** D/state, the XS host's key store: 0700 whatever the umask or an earlier mode (the host's key files are 0600). */
function makeStateFolder(dir: string): void {
	const state = path.join(dir, "state");
	try {
		fs.mkdirSync(dir, { recursive: true });
		fs.mkdirSync(state, { recursive: true, mode: 0o700 });
		fs.chmodSync(state, 0o700);
	} catch (e) {
		fail("E_IO", `${state}: cannot make the device's state folder (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
	}
}

function readLayout(dir: string): Layout {
	return JSON.parse(fs.readFileSync(path.join(dir, "layout.json"), "utf8")) as Layout;
}

function describeBoard(layout: Layout): string {
	const s = layout.sealdrop;
	return s.installer === "esp-idf" ? `${layout.name} (esp-idf installer, ${s.ota?.apps.length} OTA apps)` : `${layout.name} (${s.installer} installer, swap ${s.swap})`;
}

/** A board layout file, checked before anything is made: JSON, a name, a sealdrop section the agent takes. */
function readBoardLayout(file: string): Layout {
	let layout: Layout;
	try {
		layout = JSON.parse(readInput(file, "board layout").toString("utf8")) as Layout;
	} catch (e) {
		if (e instanceof SealdropError) throw e;
		fail("E_USAGE", `board layout ${file} is not JSON: ${(e as Error).message}`);
	}
	if (typeof layout !== "object" || layout === null || typeof layout.name !== "string") fail("E_USAGE", `board layout ${file} has no "name"`);
	parseBoardConfig(layout.name, layout.sealdrop);
	return layout;
}

/** The device key as the production interface reports it (device-key public, first boot); its error as a failure. */
function deviceKeyReport(out: unknown): { kind: "p256" | "x25519"; publicKey: string; fingerprint: string; mode: string; provisionedAt: number; created?: boolean; rotating?: { counter: number; fingerprint: string } } {
	const report = out as Record<string, unknown>;
	const error = report.error as { code: ErrorCode; message: string } | undefined;
	if (error) throw new SealdropError(error.code, `the device key: ${error.message}`);
	return report as ReturnType<typeof deviceKeyReport>;
}

// --- human output ---

function slotFlags(slot: Record<string, unknown>): string {
	return ["active", "pending", "confirmed", "permanent"].filter((f) => slot[f]).join(" ") + (slot.bootable === false ? " non-bootable" : "");
}

function printState(out: DeviceOutput): void {
	const slots = (out.slots ?? []) as Record<string, unknown>[];
	const lines = ["image  slot  version          hash              flags"];
	for (const s of slots) lines.push(`${String(s.image).padEnd(7)}${String(s.slot).padEnd(6)}${String(s.version).padEnd(17)}${String(s.hash).slice(0, 16)}  ${slotFlags(s)}`);
	if (slots.length === 0) lines.push("(no slot holds an image)");
	const running = out.running as Record<string, unknown> | null;
	lines.push("", running ? `running: ${running.version} (${running.state})` : "running: nothing");
	const update = out.update as Record<string, unknown> | undefined;
	if (update) {
		const error = update.error as { code: string; message: string } | undefined;
		lines.push(`update: ${update.state}${update.version ? ` ${update.version}` : ""}${error ? ` — ${error.code}: ${error.message}` : ""}`);
	}
	process.stdout.write(lines.join("\n") + "\n");
}

function output(args: ParsedArgs, out: DeviceOutput, human: () => void): number {
	if (args.get("format") === "json") printJson(out);
	else human();
	return 0;
}

// --- the subcommands ---

const init: CommandSpec = {
	name: "init",
	summary: "Make a simulated device: a flash file laid out like a board, its own device key (or an imported one), trusted signing keys.",
	usage: "sim init --dir D [--board NAME|LAYOUT.json] [--trust SIGNPUB ...] [--import-key DEVPRIV] [--key-type p256|x25519] [--factory-image IMAGE ...]",
	options: [
		DIR,
		{ long: "board", short: "b", metavar: "NAME", help: "a folder of boards/ (sim, sim-esp32) or a layout JSON (default sim)" },
		{ long: "trust", short: "t", metavar: "SIGNPUB", repeat: true, help: "a signing key (public or private) whose images the device accepts; repeatable" },
		{ long: "import-key", metavar: "DEVPRIV", help: "inject this private key as the device key instead of generating one (a factory's choice)" },
		{ long: "key-type", choices: ["p256", "x25519"], help: "the kind of device key generated (default p256)" },
		{ long: "factory-image", metavar: "IMAGE", repeat: true, help: "program this first image as a factory would (primary slot, or ota_0 on esp-idf boards), then boot; repeat for image 1, 2... of a multi-image board" },
		{ long: "newer-only", arity: 0, help: "refuse images whose version is not above the running one" },
		{ long: "force", arity: 0, help: "start over in a folder that already holds a device" },
		FORMAT,
	],
	notes: "Example:\n  sealdrop keygen -k sign.pem -t ecdsa-p256\n  sealdrop sim init --dir dev1 --trust sign.pem",
	async run(args) {
		const dir = deviceDir(args, false);
		const existing = fs.existsSync(path.join(dir, "device.json"));
		if (existing && !args.flag("force")) fail("E_IO", `${dir} already holds a simulated device; pass --force to start over`);
		const layoutSource = boardLayoutPath(args.get("board") ?? "sim");
		const layout = readBoardLayout(layoutSource);
		const trust = args.all("trust").map(([file]) => publicKeyBytes(loadKey(file, { role: "trusted signing key" })).toString("hex"));
		// the device program reads them itself: a file error here, before anything is made or removed
		const factoryImages = args.all("factory-image").map(([file]) => readableFile(file, "factory image"));
		const imported = args.has("import-key") ? loadKey(args.require("import-key"), { private: true, kinds: ["ecdsa-p256", "x25519"], role: "device key" }) : undefined;
		if (existing) for (const f of ["device.json", "layout.json", "flash.bin", "boot.json", "state"]) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
		makeStateFolder(dir);
		writeOutput(path.join(dir, "layout.json"), JSON.stringify(layout, null, "\t") + "\n");
		const keyType = args.get("key-type") ?? "p256";
		writeOutput(path.join(dir, "device.json"), JSON.stringify({ layout: "layout.json", trust, newerOnly: args.flag("newer-only"), keyType }, null, "\t") + "\n");

		// the factory injects a key (then locked) when asked; otherwise the device makes its own at first boot
		if (imported) {
			// handed over in a file of the device's private state folder, not on the command line,
			// where any local user could read it (ps) while the device program runs
			const handover = path.join(dir, "state", "import-key.hex");
			fs.writeFileSync(handover, Buffer.from(imported.privateKey!.export({ format: "jwk" }).d!, "base64url").toString("hex"), { mode: 0o600 });
			try {
				await runDevice(dir, ["device-key", "import", imported.kind === "x25519" ? "x25519" : "p256", handover]);
			} finally {
				fs.rmSync(handover, { force: true });
			}
		}
		for (const [image, file] of factoryImages.entries()) await runDevice(dir, ["factory", file, String(image)]);
		const booted = await runDevice(dir, factoryImages.length ? ["boot"] : ["first-boot"]);
		// a factory image the bootloader refuses (an untrusted signer, say): nothing runs, no key is made
		const refusedBoot = (booted.bootloader as { error?: { code: ErrorCode; message: string } } | undefined)?.error;
		if (factoryImages.length && !booted.running && refusedBoot) fail(refusedBoot.code, `the factory image does not boot: ${refusedBoot.message}`);
		const key = deviceKeyReport(factoryImages.length ? booted.deviceKey : booted);
		const summary = {
			dir, board: layout.name, installer: layout.sealdrop.installer, trustedKeys: trust.length,
			deviceKey: { kind: key.kind, mode: key.mode, fingerprint: key.fingerprint },
			...(factoryImages.length ? { running: booted.running } : {}),
		};
		return output(args, summary, () => {
			process.stdout.write([
				`simulated device in ${dir}`,
				`  board        ${describeBoard(layout)}`,
				`  device key   ${key.kind}, ${key.mode === "imported" ? "imported at the factory" : "generated on the device at first boot"}; fingerprint ${key.fingerprint}`,
				`  trusted keys ${trust.length}`,
				...(factoryImages.length ? [`  running      ${(booted.running as { version?: string } | null)?.version ?? "nothing"}`] : []),
			].join("\n") + "\n");
		});
	},
};

const pubkey: CommandSpec = {
	name: "pubkey",
	summary: "Print the device's public key (the only key material that leaves it) as the device exports it, in getpub's encodings.",
	usage: "sim pubkey --dir D [-e pem|raw|lang-c|lang-rust] [-o OUT] [-f json]",
	options: [
		DIR,
		{ long: "encoding", short: "e", choices: PUBLIC_ENCODINGS, help: "output encoding (default pem)" },
		{ long: "output", short: "o", metavar: "OUT", help: "write to OUT instead of standard output" },
		FORMAT,
	],
	notes: [
		"The device encodes the key itself (modules/keys); the bytes equal `sealdrop getpub` / imgtool getpub for the same key.",
		"-f json prints the production interface's report instead: kind, public key, fingerprint (SHA-256 of the",
		"SubjectPublicKeyInfo DER), mode (generated or imported), provisionedAt (device clock, seconds; 0 if unset)",
		"and, during a key rotation, the new key's counter and fingerprint.",
		"Example (what `sealdrop seal --device-pub` takes):\n  sealdrop sim pubkey --dir dev1 -o dev1.pub.pem",
	].join("\n"),
	async run(args) {
		const encoding = (args.get("encoding") ?? "pem") as PublicEncoding;
		const out = await runDevice(deviceDir(args), ["device-key", "public", encoding]);
		const key = deviceKeyReport(out);
		if (args.get("format") === "json") {
			const report = { kind: key.kind, publicKey: key.publicKey, fingerprint: key.fingerprint, mode: key.mode, provisionedAt: key.provisionedAt, ...(key.rotating ? { rotating: key.rotating } : {}) };
			writeResult(args.get("output"), Buffer.from(JSON.stringify(report, null, 2) + "\n"));
			return 0;
		}
		writeResult(args.get("output"), Buffer.from(String(out.encoded), "hex"));
		return 0;
	},
};

const install: CommandSpec = {
	name: "install",
	summary: "Stream an image into the device's update agent (decrypt, hash, write, verify), then mark it pending.",
	usage: "sim install --dir D IMAGE [--chunk N] [--pending test|permanent|none] [--image N] [-f json]",
	options: [
		DIR,
		{ long: "chunk", metavar: "N", help: "bytes per write, as a transport would send them (default 4096)" },
		{ long: "pending", choices: ["test", "permanent", "none"], help: "after verifying: a test boot (default), permanent, or not yet" },
		IMAGE_NUMBER,
		FORMAT,
	],
	notes: [
		"The session id is the image file's SHA-256 (as SMP's `sha`), so running the same install again",
		"after an interruption resumes after the last block the device made durable.",
		"Example:\n  sealdrop sim install --dir dev1 sealed.bin && sealdrop sim reboot --dir dev1",
	].join("\n"),
	async run(args) {
		const dir = deviceDir(args);
		if (args.positionals.length !== 1) fail("E_USAGE", "give one IMAGE to install");
		const file = path.resolve(args.positionals[0]);
		const bytes = readInput(file, "image");
		const chunk = parseInteger(args.get("chunk") ?? "4096", "--chunk");
		if (chunk < 1 || chunk > 1 << 20) fail("E_USAGE", "--chunk must be between 1 and 1048576");
		const sessionId = createHash("sha256").update(bytes).digest("hex");
		const bar = new ProgressBar("install", bytes.length);
		const out = await runDevice(dir, [
			"install", file, "--chunk", String(chunk), "--session-id", sessionId, "--pending", args.get("pending") ?? "test",
			"--image", String(parseIntegerIn(args.get("image") ?? "0", "--image", 0, 255)),
		], (p) => bar.update(p.bytes));
		bar.update(bytes.length);
		return output(args, out, () => {
			const from = Number(out.resumedFrom);
			process.stdout.write(`installed ${out.version} (hash ${String(out.hash).slice(0, 16)}…): ${out.state}${out.resumed ? `, resumed at byte ${from}` : ""}\n` +
				(out.state === "pending-test" ? "reboot to run it on trial (`sealdrop sim reboot`), then confirm it (`sealdrop sim confirm`)\n" : ""));
		});
	},
};

const pull: CommandSpec = {
	name: "pull",
	summary: "Download an image over HTTP into the device's update agent (Range resume, ETag pinned, retries), then mark it pending.",
	usage: "sim pull --dir D URL [--pending test|permanent|none] [--image N] [--retries N] [--timeout MS] [--stall-timeout MS] [--backoff MS] [--deadline S] [-f json]",
	options: [
		DIR,
		{ long: "pending", choices: ["test", "permanent", "none"], help: "after verifying: a test boot (default), permanent, or not yet" },
		IMAGE_NUMBER,
		{ long: "retries", metavar: "N", help: "attempts in a row without a new byte before giving up (default 5)" },
		{ long: "timeout", metavar: "MS", help: "longest wait for an answer's status and headers (default 15000)" },
		{ long: "stall-timeout", metavar: "MS", help: "an attempt ends when its body brings no byte for MS (default: --timeout)" },
		{ long: "backoff", metavar: "MS", help: "first wait before a retry, doubled after each failure (default 500)" },
		{ long: "deadline", metavar: "S", help: "the whole pull's limit in seconds, retries included (default 300)" },
		FORMAT,
	],
	notes: [
		"The device code (modules/transport/http) runs on XS; its HTTP requests are made by this process",
		"and bridged to it over the XS host's console UART. The image's ETag (or Last-Modified) is the",
		"session id, so pulling again after an interruption or a reset resumes after the last block the",
		"device made durable; a changed image starts over. Exit 4 (E_NETWORK, E_HTTP) when it gives up:",
		"after --retries attempts in a row without a new byte, or at --deadline (a server that sends a",
		"little per request and then stalls makes progress each time); the message says how many bytes",
		"and requests it saw.",
		"Example:\n  sealdrop serve --release rel-1.2.0 &\n  sealdrop sim pull --dir dev1 http://127.0.0.1:8080/devices/dev-0001/image && sealdrop sim reboot --dir dev1",
		"Example, on a slow link: give up on an attempt after 5 s without a byte, on the pull after 2 minutes:",
		"  sealdrop sim pull --dir dev1 --stall-timeout 5000 --deadline 120 http://127.0.0.1:8080/devices/dev-0001/image",
	].join("\n"),
	async run(args) {
		const dir = deviceDir(args);
		if (args.positionals.length !== 1) fail("E_USAGE", "give one URL to pull");
		const url = args.positionals[0];
		if (!/^http:\/\/[^/]+/.test(url)) fail("E_USAGE", `${url} is not an http:// URL`);
		const ranges = { retries: [0, 1000], timeout: [1, 600_000], "stall-timeout": [1, 600_000], backoff: [0, 600_000], deadline: [1, 86_400] } as const;
		const numbers = (["retries", "timeout", "stall-timeout", "backoff", "deadline"] as const).flatMap((name) => args.has(name) ? [`--${name}`, String(parseIntegerIn(args.require(name), `--${name}`, ranges[name][0], ranges[name][1]))] : []);
		let bar: ProgressBar | undefined;
		let total = 0;
		const out = await runDevice(dir, [
			"pull", url, "--pending", args.get("pending") ?? "test", "--image", String(parseIntegerIn(args.get("image") ?? "0", "--image", 0, 255)), ...numbers,
		], (p) => {
			total = p.total;
			(bar ??= new ProgressBar("pull", p.total)).update(p.bytes);
		}, new HttpBridgeHost());
		bar?.update(total);
		return output(args, out, () => {
			const from = Number(out.startedAt);
			process.stdout.write(`installed ${out.version} (hash ${String(out.hash).slice(0, 16)}…): ${out.state}${from ? `, resumed at byte ${from}` : ""}\n` +
				`${out.requests} requests, ${out.bytesReceived} bytes received (${out.bytesSkipped} skipped), ${out.retries} retries, ${out.restarts} restarts\n` +
				(out.state === "pending-test" ? "reboot to run it on trial (`sealdrop sim reboot`), then confirm it (`sealdrop sim confirm`)\n" : ""));
		});
	},
};

const reboot: CommandSpec = {
	name: "reboot",
	summary: "Reset the device: the bootloader model runs (swap, revert, or app selection), then the new firmware's view.",
	usage: "sim reboot --dir D [-f json]",
	options: [DIR, FORMAT],
	async run(args) {
		const out = await runDevice(deviceDir(args), ["boot"]);
		return output(args, out, () => {
			const b = out.bootloader as Record<string, unknown>;
			const images = (b.images ?? []) as Record<string, unknown>[];
			for (const i of images) {
				const rejected = i.rejected as { code: string; message: string } | null;
				process.stdout.write(`bootloader: image ${i.image}: swap ${i.swapType}${i.resumed ? " (resumed after a power cut)" : ""}${rejected ? `; refused the new image: ${rejected.code}: ${rejected.message}` : ""}\n`);
			}
			if (b.partition) process.stdout.write(`bootloader: started ${b.partition}\n`);
			if (b.error) process.stdout.write(`bootloader: ${(b.error as { message: string }).message}\n`);
			printState(out);
		});
	},
};

const confirm: CommandSpec = {
	name: "confirm",
	summary: "The running firmware confirms itself after its health check, so it stays at the next reset.",
	usage: "sim confirm --dir D [--image N] [-f json]",
	options: [DIR, IMAGE_NUMBER, FORMAT],
	async run(args) {
		const out = await runDevice(deviceDir(args), ["confirm", String(parseIntegerIn(args.get("image") ?? "0", "--image", 0, 255))]);
		return output(args, out, () => process.stdout.write(`confirmed ${out.version} (hash ${String(out.hash).slice(0, 16)}…)\n`));
	},
};

const rotateKey: CommandSpec = {
	name: "rotate",
	summary: "Hand the device a key rotation request (from `sealdrop rotate request`); write its answer.",
	usage: "sim rotate --dir D REQUEST -o ANSWER [-f json]",
	options: [DIR, { long: "output", short: "o", metavar: "ANSWER", help: "where to write the device's answer (required)" }, FORMAT],
	notes: [
		"The device checks the request (signed by a key it trusts, made for its key, counter above the last),",
		"makes a new key beside the old one and answers with the new public key and its proof of continuity.",
		"The old key keeps opening images until one sealed for the new key is installed and confirmed.",
		"Check the answer with `sealdrop rotate check`.",
	].join("\n"),
	async run(args) {
		if (args.positionals.length !== 1) fail("E_USAGE", "give one REQUEST file");
		const outputPath = args.require("output");
		const dir = deviceDir(args);
		const out = await runDevice(dir, ["device-key", "rotate", readableFile(args.positionals[0], "rotation request")]);
		writeOutput(outputPath, Buffer.from(String(out.answer), "hex"));
		const rotating = out.rotating as { counter: number; fingerprint: string } | undefined;
		return output(args, { ...out, answer: outputPath }, () =>
			process.stdout.write(`rotation ${rotating?.counter}: new key ${rotating?.fingerprint} made beside ${out.fingerprint}; answer in ${outputPath}\n`));
	},
};

const state: CommandSpec = {
	name: "state",
	summary: "Show each slot (version, hash, pending, confirmed, active), the running image and the last update.",
	usage: "sim state --dir D [-f json]",
	options: [DIR, FORMAT],
	async run(args) {
		const out = await runDevice(deviceDir(args), ["state"]);
		return output(args, out, () => printState(out));
	},
};

const readSlot: CommandSpec = {
	name: "read-slot",
	summary: "Copy what a slot of the simulated flash holds into a file (the image it holds, or the whole partition with --raw).",
	usage: "sim read-slot --dir D primary|secondary|PARTITION [--image N] [--raw] -o FILE",
	options: [
		DIR,
		IMAGE_NUMBER,
		{ long: "raw", arity: 0, help: "the whole partition, not just the MCUboot image at its start" },
		{ long: "output", short: "o", metavar: "FILE", help: "where to write (required)" },
	],
	notes: "On esp-idf boards primary is the running app partition and secondary the other one; the partition is copied whole.",
	run(args) {
		const dir = deviceDir(args);
		const which = args.positionals[0];
		if (args.positionals.length !== 1) fail("E_USAGE", "name one slot: primary, secondary or a partition of the layout");
		const layout = readLayout(dir);
		let name = which;
		const esp = layout.sealdrop.installer === "esp-idf";
		if (which === "primary" || which === "secondary") {
			if (esp) {
				const running = fs.existsSync(path.join(dir, "boot.json")) ? (JSON.parse(fs.readFileSync(path.join(dir, "boot.json"), "utf8")) as { runningApp: number }).runningApp : 0;
				const apps = layout.sealdrop.ota!.apps;
				name = apps[which === "primary" ? running : (running + 1) % apps.length];
			} else {
				const pair = layout.sealdrop.images?.[parseIntegerIn(args.get("image") ?? "0", "--image", 0, 255)];
				if (!pair) fail("E_USAGE", `board ${layout.name} has no image ${args.get("image")}`);
				name = pair[which];
			}
		}
		const partition = layout.partitions.find((p) => p.name === name);
		if (!partition) fail("E_USAGE", `board ${layout.name} has no partition "${name}"`);
		const flash = fs.existsSync(path.join(dir, "flash.bin")) ? fs.readFileSync(path.join(dir, "flash.bin")) : Buffer.alloc(0);
		const bytes = Buffer.alloc(partition.size, 0xff);
		flash.copy(bytes, 0, partition.offset, Math.min(flash.length, partition.offset + partition.size));
		let out: Uint8Array = bytes;
		if (!args.flag("raw") && !esp) {
			try {
				out = bytes.subarray(0, parseImage(bytes).size);
			} catch (e) {
				if (!(e instanceof SealdropError)) throw e;
				fail("E_NO_IMAGE", `${name} holds no MCUboot image (${e.code}); --raw copies the partition as it is`);
			}
		}
		writeOutput(args.require("output"), out);
		process.stdout.write(`${name}: ${out.length} bytes, SHA-256 ${toHex(createHash("sha256").update(out).digest())}\n`);
		return 0;
	},
};

export const sim: CommandSpec = {
	name: "sim",
	summary: "A simulated device on the Linux XS host: init, pubkey, install, pull, reboot, confirm, rotate, state, read-slot, serve.",
	usage: "sim SUBCOMMAND --dir D [options]",
	options: [],
	subcommands: [init, pubkey, install, pull, reboot, confirm, rotateKey, state, readSlot, simServe],
	notes: [
		"Example, end to end:",
		"  sealdrop keygen -k sign.pem -t ecdsa-p256",
		"  sealdrop sim init --dir dev1 --trust sign.pem",
		"  sealdrop sim pubkey --dir dev1 -o dev1.pub.pem",
		"  sealdrop sign -k sign.pem -v 1.1.0 -H 0x200 --pad-header -S 0x60000 app.bin inner.bin",
		"  sealdrop wrap -k sign.pem -S 0x61000 inner.bin release.bin     # board sim: the mcuboot installer",
		"  sealdrop seal --device-pub dev1.pub.pem -o sealed.bin release.bin",
		"  sealdrop sim install --dir dev1 sealed.bin",
		"  sealdrop sim reboot --dir dev1 && sealdrop sim confirm --dir dev1",
	].join("\n"),
	run() {
		return 0; // main.ts dispatches to the subcommands
	},
};
