/**
 * Fleet sealing benchmark (`npm run bench:seal`): a 1 MiB release sealed for 10,000 devices with
 * ENC_EC256 and with ENC_X25519, as `sealdrop seal --fleet` does it (the fleet list read from a
 * file of inline base64 keys, then sealFleet with layout split on every core), against the bare
 * rate of one ECDH agreement with Node's crypto on one core of this machine, measured in the same
 * run. Prints JSON.
 *
 * ratio = devices per CPU-second of the whole process (main thread and workers: process.cpuUsage)
 * ÷ ECDH agreements per CPU-second on one thread, goal 0.45 (P-256) and 0.3 (X25519). Sealing a
 * device costs one ephemeral key generation and one agreement plus HKDF/HMAC/AES on 16-32 bytes,
 * so about 2 agreements. Wall figures beside it (per core: devices per second ÷ jobs), and where
 * the main thread's CPU goes (reading the list, and the rest of sealFleet).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseVersion } from "sealdrop/image";
import { buildImage } from "../host/cli/build.js";
import { readFleetList, sealFleet } from "../host/cli/fleet.js";
import { encodePublicKey, generateKey, rawPublicKey } from "../host/cli/keys.js";
import { openRelease, SealRun } from "../host/cli/seal.js";
import { ms, processCpuMs, ratio, selfCpuMs } from "./cpu.js";

const DEVICES = Number(process.env.BENCH_DEVICES ?? 10_000);
const jobs = Number(process.env.BENCH_JOBS ?? os.availableParallelism());
const GOALS = { ENC_EC256: 0.45, ENC_X25519: 0.3 };

/** The main thread's CPU milliseconds (its task in /proc: process.cpuUsage counts the workers too). */
const mainThreadCpuMs = () => processCpuMs(process.pid) === undefined ? NaN : readTaskCpu();
function readTaskCpu(): number {
	const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
	const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
	return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** One thread's ECDH agreements per second of wall and of CPU time. */
function bareEcdh(kind: "ecdsa-p256" | "x25519"): { perSecond: number; perCpuSecond: number } {
	const a = generateKey(kind), b = generateKey(kind);
	let agree: () => void;
	if (kind === "ecdsa-p256") {
		const ecdh = crypto.createECDH("prime256v1");
		ecdh.generateKeys();
		const peer = rawPublicKey(b);
		agree = () => ecdh.computeSecret(peer);
	} else agree = () => crypto.diffieHellman({ privateKey: a.privateKey!, publicKey: b.publicKey });
	for (let i = 0; i < 200; i++) agree(); // warm up
	let n = 0;
	const t = performance.now(), c = selfCpuMs();
	while (performance.now() - t < 1000 || selfCpuMs() - c < 1000) {
		for (let i = 0; i < 200; i++) agree();
		n += 200;
	}
	return { perSecond: n / ((performance.now() - t) / 1000), perCpuSecond: n / ((selfCpuMs() - c) / 1000) };
}

function fleetFile(dir: string, kind: "ecdsa-p256" | "x25519"): string {
	const lines: string[] = [];
	for (let i = 0; i < DEVICES; i++) lines.push(`dev-${i} ${encodePublicKey(generateKey(kind), "raw").toString("base64")}`);
	const file = path.join(dir, `fleet-${kind}.txt`);
	fs.writeFileSync(file, lines.join("\n") + "\n");
	return file;
}

async function seal(release: Buffer, list: string) {
	const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "sealdrop-bench-"));
	try {
		const run = new SealRun(openRelease(release));
		const t0 = performance.now(), c0 = selfCpuMs(), m0 = mainThreadCpuMs();
		const devices = readFleetList(list);
		const m1 = mainThreadCpuMs(), t1 = performance.now();
		await sealFleet(run, devices, { outDir, layout: "split", jobs });
		const seconds = (performance.now() - t0) / 1000;
		const cpuSeconds = (selfCpuMs() - c0) / 1000;
		const m2 = mainThreadCpuMs();
		run.close();
		return { seconds, cpuSeconds, readListSeconds: (t1 - t0) / 1000, mainThreadCpuMs: { readList: m1 - m0, sealFleet: m2 - m1 } };
	} finally {
		fs.rmSync(outDir, { recursive: true, force: true });
	}
}

const signer = generateKey("ecdsa-p256");
const built = buildImage(crypto.randomBytes(1024 * 1024), {
	key: signer, version: parseVersion("1.0.0"), headerSize: 0x200, padHeader: true, slotSize: 0x200000, sealable: true,
});
if (!("image" in built)) throw new Error("unreachable");

const work = fs.mkdtempSync(path.join(os.tmpdir(), "sealdrop-bench-seal-"));
const results: Record<string, unknown> = { devices: DEVICES, releaseBytes: built.image.length, jobs, cores: os.availableParallelism(), cpu: os.cpus()[0]?.model };
try {
	for (const [name, kind] of [["ENC_EC256", "ecdsa-p256"], ["ENC_X25519", "x25519"]] as const) {
		const list = fleetFile(work, kind);
		const ecdh = bareEcdh(kind);
		const s = await seal(built.image, list);
		const perCore = DEVICES / s.seconds / jobs;
		const perCpuSecond = DEVICES / s.cpuSeconds;
		results[name] = {
			sealSeconds: +s.seconds.toFixed(3),
			cpuSeconds: +s.cpuSeconds.toFixed(3),
			readListSeconds: +s.readListSeconds.toFixed(3),
			mainThreadCpuMs: { readList: ms(s.mainThreadCpuMs.readList), sealFleet: ms(s.mainThreadCpuMs.sealFleet) },
			devicesPerCpuSecond: Math.round(perCpuSecond),
			devicesPerSecondPerCore: Math.round(perCore),
			bareEcdhPerCpuSecond: Math.round(ecdh.perCpuSecond),
			bareEcdhPerSecond: Math.round(ecdh.perSecond),
			ratio: { byCpu: ratio(perCpuSecond, ecdh.perCpuSecond), goal: GOALS[name], byWall: ratio(perCore, ecdh.perSecond) },
		};
	}
} finally {
	fs.rmSync(work, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(results, null, 2) + "\n");
