/**
 * Our MCUboot model (host/sim/mcuboot.ts) held to what real MCUboot did: every vector of
 * test/vectors/mcuboot-bootutil/ (recorded with MCUboot v2.4.0's bootutil on Linux, configured as
 * boards/nucleo_l4a6zg/mcuboot.conf, decrypting with the device key through
 * boards/zephyr-mcuboot/sealdrop-enc-key-hook.c; README.md there) is replayed on the Linux XS host
 * through test/sim/mcuboot-bootutil-replay.ts: the same flash file, the same device keys in the
 * key store, the same sequence of boots, a power cut at the same flash operation (torn the way
 * native/lin/flash-lin.c and the recording's backend both tear it). After every boot the
 * decision (which version boots, or none), the number of flash operations of a complete boot, and
 * the SHA-256 of every partition must be what bootutil left.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { after, test } from "node:test";
import { repoRoot, tempDir } from "../helpers/cli.js";

const dir = path.join(repoRoot, "test", "vectors", "mcuboot-bootutil");
const xs = path.join(repoRoot, "build", "xs", "release", "sealdrop-xs");
const program = path.join(repoRoot, "build", "js", "test", "sim", "mcuboot-bootutil-replay.js");
const tmp = tempDir("sealdrop-bootutil-");
after(() => tmp.cleanup());

interface Boot {
	/** A power cut at this flash write/erase operation (1-based), or null for a complete boot. */
	cut: number | null;
	/** What bootutil's boot_go answered: the version in the primary slot it boots, or null (no bootable image). */
	result: "power-cut" | { booted: string | null };
	/** Flash write/erase operations of a complete boot. */
	operations?: number;
	/** SHA-256 of every partition of the layout after this boot. */
	partitions: Record<string, string>;
}
interface Case {
	name: string;
	note: string;
	flash: string;
	flashSha256: string;
	keys: { slot: number; kind: "p256"; private: string }[];
	boots: Boot[];
}
interface Vectors {
	layout: string;
	trust: string;
	cases: Case[];
}

const vectors = JSON.parse(fs.readFileSync(path.join(dir, "vectors.json"), "utf8")) as Vectors;
const layoutFile = path.join(repoRoot, vectors.layout);
const layout = JSON.parse(fs.readFileSync(layoutFile, "utf8")) as { partitions: { name: string; offset: number; size: number }[] };

function digests(flash: string): Record<string, string> {
	const bytes = fs.readFileSync(flash);
	return Object.fromEntries(layout.partitions.map((p) => [p.name, createHash("sha256").update(bytes.subarray(p.offset, p.offset + p.size)).digest("hex")]));
}

interface Run { status: number | null; stdout: string; stderr: string }

function runXs(state: string, flash: string, keys: Case["keys"], cut: number | null): Promise<Run> {
	const env: NodeJS.ProcessEnv = {};
	for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("SEALDROP_")) env[k] = v;
	env.SEALDROP_LAYOUT = layoutFile;
	env.SEALDROP_FLASH = flash;
	if (cut !== null) env.SEALDROP_FLASH_CUT = String(cut);
	const args = [program, layoutFile, vectors.trust, ...keys.map((k) => `${k.slot}:${k.private}`)];
	return new Promise((resolve) => {
		execFile(xs, ["--state", state, ...args], { env, timeout: 60_000 }, (error, stdout, stderr) => {
			resolve({ status: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout: String(stdout), stderr: String(stderr) });
		});
	});
}

/** Replays one vector; returns its differences from bootutil (empty when the model did the same). */
async function replay(c: Case): Promise<string[]> {
	const flash = tmp.file(`${c.name}.bin`);
	const state = tmp.file(`${c.name}.state`);
	const bytes = gunzipSync(fs.readFileSync(path.join(dir, c.flash)));
	assert.equal(createHash("sha256").update(bytes).digest("hex"), c.flashSha256, `${c.flash} is the recorded input`);
	fs.writeFileSync(flash, bytes);
	fs.mkdirSync(state, { mode: 0o700 });
	const differences: string[] = [];
	for (const [i, boot] of c.boots.entries()) {
		const what = `boot ${i + 1}${boot.cut === null ? "" : ` (power cut at operation ${boot.cut})`}`;
		const r = await runXs(state, flash, c.keys, boot.cut);
		if (boot.result === "power-cut") {
			assert.equal(r.status, 99, `${c.name} ${what}: the power cut did not happen: ${r.stderr}`);
		} else {
			assert.equal(r.status, 0, `${c.name} ${what}: ${r.stderr}`);
			const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { report: { images: { booted: { version: string } | null }[]; error: unknown }; operations: number };
			const booted = out.report.error ? null : out.report.images[0].booted?.version ?? null;
			if (booted !== boot.result.booted) differences.push(`${what}: bootutil booted ${boot.result.booted ?? "nothing"}, the model ${booted ?? "nothing"}`);
			if (out.operations !== boot.operations) differences.push(`${what}: bootutil made ${boot.operations} flash operations, the model ${out.operations}`);
		}
		const got = digests(flash);
		for (const [name, digest] of Object.entries(boot.partitions))
			if (got[name] !== digest) differences.push(`${what}: partition ${name} differs from what bootutil left`);
	}
	fs.rmSync(flash);
	return differences;
}

test("the recorded vectors cover each case of the real bootutil run and power cuts of a swap and a revert", () => {
	const names = vectors.cases.map((c) => c.name);
	for (const name of ["own-key", "other-device", "tampered", "rotation-new-key", "rotation-old-key"]) assert.ok(names.includes(name), name);
	assert.ok(names.filter((n) => n.startsWith("own-key-swap-cut-")).length >= 10);
	assert.ok(names.filter((n) => n.startsWith("own-key-revert-cut-")).length >= 5);
	for (const c of vectors.cases) for (const b of c.boots) assert.deepEqual(Object.keys(b.partitions).sort(), layout.partitions.map((p) => p.name).sort(), `${c.name}: a digest per partition`);
});

test("the MCUboot model boots every vector as real bootutil did, leaving the same bytes in every partition", async () => {
	assert.ok(fs.existsSync(xs), "the XS host is built (node scripts/setup.mjs)");
	const failures: string[] = [];
	let next = 0;
	// two at a time: the machine has two cores and each XS run is single-threaded
	await Promise.all([0, 1].map(async () => {
		while (next < vectors.cases.length) {
			const c = vectors.cases[next++];
			for (const d of await replay(c)) failures.push(`${c.name}: ${d}`);
		}
	}));
	assert.deepEqual(failures, [], `the model differs from bootutil:\n${failures.join("\n")}`);
});
