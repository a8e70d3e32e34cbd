/**
 * `sealdrop smp`: an MCUmgr SMP client (smp-protocol.md) for real or simulated devices, over UDP
 * (`--udp HOST:PORT`) or a serial line in the console framing (`--serial PATH[,BAUD]`, a pty too).
 */
import { createHash } from "node:crypto";
import { fail, fromHex, SealdropError, toHex, type ErrorCode } from "sealdrop/image";
import { FORMAT, parseInteger, type CommandSpec, type OptionSpec, type ParsedArgs } from "../args.js";
import { printJson, ProgressBar, readInput, writeOutput, writeResult } from "../io.js";
import { deviceKeyFromRaw, encodePublicKey, PUBLIC_ENCODINGS, type PublicEncoding } from "../keys.js";
import type { CborMap } from "../../../modules/transport/smp/cbor.js";
import { SmpGroupId } from "../../../modules/transport/smp/header.js";
import { SmpClient, SmpResponseError, SmpTimeoutError } from "../../smp/client.js";
import { serialLink, udpLink } from "../../smp/links.js";

const LINK_OPTIONS: OptionSpec[] = [
	{ long: "udp", metavar: "HOST:PORT", help: "the device's SMP UDP address (MCUmgr's port is 1337)" },
	{ long: "serial", metavar: "PATH[,BAUD]", help: "a serial line (tty or pty) carrying SMP in the console framing" },
	{ long: "timeout", metavar: "MS", help: "milliseconds to wait for each answer (default 2500; an upload's first chunk waits 40 s)" },
];

/** Image group codes (smp-protocol.md §3.2) a user may meet, by number. */
const IMAGE_ERRORS: Record<number, string> = {
	1: "unknown", 3: "no image", 5: "invalid TLV", 8: "hash not found", 9: "no free slot (the slot is pending or confirmed)",
	12: "flash write failed", 14: "invalid slot", 20: "invalid offset", 21: "invalid length", 22: "invalid image header",
	23: "not an MCUboot image (bad magic)", 24: "invalid hash", 27: "the running image is newer", 30: "image too large",
	31: "data past the announced length", 33: "the running image cannot be marked for test",
};

const RC_NAMES = ["EOK", "EUNKNOWN", "ENOMEM", "EINVAL", "ETIMEOUT", "ENOENT", "EBADSTATE", "EMSGSIZE", "ENOTSUP", "ECORRUPT", "EBUSY", "EACCESSDENIED", "EUNSUPPORTED_TOO_OLD", "EUNSUPPORTED_TOO_NEW"];

function connect(args: ParsedArgs): SmpClient {
	const udp = args.get("udp");
	const serial = args.get("serial");
	if (!!udp === !!serial) fail("E_USAGE", "give one of --udp HOST:PORT or --serial PATH[,BAUD]");
	return new SmpClient(udp ? udpLink(udp) : serialLink(serial!));
}

function timeout(args: ParsedArgs): number | undefined {
	const t = args.get("timeout");
	return t === undefined ? undefined : parseInteger(t, "--timeout");
}

/** Runs a client call; SMP errors and timeouts become Sealdrop errors with stable codes. */
async function withClient<T>(args: ParsedArgs, call: (client: SmpClient) => Promise<T>): Promise<T> {
	const client = connect(args);
	try {
		return await call(client);
	} catch (e) {
		if (e instanceof SmpTimeoutError) fail("E_IO", e.message);
		if (e instanceof SmpResponseError) {
			// a Sealdrop device puts its stable code first in `rsn` ("E_REPLAY: ..."): report that code as ours
			const coded = e.group === undefined ? /^(E_[A-Z_]+): ([^]*)$/.exec(e.reason ?? "") : null;
			if (coded) fail(coded[1] as ErrorCode, `the device refused (SMP error ${e.rc}, ${RC_NAMES[e.rc] ?? "?"}): ${coded[2]}`);
			const what = e.group === SmpGroupId.IMAGE ? `image group error ${e.rc} (${IMAGE_ERRORS[e.rc] ?? "?"})` : e.group !== undefined ? `group ${e.group} error ${e.rc}` : `SMP error ${e.rc} (${RC_NAMES[e.rc] ?? "?"})${e.reason ? `: ${e.reason}` : ""}`;
			fail(e.rc === 8 && e.group === undefined ? "E_UNSUPPORTED" : "E_STATE", `the device refused: ${what}`);
		}
		throw e;
	} finally {
		client.close();
	}
}

function output(args: ParsedArgs, value: unknown, human: string): number {
	if (args.get("format") === "json") printJson(value);
	else process.stdout.write(human + "\n");
	return 0;
}

function stateJson(r: CborMap): unknown {
	const images = (Array.isArray(r.images) ? r.images : []) as CborMap[];
	return { images: images.map((i) => ({ ...i, hash: i.hash instanceof Uint8Array ? toHex(i.hash) : i.hash })), ...(r.splitStatus === undefined ? {} : { splitStatus: r.splitStatus }) };
}

function stateText(r: CborMap): string {
	const images = (Array.isArray(r.images) ? r.images : []) as CborMap[];
	const lines = ["image  slot  version          hash              flags"];
	for (const i of images) {
		const flags = ["active", "pending", "confirmed", "permanent"].filter((f) => i[f] === true).join(" ") + (i.bootable === false ? " non-bootable" : "");
		lines.push(`${String(i.image ?? 0).padEnd(7)}${String(i.slot).padEnd(6)}${String(i.version).padEnd(17)}${(i.hash instanceof Uint8Array ? toHex(i.hash) : "").slice(0, 16)}  ${flags}`);
	}
	if (images.length === 0) lines.push("(no slot holds an image)");
	return lines.join("\n");
}

/** A state hash given on the command line: 64 hex digits, or a unique prefix of a slot's hash. */
async function resolveHash(client: SmpClient, text: string): Promise<Uint8Array> {
	const hex = text.toLowerCase();
	if (!/^[0-9a-f]+$/.test(hex)) fail("E_USAGE", `HASH is hex (the image hash TLV, as \`smp state\` shows it), not "${text}"`);
	if (hex.length === 64) return fromHex(hex);
	const images = ((await client.read(SmpGroupId.IMAGE, 0)).images ?? []) as CborMap[];
	const found = images.filter((i) => i.hash instanceof Uint8Array && toHex(i.hash).startsWith(hex));
	if (found.length !== 1) fail("E_USAGE", `${found.length ? "several slots" : "no slot"} hold an image whose hash starts with ${hex}`);
	return found[0].hash as Uint8Array;
}

const sub = (name: string, summary: string, usage: string, options: OptionSpec[], run: (args: ParsedArgs) => Promise<number>, notes?: string): CommandSpec =>
	({ name, summary, usage: `smp ${usage}`, options: [...LINK_OPTIONS, ...options], run, ...(notes ? { notes } : {}) });

const echo = sub("echo", "Send text; the device echoes it (OS group, command 0).", "echo (--udp H:P | --serial P) [TEXT]", [FORMAT], (args) =>
	withClient(args, async (c) => {
		const r = await c.write(SmpGroupId.OS, 0, { d: args.positionals.join(" ") || "hello" }, { timeout: timeout(args) });
		return output(args, r, String(r.r));
	}));

const upload = sub("upload", "Upload an image to the device's secondary slot, with a progress bar; run it again after an interruption and it resumes.",
	"upload (--udp H:P | --serial P) IMAGE [--mtu N] [--image N] [--upgrade]", [
		{ long: "mtu", metavar: "N", help: "largest SMP packet to send (default: the link's, lowered to the device's buf_size)" },
		{ long: "image", metavar: "N", help: "image number on multi-image boards (default 0)" },
		{ long: "upgrade", arity: 0, help: "ask the device to refuse an image not newer than the running one" },
		FORMAT,
	], async (args) => {
		if (args.positionals.length !== 1) fail("E_USAGE", "give one IMAGE to upload");
		const bytes = readInput(args.positionals[0], "image");
		const bar = new ProgressBar("upload", bytes.length);
		const started = Date.now();
		const mtu = args.get("mtu");
		const result = await withClient(args, async (c) => {
			try {
				return await c.upload(bytes, {
					image: parseInteger(args.get("image") ?? "0", "--image"), upgrade: args.flag("upgrade"),
					...(mtu ? { mtu: parseInteger(mtu, "--mtu") } : {}), onProgress: (off) => bar.update(off),
				});
			} catch (e) {
				// the agent keeps the full reason of a refusal: ask for it (Sealdrop group, command 2)
				const status = await c.read(SmpGroupId.SEALDROP, 2).catch(() => undefined);
				if (e instanceof SmpResponseError && typeof status?.error_code === "string") throw new SealdropError(status.error_code as never, `the device refused the image: ${String(status.error_message)}`);
				throw e;
			}
		});
		const seconds = (Date.now() - started) / 1000;
		const sha = createHash("sha256").update(bytes).digest("hex");
		const summary = { bytes: bytes.length, sha256: sha, seconds, chunks: result.chunks, resumedFrom: result.resumedFrom };
		return output(args, summary, `uploaded ${bytes.length} bytes in ${seconds.toFixed(1)} s (${result.chunks} chunks${result.resumedFrom ? `, resumed at byte ${result.resumedFrom}` : ""}); ` +
			"the device verified it: mark it for test with `sealdrop smp test HASH` (hash from `sealdrop smp state`)");
	});

const state = sub("state", "Show the image slots: version, hash and MCUmgr's flags (image group, command 0).", "state (--udp H:P | --serial P) [-f json]", [FORMAT], (args) =>
	withClient(args, async (c) => {
		const r = await c.read(SmpGroupId.IMAGE, 0, {}, { timeout: timeout(args) });
		return output(args, stateJson(r), stateText(r));
	}));

const test = sub("test", "Mark the uploaded image (by its hash) to run on trial at the next reset.", "test (--udp H:P | --serial P) HASH [-f json]", [FORMAT], (args) =>
	withClient(args, async (c) => {
		if (args.positionals.length !== 1) fail("E_USAGE", "give the HASH of the image to test");
		const r = await c.write(SmpGroupId.IMAGE, 0, { hash: await resolveHash(c, args.positionals[0]), confirm: false }, { timeout: timeout(args) });
		return output(args, stateJson(r), stateText(r));
	}));

const confirm = sub("confirm", "Confirm the running image (no HASH), or make the image with HASH permanent.", "confirm (--udp H:P | --serial P) [HASH] [-f json]", [FORMAT], (args) =>
	withClient(args, async (c) => {
		const hash = args.positionals[0] ? await resolveHash(c, args.positionals[0]) : undefined;
		const r = await c.write(SmpGroupId.IMAGE, 0, { ...(hash ? { hash } : {}), confirm: true }, { timeout: timeout(args) });
		return output(args, stateJson(r), stateText(r));
	}));

const reset = sub("reset", "Reset the device (it answers, then reboots; the bootloader swaps a pending image).", "reset (--udp H:P | --serial P) [--force]", [
	{ long: "force", arity: 0, help: "reset even if the device would rather not" },
], (args) => withClient(args, async (c) => {
	await c.write(SmpGroupId.OS, 5, args.flag("force") ? { force: 1 } : {}, { timeout: timeout(args), tries: 1 });
	process.stdout.write("the device is resetting\n");
	return 0;
}));

const erase = sub("erase", "Erase a slot (default the secondary, 1); refused while it is pending or confirmed.", "erase (--udp H:P | --serial P) [--slot N]", [
	{ long: "slot", metavar: "N", help: "slot number (default 1)" },
], (args) => withClient(args, async (c) => {
	await c.write(SmpGroupId.IMAGE, 5, args.get("slot") ? { slot: parseInteger(args.get("slot")!, "--slot") } : {}, { timeout: timeout(args) ?? 30_000, tries: 1 });
	process.stdout.write("erased\n");
	return 0;
}));

const pubkey = sub("pubkey", "Read the device's public key and fingerprint (Sealdrop group 64), in getpub's encodings.", "pubkey (--udp H:P | --serial P) [-e pem|raw|lang-c|lang-rust] [-o OUT] [-f json]", [
	{ long: "encoding", short: "e", choices: PUBLIC_ENCODINGS, help: "output encoding (default pem)" },
	{ long: "output", short: "o", metavar: "OUT", help: "write the key to OUT instead of standard output" },
	FORMAT,
], (args) => withClient(args, async (c) => {
	const r = await c.read(SmpGroupId.SEALDROP, 0, {}, { timeout: timeout(args) });
	if (!(r.public_key instanceof Uint8Array) || (r.kind !== "p256" && r.kind !== "x25519")) fail("E_KEY_FORMAT", "the device's key answer lacks a p256 or x25519 public key");
	const fingerprint = r.fingerprint instanceof Uint8Array ? toHex(r.fingerprint) : "";
	const key = deviceKeyFromRaw(r.kind, r.public_key, "the device");
	if (args.get("format") === "json") {
		printJson({ kind: r.kind, publicKey: toHex(r.public_key), fingerprint, mode: r.mode, provisionedAt: r.provisioned_at });
		return 0;
	}
	writeResult(args.get("output"), encodePublicKey(key, (args.get("encoding") ?? "pem") as PublicEncoding));
	return 0;
}));

const rotate = sub("rotate", "Hand the device a key rotation request (from `sealdrop rotate request`) and write its answer (Sealdrop group 64, command 1).",
	"rotate (--udp H:P | --serial P) REQUEST -o ANSWER", [
		{ long: "output", short: "o", metavar: "ANSWER", help: "where to write the device's answer (required); check it with `sealdrop rotate check`" },
	], (args) => withClient(args, async (c) => {
		if (args.positionals.length !== 1) fail("E_USAGE", "give one REQUEST file");
		const output = args.require("output");
		const request = readInput(args.positionals[0], "rotation request");
		// the device makes a key: allow for a slow one; a resent request gets the same answer (rotation.ts)
		const r = await c.write(SmpGroupId.SEALDROP, 1, { request }, { timeout: timeout(args) ?? 10_000, tries: 2 });
		if (!(r.response instanceof Uint8Array)) fail("E_ROTATION", "the device's rotation answer has no \"response\" byte string");
		writeOutput(output, r.response);
		process.stdout.write(`the device answered (${r.response.length} bytes, in ${output}): check it with \`sealdrop rotate check\`\n`);
		return 0;
	}));

export const smp: CommandSpec = {
	name: "smp",
	summary: "An MCUmgr SMP client: echo, upload, state, test, confirm, reset, erase, pubkey, rotate over UDP or a serial line.",
	usage: "smp COMMAND (--udp HOST:PORT | --serial PATH[,BAUD]) [options]",
	options: [],
	subcommands: [echo, upload, state, test, confirm, reset, erase, pubkey, rotate],
	notes: [
		"Example, against a simulated device:",
		"  sealdrop sim serve --dir dev1 --udp 127.0.0.1:1337 &",
		"  sealdrop smp upload --udp 127.0.0.1:1337 sealed.bin",
		"  sealdrop smp state --udp 127.0.0.1:1337",
		"  sealdrop smp test --udp 127.0.0.1:1337 HASH && sealdrop smp reset --udp 127.0.0.1:1337",
		"  sealdrop smp confirm --udp 127.0.0.1:1337",
		"  sealdrop smp rotate --udp 127.0.0.1:1337 rot1.req -o rot1.answer",
	].join("\n"),
	run() {
		return 0; // main.ts dispatches to the subcommands
	},
};
