/**
 * Fleet sealing benchmark (`npm run bench:seal`): a 1 MiB release sealed for 10,000 devices with
 * ENC_EC256 and with ENC_X25519, against the bare rate of one ECDH agreement with Node's crypto on
 * this machine, measured in the same run. Prints JSON.
 *
 * ratio = (devices per second per core) / (ECDH agreements per second on one core). Sealing a
 * device costs one ephemeral key generation and one agreement plus HKDF/HMAC/AES on 16-32 bytes,
 * so about 2-3 agreements: a ratio of 0.33 or more is the goal.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseVersion } from "sealdrop/image";
import { buildImage } from "../host/cli/build.js";
import { sealFleet, type FleetDevice } from "../host/cli/fleet.js";
import { generateKey, rawPublicKey, type KeyKind } from "../host/cli/keys.js";
import { openRelease, SealRun } from "../host/cli/seal.js";

const DEVICES = Number(process.env.BENCH_DEVICES ?? 10_000);
const jobs = Number(process.env.BENCH_JOBS ?? os.availableParallelism());

function bareEcdhRate(kind: "ecdsa-p256" | "x25519"): number {
	const a = generateKey(kind), b = generateKey(kind);
	const n = 4000;
	let agree: () => void;
	if (kind === "ecdsa-p256") {
		const ecdh = crypto.createECDH("prime256v1");
		ecdh.generateKeys();
		const peer = rawPublicKey(b);
		agree = () => ecdh.computeSecret(peer);
	} else agree = () => crypto.diffieHellman({ privateKey: a.privateKey!, publicKey: b.publicKey });
	for (let i = 0; i < 200; i++) agree(); // warm up
	const t = performance.now();
	for (let i = 0; i < n; i++) agree();
	return n / ((performance.now() - t) / 1000);
}

async function sealRate(release: Buffer, kind: KeyKind): Promise<{ seconds: number; devicesPerSecond: number }> {
	const devices: FleetDevice[] = [];
	for (let i = 0; i < DEVICES; i++) devices.push({ id: `dev-${i}`, key: { ...generateKey(kind), privateKey: undefined } });
	const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "sealdrop-bench-"));
	try {
		const run = new SealRun(openRelease(release));
		const t = performance.now();
		await sealFleet(run, devices, { outDir, layout: "split", jobs });
		const seconds = (performance.now() - t) / 1000;
		run.close();
		return { seconds, devicesPerSecond: DEVICES / seconds };
	} finally {
		fs.rmSync(outDir, { recursive: true, force: true });
	}
}

const signer = generateKey("ecdsa-p256");
const built = buildImage(crypto.randomBytes(1024 * 1024), {
	key: signer, version: parseVersion("1.0.0"), headerSize: 0x200, padHeader: true, slotSize: 0x200000, sealable: true,
});
if (!("image" in built)) throw new Error("unreachable");

const results: Record<string, unknown> = { devices: DEVICES, releaseBytes: built.image.length, jobs, cores: os.availableParallelism(), cpu: os.cpus()[0]?.model };
for (const [name, kind] of [["ENC_EC256", "ecdsa-p256"], ["ENC_X25519", "x25519"]] as const) {
	const ecdh = bareEcdhRate(kind);
	const seal = await sealRate(built.image, kind);
	const perCore = seal.devicesPerSecond / jobs;
	results[name] = {
		sealSeconds: +seal.seconds.toFixed(3),
		devicesPerSecond: Math.round(seal.devicesPerSecond),
		devicesPerSecondPerCore: Math.round(perCore),
		bareEcdhPerSecond: Math.round(ecdh),
		ratio: +(perCore / ecdh).toFixed(3),
	};
}
process.stdout.write(JSON.stringify(results, null, 2) + "\n");
