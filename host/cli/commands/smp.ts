/**
 * `sealdrop smp`: an MCUmgr SMP client (smp-protocol.md) for real or simulated devices, over UDP
 * (`--udp HOST:PORT`), a serial line in the console framing (`--serial PATH[,BAUD]`, a pty too)
 * or that framing over TCP (`--tcp HOST:PORT`: QEMU's, Renode's or ser2net's UART). mcumgr's
 * `--conntype serial|udp --connstring ...` and smpmgr's `--port PATH` are accepted too.
 */
import { createHash } from "node:crypto";
import { fail, fromHex, parseImage, SealdropError, toHex, type ErrorCode } from "sealdrop/image";
import { FORMAT, parseIntegerIn, type CommandSpec, type OptionSpec, type ParsedArgs } from "../args.js";
import { printJson, ProgressBar, readInput, writeOutput, writeResult } from "../io.js";
import { deviceKeyFromRaw, encodePublicKey, PUBLIC_ENCODINGS, type PublicEncoding } from "../keys.js";
import type { CborMap } from "../../../modules/transport/smp/cbor.js";
import { SmpGroupId } from "../../../modules/transport/smp/header.js";
import { SmpClient, SmpResponseError, SmpSizeError, SmpTimeoutError } from "../../smp/client.js";
import { serialLink, tcpLink, udpLink, type SmpLink } from "../../smp/links.js";

export const LINK_OPTIONS: OptionSpec[] = [
	{ long: "udp", metavar: "HOST:PORT", help: "the device's SMP UDP address (MCUmgr's port is 1337)" },
	{ long: "serial", metavar: "PATH[,BAUD]", help: "a serial line (tty or pty) carrying SMP in the console framing" },
	{ long: "tcp", metavar: "HOST:PORT", help: "a UART on a TCP port (QEMU -serial tcp:, Renode, ser2net), in the console framing" },
	{ long: "port", metavar: "PATH[,BAUD]", help: "smpmgr's name for --serial" },
	{ long: "conntype", choices: ["serial", "udp", "tcp"], help: "mcumgr's link type, with --connstring" },
	{ long: "connstring", metavar: "S", help: "mcumgr's link address: dev=PATH[,baud=N] (serial), [HOST]:PORT (udp, tcp)" },
	{ long: "timeout", metavar: "MS", help: "milliseconds to wait for each answer (default 2500; an upload's first chunk waits 40 s)" },
];

/** Which link the options name: one of --udp, --serial (--port), --tcp, or mcumgr's --conntype with --connstring. */
export function linkSpec(args: ParsedArgs): { kind: "udp" | "serial" | "tcp"; address: string } {
	const given: { kind: "udp" | "serial" | "tcp"; address: string }[] = [];
	if (args.get("udp")) given.push({ kind: "udp", address: args.get("udp")! });
	if (args.get("serial")) given.push({ kind: "serial", address: args.get("serial")! });
	if (args.get("port")) given.push({ kind: "serial", address: args.get("port")! });
	if (args.get("tcp")) given.push({ kind: "tcp", address: args.get("tcp")! });
	const conntype = args.get("conntype") as "udp" | "serial" | "tcp" | undefined;
	const connstring = args.get("connstring");
	if (!!conntype !== !!connstring) fail("E_USAGE", "--conntype and --connstring go together (mcumgr's spelling), e.g. --conntype serial --connstring dev=/dev/ttyACM0,baud=115200");
	if (conntype && connstring) {
		if (conntype === "serial") {
			const fields = new Map(connstring.split(",").map((f) => [f.slice(0, f.indexOf("=")), f.slice(f.indexOf("=") + 1)] as const));
			const dev = fields.get("dev");
			if (!dev || [...fields.keys()].some((k) => k !== "dev" && k !== "baud" && k !== "mtu")) fail("E_USAGE", `--connstring for serial takes dev=PATH[,baud=N], not "${connstring}"`);
			given.push({ kind: "serial", address: dev + (fields.get("baud") ? `,${fields.get("baud")}` : "") });
		} else given.push({ kind: conntype, address: connstring });
	}
	if (given.length !== 1) fail("E_USAGE", "give one link: --udp HOST:PORT, --serial PATH[,BAUD] or --tcp HOST:PORT");
	return given[0];
}

/** The link's numeric options checked before anything is opened (E_USAGE, never a crash in a socket call). */
async function openLink(args: ParsedArgs): Promise<SmpLink> {
	const { kind, address } = linkSpec(args);
	return kind === "udp" ? udpLink(address) : kind === "tcp" ? await tcpLink(address) : serialLink(address);
}

/** What to check when a device does not answer: one line, after the client's own message. */
function noAnswerHint(args: ParsedArgs): string {
	const { kind } = linkSpec(args);
	const where = kind === "udp" ? "the host and port (MCUmgr's is 1337)" : kind === "tcp" ? "the host and port of the TCP serial" : "the serial path and baud rate";
	return `check that the device is running and serving SMP there (a simulated one: is \`sealdrop sim serve\` running?), ${where}, and for uploads try a smaller --mtu`;
}

/** Image group codes (smp-protocol.md §3.2) a user may meet, by number. */
const IMAGE_ERRORS: Record<number, string> = {
	1: "unknown", 3: "no image", 5: "invalid TLV", 8: "hash not found", 9: "no free slot (the slot is pending or confirmed)",
	12: "flash write failed", 14: "invalid slot", 20: "invalid offset", 21: "invalid length", 22: "invalid image header",
	23: "not an MCUboot image (bad magic)", 24: "invalid hash", 27: "the running image is newer", 30: "image too large",
	31: "data past the announced length", 33: "the running image cannot be marked for test",
};

const RC_NAMES = ["EOK", "EUNKNOWN", "ENOMEM", "EINVAL", "ETIMEOUT", "ENOENT", "EBADSTATE", "EMSGSIZE", "ENOTSUP", "ECORRUPT", "EBUSY", "EACCESSDENIED", "EUNSUPPORTED_TOO_OLD", "EUNSUPPORTED_TOO_NEW"];

function timeout(args: ParsedArgs): number | undefined {
	const t = args.get("timeout");
	// setTimeout's own limit is 2^31 − 1 ms; ten minutes is plenty for any one answer
	return t === undefined ? undefined : parseIntegerIn(t, "--timeout", 1, 600_000);
}

/** Runs a client call; SMP errors and timeouts become Sealdrop errors with stable codes. */
async function withClient<T>(args: ParsedArgs, call: (client: SmpClient) => Promise<T>): Promise<T> {
	timeout(args); // checked before the link opens
	const client = new SmpClient(await openLink(args));
	try {
		return await call(client);
	} catch (e) {
		if (e instanceof SmpTimeoutError) fail("E_IO", `${e.message}: ${noAnswerHint(args)}`);
		if (e instanceof SmpSizeError) fail("E_USAGE", e.message);
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

/**
 * Image state write (image group, command 0). A Zephyr app built for MCUboot's RAM-load or
 * direct-XIP modes has no such command (ENOTSUP; seen on the mps2-an385 RAM-load fixture): the
 * bootloader runs the newest valid image by itself, so a reset is all it takes.
 */
async function stateWrite(c: SmpClient, body: CborMap, wait: number | undefined): Promise<CborMap> {
	try {
		return await c.write(SmpGroupId.IMAGE, 0, body, { timeout: wait });
	} catch (e) {
		if (e instanceof SmpResponseError && e.group === undefined && e.rc === 8)
			fail("E_UNSUPPORTED", "the device cannot mark images for test or confirm them (image state write: SMP error 8, ENOTSUP); its bootloader picks the newest valid image itself (MCUboot RAM-load or direct-XIP): `sealdrop smp reset` runs the upload");
		throw e;
	}
}

const sub = (name: string, summary: string, usage: string, options: OptionSpec[], run: (args: ParsedArgs) => Promise<number>, notes?: string): CommandSpec =>
	({ name, summary, usage: `smp ${usage}`, options: [...LINK_OPTIONS, ...options], run, ...(notes ? { notes } : {}) });

const echo = sub("echo", "Send text; the device echoes it (OS group, command 0).", "echo (--udp H:P | --serial P | --tcp H:P) [TEXT]", [FORMAT], (args) =>
	withClient(args, async (c) => {
		const r = await c.write(SmpGroupId.OS, 0, { d: args.positionals.join(" ") || "hello" }, { timeout: timeout(args) });
		return output(args, r, String(r.r));
	}));

const upload = sub("upload", "Upload an image to the device's secondary slot, with a progress bar; run it again after an interruption and it resumes.",
	"upload (--udp H:P | --serial P | --tcp H:P) IMAGE [--mtu N] [--window N] [--image N] [--upgrade]", [
		{ long: "mtu", metavar: "N", help: "largest SMP packet to send (default: what the device takes: its buf_size less the serial framing's 4 bytes; 1020 on a serial line without OS params, MCUboot's default)" },
		{ long: "window", metavar: "N", help: "upload requests in flight at once (default: buf_count − 1 from the device's OS params, at most 4; 1 when it reports none, or after a request goes unanswered)" },
		{ long: "image", metavar: "N", help: "image number on multi-image boards (default 0)" },
		{ long: "upgrade", arity: 0, help: "ask the device to refuse an image not newer than the running one" },
		FORMAT,
	], async (args) => {
		if (args.positionals.length !== 1) fail("E_USAGE", "give one IMAGE to upload");
		const image = parseIntegerIn(args.get("image") ?? "0", "--image", 0, 255);
		const mtu = args.get("mtu") === undefined ? undefined : parseIntegerIn(args.get("mtu")!, "--mtu", 64, 65535);
		const window = args.get("window") === undefined ? undefined : parseIntegerIn(args.get("window")!, "--window", 1, 16);
		const bytes = readInput(args.positionals[0], "image");
		const bar = new ProgressBar("upload", bytes.length);
		const started = Date.now();
		const { result, hash } = await withClient(args, async (c) => {
			const before = await slotHashes(c);
			let result;
			try {
				result = await c.upload(bytes, {
					image, upgrade: args.flag("upgrade"), ...(mtu ? { mtu } : {}), ...(window ? { window } : {}),
					...(timeout(args) ? { timeout: timeout(args) } : {}),
					onProgress: (off) => bar.update(off),
					onNotice: (message) => { bar.interrupt(); process.stderr.write(`sealdrop: note: ${message}\n`); },
				});
			} catch (e) {
				// the agent keeps the full reason of a refusal: ask for it (Sealdrop group, command 2)
				const status = await c.read(SmpGroupId.SEALDROP, 2).catch(() => undefined);
				if (e instanceof SmpResponseError && typeof status?.error_code === "string") throw new SealdropError(status.error_code as never, `the device refused the image: ${String(status.error_message)}`);
				throw e;
			}
			return { result, hash: uploadedHash(before, await slotHashes(c), bytes, image) };
		});
		const seconds = (Date.now() - started) / 1000;
		const sha = createHash("sha256").update(bytes).digest("hex");
		const sent = bytes.length - result.resumedFrom; // the rate of what crossed the link this time
		const summary = { bytes: bytes.length, sha256: sha, hash: hash?.hash, seconds, bytesPerSecond: Math.round(sent / seconds), chunks: result.chunks, packetSize: result.packetSize, finalPacketSize: result.finalPacketSize, window: result.window, resumedFrom: result.resumedFrom };
		return output(args, summary, `uploaded ${bytes.length} bytes in ${seconds.toFixed(1)} s (${(sent / 1024 / seconds).toFixed(1)} KiB/s, ${result.chunks} chunks of up to ${result.finalPacketSize}-byte packets${result.resumedFrom ? `, resumed at byte ${result.resumedFrom}` : ""})\n` +
			(!hash ? "the device lists no slot holding it yet (MCUboot's serial recovery checks it at the next reset): see `sealdrop smp state`"
				: hash.slot === 0 ? `the device lists it with hash ${hash.hash} in the primary slot (MCUboot's serial recovery writes it there): \`sealdrop smp reset\` boots it`
					: `the device lists it with hash ${hash.hash}: mark it for test with \`sealdrop smp test ${hash.hash.slice(0, 16)}\``));
	});

/** The slots the device lists (image group state read) as "image/slot" → hash hex; empty from a device without it. */
async function slotHashes(c: SmpClient): Promise<Map<string, string>> {
	try {
		const images = ((await c.read(SmpGroupId.IMAGE, 0)).images ?? []) as CborMap[];
		return new Map(images.filter((i) => i.hash instanceof Uint8Array).map((i) => [`${Number(i.image ?? 0)}/${Number(i.slot)}`, toHex(i.hash as Uint8Array)]));
	} catch (e) {
		if (e instanceof SmpResponseError) return new Map();
		throw e;
	}
}

/**
 * The hash the device lists for what was uploaded (the hash `smp test` wants): the slot holding
 * the file's own image hash TLV (a signed image; MCUboot's serial recovery writes the primary
 * slot, an app the secondary), else the slot of `image` whose hash changed (a sealed image: the
 * device lists the hash of the image inside), secondary first, else the secondary slot's.
 */
function uploadedHash(before: Map<string, string>, after: Map<string, string>, bytes: Uint8Array, image: number): { hash: string; slot: number } | undefined {
	let own: string | undefined;
	try {
		const tlv = parseImage(bytes).unprotectedTlvs.find((t) => t.type === 0x10);
		own = tlv ? toHex(tlv.value) : undefined;
	} catch {
		own = undefined; // not an image we can read: the device's account decides
	}
	const slots = [`${image}/1`, `${image}/0`];
	const key = slots.find((k) => after.get(k) !== undefined && after.get(k) === own)
		?? slots.find((k) => after.has(k) && after.get(k) !== before.get(k))
		?? (after.has(`${image}/1`) ? `${image}/1` : undefined);
	return key ? { hash: after.get(key)!, slot: Number(key.split("/")[1]) } : undefined;
}

const state = sub("state", "Show the image slots: version, hash and MCUmgr's flags (image group, command 0).", "state (--udp H:P | --serial P | --tcp H:P) [-f json]", [FORMAT], (args) =>
	withClient(args, async (c) => {
		const r = await c.read(SmpGroupId.IMAGE, 0, {}, { timeout: timeout(args) });
		return output(args, stateJson(r), stateText(r));
	}));

const test = sub("test", "Mark the uploaded image (by its hash) to run on trial at the next reset.", "test (--udp H:P | --serial P | --tcp H:P) HASH [-f json]", [FORMAT], (args) =>
	withClient(args, async (c) => {
		if (args.positionals.length !== 1) fail("E_USAGE", "give the HASH of the image to test");
		const r = await stateWrite(c, { hash: await resolveHash(c, args.positionals[0]), confirm: false }, timeout(args));
		return output(args, stateJson(r), stateText(r));
	}));

const confirm = sub("confirm", "Confirm the running image (no HASH), or make the image with HASH permanent.", "confirm (--udp H:P | --serial P | --tcp H:P) [HASH] [-f json]", [FORMAT], (args) =>
	withClient(args, async (c) => {
		const hash = args.positionals[0] ? await resolveHash(c, args.positionals[0]) : undefined;
		const r = await stateWrite(c, { ...(hash ? { hash } : {}), confirm: true }, timeout(args));
		return output(args, stateJson(r), stateText(r));
	}));

const reset = sub("reset", "Reset the device (it answers, then reboots; the bootloader swaps a pending image).", "reset (--udp H:P | --serial P | --tcp H:P) [--force] [--bootloader]", [
	{ long: "force", arity: 0, help: "reset even if the device would rather not" },
	{ long: "bootloader", arity: 0, help: "ask to stay in the bootloader (boot_mode 1: MCUboot's serial recovery, on Zephyr apps with CONFIG_MCUMGR_GRP_OS_RESET_BOOT_MODE)" },
], (args) => withClient(args, async (c) => {
	await c.write(SmpGroupId.OS, 5, { ...(args.flag("force") ? { force: true } : {}), ...(args.flag("bootloader") ? { boot_mode: 1 } : {}) }, { timeout: timeout(args), tries: 1 });
	process.stdout.write("the device is resetting\n");
	return 0;
}));

const erase = sub("erase", "Erase a slot (default the secondary, 1); refused while it is pending or confirmed.", "erase (--udp H:P | --serial P | --tcp H:P) [--slot N]", [
	{ long: "slot", metavar: "N", help: "slot number (default 1)" },
], (args) => withClient(args, async (c) => {
	await c.write(SmpGroupId.IMAGE, 5, args.get("slot") ? { slot: parseIntegerIn(args.get("slot")!, "--slot", 0, 255) } : {}, { timeout: timeout(args) ?? 30_000, tries: 1 });
	process.stdout.write("erased\n");
	return 0;
}));

const pubkey = sub("pubkey", "Read the device's public key and fingerprint (Sealdrop group 64), in getpub's encodings.", "pubkey (--udp H:P | --serial P | --tcp H:P) [-e pem|raw|lang-c|lang-rust] [-o OUT] [-f json]", [
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
	"rotate (--udp H:P | --serial P | --tcp H:P) REQUEST -o ANSWER", [
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
	usage: "smp COMMAND (--udp HOST:PORT | --serial PATH[,BAUD] | --tcp HOST:PORT) [options]",
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
		"Link options may come before the command too: sealdrop smp --udp 127.0.0.1:1337 state",
		"A UART on TCP (QEMU -serial tcp::5555,server=on,wait=off): sealdrop smp state --tcp 127.0.0.1:5555",
	].join("\n"),
	run() {
		return 0; // main.ts dispatches to the subcommands
	},
};
