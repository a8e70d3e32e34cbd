/**
 * How `sealdrop smp` sizes its packets and what it does when a device stays silent, checked in
 * this process against servers made of the real SMP modules: the packet limit per link (Zephyr's
 * serial transport keeps the frame's length and CRC in buf_size: a real Zephyr 4.4 app with
 * buf_size 1024 answered 1020-byte packets and dropped 1021-byte ones, test/vectors/smp-peers/),
 * one retry in a smaller packet after a timeout, said once; the UDP relay's reply routing; the
 * TCP serial link and mcumgr's spellings; the progress bar.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { test } from "node:test";
import { decodeCbor, encodeCbor, type CborMap } from "../../modules/transport/smp/cbor.js";
import { OsGroup } from "../../modules/transport/smp/groups/os.js";
import { decodeSmpHeader, encodeSmpPacket, SMP_HEADER_SIZE } from "../../modules/transport/smp/header.js";
import { encodeSerialFrame, SerialFrameDecoder } from "../../modules/transport/smp/serial-framing.js";
import { SmpServer } from "../../modules/transport/smp/server.js";
import { packetLimit, smallerPacket, SmpClient, SmpTimeoutError } from "../../host/smp/client.js";
import { parseHostPort, tcpLink, type SmpLink } from "../../host/smp/links.js";
import { ReplyRoutes } from "../../host/smp/reply-routes.js";
import { ProgressBar } from "../../host/cli/io.js";
import { repoRoot } from "../helpers/cli.js";

const peers = JSON.parse(fs.readFileSync(path.join(repoRoot, "test", "vectors", "smp-peers", "zephyr-4.4-mps2-an385.json"), "utf8"));

/**
 * A device in this process behind an SmpLink: it drops every packet longer than `limit` (as
 * Zephyr's serial transport drops a frame that overflows its net_buf), answers OS params only if
 * `bufSize` is given (MCUboot's serial recovery has no params), and takes upload chunks at the
 * offset it expects, as img_mgmt does.
 */
function fakeDevice(link: { framing: number; mtu: number; maxMtu: number }, limit: number, bufSize?: number, resumes = false) {
	const sizes: number[] = [];
	let expected = 0;
	let image = new Uint8Array(0);
	let started = "";
	const device: SmpLink & { sizes: number[]; image(): Uint8Array } = {
		name: "fake", ...link, sizes,
		image: () => image,
		onPacket: () => {},
		close: () => {},
		send(packet) {
			sizes.push(packet.length);
			if (packet.length > limit) return; // dropped without a word
			const h = decodeSmpHeader(packet);
			const body = decodeCbor(packet.subarray(SMP_HEADER_SIZE)) as CborMap;
			let answer: CborMap;
			if (h.group === 0 && h.command === 6 && bufSize !== undefined) answer = { buf_size: bufSize, buf_count: 1 };
			else if (h.group === 1 && h.command === 1) {
				const data = body.data as Uint8Array;
				// `resumes`: as img_mgmt, a first chunk with the len and sha of the interrupted upload continues it
				const upload = `${String(body.len)}/${Buffer.from((body.sha as Uint8Array | undefined) ?? []).toString("hex")}`;
				if (body.off === 0 && !(resumes && upload === started && expected > 0)) { image = new Uint8Array(body.len as number); expected = 0; started = upload; }
				if (body.off === expected) { image.set(data, expected); expected += data.length; }
				answer = { rc: 0, off: expected };
			} else answer = { rc: 8 };
			const response = encodeSmpPacket({ op: h.op + 1, version: h.version, flags: 0, group: h.group, sequence: h.sequence, command: h.command }, encodeCbor(answer));
			setImmediate(() => device.onPacket(response));
		},
	};
	return device;
}

const SERIAL = { framing: 4, mtu: 1020, maxMtu: 65533 };
const UDP = { framing: 0, mtu: 1472, maxMtu: 65507 };
const image = new Uint8Array(20_000).map((_, i) => (i * 13 + 7) & 0xff);

test("packet limit: buf_size less the serial framing (the real Zephyr's 1020 of 1024), all of it over UDP, MCUboot's 1024 − 4 without params, --mtu capped by the device", () => {
	// independent truth: what the real Zephyr 4.4 app answered over its UART (test/vectors/smp-peers)
	assert.equal(peers.serial.bufSize, 1024);
	assert.equal(packetLimit(SERIAL, peers.serial.bufSize), peers.serial.largestAnswered);
	assert.equal(peers.serial.smallestDropped, peers.serial.largestAnswered + 1);
	assert.equal(packetLimit(UDP, 1472), 1472, "Zephyr's UDP transport copies the datagram alone into its net_buf");
	assert.equal(packetLimit(SERIAL, undefined), 1020, "no params: MCUboot's BOOT_SERIAL_MAX_RECEIVE_SIZE (1024) less the frame's length and CRC");
	assert.equal(packetLimit(SERIAL, 1024, 4096), 1020, "an explicit MTU never exceeds what the device said it takes");
	assert.equal(packetLimit(SERIAL, 1024, 512), 512);
	assert.equal(packetLimit(SERIAL, undefined, 2048), 2048, "without params the user's figure goes");
	assert.equal(smallerPacket(1020, 4), 380, "Zephyr's default 384-byte buffer, less the framing");
	assert.equal(smallerPacket(380, 4), 190);
	assert.equal(smallerPacket(200, 0), 128);
});

test("upload at the default size against a device that drops what does not fit its buffer with framing: no packet above buf_size − 4, no retry, the image arrives", async () => {
	const device = fakeDevice(SERIAL, 1020, 1024);
	const notices: string[] = [];
	const client = new SmpClient(device);
	const r = await client.upload(image, { firstTimeout: 300, timeout: 100, onNotice: (m) => notices.push(m) });
	assert.deepEqual(notices, []);
	assert.equal(r.packetSize, 1020);
	assert.equal(Math.max(...device.sizes), 1020, "the largest packet fills the buffer exactly");
	assert.deepEqual(device.image(), image);
});

test("resuming on a device without Sealdrop's group (Zephyr's img_mgmt): the first answer's off is where it resumes; progress and resumedFrom say so", async () => {
	const device = fakeDevice(SERIAL, 1020, 1024, true);
	const client = new SmpClient(device);
	await assert.rejects(client.upload(image, { firstTimeout: 300, timeout: 100, onProgress: (held) => { if (held > 8000) throw new Error("link lost"); } }), /link lost/);
	const progress: number[] = [];
	const r = await client.upload(image, { firstTimeout: 300, timeout: 100, onProgress: (held) => progress.push(held) });
	assert.ok(r.resumedFrom > 8000 && r.resumedFrom < image.length, `resumed from ${r.resumedFrom}`);
	assert.equal(progress[0], r.resumedFrom, "progress starts where the device resumed");
	assert.equal(progress.at(-1), image.length);
	assert.ok(r.chunks < Math.ceil(image.length / 1000), `${r.chunks} chunks: only the rest was sent`);
	assert.deepEqual(device.image(), image);
});

test("the old sizing (a packet of the full buf_size) is dropped by a Zephyr-sized buffer: the first chunk times out", async () => {
	const device = fakeDevice(SERIAL, 1020, 1024);
	const client = new SmpClient(device);
	// what the client did before issue 17: a packet as large as buf_size
	const oversize = encodeCbor({ d: "x".repeat(1024 - SMP_HEADER_SIZE - 6) });
	assert.equal(SMP_HEADER_SIZE + oversize.length, 1024);
	await assert.rejects(client.write(0, 0, decodeCbor(oversize) as CborMap, { timeout: 100, tries: 1 }), SmpTimeoutError);
});

test("a device whose buffer is smaller than assumed (no params, Zephyr's default 384): one notice, then 380-byte packets to the end", async () => {
	const device = fakeDevice(SERIAL, 380);
	const notices: string[] = [];
	const client = new SmpClient(device);
	const r = await client.upload(image, { firstTimeout: 200, timeout: 100, onNotice: (m) => notices.push(m) });
	assert.equal(notices.length, 1);
	assert.match(notices[0], /^no answer to a 1020-byte upload packet at offset 0: sending 380-byte packets from here \(--mtu 380 skips this\)$/);
	assert.deepEqual({ packetSize: r.packetSize, finalPacketSize: r.finalPacketSize }, { packetSize: 1020, finalPacketSize: 380 });
	assert.ok(device.sizes.slice(2).every((n) => n <= 380), "after the retry no packet exceeds 380 bytes");
	assert.deepEqual(device.image(), image);
});

test("a device that answers nothing at the smaller size either: the upload gives up with a timeout after one retry", async () => {
	const device = fakeDevice(SERIAL, 100);
	const client = new SmpClient(device);
	await assert.rejects(client.upload(image, { firstTimeout: 100, timeout: 50 }), SmpTimeoutError);
	assert.deepEqual(device.sizes, [SMP_HEADER_SIZE + 1, 1020, 380], "params (answered: not supported), then one packet at each size");
});

test("reply routes: each answer to the client that asked, across drops, datagrams of several requests and clients using the same sequence numbers", () => {
	let now = 0;
	const routes = new ReplyRoutes<string>(60_000, () => now);
	const req = (seq: number, op = 2, group = 0, command = 0) => encodeSmpPacket({ op, version: 1, flags: 0, group, sequence: seq, command }, encodeCbor({ d: "x" }));
	const res = (seq: number, op = 3, group = 0, command = 0) => encodeSmpPacket({ op, version: 1, flags: 0, group, sequence: seq, command }, encodeCbor({ r: "x" }));
	routes.add(req(7), "A");
	routes.add(req(7), "B"); // same sequence number from another client
	assert.equal(routes.route(res(7)), "A");
	assert.equal(routes.route(res(7)), "B");
	assert.equal(routes.route(res(7)), undefined, "nobody asked any more");
	routes.add(Buffer.concat([req(1), req(2, 0, 1, 0)]), "A"); // two requests in one datagram
	routes.add(req(3), "B");
	assert.equal(routes.route(res(2, 1, 1, 0)), "A", "the second request's answer: the first was dropped");
	assert.equal(routes.route(res(1)), undefined, "a request passed over is forgotten");
	assert.equal(routes.route(res(3)), "B");
	routes.add(req(9), "A");
	now += 60_001;
	routes.add(req(10), "B");
	assert.equal(routes.route(res(9)), undefined, "a request nobody answered for a minute is forgotten");
	routes.add(req(11), "A");
	routes.clear();
	assert.equal(routes.route(res(11)), undefined, "a reset forgets everything");
});

/** An SMP server (the real OsGroup) on a TCP port, in the serial framing: what QEMU's -serial tcp: carries. */
async function tcpDevice(): Promise<{ port: number; close(): void; lines: number[] }> {
	const server = new SmpServer({ bufSize: 1024, groups: [new OsGroup({ bufSize: 1024, bufCount: 1, reset: () => true })] });
	const lines: number[] = [];
	const tcp = net.createServer((socket) => {
		const decoder = new SerialFrameDecoder({ maxLine: 128, bufSize: 1024 });
		socket.on("data", (d) => {
			for (const line of d.toString("latin1").split("\n").slice(0, -1)) lines.push(line.length + 1);
			for (const packet of decoder.push(d)) for (const response of server.process(packet)) socket.write(encodeSerialFrame(response));
		});
	});
	await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
	return { port: (tcp.address() as net.AddressInfo).port, close: () => tcp.close(), lines };
}

test("--tcp: the serial framing over a TCP socket, in process and through the CLI (also as mcumgr's --conntype tcp --connstring, and options before the command)", async () => {
	const device = await tcpDevice();
	try {
		const client = new SmpClient(await tcpLink(`127.0.0.1:${device.port}`));
		const text = "y".repeat(900);
		assert.equal((await client.write(0, 0, { d: text })).r, text);
		assert.deepEqual(await client.params(), { bufSize: 1024, bufCount: 1 });
		client.close();
		assert.ok(device.lines.every((n) => n <= 127), "lines of at most 127 bytes with the newline");
		const cli = (...args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
			execFile(process.execPath, [path.join(repoRoot, "bin", "sealdrop.js"), ...args], (e, stdout, stderr) => resolve({ code: e ? Number(e.code) : 0, stdout, stderr })));
		let r = await cli("smp", "echo", "--tcp", `127.0.0.1:${device.port}`, "over", "tcp");
		assert.deepEqual([r.code, r.stdout], [0, "over tcp\n"], r.stderr);
		r = await cli("smp", "--conntype", "tcp", "--connstring", `[127.0.0.1]:${device.port}`, "echo", "mcumgr");
		assert.deepEqual([r.code, r.stdout], [0, "mcumgr\n"], r.stderr);
		// nothing listens: E_IO in one line, exit 4
		const closed = net.createServer();
		await new Promise<void>((res) => closed.listen(0, "127.0.0.1", res));
		const dead = (closed.address() as net.AddressInfo).port;
		await new Promise<void>((res) => closed.close(() => res()));
		r = await cli("smp", "state", "--tcp", `127.0.0.1:${dead}`, "-f", "json");
		assert.equal(r.code, 4);
		assert.match(r.stderr, /^sealdrop: E_IO: --tcp 127\.0\.0\.1:\d+: cannot connect \(.*\): is the device's TCP serial port listening there\?\n$/);
		assert.equal(JSON.parse(r.stdout).code, "E_IO");
	} finally {
		device.close();
	}
});

test("HOST:PORT: ports 1-65535 (0 only where a server binds), IPv6 in brackets", () => {
	assert.deepEqual(parseHostPort("[::1]:1337"), { host: "::1", port: 1337 });
	assert.deepEqual(parseHostPort(":1337"), { host: "127.0.0.1", port: 1337 });
	assert.deepEqual(parseHostPort("0.0.0.0:0", "--udp", true), { host: "0.0.0.0", port: 0 });
	for (const bad of ["127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1:-1", "127.0.0.1:", "127.0.0.1", "127.0.0.1:12ab"])
		assert.throws(() => parseHostPort(bad), (e: Error & { code?: string }) => e.code === "E_USAGE", bad);
});

test("progress bar: rate and time left while running, the 100 % line once however often the end is reported", () => {
	let now = 1_000;
	const out: string[] = [];
	const bar = new ProgressBar("upload", 100_000, true, { write: (t: string) => out.push(t) }, () => now);
	bar.update(0);
	now += 1_000;
	bar.update(25_000); // 25 KB in 1 s: 3 s left
	assert.equal(out.at(-1), `\rupload [${"#".repeat(8)}${".".repeat(22)}]  25% 25000/100000 25.0 KB/s, 0:03 left\x1b[K`);
	now += 50;
	bar.update(26_000);
	assert.equal(out.length, 2, "not redrawn within 100 ms");
	now += 3_000;
	bar.update(100_000);
	bar.update(100_000);
	bar.interrupt();
	bar.update(100_000);
	const text = out.join("");
	assert.equal(text.split("100%").length - 1, 1, `one 100 % line: ${JSON.stringify(text)}`);
	assert.ok(text.endsWith("100% 100000/100000 24.7 KB/s in 0:04\x1b[K\n"), JSON.stringify(text));
	// a notice in the middle ends the bar's line first
	const out2: string[] = [];
	const bar2 = new ProgressBar("pull", 10, true, { write: (t: string) => out2.push(t) }, () => now);
	bar2.update(5);
	bar2.interrupt();
	assert.equal(out2.at(-1), "\n");
});
