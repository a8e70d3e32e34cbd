/**
 * The SMP server on the simulated device (real XS, the agent, the bootloader model) through
 * `sealdrop sim serve`, checked against smp-protocol.md: raw requests over UDP for the wire
 * format (§1-§5, checklist §11), then `sealdrop smp` end to end (upload, test, reset, confirm,
 * erase, pubkey), an upload that survives a power cut mid-way, and the serial framing over a pty.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createHash, createPublicKey } from "node:crypto";
import dgram from "node:dgram";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { decodeCbor, encodeCbor, type CborMap } from "../../modules/transport/smp/cbor.js";
import { decodeSmpHeader, encodeSmpPacket } from "../../modules/transport/smp/header.js";
import { CODE_EXIT, expectFailure, expectOk, findTlv, rawLayout, repoRoot, runCli, tempDir } from "../helpers/cli.js";
import { SmpClient, SmpTimeoutError } from "../../host/smp/client.js";
import { serialLink, udpLink } from "../../host/smp/links.js";
import { base64Encode, crc16Xmodem } from "../../modules/transport/smp/serial-framing.js";

const work = tempDir("sealdrop-smp-");
const cli = (...args: string[]) => runCli(args, { cwd: work.dir });
const ok = (...args: string[]) => {
	const r = cli(...args);
	expectOk(r, args.join(" "));
	return r.stdout;
};
const servers: ChildProcessWithoutNullStreams[] = [];

/** Starts `sim serve` and resolves with its first line (where it listens) and a log of the rest. */
function serve(dir: string, mode: string[], env: NodeJS.ProcessEnv = {}): Promise<{ where: Record<string, string>; log: string[]; stop(): Promise<void> }> {
	const child = spawn(process.execPath, [path.join(repoRoot, "bin", "sealdrop.js"), "sim", "serve", "--dir", dir, ...mode, "-f", "json"], { cwd: work.dir, env: { ...process.env, ...env } });
	servers.push(child);
	const log: string[] = [];
	return new Promise((resolve, reject) => {
		let buffer = "";
		child.stdout.on("data", (d: Buffer) => {
			buffer += d.toString();
			for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
				const line = buffer.slice(0, nl);
				buffer = buffer.slice(nl + 1);
				if (log.length === 0) resolve({ where: JSON.parse(line) as Record<string, string>, log, stop: () => new Promise((done) => { child.removeAllListeners("close"); child.on("close", () => done()); child.kill("SIGTERM"); }) });
				log.push(line);
			}
		});
		child.on("close", (status) => reject(new Error(`sim serve ended (exit ${status})`)));
	});
}

/** A raw UDP client: sends datagrams, collects whole response packets. */
class Raw {
	readonly socket = dgram.createSocket("udp4");
	readonly #queue: Uint8Array[] = [];
	#wake: (() => void) | undefined;
	constructor(readonly port: number) {
		this.socket.on("message", (m) => {
			this.#queue.push(new Uint8Array(m));
			this.#wake?.();
		});
	}
	send(...packets: Uint8Array[]): void {
		this.socket.send(Buffer.concat(packets), this.port, "127.0.0.1");
	}
	async next(timeout = 5000): Promise<{ header: ReturnType<typeof decodeSmpHeader>; body: CborMap }> {
		const deadline = Date.now() + timeout;
		while (this.#queue.length === 0) {
			if (Date.now() > deadline) throw new Error("no response");
			await new Promise<void>((r) => { this.#wake = r; setTimeout(r, 50); });
		}
		const p = this.#queue.shift()!;
		const header = decodeSmpHeader(p);
		assert.equal(p.length, 8 + header.length, "the datagram is one whole SMP packet");
		return { header, body: header.length ? decodeCbor(p.subarray(8)) as CborMap : {} };
	}
	async silent(ms = 400): Promise<void> {
		await new Promise((r) => setTimeout(r, ms));
		assert.equal(this.#queue.length, 0, "no response expected");
	}
}

const packet = (op: number, group: number, command: number, body: Uint8Array | CborMap, sequence = 1, version = 1) =>
	encodeSmpPacket({ op, version, flags: 0, group, sequence, command }, body instanceof Uint8Array ? body : encodeCbor(body));

let raw: Raw;
let udp: string;
let sealed: Buffer;
let innerHash: string;
let factoryHash: string;

before(async () => {
	fs.writeFileSync(work.file("app-1.0.bin"), Buffer.alloc(30_000, 0x5a));
	fs.writeFileSync(work.file("app-1.1.bin"), Buffer.from(Array.from({ length: 120_000 }, (_, i) => (i * 31) & 0xff)));
	ok("keygen", "-k", "sign.pem", "-t", "ecdsa-p256");
	ok("sign", "-k", "sign.pem", "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", "app-1.0.bin", "factory.bin");
	ok("sign", "-k", "sign.pem", "-v", "1.1.0+7", "-H", "0x200", "--pad-header", "-S", "0x60000", "app-1.1.bin", "inner.bin");
	ok("wrap", "-k", "sign.pem", "-S", "0x61000", "inner.bin", "release.bin");
	for (const d of ["dev", "dev2", "dev3", "dev4"]) ok("sim", "init", "--dir", d, "--trust", "sign.pem", "--factory-image", "factory.bin");
	ok("sim", "pubkey", "--dir", "dev", "-o", "dev.pub.pem");
	ok("seal", "--device-pub", "dev.pub.pem", "-o", "sealed.bin", "release.bin");
	sealed = fs.readFileSync(work.file("sealed.bin"));
	// independent truth: the inner image's SHA256 TLV (0x10), read by the tests' own TLV reader
	const inner = fs.readFileSync(work.file("inner.bin"));
	innerHash = Buffer.from(findTlv(rawLayout(inner), 0x10).value).toString("hex");
	factoryHash = Buffer.from(findTlv(rawLayout(fs.readFileSync(work.file("factory.bin"))), 0x10).value).toString("hex");
	const { where } = await serve("dev", ["--udp", "127.0.0.1:0"]);
	udp = where.udp;
	raw = new Raw(Number(udp.split(":")[1]));
});

after(() => {
	raw?.socket.close();
	for (const s of servers) s.kill("SIGTERM");
	work.cleanup();
});

test("OS group: echo, echo without d, params (op 1), sequence and version echoed (§4, §11.12)", async () => {
	raw.send(packet(2, 0, 0, { d: "hi" }, 0x77));
	let r = await raw.next();
	assert.deepEqual([r.header.op, r.header.version, r.header.group, r.header.sequence, r.header.command], [3, 1, 0, 0x77, 0]);
	assert.deepEqual(r.body, { r: "hi" });
	raw.send(packet(0, 0, 0, {}, 5, 0));
	r = await raw.next();
	assert.deepEqual([r.header.op, r.header.version], [1, 0]);
	assert.deepEqual(r.body, { r: "" });
	raw.send(packet(0, 0, 6, {}));
	r = await raw.next();
	assert.equal(r.header.op, 1);
	assert.deepEqual(r.body, { buf_size: 1472, buf_count: 4 });
});

test("errors: unknown group/command ENOTSUP, Ver 2 TOO_NEW, short buffer ECORRUPT, malformed CBOR EINVAL (§1, §2)", async () => {
	raw.send(packet(0, 9, 0, {}));
	assert.equal((await raw.next()).body.rc, 8);
	raw.send(packet(0, 0, 5, {})); // reset exists for write only
	assert.equal((await raw.next()).body.rc, 8);
	raw.send(packet(0, 0, 0, {}, 3, 2));
	let r = await raw.next();
	assert.equal(r.header.version, 1);
	assert.equal(r.body.rc, 13);
	const short = packet(2, 0, 0, { d: "abc" });
	raw.send(short.subarray(0, short.length - 2));
	assert.equal((await raw.next()).body.rc, 9);
	raw.send(packet(2, 0, 0, Uint8Array.of(0xa1, 0x61)));
	r = await raw.next();
	assert.equal(r.body.rc, 3);
	raw.send(packet(2, 0, 0, Uint8Array.of(0x9f, 0x9f, 0x9f)));
	assert.equal((await raw.next()).body.rc, 3);
	raw.send(packet(3, 0, 0, { r: "a response" })); // a response sent to the server is ignored
	await raw.silent();
});

test("the device's 512-slot XS stack (manifest.json's creation): a 25-byte body nested 8 deep is EINVAL, not an engine abort; a text in 250 chunks is echoed; the device keeps serving", async () => {
	// {"a": {"a": ... 1}} 8 deep: the recursive CBOR decoder used to exhaust a board's stack here
	const nested = Uint8Array.from([...Array.from({ length: 8 }, () => [0xa1, 0x61, 0x61]).flat(), 0x01]);
	raw.send(packet(2, 0, 0, nested));
	assert.equal((await raw.next()).body.rc, 3);
	// {"d": "x" in 250 one-byte chunks}: the chunks were once joined by spreading them as arguments
	const chunked = Uint8Array.from([0xa1, 0x61, 0x64, 0x7f, ...Array.from({ length: 250 }, () => [0x61, 0x78]).flat(), 0xff]);
	raw.send(packet(2, 0, 0, chunked, 2));
	assert.deepEqual((await raw.next()).body, { r: "x".repeat(250) });
	raw.send(packet(2, 0, 0, { d: "still here" }, 3));
	assert.deepEqual((await raw.next()).body, { r: "still here" });
});

test("requests: indefinite maps, any key order, extra keys; several in one datagram answered in order (§11.6, §11.9)", async () => {
	raw.send(packet(2, 0, 0, Uint8Array.of(0xbf, 0x62, 0x7a, 0x7a, 0x01, 0x61, 0x64, 0x62, 0x6f, 0x6b, 0xff)));
	assert.deepEqual((await raw.next()).body, { r: "ok" });
	raw.send(packet(2, 0, 0, { d: "one" }, 1), packet(0, 0, 6, {}, 2), packet(2, 0, 0, { d: "three" }, 3));
	const seqs = [];
	for (let i = 0; i < 3; i++) seqs.push((await raw.next()).header.sequence);
	assert.deepEqual(seqs, [1, 2, 3]);
	for (let s = 10; s < 16; s++) raw.send(packet(2, 0, 0, { d: `p${s}` }, s)); // pipelined datagrams
	for (let s = 10; s < 16; s++) {
		const r = await raw.next();
		assert.equal(r.header.sequence, s);
		assert.equal(r.body.r, `p${s}`);
	}
});

test("upload refusals: v2 err{group 1, rc} and v1 rc with rsn (§2, §5.3, §11.3-§11.5)", async () => {
	const head = sealed.subarray(0, 64);
	const cases: [CborMap, number, number][] = [
		[{ len: 100, data: head }, 20, 3], // no off
		[{ off: 0, data: head.subarray(0, 16), len: 100 }, 22, 3], // first chunk < 32 bytes
		[{ off: 0, data: head }, 21, 3], // no len
		[{ off: 0, data: new Uint8Array(64), len: 100 }, 23, 1], // bad magic
		[{ off: 0, data: head, len: sealed.length, sha: new Uint8Array(33) }, 24, 3],
		[{ off: 0, data: head, len: sealed.length, image: 5 }, 14, 3],
		[{ off: 0, data: head, len: sealed.length, upgrade: true, sha: Uint8Array.of(1, 2, 3) }, 0, 0], // newer: accepted
	];
	for (const [body, v2, v1] of cases) {
		raw.send(packet(2, 1, 1, body, 1, 1));
		const r2 = await raw.next();
		if (v2 === 0) {
			assert.equal(typeof r2.body.off, "number");
			continue;
		}
		assert.deepEqual(r2.body, { err: { group: 1, rc: v2 } }, JSON.stringify(Object.keys(body)));
		raw.send(packet(2, 1, 1, body, 2, 0));
		const r1 = await raw.next();
		assert.equal(r1.body.rc, v1);
		assert.equal(typeof r1.body.rsn, "string");
		assert.equal(r1.body.err, undefined, "never err in a v1 reply");
	}
	// a chunk past the announced length (31), a chunk for another offset (answered with the wanted one)
	raw.send(packet(2, 1, 1, { off: 100_000_000, data: head }));
	assert.deepEqual((await raw.next()).body, { err: { group: 1, rc: 31 } });
	raw.send(packet(2, 1, 1, { off: 7, data: head }));
	assert.equal(typeof (await raw.next()).body.off, "number");
	// state write: a hash of the wrong length, test without a hash, an unknown hash
	raw.send(packet(2, 1, 0, { hash: new Uint8Array(31), confirm: false }));
	assert.deepEqual((await raw.next()).body, { err: { group: 1, rc: 24 } });
	raw.send(packet(2, 1, 0, { confirm: false }));
	assert.deepEqual((await raw.next()).body, { err: { group: 1, rc: 24 } });
	raw.send(packet(2, 1, 0, { hash: new Uint8Array(32), confirm: false }));
	assert.deepEqual((await raw.next()).body, { err: { group: 1, rc: 8 } });
	// the running image cannot be set to test (33); erase of the active slot is refused (9)
	raw.send(packet(0, 1, 0, {}));
	const active = ((await raw.next()).body.images as CborMap[])[0];
	raw.send(packet(2, 1, 0, { hash: active.hash, confirm: false }));
	assert.deepEqual((await raw.next()).body, { err: { group: 1, rc: 33 } });
	raw.send(packet(2, 1, 5, { slot: 0 }));
	assert.deepEqual((await raw.next()).body, { err: { group: 1, rc: 9 } });
	// the Sealdrop group: a malformed rotation request is an SMP-level EINVAL whose reason starts with the agent's code
	raw.send(packet(2, 64, 1, { request: Uint8Array.of(1) }));
	const rot = (await raw.next()).body;
	assert.equal(rot.rc, 3);
	assert.match(String(rot.rsn), /^E_ROTATION: /);
	raw.send(packet(2, 64, 1, { request: "not bytes" }));
	assert.equal((await raw.next()).body.rc, 3);
});

test("sealdrop smp: echo, pubkey (= sim pubkey), upload, state, test, reset (swap, trial), confirm, erase", async () => {
	assert.equal(ok("smp", "echo", "--udp", udp, "hello", "device").trim(), "hello device");
	const viaSmp = ok("smp", "pubkey", "--udp", udp);
	assert.equal(viaSmp, fs.readFileSync(work.file("dev.pub.pem"), "utf8"));
	const key = JSON.parse(ok("smp", "pubkey", "--udp", udp, "-f", "json"));
	assert.match(key.fingerprint, /^[0-9a-f]{64}$/);
	const up = JSON.parse(ok("smp", "upload", "--udp", udp, "sealed.bin", "--mtu", "512", "-f", "json"));
	assert.equal(up.bytes, sealed.length);
	assert.equal(up.hash, innerHash, "upload reports the hash the device lists for it (the inner image's SHA256 TLV), what smp test wants");
	assert.equal(up.packetSize, 512);
	assert.ok(up.chunks > sealed.length / 512);
	let state = JSON.parse(ok("smp", "state", "--udp", udp, "-f", "json"));
	const slot1 = state.images.find((i: CborMap) => i.slot === 1);
	assert.deepEqual({ version: slot1.version, hash: slot1.hash, pending: slot1.pending }, { version: "1.1.0.7", hash: innerHash, pending: false });
	// link options before the command, as `sim serve --help` shows them
	state = JSON.parse(ok("smp", "--udp", udp, "test", innerHash.slice(0, 12), "-f", "json"));
	assert.equal(state.images.find((i: CborMap) => i.slot === 1).pending, true);
	ok("smp", "reset", "--udp", udp);
	await new Promise((r) => setTimeout(r, 300));
	state = JSON.parse(ok("smp", "state", "--udp", udp, "-f", "json"));
	const running = state.images.find((i: CborMap) => i.active);
	assert.deepEqual({ slot: running.slot, hash: running.hash, confirmed: running.confirmed }, { slot: 0, hash: innerHash, confirmed: false });
	let r = cli("smp", "erase", "--udp", udp);
	assert.equal(r.status, 3, "slot 1 holds the confirmed old image, which a revert needs");
	state = JSON.parse(ok("smp", "confirm", "--udp", udp, "-f", "json"));
	assert.equal(state.images.find((i: CborMap) => i.active).confirmed, true);
	ok("smp", "erase", "--udp", udp);
	state = JSON.parse(ok("smp", "state", "--udp", udp, "-f", "json"));
	assert.deepEqual(state.images.map((i: CborMap) => i.slot), [0]);
	r = cli("smp", "upload", "--udp", udp, "factory.bin", "--upgrade");
	assert.notEqual(r.status, 0, "--upgrade refuses an older image");
});

test("upload resumed after a power cut in the middle (SEALDROP_FLASH_CUT): the device reboots and the same upload goes on", async () => {
	const { where, log, stop } = await serve("dev2", ["--udp", "127.0.0.1:0"], { SEALDROP_FLASH_CUT: "12" });
	ok("sim", "pubkey", "--dir", "dev2", "-o", "dev2.pub.pem");
	ok("seal", "--device-pub", "dev2.pub.pem", "-o", "sealed2.bin", "release.bin");
	const up = JSON.parse(ok("smp", "upload", "--udp", where.udp, "sealed2.bin", "-f", "json"));
	await new Promise((r) => setTimeout(r, 200)); // sim serve's log lines, read while runCli blocked
	assert.ok(log.some((l) => l.includes("\"power cut\"")), `the device lost power: ${log.join(" ")}`);
	assert.ok(up.resumedFrom > 0, `resumed: ${JSON.stringify(up)}`);
	const slot1 = JSON.parse(ok("smp", "state", "--udp", where.udp, "-f", "json")).images.find((i: CborMap) => i.slot === 1);
	assert.equal(slot1.hash, innerHash);
	ok("sim", "read-slot", "--dir", "dev2", "secondary", "-o", "slot.bin");
	assert.ok(fs.readFileSync(work.file("slot.bin")).equals(fs.readFileSync(work.file("inner.bin"))), "the secondary slot holds the inner image");
	await stop(); // one device process per flash file: the pty test serves dev2 next
});

test("serial framing over a pty: sealdrop smp --serial against sim serve --pty", async () => {
	// `sim serve --pty` needs python3 (host/smp/pty.ts); a machine without it fails here, it is not skipped
	assert.equal(spawnSync("python3", ["-c", "import pty"]).status, 0, "python3 (with its pty module) is needed for sim serve --pty");
	const { where, stop } = await serve("dev2", ["--pty"]);
	assert.match(where.pty, /^\/dev\/pts\/\d+$/);
	assert.equal(ok("smp", "echo", "--serial", where.pty, "over a pty").trim(), "over a pty");
	const state = JSON.parse(ok("smp", "state", "--serial", where.pty, "-f", "json"));
	assert.equal(state.images.find((i: CborMap) => i.slot === 1).hash, innerHash);
	const key = JSON.parse(ok("smp", "pubkey", "--serial", where.pty, "-f", "json"));
	assert.equal(key.kind, "p256");
	await stop();
});


test("buf_size: sim serve --buf-size raises what OS params report and the request size the device takes; larger packets are refused", async () => {
	const { where, stop } = await serve("dev3", ["--udp", "127.0.0.1:0", "--buf-size", "4096"]);
	const big = new Raw(Number(where.udp.split(":")[1]));
	try {
		big.send(packet(0, 0, 6, {}));
		assert.deepEqual((await big.next()).body, { buf_size: 4096, buf_count: 4 });
		big.send(packet(2, 0, 0, { d: "x".repeat(3000) }));
		assert.equal((await big.next()).body.r, "x".repeat(3000), "a 3 KB request and its answer");
		big.send(packet(2, 0, 0, { d: "x".repeat(5000) }));
		await big.silent(); // beyond buf_size: the device's framing drops it, as a board's buffer would
		const r = cli("sim", "serve", "--dir", "dev3", "--udp", "127.0.0.1:0", "--buf-size", "64");
		expectFailure(r, "E_USAGE", CODE_EXIT.E_USAGE, "--buf-size 64");
	} finally {
		big.socket.close();
		await stop();
	}
});

test("revert through SMP: upload, test, reset (swap, trial), reset again without confirm: the old image runs again", async () => {
	const { where, stop } = await serve("dev3", ["--udp", "127.0.0.1:0"]);
	try {
		ok("sim", "pubkey", "--dir", "dev3", "-o", "dev3.pub.pem");
		ok("seal", "--device-pub", "dev3.pub.pem", "-o", "sealed3.bin", "release.bin");
		const state = () => JSON.parse(ok("smp", "state", "--udp", where.udp, "-f", "json")).images as CborMap[];
		const view = (images: CborMap[]) => images.map((i) => ({ slot: i.slot, hash: i.hash, active: i.active, confirmed: i.confirmed, pending: i.pending }));
		ok("smp", "upload", "--udp", where.udp, "sealed3.bin");
		ok("smp", "test", "--udp", where.udp, innerHash);
		assert.deepEqual(view(state()), [
			{ slot: 0, hash: factoryHash, active: true, confirmed: true, pending: false },
			{ slot: 1, hash: innerHash, active: false, confirmed: false, pending: true },
		]);
		ok("smp", "reset", "--udp", where.udp);
		assert.deepEqual(view(state()), [
			{ slot: 0, hash: innerHash, active: true, confirmed: false, pending: false },
			{ slot: 1, hash: factoryHash, active: false, confirmed: true, pending: false },
		], "after the swap: the new image on trial, the old one kept for a revert");
		ok("smp", "reset", "--udp", where.udp); // no confirm: the bootloader reverts
		const reverted = view(state());
		assert.deepEqual(reverted.find((i) => i.active), { slot: 0, hash: factoryHash, active: true, confirmed: true, pending: false }, "the old image runs again");
		assert.ok(!reverted.some((i) => i.hash === innerHash && (i.pending || i.confirmed)), `the trial image is neither pending nor confirmed: ${JSON.stringify(reverted)}`);
	} finally {
		await stop();
	}
	assert.equal(JSON.parse(ok("sim", "state", "--dir", "dev3", "-f", "json")).running.hash, factoryHash, "the simulator agrees");
});

test("key rotation through SMP: smp rotate answers a signed request, rotate check accepts the answer; a replayed counter is refused with E_REPLAY", async () => {
	const { where, stop } = await serve("dev3", ["--udp", "127.0.0.1:0"]);
	try {
		ok("sim", "pubkey", "--dir", "dev3", "-o", "dev3.pub.pem");
		const request = (name: string, counter: number) =>
			ok("rotate", "request", "--device-pub", "dev3.pub.pem", "-k", "sign.pem", "--counter", String(counter), "--ephemeral", `${name}.eph.pem`, "-o", `${name}.req`);
		request("rot1", 1);
		ok("smp", "rotate", "--udp", where.udp, "rot1.req", "-o", "rot1.answer");
		ok("rotate", "check", "--device-pub", "dev3.pub.pem", "--ephemeral", "rot1.eph.pem", "--request", "rot1.req", "rot1.answer", "-o", "dev3.new.pub.pem");
		const key = JSON.parse(ok("sim", "pubkey", "--dir", "dev3", "-f", "json"));
		const newFingerprint = createHash("sha256").update(createPublicKey(fs.readFileSync(work.file("dev3.new.pub.pem"))).export({ type: "spki", format: "der" })).digest("hex");
		assert.equal(key.rotating?.fingerprint, newFingerprint, "the checked answer's key is the one the device made");
		assert.equal(ok("smp", "pubkey", "--udp", where.udp), fs.readFileSync(work.file("dev3.pub.pem"), "utf8"), "the old key stays the device key until an image sealed for the new one is confirmed");
		// the same request again (an answer lost on the way): the same answer
		ok("smp", "rotate", "--udp", where.udp, "rot1.req", "-o", "rot1.again");
		assert.ok(fs.readFileSync(work.file("rot1.again")).equals(fs.readFileSync(work.file("rot1.answer"))));
		// another request with a counter already used: a replay
		request("replay", 1);
		const replay = cli("smp", "rotate", "--udp", where.udp, "replay.req", "-o", "replay.answer");
		expectFailure(replay, "E_REPLAY", CODE_EXIT.E_REPLAY, "smp rotate with counter 1 again");
		assert.match(replay.stderr, /SMP error 11, EACCESSDENIED\): rotation counter 1 is not above 1/);
		assert.equal(fs.existsSync(work.file("replay.answer")), false, "no answer written");
		// a request for another device, and bytes that are no request
		fs.writeFileSync(work.file("junk.req"), Buffer.from("not a rotation request"));
		expectFailure(cli("smp", "rotate", "--udp", where.udp, "junk.req", "-o", "junk.answer"), "E_ROTATION", CODE_EXIT.E_ROTATION, "junk request");
		ok("rotate", "request", "--device-pub", "dev.pub.pem", "-k", "sign.pem", "--counter", "9", "--ephemeral", "other.eph.pem", "-o", "other.req");
		expectFailure(cli("smp", "rotate", "--udp", where.udp, "other.req", "-o", "other.answer"), "E_DEVICE_KEY", CODE_EXIT.E_DEVICE_KEY, "another device's request");
		assert.equal(JSON.parse(ok("sim", "pubkey", "--dir", "dev3", "-f", "json")).rotating?.counter, 1, "the refusals changed nothing");
	} finally {
		await stop();
	}
});

/** An echo request whose whole SMP packet is exactly `size` bytes. */
function echoOfSize(size: number, sequence = 1): Uint8Array {
	let text = "e".repeat(size);
	while (8 + encodeCbor({ d: text }).length > size) text = text.slice(1);
	const p = packet(2, 0, 0, { d: text }, sequence);
	assert.equal(p.length, size);
	return p;
}

test("pty as strict as Zephyr's serial transport: buf_size 1024 takes 1020-byte packets and drops 1021 (the real Zephyr 4.4 app did the same), lines over 128 bytes are dropped; the default upload fits", async () => {
	// `sim serve --pty` needs python3 (host/smp/pty.ts); a machine without it fails here, it is not skipped
	assert.equal(spawnSync("python3", ["-c", "import pty"]).status, 0, "python3 (with its pty module) is needed for sim serve --pty");
	const { where, stop } = await serve("dev4", ["--pty", "--buf-size", "1024"]);
	const client = new SmpClient(serialLink(where.pty));
	try {
		const echo = (size: number) => client.request(2, 0, 0, decodeCbor(echoOfSize(size).subarray(8)) as CborMap, { timeout: 1500, tries: 1 });
		assert.equal((await echo(1020)).r, (decodeCbor(echoOfSize(1020).subarray(8)) as CborMap).d, "a 1020-byte packet is answered");
		// the old client's sizing: a packet of the whole buf_size. Zephyr drops it; so must the simulator
		await assert.rejects(echo(1021), SmpTimeoutError);
		await assert.rejects(echo(1024), SmpTimeoutError);
		// one frame on a single 130-byte line (a Zephyr UART line buffer holds 128 with the newline): dropped
		const small = packet(2, 0, 0, { d: "x".repeat(80) }, 0x33);
		const frame = new Uint8Array(small.length + 4);
		frame.set([(small.length + 2) >> 8, (small.length + 2) & 0xff]);
		frame.set(small, 2);
		const crc = crc16Xmodem(small);
		frame.set([crc >> 8, crc & 0xff], small.length + 2);
		const line = Buffer.concat([Buffer.from([6, 9]), Buffer.from(base64Encode(frame)), Buffer.from("\n")]);
		assert.ok(line.length > 128);
		const answers: Uint8Array[] = [];
		const probe = serialLink(where.pty);
		probe.onPacket = (p) => answers.push(p);
		const fd = fs.openSync(where.pty, "w");
		fs.writeSync(fd, line);
		await new Promise((r) => setTimeout(r, 800));
		assert.deepEqual(answers, [], "an overlong line is dropped");
		probe.send(small); // the same packet in lines of at most 127 bytes is answered
		for (let i = 0; i < 40 && answers.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
		assert.equal(answers.length, 1);
		fs.closeSync(fd);
		probe.close();
		// sealdrop smp upload with its defaults: packets of buf_size − 4, no retry needed
		ok("sim", "pubkey", "--dir", "dev4", "-o", "dev4.pub.pem");
		ok("seal", "--device-pub", "dev4.pub.pem", "-o", "sealed4.bin", "release.bin");
		const r = cli("smp", "upload", "--serial", where.pty, "sealed4.bin", "-f", "json");
		expectOk(r, "smp upload over the pty");
		assert.doesNotMatch(r.stderr, /note:/, "no packet went unanswered");
		const up = JSON.parse(r.stdout);
		assert.deepEqual({ packetSize: up.packetSize, finalPacketSize: up.finalPacketSize, hash: up.hash }, { packetSize: 1020, finalPacketSize: 1020, hash: innerHash });
	} finally {
		client.close();
		await stop();
	}
});

test("UDP takes a packet of the buf_size OS params report, not one byte more, on the bare server and the device app, before and after a reset; the default upload sends no larger packet and needs no retry", async () => {
	for (const [dir, mode] of [["dev5", []], ["dev6", ["--app"]]] as const) {
		ok("sim", "init", "--dir", dir, "--trust", "sign.pem", "--factory-image", "factory.bin");
		const { where, log, stop } = await serve(dir, ["--udp", "127.0.0.1:0", ...mode]);
		const client = new SmpClient(udpLink(where.udp));
		const what = `sim serve ${mode.join(" ") || "(bare)"}`;
		try {
			const echo = (size: number) => client.request(2, 0, 0, decodeCbor(echoOfSize(size).subarray(8)) as CborMap, { timeout: 1500, tries: 1 });
			const fits = async (when: string) => {
				const params = await client.params();
				assert.ok(params, `${what}: OS params ${when}`);
				const size = params.bufSize;
				assert.equal((await echo(size)).r, (decodeCbor(echoOfSize(size).subarray(8)) as CborMap).d, `${what}: a ${size}-byte packet (buf_size) is answered ${when}`);
				await assert.rejects(echo(size + 1), SmpTimeoutError, `${what}: a packet past buf_size is dropped ${when}`);
				return size;
			};
			const before = await fits("at start");
			if (mode.length === 0) assert.equal(before, 1472, "the simulator's default buf_size, one unfragmented IPv4 datagram");
			await client.write(0, 5, {});
			for (let i = 0; i < 100 && !log.some((l) => l.includes("\"reset\"")); i++) await new Promise((r) => setTimeout(r, 50));
			assert.ok(log.some((l) => l.includes("\"reset\"")), `${what}: the device reset`);
			assert.equal(await fits("after the reset"), before, `${what}: the same buf_size after the reset`);
			ok("sim", "pubkey", "--dir", dir, "-o", `${dir}.pub.pem`);
			ok("seal", "--device-pub", `${dir}.pub.pem`, "-o", `${dir}.sealed.bin`, "release.bin");
			const r = cli("smp", "upload", "--udp", where.udp, `${dir}.sealed.bin`, "-f", "json");
			expectOk(r, `smp upload to ${what}`);
			const up = JSON.parse(r.stdout);
			assert.deepEqual({ packetSize: up.packetSize, finalPacketSize: up.finalPacketSize, hash: up.hash }, { packetSize: before, finalPacketSize: before, hash: innerHash }, what);
		} finally {
			client.close();
			await stop();
		}
	}
});

test("UDP: each client gets the answers to its own requests, with two clients interleaving echoes under the same sequence numbers", async () => {
	const port = Number(udp.split(":")[1]);
	const a = new Raw(port);
	const b = new Raw(port);
	try {
		for (let s = 0; s < 8; s++) {
			a.send(packet(2, 0, 0, { d: `a${s}` }, s));
			b.send(packet(2, 0, 0, { d: `b${s}` }, s));
		}
		for (let s = 0; s < 8; s++) {
			assert.deepEqual((await a.next()).body, { r: `a${s}` });
			assert.deepEqual((await b.next()).body, { r: `b${s}` });
		}
		await a.silent(200);
		await b.silent(0);
	} finally {
		a.socket.close();
		b.socket.close();
	}
});

test("CLI rough edges: numbers out of range are E_USAGE (exit 2), -f json failures print JSON on stdout, no answer says what to check, sim serve --help's example parses", () => {
	for (const args of [
		["smp", "state", "--udp", "127.0.0.1:99999"], ["smp", "state", "--tcp", "127.0.0.1:70000"], ["smp", "state", "--udp", "127.0.0.1:0"],
		["smp", "state", "--udp", udp, "--timeout", "0"], ["smp", "state", "--udp", udp, "--timeout", "1e9"],
		["smp", "upload", "--udp", udp, "sealed.bin", "--mtu", "10"], ["smp", "upload", "--udp", udp, "sealed.bin", "--image", "256"],
		["smp", "erase", "--udp", udp, "--slot", "999"], ["smp", "state", "--serial", "/dev/null,fast"],
		["sim", "serve", "--dir", "dev", "--udp", "127.0.0.1:65536"], ["sim", "pull", "--dir", "dev", "http://127.0.0.1:1/x", "--timeout", "-5"],
		["smp", "state", "--conntype", "serial"],
	]) expectFailure(cli(...args), "E_USAGE", 2, args.join(" "));
	const r = cli("smp", "state", "--udp", "127.0.0.1:9", "--timeout", "100", "-f", "json");
	expectFailure(r, "E_IO", 4, "no device");
	const failure = JSON.parse(r.stdout);
	assert.deepEqual(Object.keys(failure), ["ok", "code", "message"]);
	assert.equal(failure.ok, false);
	assert.equal(failure.code, "E_IO");
	assert.match(failure.message, /no answer from the device \(udp 127\.0\.0\.1:9\) after 4 tries of 100 ms.*sealdrop sim serve.*port.*--mtu/);
	// the example `sim serve --help` prints, as users type it
	const help = ok("sim", "serve", "--help");
	const example = /sealdrop (smp --udp \S+ upload \S+)/.exec(help);
	assert.ok(example, help);
	const parts = example[1].split(" ").map((w) => (w === "127.0.0.1:1337" ? udp : w === "sealed.bin" ? "no-such.bin" : w));
	expectFailure(cli(...parts), "E_IO", 4, "the example parses: it fails only on the missing file");
	assert.match(cli(...parts).stderr, /no-such\.bin: cannot read image/);
});
