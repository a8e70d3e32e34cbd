/**
 * HTTP delivery end to end on XS: simulated devices (host/sim/device.ts on the Linux XS host) pull
 * their sealed images with the transport of modules/transport/http, bridged to Node's HTTP client.
 * - A fleet: one release sealed for three devices, served by `sealdrop serve`; each device pulls
 *   and installs its own image and boots it on trial; a device given another's image refuses it
 *   (E_DEVICE_KEY) with nothing changed.
 * - Faults, each against a test server on 127.0.0.1 that logs what it sent: connections dropped at
 *   many points mid-body (each next request starts where the cut was: nothing re-downloaded), a
 *   server ignoring Range, a wrong Content-Range, the ETag changing between attempts, a short body,
 *   a stalled server (timeouts), a 503 that never ends (bounded retries), 404, and a power cut of
 *   the device mid-download (the next pull resumes after the durable blocks).
 * The agent's own hash and signature checks are the independent truth that the bytes landed right;
 * the server's log is the truth about what was sent.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { selectRange } from "../../host/serve/range.js";
import { startServer, type RunningServer } from "../../host/serve/server.js";
import { CODE_EXIT, expectFailure, repoRoot, tempDir, cliOk } from "../helpers/cli.js";

const tmp = tempDir("sealdrop-http-pull-");
const DEVICES = ["dev-1", "dev-2", "dev-3"];
let fleetServer: RunningServer;

const cli = (...args: string[]) => cliOk(tmp.dir, ...args);

/** The CLI without blocking this process (its servers must answer meanwhile). */
function cliAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number; stdout: string; stderr: string }> {
	return new Promise((resolve) => {
		execFile(process.execPath, [path.join(repoRoot, "bin", "sealdrop.js"), ...args], { cwd: tmp.dir, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
			resolve({ status: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
		});
	});
}

async function pullJson(dir: string, url: string, ...extra: string[]): Promise<Record<string, unknown>> {
	const r = await cliAsync(["sim", "pull", "--dir", dir, url, "--backoff", "10", "-f", "json", ...extra]);
	assert.equal(r.status, 0, `sim pull: ${r.stderr}`);
	return JSON.parse(r.stdout) as Record<string, unknown>;
}

let made = 0;
/** A device running a factory image 1.0.0, trusting sign.pem. */
function device(): string {
	const dir = `sim-${made++}`;
	cli("sim", "init", "--dir", dir, "--trust", "sign.pem", "--factory-image", "factory.bin");
	cli("sim", "pubkey", "--dir", dir, "-o", `${dir}.pub.pem`);
	return dir;
}

/** A nested release (board sim: the mcuboot installer) of `version` with a random app of `size` bytes. */
function release(version: string, size: number): string {
	const name = `release-${version}`;
	fs.writeFileSync(tmp.file(`${name}.app`), randomBytes(size));
	cli("sign", "-k", "sign.pem", "-v", version, "-H", "0x200", "--pad-header", "-S", "0x60000", `${name}.app`, `${name}.inner`);
	cli("wrap", "-k", "sign.pem", "-S", "0x61000", `${name}.inner`, `${name}.bin`);
	return `${name}.bin`;
}

function seal(devicePub: string, releaseFile: string): Buffer {
	const out = `${path.basename(devicePub, ".pub.pem")}-${path.basename(releaseFile)}.sealed`;
	cli("seal", "--device-pub", devicePub, "-o", out, releaseFile);
	return fs.readFileSync(tmp.file(out));
}

const fleetDirs: Record<string, string> = {};

before(async () => {
	cli("keygen", "-k", "sign.pem", "-t", "ecdsa-p256");
	fs.writeFileSync(tmp.file("factory.app"), randomBytes(20_000));
	cli("sign", "-k", "sign.pem", "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", "factory.app", "factory.bin");
	const lines = DEVICES.map((id) => {
		fleetDirs[id] = device();
		return `${id} ${fleetDirs[id]}.pub.pem`;
	});
	fs.writeFileSync(tmp.file("fleet.txt"), lines.join("\n") + "\n");
	cli("seal", "--fleet", "fleet.txt", "--out-dir", "rel-1.1.0", "--layout", "split", "-j", "1", release("1.1.0", 60_000));
	fleetServer = await startServer({ releases: [tmp.file("rel-1.1.0")], port: 0 });
});

after(async () => {
	await fleetServer?.close();
	tmp.cleanup();
});

describe("HTTP delivery: a fleet pulls from sealdrop serve", () => {
	test("each device pulls its own image from one shared ciphertext, installs it and boots it on trial", async () => {
		await Promise.all(DEVICES.map(async (id) => {
			const out = await pullJson(fleetDirs[id], `${fleetServer.url}/devices/${id}/image`);
			assert.equal(out.version, "1.1.0+0");
			assert.equal(out.state, "pending-test");
			assert.equal(out.retries, 0);
		}));
		for (const id of DEVICES) {
			const booted = JSON.parse(cli("sim", "reboot", "--dir", fleetDirs[id], "-f", "json")) as { running: { version: string; state: string } };
			assert.deepEqual([booted.running.version, booted.running.state], ["1.1.0+0", "trial"], id);
		}
	});

	test("a device given another device's image refuses it (wrong key) and nothing changes", async () => {
		const dir = device();
		const before = cli("sim", "state", "--dir", dir, "-f", "json");
		const r = await cliAsync(["sim", "pull", "--dir", dir, `${fleetServer.url}/devices/dev-2/image`]);
		assert.equal(r.status, 1, r.stderr);
		assert.match(r.stderr, /^sealdrop: E_DEVICE_KEY: /);
		const stateAfter = JSON.parse(cli("sim", "state", "--dir", dir, "-f", "json")) as { running: unknown; slots: { slot: number }[] };
		const stateBefore = JSON.parse(before) as { running: unknown; slots: unknown };
		assert.deepEqual(stateAfter.running, stateBefore.running);
		assert.deepEqual(stateAfter.slots, stateBefore.slots, "no slot holds anything new");
		const booted = JSON.parse(cli("sim", "reboot", "--dir", dir, "-f", "json")) as { running: { version: string } };
		assert.equal(booted.running.version, "1.0.0+0");
	});
});

/** What a fault server does with one request (index counts GETs from 0). */
type Fault = (ctx: { index: number; start: number; image: Buffer; req: http.IncomingMessage; res: http.ServerResponse }) => "honest" | void;

interface Sent { method: string; status: number; start: number; bytes: number }

/** A server of one image (which `current()` may change) that misbehaves as `fault` says; logs what it sent. */
async function faultServer(current: () => { image: Buffer; etag: string }, fault: Fault) {
	const log: Sent[] = [];
	let gets = 0;
	const server = http.createServer((req, res) => {
		const { image, etag } = current();
		const entry: Sent = { method: req.method!, status: 0, start: 0, bytes: 0 };
		log.push(entry);
		const write = res.write.bind(res);
		const endResponse = res.end.bind(res);
		res.write = ((chunk: Buffer, ...rest: never[]) => {
			entry.bytes += chunk.length;
			return write(chunk, ...rest);
		}) as typeof res.write;
		res.end = ((chunk?: Buffer) => {
			if (chunk) entry.bytes += chunk.length;
			return endResponse(chunk);
		}) as typeof res.end;
		const range = req.method === "GET" && (req.headers["if-range"] === undefined || req.headers["if-range"] === etag) ? selectRange(req.headers.range, image.length) : { status: 200 as const };
		const [start, end] = range.status === 206 ? [range.start, range.end] : [0, image.length - 1];
		entry.start = start;
		const headers = { ETag: etag, "Accept-Ranges": "bytes" };
		if (req.method === "HEAD") {
			res.writeHead((entry.status = 200), { ...headers, "Content-Length": image.length });
			return void res.end();
		}
		if (fault({ index: gets++, start, image, req, res }) !== "honest") return void (entry.status = res.statusCode);
		res.writeHead((entry.status = range.status), { ...headers, "Content-Length": end - start + 1, ...(range.status === 206 ? { "Content-Range": `bytes ${start}-${end}/${image.length}` } : {}) });
		res.end(image.subarray(start, end + 1));
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/image`,
		log,
		gets: () => log.filter((e) => e.method === "GET"),
		close: () => new Promise<void>((resolve) => {
			server.close(() => resolve());
			server.closeAllConnections();
		}),
	};
}

/** A GET for the body, after the agent's reads of the header (from 0) and of the TLV areas (at the end). */
const inBody = (ctx: Parameters<Fault>[0]) => ctx.start > 0 && ctx.start < ctx.image.length - 1000;

/** Sends `count` bytes of the ranged answer, then cuts the connection. */
function cutAfter(ctx: Parameters<Fault>[0], count: number): void {
	const size = ctx.image.length;
	ctx.res.writeHead(206, { ETag: "\"v1\"", "Content-Length": size - ctx.start, "Content-Range": `bytes ${ctx.start}-${size - 1}/${size}` });
	ctx.res.write(ctx.image.subarray(ctx.start, ctx.start + count), () => ctx.res.destroy());
}

describe("HTTP pull on XS: faults", () => {
	let image: Buffer;
	let dir: string;
	before(() => {
		dir = device();
		image = seal(`${dir}.pub.pem`, release("1.2.0", 90_000));
	});
	/** A fresh device state for each fault: the same device, its update area forgotten by a new folder. */
	function freshDevice(): { dir: string; image: Buffer } {
		const d = device();
		return { dir: d, image: seal(`${d}.pub.pem`, `release-1.2.0.bin`) };
	}

	test("connections cut at many points mid-body: each next request starts where the cut was, nothing is downloaded twice", async () => {
		const { dir, image } = freshDevice();
		const cuts = [1, 1000, 4096, 10_000, 12_345, 30_000, 30_001, 50_000, 70_000, 88_000];
		const server = await faultServer(() => ({ image, etag: "\"v1\"" }), (ctx) => {
			const cut = inBody(ctx) ? cuts.find((c) => c > ctx.start) : undefined;
			if (cut === undefined) return "honest";
			cutAfter(ctx, cut - ctx.start);
		});
		try {
			const out = await pullJson(dir, server.url, "--retries", "3");
			assert.equal(out.version, "1.2.0+0");
			const gets = server.gets();
			const bodyGets = gets.filter((g) => g.start > 0 && g.start < image.length - 1000);
			for (let i = 1; i < bodyGets.length; i++) {
				assert.equal(bodyGets[i].start, bodyGets[i - 1].start + bodyGets[i - 1].bytes, `request ${i} resumes exactly after the bytes of request ${i - 1}`);
			}
			assert.ok(bodyGets.length >= cuts.filter((c) => c > bodyGets[0].start).length, `one request per cut: ${JSON.stringify(bodyGets)}`);
			const last = bodyGets[bodyGets.length - 1];
			assert.equal(last.start + last.bytes, image.length, "the body requests together cover the image once, to its end");
			assert.ok(Number(out.retries) >= 5);
		} finally {
			await server.close();
		}
	});

	test("a server ignoring Range (200 with the whole image): bytes before the wanted offset are skipped, never written elsewhere", async () => {
		const { dir, image } = freshDevice();
		const server = await faultServer(() => ({ image, etag: "\"v1\"" }), (ctx) => {
			ctx.res.writeHead(200, { ETag: "\"v1\"", "Content-Length": image.length });
			ctx.res.end(image);
		});
		try {
			const out = await pullJson(dir, server.url);
			assert.equal(out.version, "1.2.0+0");
			assert.ok(Number(out.bytesSkipped) > 0);
			assert.ok(server.gets().every((g) => g.status === 200));
		} finally {
			await server.close();
		}
	});

	test("a wrong Content-Range (bytes that start elsewhere) is never written; the pull falls back to whole answers", async () => {
		const { dir, image } = freshDevice();
		const server = await faultServer(() => ({ image, etag: "\"v1\"" }), (ctx) => {
			if (!ctx.req.headers.range || ctx.start === 0) return "honest";
			const shifted = ctx.start + 16; // claims (and sends) bytes 16 further on than asked
			ctx.res.writeHead(206, { ETag: "\"v1\"", "Content-Range": `bytes ${shifted}-${image.length - 1}/${image.length}`, "Content-Length": image.length - shifted });
			ctx.res.end(image.subarray(shifted));
		});
		try {
			const out = await pullJson(dir, server.url);
			assert.equal(out.version, "1.2.0+0", "the image installs: its hash and signature checked out");
			assert.ok(server.gets().some((g) => g.status === 200), "after the wrong range, a whole answer");
		} finally {
			await server.close();
		}
	});

	test("the ETag changes between attempts: the pull starts over on the new image and installs that one", async () => {
		const { dir, image } = freshDevice();
		const newer = seal(`${dir}.pub.pem`, release("1.3.0", 40_000));
		let switched = false;
		const server = await faultServer(() => (switched ? { image: newer, etag: "\"v2\"" } : { image, etag: "\"v1\"" }), (ctx) => {
			if (!switched && inBody(ctx)) {
				switched = true;
				cutAfter(ctx, 20_000);
				return;
			}
			return "honest";
		});
		try {
			const out = await pullJson(dir, server.url);
			assert.equal(out.version, "1.3.0+0");
			assert.equal(out.restarts, 1);
		} finally {
			await server.close();
		}
	});

	test("a short body (the answer ends cleanly before its Content-Range says) is retried from where it stopped", async () => {
		const { dir, image } = freshDevice();
		let shortened = 0;
		const server = await faultServer(() => ({ image, etag: "\"v1\"" }), (ctx) => {
			if (shortened >= 2 || !inBody(ctx)) return "honest";
			shortened++;
			// chunked, so the message is complete as far as HTTP framing goes: only Content-Range tells
			ctx.res.writeHead(206, { ETag: "\"v1\"", "Content-Range": `bytes ${ctx.start}-${image.length - 1}/${image.length}` });
			ctx.res.end(image.subarray(ctx.start, ctx.start + 5000));
		});
		try {
			const out = await pullJson(dir, server.url);
			assert.equal(out.version, "1.2.0+0");
			assert.ok(Number(out.retries) >= 2);
			const gets = server.gets();
			const short = gets.findIndex((g) => g.bytes === 5000);
			assert.equal(gets[short + 1].start, gets[short].start + 5000, "the next request starts after the short body's bytes");
		} finally {
			await server.close();
		}
	});

	test("a stalled server: the answer times out and the pull retries", async () => {
		const { dir, image } = freshDevice();
		let stalled = false;
		const server = await faultServer(() => ({ image, etag: "\"v1\"" }), (ctx) => {
			if (stalled || ctx.start === 0) return "honest";
			stalled = true;
			ctx.res.writeHead(206, { ETag: "\"v1\"", "Content-Range": `bytes ${ctx.start}-${image.length - 1}/${image.length}`, "Content-Length": image.length - ctx.start });
			ctx.res.write(image.subarray(ctx.start, ctx.start + 100)); // then nothing
		});
		try {
			const started = Date.now();
			const out = await pullJson(dir, server.url, "--timeout", "300");
			assert.equal(out.version, "1.2.0+0");
			assert.equal(out.retries, 1);
			assert.ok(Date.now() - started < 20_000);
		} finally {
			await server.close();
		}
	});

	test("a server that sends 100 bytes per GET and then stalls: each attempt ends at --stall-timeout, the pull at --deadline with E_NETWORK (exit 4) and what it saw", async () => {
		const { dir, image } = freshDevice();
		const server = await faultServer(() => ({ image, etag: "\"v1\"" }), (ctx) => {
			const asked = /^bytes=(\d+)-(\d*)$/.exec(String(ctx.req.headers.range));
			const end = asked?.[2] ? Number(asked[2]) : image.length - 1;
			ctx.res.writeHead(206, { ETag: "\"v1\"", "Content-Range": `bytes ${ctx.start}-${end}/${image.length}`, "Content-Length": end - ctx.start + 1 });
			ctx.res.write(image.subarray(ctx.start, ctx.start + 100)); // then nothing, for ever
		});
		try {
			const started = Date.now();
			const r = await cliAsync(["sim", "pull", "--dir", dir, server.url, "--stall-timeout", "200", "--backoff", "10", "--deadline", "2"]);
			const took = Date.now() - started;
			expectFailure({ status: r.status, stdout: r.stdout, stderr: r.stderr }, "E_NETWORK", CODE_EXIT.E_NETWORK);
			assert.ok(took >= 2000 && took < 8000, `ended after ${took} ms`);
			const gets = server.gets();
			assert.ok(gets.length >= 5, `each attempt ended at its stall timeout, then the next one started: ${gets.length} GETs`);
			// the message says what the pull saw, as the server counts it (but for a last request or piece on its way)
			const seen = /(\d+) bytes received in (\d+) requests/.exec(r.stderr);
			assert.ok(seen, r.stderr);
			const sent = gets.reduce((n, g) => n + g.bytes, 0);
			assert.ok(Number(seen[1]) <= sent && Number(seen[1]) >= sent - 100, `${seen[1]} bytes received, ${sent} sent`);
			assert.ok(Math.abs(Number(seen[2]) - server.log.length) <= 1, `${seen[2]} requests made, ${server.log.length} answered`);
		} finally {
			await server.close();
		}
	});

	test("bounded retries: a 503 that never ends gives E_NETWORK (exit 4); 404 gives E_HTTP at once", async () => {
		const { dir, image } = freshDevice();
		const server = await faultServer(() => ({ image, etag: "\"v1\"" }), (ctx) => {
			if (ctx.req.url === "/gone") return void (ctx.res.writeHead(404).end());
			ctx.res.writeHead(503).end();
		});
		try {
			const r = await cliAsync(["sim", "pull", "--dir", dir, server.url, "--retries", "3", "--backoff", "5"]);
			assert.equal(r.status, 4, r.stderr);
			assert.match(r.stderr, /^sealdrop: E_NETWORK: download failed after 3 retries: the server answered 503 \(0 bytes received in 5 requests\)\n$/);
			assert.equal(server.gets().length, 4);
			const gone = await cliAsync(["sim", "pull", "--dir", dir, server.url.replace("/image", "/gone"), "--backoff", "5"]);
			assert.equal(gone.status, 4);
			assert.match(gone.stderr, /^sealdrop: E_HTTP: the server answered 404 for /);
		} finally {
			await server.close();
		}
	});

	test("a power cut mid-download: the next pull resumes after the durable blocks, downloading only the rest", async () => {
		const server = await faultServer(() => ({ image, etag: "\"v1\"" }), () => "honest");
		try {
			const cut = await cliAsync(["sim", "pull", "--dir", dir, server.url], { SEALDROP_FLASH_CUT: "30" });
			assert.notEqual(cut.status, 0, "the device lost power");
			const firstRun = server.log.length;
			const out = await pullJson(dir, server.url);
			assert.equal(out.version, "1.2.0+0");
			const startedAt = Number(out.startedAt);
			assert.ok(startedAt > 512, `resumed inside the body, at ${startedAt}`);
			const second = server.log.slice(firstRun).filter((e) => e.method === "GET");
			assert.equal(second[0].start, startedAt, "the first request after the reset asks from the durable point");
			const served = second.reduce((n, e) => n + e.bytes, 0);
			assert.equal(served, image.length - startedAt, "only the rest is downloaded");
		} finally {
			await server.close();
		}
	});
});
