/**
 * `npm run bench:http`: `sealdrop serve` handing 1,000 distinct devices their 1 MiB images,
 * assembled on request from one shared ciphertext (shared.bin + each device's tail in tails.bin),
 * against the same server handing out the same bytes as plain files (<id>.bin, layout full).
 * The server runs as its own process (`sealdrop serve -q`), so its CPU time (/proc, what
 * getrusage reports) is its own; the load comes from this process (CLIENTS keep-alive clients).
 * Prints JSON: per kind, wall seconds, the server's CPU seconds, MB/s and requests/s; the ratios
 * assembled ÷ plain files by the server's CPU time (plain CPU ÷ assembled CPU) and by wall time,
 * goal 0.9; the server's peak RSS.
 */
import { execFileSync, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { processCpuMs, ratio } from "./cpu.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const DEVICES = Number(process.env.BENCH_DEVICES ?? 1000);
const PAYLOAD = 1 << 20;
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const GOAL = 0.9;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

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

/** `sealdrop serve -q` on a free port, in its own process. */
function serve(release: string): Promise<{ url: string; pid: number; stop: () => void }> {
	const child = spawn(process.execPath, [path.join(root, "bin", "sealdrop.js"), "serve", "-r", release, "--images", release, "-p", "0", "-q", "-f", "json"], { stdio: ["ignore", "pipe", "inherit"] });
	return new Promise((resolve, reject) => {
		let out = "";
		child.stdout.on("data", (d: Buffer) => {
			out += d.toString();
			const nl = out.indexOf("\n");
			if (nl >= 0) resolve({ url: (JSON.parse(out.slice(0, nl)) as { url: string }).url, pid: child.pid!, stop: () => child.kill() });
		});
		child.once("exit", (status) => reject(new Error(`sealdrop serve ended (exit ${status})`)));
	});
}

/** Peak resident set of a process (VmHWM of /proc/PID/status), in bytes. */
function peakRss(pid: number): number {
	const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
	return m ? Number(m[1]) * 1024 : NaN;
}

/** GETs every path once with CLIENTS keep-alive connections; returns wall seconds, the server's CPU seconds, and bytes. */
async function load(base: string, server: number, paths: string[]): Promise<{ seconds: number; cpuSeconds: number; bytes: number }> {
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
	const cpu = processCpuMs(server)!;
	await Promise.all(Array.from({ length: CLIENTS }, async () => {
		while (next < paths.length) await one(paths[next++]);
	}));
	const seconds = (performance.now() - started) / 1000;
	const cpuSeconds = (processCpuMs(server)! - cpu) / 1000;
	agent.destroy();
	return { seconds, cpuSeconds, bytes };
}

async function main(): Promise<void> {
	prepare();
	const release = path.join(dir, "rel");
	const manifest = JSON.parse(fs.readFileSync(path.join(release, "fleet.json"), "utf8")) as { devices: { id: string; imageSize: number }[] };
	const server = await serve(release);
	const ids = manifest.devices.map((d) => d.id);
	const figures = (r: { seconds: number; cpuSeconds: number; bytes: number }) => ({
		seconds: +r.seconds.toFixed(3), serverCpuSeconds: +r.cpuSeconds.toFixed(3),
		MBps: +(r.bytes / r.seconds / 1e6).toFixed(1), MBperServerCpuSecond: +(r.bytes / r.cpuSeconds / 1e6).toFixed(1), requestsPerSecond: +((ids.length * ROUNDS) / r.seconds).toFixed(0),
	});
	try {
		const assembledPaths = ids.map((id) => `/devices/${id}/image`), plainPaths = ids.map((id) => `/images/${id}.bin`);
		// warm-up of both: the page cache holds every file, the server's code is compiled
		await load(server.url, server.pid, assembledPaths.slice(0, 50));
		await load(server.url, server.pid, plainPaths);
		// alternating rounds, summed: the machine's other load falls on both kinds alike
		const expected = manifest.devices.reduce((n, d) => n + d.imageSize, 0);
		const assembled = { seconds: 0, cpuSeconds: 0, bytes: 0 }, plain = { seconds: 0, cpuSeconds: 0, bytes: 0 };
		const rounds: { assembled: number; plain: number }[] = [];
		for (let round = 0; round < ROUNDS; round++) {
			const a = await load(server.url, server.pid, assembledPaths);
			const p = await load(server.url, server.pid, plainPaths);
			if (a.bytes !== expected || p.bytes !== expected) throw new Error(`served ${a.bytes} and ${p.bytes} bytes, expected ${expected}`);
			for (const [sum, r] of [[assembled, a], [plain, p]] as const) {
				sum.seconds += r.seconds;
				sum.cpuSeconds += r.cpuSeconds;
				sum.bytes += r.bytes;
			}
			rounds.push({ assembled: +a.seconds.toFixed(3), plain: +p.seconds.toFixed(3) });
		}
		process.stdout.write(JSON.stringify({
			devices: ids.length, imageBytes: manifest.devices[0].imageSize, clients: CLIENTS, cpus: os.availableParallelism(), node: process.version,
			assembled: figures(assembled),
			plainFiles: figures(plain),
			roundSeconds: rounds,
			ratio: { byServerCpu: ratio(plain.cpuSeconds, assembled.cpuSeconds, 2), byWall: ratio(plain.seconds, assembled.seconds, 2), goal: GOAL },
			serverPeakRssMB: +(peakRss(server.pid) / 1e6).toFixed(1),
			diskBytes: { splitLayout: fs.statSync(path.join(release, "shared.bin")).size + fs.statSync(path.join(release, "tails.bin")).size, plainFiles: expected },
		}, null, 2) + "\n");
	} finally {
		server.stop();
		fs.rmSync(dir, { recursive: true, force: true });
	}
}

await main();
