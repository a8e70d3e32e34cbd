/**
 * `npm run bench:smp`: image upload over SMP against the same bytes fed to the agent directly.
 * Prints JSON.
 *
 * - SMP: `sealdrop sim serve --udp 127.0.0.1:0 --buf-size 4096` (the simulated device: its SMP
 *   server and agent on the Linux XS host, its console UART relayed to UDP), uploaded to by
 *   host/smp/client.ts (what `sealdrop smp upload` runs: one request in flight, following the
 *   device's `off`) with each chunk size, one upload to warm up, then uploads until BENCH_MIN_MS.
 * - Direct: bench/xs/smp.ts, the same device's agent on XS (same flash file, device key and
 *   board) fed the same sealed image in the same chunk sizes through begin/write/finish, as the
 *   image group drives it.
 * - ratio = SMP KB/s ÷ direct KB/s: the share of the agent's speed left after the protocol (CBOR,
 *   the serial framing on the simulator's UART, UDP, the relay, one round trip per chunk);
 *   perChunkOverheadUs = (SMP − direct time per upload) ÷ requests per upload.
 * Both halves run on this machine at once with whatever else it runs: compare the ratios, not
 * absolute figures across machines.
 */
import { execFileSync, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SmpClient } from "../host/smp/client.js";
import { udpLink } from "../host/smp/links.js";
import { processCpuMs, processTree, ratio, selfCpuMs } from "./cpu.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const MIN_MS = Number(process.env.BENCH_MIN_MS ?? 1500);
const CHUNKS = [128, 256, 512, 1024, 2048];
/** The device's buf_size for the run: a 2048-byte chunk plus its request's header and fields fits. */
const BUF_SIZE = 4096;
const PAYLOAD = 160 * 1024;

const work = fs.mkdtempSync(path.join(os.tmpdir(), "sealdrop-bench-smp-"));
const file = (name: string) => path.join(work, name);
const sealdrop = (...args: string[]) => execFileSync(process.execPath, [path.join(root, "bin", "sealdrop.js"), ...args], { cwd: work, stdio: ["ignore", "pipe", "inherit"] });

/** A simulated device (sim init) and a release sealed for it, as test/unit/smp-sim.test.ts makes them. */
function prepare(): Buffer {
	sealdrop("keygen", "-k", "sign.pem", "-t", "ecdsa-p256");
	fs.writeFileSync(file("app-1.0.bin"), crypto.randomBytes(30_000));
	fs.writeFileSync(file("app-1.1.bin"), crypto.randomBytes(PAYLOAD));
	sealdrop("sign", "-k", "sign.pem", "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", "app-1.0.bin", "factory.bin");
	sealdrop("sign", "-k", "sign.pem", "-v", "1.1.0", "-H", "0x200", "--pad-header", "-S", "0x60000", "app-1.1.bin", "inner.bin");
	sealdrop("wrap", "-k", "sign.pem", "-S", "0x61000", "inner.bin", "release.bin");
	sealdrop("sim", "init", "--dir", "dev", "--trust", "sign.pem", "--factory-image", "factory.bin");
	sealdrop("sim", "pubkey", "--dir", "dev", "-o", "dev.pub.pem");
	sealdrop("seal", "--device-pub", "dev.pub.pem", "-o", "sealed.bin", "release.bin");
	return fs.readFileSync(file("sealed.bin"));
}

/** Starts `sim serve` on a free UDP port; resolves with its address and a stop(). */
function serve(): Promise<{ address: string; pid: number; stop: () => Promise<void> }> {
	const child = spawn(process.execPath, [path.join(root, "bin", "sealdrop.js"), "sim", "serve", "--dir", file("dev"), "--udp", "127.0.0.1:0", "--buf-size", String(BUF_SIZE), "-f", "json"], { stdio: ["ignore", "pipe", "inherit"] });
	return new Promise((resolve, reject) => {
		let out = "";
		const onData = (d: Buffer) => {
			out += d.toString();
			const nl = out.indexOf("\n");
			if (nl < 0) return;
			child.stdout.off("data", onData);
			child.stdout.resume();
			const stop = () => new Promise<void>((done) => { child.removeAllListeners("close"); child.once("close", () => done()); child.kill("SIGTERM"); });
			resolve({ address: (JSON.parse(out.slice(0, nl)) as { udp: string }).udp, pid: child.pid!, stop });
		};
		child.stdout.on("data", onData);
		child.once("close", (status) => reject(new Error(`sim serve ended (exit ${status})`)));
	});
}

/** Uploads per second of wall time, and CPU milliseconds per upload of each process. */
interface Speed { chunk: number; requests: number; uploadsPerSecond: number; cpuMsPerUpload: { client: number; relay: number; device: number } }

/** CPU milliseconds of the client (this process), the relay (`sim serve`) and the device program under it (XS). */
function cpuNow(relay: number): { client: number; relay: number; device: number } {
	const tree = processTree(relay);
	const device = tree.slice(1).reduce((n, pid) => n + (processCpuMs(pid) ?? 0), 0);
	return { client: selfCpuMs(), relay: processCpuMs(relay) ?? NaN, device };
}

async function overSmp(sealed: Buffer): Promise<Speed[]> {
	const server = await serve();
	const client = new SmpClient(udpLink(server.address));
	try {
		const results: Speed[] = [];
		for (const chunk of CHUNKS) {
			const upload = async () => (await client.upload(sealed, { mtu: BUF_SIZE, chunkSize: chunk })).chunks;
			const requests = await upload(); // warm up
			let uploads = 0;
			const start = performance.now();
			const cpuStart = cpuNow(server.pid);
			let elapsed = 0;
			// the device's CPU is read at 10 ms resolution: run until it spent MIN_MS too
			while (elapsed < MIN_MS || uploads < 2 || cpuNow(server.pid).device - cpuStart.device < MIN_MS) {
				await upload();
				uploads++;
				elapsed = performance.now() - start;
			}
			const cpuEnd = cpuNow(server.pid);
			const per = (k: "client" | "relay" | "device") => +((cpuEnd[k] - cpuStart[k]) / uploads).toFixed(3);
			results.push({ chunk, requests, uploadsPerSecond: uploads / (elapsed / 1000), cpuMsPerUpload: { client: per("client"), relay: per("relay"), device: per("device") } });
		}
		return results;
	} finally {
		client.close();
		await server.stop();
	}
}

interface Direct { chunk: number; writes: number; installsPerSecond: number; installsPerCpuSecond: number }

function direct(sealed: Buffer): Direct[] {
	const dev = file("dev");
	const sha = crypto.createHash("sha256").update(sealed).digest("hex");
	const out = execFileSync(path.join(root, "build", "xs", "release", "sealdrop-xs"),
		["--state", path.join(dev, "state"), path.join(root, "build", "js", "bench", "xs", "smp.js"), path.join(dev, "device.json"), file("sealed.bin"), sha, String(MIN_MS), ...CHUNKS.map(String)],
		{ env: { ...process.env, SEALDROP_LAYOUT: path.join(dev, "layout.json"), SEALDROP_FLASH: path.join(dev, "flash.bin"), SEALDROP_FLASH_CUT: "", SEALDROP_FLASH_FAIL_AT: "" }, stdio: ["ignore", "pipe", "inherit"] });
	return (JSON.parse(out.toString().trim().split("\n").pop()!) as { results: Direct[] }).results;
}

/** bench/xs/framing.ts: the serial framing on XS, µs per packet byte by CPU and wall. */
function framingOnXs(): unknown {
	const out = execFileSync(path.join(root, "build", "xs", "release", "sealdrop-xs"), [path.join(root, "build", "js", "bench", "xs", "framing.js"), String(MIN_MS), "128", "2048"], { stdio: ["ignore", "pipe", "inherit"] });
	return JSON.parse(out.toString().trim().split("\n").pop()!);
}

let framing: unknown;
try {
	framing = framingOnXs();
	const sealed = prepare();
	const smp = await overSmp(sealed);
	const xs = direct(sealed); // after the simulator stopped: one device process per flash file
	const kBps = (perSecond: number) => +((perSecond * sealed.length) / 1000).toFixed(1);
	const results = CHUNKS.map((chunk, i) => {
		const s = smp[i], d = xs[i];
		const directCpuMs = 1000 / d.installsPerCpuSecond;
		const c = s.cpuMsPerUpload;
		const allCpuMs = c.client + c.relay + c.device;
		return {
			chunkBytes: chunk,
			requestsPerUpload: s.requests,
			cpuMsPerUpload: { ...c, all: +allCpuMs.toFixed(3), direct: +directCpuMs.toFixed(3) },
			deviceCpuUsPerByte: { smp: +((c.device * 1000) / sealed.length).toFixed(4), direct: +((directCpuMs * 1000) / sealed.length).toFixed(4) },
			smpKBps: kBps(s.uploadsPerSecond),
			directKBps: kBps(d.installsPerSecond),
			ratio: {
				// direct CPU time ÷ SMP CPU time for the same bytes: 1 when the protocol costs nothing
				allProcessesByCpu: ratio(directCpuMs, allCpuMs), goalAllProcessesByCpu: 0.7,
				deviceByCpu: ratio(directCpuMs, c.device), goalDeviceByCpu: 0.5,
				byWall: ratio(s.uploadsPerSecond, d.installsPerSecond),
			},
			perChunkOverheadUs: { deviceCpu: +(((c.device - directCpuMs) / s.requests) * 1000).toFixed(1), wall: +(((1 / s.uploadsPerSecond - 1 / d.installsPerSecond) / s.requests) * 1e6).toFixed(1) },
		};
	});
	process.stdout.write(JSON.stringify({
		cpu: os.cpus()[0]?.model, cores: os.cpus().length,
		imageBytes: sealed.length, board: "sim (mcuboot installer: the sealed image's inner image decrypted into the secondary slot)",
		transport: `UDP loopback to sim serve, buf_size ${BUF_SIZE}, SMP v2`,
		minMilliseconds: MIN_MS,
		ratioRule: "direct ÷ SMP, CPU time for the same image (all processes: client, relay and device; device: the XS program alone), wall beside; goals 0.7 (all) and 0.5 (device: its CPU per byte ≤ 2× the direct install's)",
		results,
		serialFraming: framing,
	}, null, 2) + "\n");
} finally {
	fs.rmSync(work, { recursive: true, force: true });
}
