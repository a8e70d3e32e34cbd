/**
 * `sealdrop serve`: each device's image, assembled on request from a release's shared.bin and its
 * tail, is byte-for-byte the <id>.bin the sealing run wrote whole (layout both), for the whole
 * image and for random ranges; Range, If-Range, HEAD, ETag and 404/405/416 follow RFC 9110; and
 * the command itself listens, logs one line per request and stops on SIGTERM.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { startServer, type RunningServer } from "../../host/serve/server.js";
import { expectFailure, expectOk, prng, repoRoot, runCli, tempDir, cliOk } from "../helpers/cli.js";

const tmp = tempDir("sealdrop-serve-");
const DEVICES = ["dev-a", "dev-b", "dev-c"];
let server: RunningServer;

const cli = (...args: string[]) => cliOk(tmp.dir, ...args);

before(async () => {
	cli("keygen", "-k", "sign.pem", "-t", "ecdsa-p256");
	const lines = DEVICES.map((id, i) => {
		cli("keygen", "-k", `${id}.pem`, "-t", i % 2 ? "x25519" : "ecdsa-p256");
		cli("getpub", "-k", `${id}.pem`, "-e", "pem", "-o", `${id}.pub.pem`);
		return `${id} ${id}.pub.pem`;
	});
	fs.writeFileSync(tmp.file("fleet.txt"), lines.join("\n") + "\n");
	fs.writeFileSync(tmp.file("app.bin"), randomBytes(150_000));
	cli("sign", "-k", "sign.pem", "-v", "1.2.0+3", "-H", "0x200", "--pad-header", "-S", "0x60000", "--sealable", "app.bin", "release.bin");
	cli("seal", "--fleet", "fleet.txt", "--out-dir", "rel-1", "--layout", "both", "-j", "1", "release.bin");
	server = await startServer({ releases: [tmp.file("rel-1")], images: tmp.file("rel-1"), port: 0 });
});

after(async () => {
	await server?.close();
	tmp.cleanup();
});

/** The image as the sealing run wrote it whole: the independent truth. */
const whole = (id: string) => fs.readFileSync(tmp.file(path.join("rel-1", `${id}.bin`)));

async function get(pathname: string, headers: Record<string, string> = {}, method = "GET") {
	const r = await fetch(server.url + pathname, { method, headers });
	return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) };
}

describe("sealdrop serve", () => {
	test("each device gets its own whole image, assembled from shared.bin and its tail, with a strong ETag of its SHA-256", async () => {
		for (const id of DEVICES) {
			const r = await get(`/devices/${id}/image`);
			assert.equal(r.status, 200);
			assert.ok(r.body.equals(whole(id)), `${id}: served bytes equal ${id}.bin`);
			assert.equal(r.headers.get("etag"), `"${createHash("sha256").update(whole(id)).digest("hex")}"`);
			assert.equal(r.headers.get("accept-ranges"), "bytes");
			assert.equal(Number(r.headers.get("content-length")), whole(id).length);
		}
		assert.ok(!whole("dev-a").equals(whole("dev-b")), "devices' images differ (their ENC TLVs)");
		const viaRelease = await get("/releases/rel-1/devices/dev-b/image");
		assert.ok(viaRelease.body.equals(whole("dev-b")));
	});

	test("random ranges are byte-exact: 206 with Content-Range for bytes=A-B, bytes=A- and bytes=-N", async () => {
		const random = prng(8);
		for (let i = 0; i < 150; i++) {
			const id = DEVICES[i % DEVICES.length];
			const image = whole(id);
			const size = image.length;
			const a = Math.floor(random() * size);
			const kind = i % 3;
			const b = kind === 0 ? a + Math.floor(random() * (size - a + 200)) : size - 1; // may run past the end
			const n = 1 + Math.floor(random() * (size + 100));
			const header = kind === 0 ? `bytes=${a}-${b}` : kind === 1 ? `bytes=${a}-` : `bytes=-${n}`;
			const [start, end] = kind === 2 ? [Math.max(0, size - n), size - 1] : [a, Math.min(b, size - 1)];
			const r = await get(`/devices/${id}/image`, { Range: header });
			assert.equal(r.status, 206, header);
			assert.equal(r.headers.get("content-range"), `bytes ${start}-${end}/${size}`, header);
			assert.ok(r.body.equals(image.subarray(start, end + 1)), `${id} ${header}: bytes ${start}-${end}`);
		}
	});

	test("unsatisfiable ranges get 416 with bytes */size; several ranges or bad syntax get the whole image (Range ignored)", async () => {
		const size = whole("dev-a").length;
		for (const range of [`bytes=${size}-`, `bytes=${size + 10}-${size + 20}`, "bytes=-0"]) {
			const r = await get("/devices/dev-a/image", { Range: range });
			assert.equal(r.status, 416, range);
			assert.equal(r.headers.get("content-range"), `bytes */${size}`, range);
		}
		for (const range of ["bytes=0-1,5-9", "bytes=9-5", "lines=0-4", "bytes=x-"]) {
			const r = await get("/devices/dev-a/image", { Range: range });
			assert.equal(r.status, 200, range);
			assert.ok(r.body.equals(whole("dev-a")), range);
		}
	});

	test("If-Range applies the range only while the ETag or date still matches; HEAD answers the headers alone", async () => {
		const head = await get("/devices/dev-c/image", { Range: "bytes=5-" }, "HEAD");
		assert.equal(head.status, 200, "Range is defined for GET only");
		assert.equal(head.body.length, 0);
		assert.equal(Number(head.headers.get("content-length")), whole("dev-c").length);
		const etag = head.headers.get("etag")!;
		const lastModified = head.headers.get("last-modified")!;
		assert.equal((await get("/devices/dev-c/image", { Range: "bytes=5-", "If-Range": etag })).status, 206);
		assert.equal((await get("/devices/dev-c/image", { Range: "bytes=5-", "If-Range": lastModified })).status, 206);
		for (const stale of ['"0000"', `W/${etag}`, "Thu, 01 Jan 1970 00:00:00 GMT"]) {
			const r = await get("/devices/dev-c/image", { Range: "bytes=5-", "If-Range": stale });
			assert.equal(r.status, 200, stale);
			assert.ok(r.body.equals(whole("dev-c")));
		}
	});

	test("unknown devices, releases and paths get 404, other methods 405; plain files and the index are served too", async () => {
		assert.equal((await get("/devices/dev-zzz/image")).status, 404);
		assert.equal((await get("/releases/rel-9/devices/dev-a/image")).status, 404);
		assert.equal((await get("/devices/dev-a")).status, 404);
		assert.equal((await get("/images/..%2Ffleet.txt")).status, 404);
		const post = await get("/devices/dev-a/image", {}, "POST");
		assert.equal(post.status, 405);
		assert.equal(post.headers.get("allow"), "GET, HEAD");
		const file = await get("/images/dev-b.bin", { Range: "bytes=100-199" });
		assert.equal(file.status, 206);
		assert.ok(file.body.equals(whole("dev-b").subarray(100, 200)));
		const index = JSON.parse((await get("/index.json")).body.toString()) as { releases: { name: string; version: string; devices: number }[]; images: { name: string }[] };
		assert.deepEqual(index.releases.map((r) => [r.name, r.version, r.devices]), [["rel-1", "1.2.0+3", 3]]);
		assert.ok(index.images.some((i) => i.name === "shared.bin"));
	});

	test("the command listens where it says, logs one line per request, stops on SIGTERM; --help and usage errors", async () => {
		const child = spawn(process.execPath, [path.join(repoRoot, "bin", "sealdrop.js"), "serve", "--release", tmp.file("rel-1"), "--port", "0", "-f", "json"], { stdio: ["ignore", "pipe", "pipe"] });
		let stderr = "";
		child.stderr.on("data", (d: Buffer) => { stderr += d; });
		const first = await new Promise<string>((resolve, reject) => {
			let out = "";
			child.stdout.on("data", (d: Buffer) => {
				out += d;
				if (out.includes("\n")) resolve(out.split("\n")[0]);
			});
			child.once("exit", (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
		});
		const { url, devices } = JSON.parse(first) as { url: string; devices: number };
		assert.equal(devices, 3);
		const r = await fetch(`${url}/devices/dev-a/image`, { headers: { Range: "bytes=0-9" } });
		assert.ok(Buffer.from(await r.arrayBuffer()).equals(whole("dev-a").subarray(0, 10)));
		assert.equal((await fetch(`${url}/devices/nobody/image`)).status, 404);
		const exit = new Promise<number | null>((resolve) => child.once("exit", resolve));
		child.kill("SIGTERM");
		assert.equal(await exit, 0);
		const lines = stderr.trim().split("\n");
		assert.equal(lines.length, 2, stderr);
		assert.match(lines[0], /"GET \/devices\/dev-a\/image" 206 10 /);
		assert.match(lines[1], /"GET \/devices\/nobody\/image" 404 /);

		const help = runCli(["serve", "--help"]);
		expectOk(help);
		assert.match(help.stdout, /\/devices\/<id>\/image/);
		expectFailure(runCli(["serve"]), "E_USAGE", 2);
		expectFailure(runCli(["serve", "--release", tmp.file("nothing-here")]), "E_IO", 4);
	});
});
