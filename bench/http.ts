/**
 * `npm run bench:http`: `sealdrop serve` handing 1,000 distinct devices their 1 MiB images,
 * assembled on request from one shared ciphertext (shared.bin + each device's tail in tails.bin),
 * against the same server handing out the same bytes as plain files (<id>.bin, layout full).
 * Prints JSON: MB/s and requests/s of each, the ratio, and the server's memory (RSS and heap
 * peaks while serving). The load comes from this process too (16 keep-alive clients), so both
 * figures include the client's cost; the ratio compares like with like.
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "../host/serve/server.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const DEVICES = 1000;
const PAYLOAD = 1 << 20;
const CLIENTS = 16;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sealdrop-bench-http-"));
const sealdrop = (...args: string[]) => execFileSync(process.execPath, [path.join(root, "bin", "sealdrop.js"), ...args], { cwd: dir, stdio: ["ignore", "pipe", "inherit"] });

function prepare(): void {
	sealdrop("keygen", "-k", "sign.pem", "-t", "ecdsa-p256");
	fs.writeFileSync(path.join(dir, "app.bin"), crypto.randomBytes(PAYLOAD));
	sealdrop("sign", "-k", "sign.pem", "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x200000", "--sealable", "app.bin", "release.bin");
	const lines: string[] = [];
	for (let i = 0; i < DEVICES; i++) {
		const { publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
		lines.push(`dev-${String(i).padStart(4, "0")} ${publicKey.export({ type: "spki", format: "der" }).toString("base64")}`);
	}
	fs.writeFileSync(path.join(dir, "fleet.txt"), lines.join("\n") + "\n");
	sealdrop("seal", "--fleet", "fleet.txt", "--out-dir", "rel", "--layout", "both", "release.bin");
}

/** GETs every path once with CLIENTS keep-alive connections; returns seconds and bytes. */
async function load(base: string, paths: string[]): Promise<{ seconds: number; bytes: number }> {
	const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
	let next = 0;
	let bytes = 0;
	const one = (p: string) => new Promise<void>((resolve, reject) => {
		http.get(base + p, { agent }, (res) => {
			if (res.statusCode !== 200) reject(new Error(`${p}: ${res.statusCode}`));
			res.on("data", (d: Buffer) => { bytes += d.length; });
			res.on("end", resolve);
		}).on("error", reject);
	});
	const started = performance.now();
	await Promise.all(Array.from({ length: CLIENTS }, async () => {
		while (next < paths.length) await one(paths[next++]);
	}));
	const seconds = (performance.now() - started) / 1000;
	agent.destroy();
	return { seconds, bytes };
}

async function main(): Promise<void> {
	prepare();
	const release = path.join(dir, "rel");
	const manifest = JSON.parse(fs.readFileSync(path.join(release, "fleet.json"), "utf8")) as { devices: { id: string; imageSize: number }[] };
	const server = await startServer({ releases: [release], images: release, port: 0 });
	let rssPeak = 0;
	let heapPeak = 0;
	const sampler = setInterval(() => {
		const m = process.memoryUsage();
		rssPeak = Math.max(rssPeak, m.rss);
		heapPeak = Math.max(heapPeak, m.heapUsed);
	}, 20);
	const ids = manifest.devices.map((d) => d.id);
	const figures = (r: { seconds: number; bytes: number }) => ({ seconds: +r.seconds.toFixed(3), MBps: +(r.bytes / r.seconds / 1e6).toFixed(1), requestsPerSecond: +(ids.length / r.seconds).toFixed(0) });
	try {
		await load(server.url, ids.slice(0, 50).map((id) => `/devices/${id}/image`)); // warm-up
		const baseline = process.memoryUsage();
		rssPeak = heapPeak = 0;
		const assembled = await load(server.url, ids.map((id) => `/devices/${id}/image`));
		const assembledMemory = { rssPeakMB: +(rssPeak / 1e6).toFixed(1), heapPeakMB: +(heapPeak / 1e6).toFixed(1), rssBeforeMB: +(baseline.rss / 1e6).toFixed(1) };
		rssPeak = heapPeak = 0;
		const plain = await load(server.url, ids.map((id) => `/images/${id}.bin`));
		const plainMemory = { rssPeakMB: +(rssPeak / 1e6).toFixed(1), heapPeakMB: +(heapPeak / 1e6).toFixed(1) };
		const expected = manifest.devices.reduce((n, d) => n + d.imageSize, 0);
		if (assembled.bytes !== expected || plain.bytes !== expected) throw new Error(`served ${assembled.bytes} and ${plain.bytes} bytes, expected ${expected}`);
		process.stdout.write(JSON.stringify({
			devices: ids.length, imageBytes: manifest.devices[0].imageSize, clients: CLIENTS, cpus: os.availableParallelism(), node: process.version,
			assembled: { ...figures(assembled), memory: assembledMemory },
			plainFiles: { ...figures(plain), memory: plainMemory },
			ratio: +(plain.seconds / assembled.seconds).toFixed(2),
			diskBytes: { splitLayout: fs.statSync(path.join(release, "shared.bin")).size + fs.statSync(path.join(release, "tails.bin")).size, plainFiles: expected },
		}, null, 2) + "\n");
	} finally {
		clearInterval(sampler);
		await server.close();
		fs.rmSync(dir, { recursive: true, force: true });
	}
}

await main();
