/**
 * Power cuts at every flash operation of a whole simulated device (host/sim/device.ts on the
 * Linux XS host): the update agent's install, the bootloader's test swap, its revert, and the
 * app's confirm, for one installer and swap mode. SEALDROP_FLASH_CUT=k tears the k-th write or
 * erase of a run and kills it; the device is then reset (the bootloader model runs again) and,
 * for an install, the transport begins the same session again.
 *
 * What must hold at every cut point k:
 * - install: the reset boots the old image (or the new one, when the cut tore nothing that
 *   mattered after the image was marked pending); the same install then finishes (resuming after
 *   the durable blocks), and the next reset runs the new image on trial. Every tenth k, a
 *   different image is installed instead and must start over cleanly.
 * - test swap: the next reset runs the new image on trial (MCUboot finishes an interrupted
 *   swap), or the old one (a cut after the swap's last step is as good as a trial boot that
 *   never confirmed; ESP-IDF's bootloader may lose the otadata entry it was writing); either way
 *   the reset after that runs the old image.
 * - revert: the next reset runs the old image. (Overwrite-only MCUboot has no trial and no
 *   revert: the new image must boot at every reset after a cut in its copy.)
 * - confirm: the next reset and the one after run a valid image, old or new, and the same one.
 * Every image that boots has been validated by the bootloader model (hash and signature), so
 * "old or new, never a mix" is what `booted` reports. And every boot finds the device key it was
 * provisioned with, its lock record intact: with `sharedLog`, the journal's moves to fresh log
 * blocks carry the key's records along.
 *
 * Used by test/unit/powercut.test.ts and `npm run bench:powercut`.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { deviceKeyFromRaw, spkiDer } from "../../host/cli/keys.js";
import { cliOk, repoRoot } from "../helpers/cli.js";
import { makeEspApp } from "../helpers/esp-app.js";

const run = promisify(execFile);
const xs = path.join(repoRoot, "build", "xs", "release", "sealdrop-xs");
const deviceProgram = path.join(repoRoot, "build", "js", "host", "sim", "device.js");
/** native/lin/flash-lin.c's exit status after a power cut. */
const CUT_EXIT = 99;

export interface PowercutConfig {
	installer: "mcuboot" | "mcuboot-encrypted" | "esp-idf";
	/** MCUboot installers: the bootloader's upgrade strategy. */
	swap?: "overwrite" | "move" | "scratch";
	/** The journal, the security counters and the device key's records in one log partition (as on STM32F4DISCOVERY). */
	sharedLog?: boolean;
}

export interface PhaseReport {
	/** Flash operations of the uncut run: the cut points there are. */
	operations: number;
	/** Cut points tried (every one, unless `runPowercut`'s `pick` chose some). */
	points: number;
	failures: string[];
	/** Outcomes seen after the reset, e.g. { new: 40, old: 2 }. */
	outcomes: Record<string, number>;
}

export interface PowercutReport {
	config: string;
	/** Of the install's cuts: those retried with the same image that resumed after the header, and those followed by another image. */
	install: PhaseReport & { resumedMidBody: number; anotherImage: number };
	testSwap: PhaseReport;
	revert: PhaseReport;
	confirm: PhaseReport;
}

export const ALL_CONFIGS: PowercutConfig[] = [
	{ installer: "mcuboot", swap: "overwrite" }, { installer: "mcuboot", swap: "move" }, { installer: "mcuboot", swap: "scratch" },
	{ installer: "mcuboot-encrypted", swap: "overwrite" }, { installer: "mcuboot-encrypted", swap: "move" }, { installer: "mcuboot-encrypted", swap: "scratch" },
	{ installer: "esp-idf" },
	{ installer: "mcuboot-encrypted", swap: "overwrite", sharedLog: true },
];

export const configName = (c: PowercutConfig) => (c.swap ? `${c.installer}/${c.swap}` : c.installer) + (c.sharedLog ? "+shared-log" : "");

type Out = Record<string, unknown>;

/** One simulated device in a folder, driven run by run. */
export class Device {
	readonly dir: string;
	readonly flash: string;
	readonly bootFile: string;

	constructor(dir: string) {
		this.dir = dir;
		this.flash = path.join(dir, "flash.bin");
		this.bootFile = path.join(dir, "boot.json");
	}

	/** Runs one device command; `cut` tears that flash operation. Returns the exit status and the JSON it printed. */
	async run(args: string[], cut?: number): Promise<{ status: number; out: Out }> {
		const env = { ...process.env, SEALDROP_LAYOUT: path.join(this.dir, "layout.json"), SEALDROP_FLASH: this.flash, ...(cut ? { SEALDROP_FLASH_CUT: String(cut) } : {}) };
		let status = 0;
		let stdout: string;
		try {
			({ stdout } = await run(xs, ["--state", path.join(this.dir, "state"), deviceProgram, path.join(this.dir, "device.json"), ...args], { env, encoding: "utf8", maxBuffer: 1 << 24 }));
		} catch (e) {
			const err = e as { code?: number; stdout?: string; stderr?: string };
			status = typeof err.code === "number" ? err.code : -1;
			stdout = err.stdout ?? "";
			if (status !== 1 && status !== CUT_EXIT) stdout += JSON.stringify({ crash: err.stderr?.slice(-400) });
		}
		const line = stdout.trim().split("\n").pop() ?? "";
		return { status, out: line.startsWith("{") ? JSON.parse(line) as Out : {} };
	}

	/** Runs a command that must succeed. */
	async ok(args: string[]): Promise<Out> {
		const r = await this.run(args);
		if (r.status !== 0) throw new Error(`${args.join(" ")}: exit ${r.status} ${JSON.stringify(r.out)}`);
		return r.out;
	}

	snapshot(): { flash: Buffer; boot: Buffer | undefined } {
		return { flash: fs.readFileSync(this.flash), boot: fs.existsSync(this.bootFile) ? fs.readFileSync(this.bootFile) : undefined };
	}

	restore(s: { flash: Buffer; boot: Buffer | undefined }): void {
		fs.writeFileSync(this.flash, s.flash);
		if (s.boot) fs.writeFileSync(this.bootFile, s.boot);
		else fs.rmSync(this.bootFile, { force: true });
	}
}


/** What runs after a reset: the booted image's identity, or undefined when nothing boots. */
function bootedHash(out: Out): string | undefined {
	const running = out.running as { hash?: string } | null | undefined;
	return running?.hash;
}

/** After every tenth cut of an install the harness installs another image instead of resuming. */
export const triesAnotherImage = (k: number) => k % 10 === 0;

/** Which cut points of a phase to try, from its `operations` (1-based); all of them by default. */
export type PickPoints = (phase: "install" | "testSwap" | "revert" | "confirm", operations: number) => number[];
const everyPoint: PickPoints = (_, operations) => Array.from({ length: operations }, (_, i) => i + 1);

/**
 * Makes a device for `config` in `dir` (a fresh folder), with a factory image v1 running and
 * an update v2 made with the CLI for its key, then cuts the power at every flash operation of
 * each phase (or at those `pick` chooses: `npm test` tries a sample, test/helpers/sweep.ts).
 * `payloadBytes` sizes the firmware (default 20,000).
 */
export async function runPowercut(config: PowercutConfig, dir: string, payloadBytes = 20_000, pick: PickPoints = everyPoint): Promise<PowercutReport> {
	fs.mkdirSync(path.join(dir, "state"), { recursive: true });
	const esp = config.installer === "esp-idf";
	const layout = JSON.parse(fs.readFileSync(path.join(repoRoot, "boards", esp ? "sim-esp32" : "sim", "layout.json"), "utf8"));
	if (!esp) Object.assign(layout.sealdrop, { installer: config.installer, swap: config.swap });
	if (config.sharedLog) Object.assign(layout.sealdrop, { storage: layout.sealdrop.journal, keys: layout.sealdrop.journal });
	fs.writeFileSync(path.join(dir, "layout.json"), JSON.stringify(layout));

	cliOk(dir, "keygen", "-k", "sign.pem", "-t", "ecdsa-p256");
	cliOk(dir, "getpub", "-k", "sign.pem", "-e", "raw", "-o", "sign.raw");
	fs.writeFileSync(path.join(dir, "device.json"), JSON.stringify({ layout: "layout.json", trust: [fs.readFileSync(path.join(dir, "sign.raw")).toString("hex")] }));
	const device = new Device(dir);
	const key = await device.ok(["first-boot"]);
	// every boot after a cut finds the device key it was provisioned with, lock record and all (a
	// lost lock would be noticed as a key "created" again, even when the same stored key is adopted)
	const keyLost = (reset: Out): string | undefined => {
		const found = reset.deviceKey as { fingerprint?: string; created?: boolean } | undefined;
		return found?.fingerprint === key.fingerprint && found?.created === false ? undefined : `the device key's records did not survive: ${JSON.stringify(found)}`;
	};
	fs.writeFileSync(path.join(dir, "device.der"), spkiDer(deviceKeyFromRaw("p256", Buffer.from(String(key.publicKey), "hex"), "the simulated device")));

	// factory image v1, update v2 (and an unrelated image v3)
	const slot = ["-H", "0x200", "--pad-header", "-S", "0x5c000"];
	if (esp) {
		fs.writeFileSync(path.join(dir, "factory.bin"), makeEspApp({ version: "1.0.0", segments: [payloadBytes >> 1, payloadBytes >> 1], seed: 1 }));
		fs.writeFileSync(path.join(dir, "app2.bin"), makeEspApp({ version: "2.0.0", segments: [payloadBytes >> 1, payloadBytes >> 1], seed: 2 }));
		fs.writeFileSync(path.join(dir, "app3.bin"), makeEspApp({ version: "3.0.0", segments: [4096, 4096], seed: 3 }));
	} else {
		fs.writeFileSync(path.join(dir, "app1.bin"), randomBytes(payloadBytes));
		fs.writeFileSync(path.join(dir, "app2.bin"), randomBytes(payloadBytes));
		fs.writeFileSync(path.join(dir, "app3.bin"), randomBytes(8192));
		cliOk(dir, "sign", "-k", "sign.pem", "-v", "1.0.0", ...slot, "app1.bin", "factory.bin");
	}
	if (config.installer === "mcuboot") {
		cliOk(dir, "sign", "-k", "sign.pem", "-v", "2.0.0", ...slot, "app2.bin", "inner.bin");
		cliOk(dir, "wrap", "-k", "sign.pem", "-S", "0x60000", "inner.bin", "release.bin");
	} else cliOk(dir, "sign", "-k", "sign.pem", "-v", "2.0.0", ...slot, "--sealable", "app2.bin", "release.bin");
	cliOk(dir, "seal", "--device-pub", "device.der", "-o", "update.bin", "release.bin");
	cliOk(dir, "sign", "-k", "sign.pem", "-v", "3.0.0", ...slot, "app3.bin", "other.bin");

	await device.ok(["factory", path.join(dir, "factory.bin")]);
	const old = bootedHash(await device.ok(["boot"]));
	if (!old) throw new Error("the factory image does not boot");
	const install = ["install", path.join(dir, "update.bin"), "--session-id", "5e55"];
	const installOther = ["install", path.join(dir, "other.bin"), "--session-id", "0123"];
	const start = device.snapshot();

	const phase = (): PhaseReport => ({ operations: 0, points: 0, failures: [], outcomes: {} });
	const name = (hash: string | undefined) => hash === old ? "old" : hash === undefined ? "nothing" : "new";
	const count = (p: PhaseReport, what: string) => { p.outcomes[what] = (p.outcomes[what] ?? 0) + 1; };

	// the uncut run of each phase: operation counts and the states the cut runs start from
	const installed = await device.ok(install);
	const pending = device.snapshot();
	const trialBoot = await device.ok(["boot"]);
	const fresh = bootedHash(trialBoot);
	// overwrite-only MCUboot has no trial: the new image is installed for good
	const revertible = config.swap !== "overwrite";
	if (!fresh || fresh === old || (trialBoot.running as { state: string }).state !== (revertible ? "trial" : "confirmed"))
		throw new Error(`the update does not boot ${revertible ? "on trial" : "for good"}: ${JSON.stringify(trialBoot.running)}`);
	const trial = device.snapshot();
	const reverted = revertible ? await device.ok(["boot"]) : undefined;
	if (reverted && bootedHash(reverted) !== old) throw new Error("an unconfirmed update is not reverted");
	device.restore(trial);
	const confirmed = await device.ok(["confirm", "0"]);
	// a confirm that never reaches the bootloader (a trailer or otadata write it cannot read) shows
	// only at the next reset: the confirmed image must still run there
	if (revertible && bootedHash(await device.ok(["boot"])) !== fresh) throw new Error("the confirmed update does not stay: the reset after the confirm runs another image");

	const report: PowercutReport = { config: configName(config), install: { ...phase(), resumedMidBody: 0, anotherImage: 0 }, testSwap: phase(), revert: phase(), confirm: phase() };

	// (a) the install
	const p = report.install;
	let resumedMidBody = 0;
	p.operations = Number(installed.flashOperations);
	const installPoints = pick("install", p.operations);
	p.points = installPoints.length;
	for (const k of installPoints) {
		device.restore(start);
		const other = triesAnotherImage(k);
		if (other) p.anotherImage++;
		const fail = (why: string) => p.failures.push(`install k=${k}${other ? " (then another image)" : ""}: ${why}`);
		if ((await device.run(install, k)).status !== CUT_EXIT) { fail("the cut did not stop the device"); continue; }
		const reset = await device.run(["boot"]);
		const after = bootedHash(reset.out);
		count(p, name(after));
		if (reset.status !== 0 || !after) { fail(`nothing boots after the cut: ${JSON.stringify(reset.out)}`); continue; }
		const lost = keyLost(reset.out);
		if (lost) { fail(lost); continue; }
		if (after !== old) continue; // the cut came after the image was marked pending: the update landed
		const again = await device.run(other ? installOther : install);
		if (again.status !== 0 || again.out.state !== "pending-test") { fail(`the install does not finish: ${JSON.stringify(again.out)}`); continue; }
		if (other && again.out.resumed !== false) { fail("another image resumed the cut session"); continue; }
		if (!other && Number(again.out.resumedFrom) > 0x200) resumedMidBody++;
		const next = await device.run(["boot"]);
		if (other ? (next.out.running as { version?: string })?.version !== (esp ? "3.0.0" : "3.0.0+0") : bootedHash(next.out) !== fresh) fail(`the reset after the install runs ${JSON.stringify(next.out.running)}`);
	}
	p.resumedMidBody = resumedMidBody;

	// (b) the bootloader's test swap (or ESP-IDF's app selection)
	await cutEach(device, keyLost, report.testSwap, pending, ["boot"], Number(trialBoot.flashOperations), pick("testSwap", Number(trialBoot.flashOperations)), async (k, reset) => {
		const after = bootedHash(reset.out);
		count(report.testSwap, name(after));
		if (after !== fresh && (after !== old || !revertible)) return `k=${k}: the reset after the cut runs ${name(after)} (${JSON.stringify(reset.out.bootloader).slice(0, 400)})`;
		const next = bootedHash((await device.run(["boot"])).out);
		if (!revertible) return next === fresh ? undefined : `k=${k}: the installed image does not stay (${name(next)} runs)`;
		return next === old ? undefined : `k=${k}: the unconfirmed image is not reverted (${name(next)} runs)`;
	});

	// the revert of an unconfirmed image
	if (reverted) await cutEach(device, keyLost, report.revert, trial, ["boot"], Number(reverted.flashOperations), pick("revert", Number(reverted.flashOperations)), async (k, reset) => {
		const after = bootedHash(reset.out);
		count(report.revert, name(after));
		return after === old ? undefined : `k=${k}: the reset after the cut runs ${name(after)}`;
	});

	// the app's confirm
	await cutEach(device, keyLost, report.confirm, trial, ["confirm", "0"], Number(confirmed.flashOperations), pick("confirm", Number(confirmed.flashOperations)), async (k, reset) => {
		const after = bootedHash(reset.out);
		count(report.confirm, name(after));
		const next = bootedHash((await device.run(["boot"])).out);
		if (after !== old && after !== fresh) return `k=${k}: the reset after the cut runs ${name(after)}`;
		return next === after ? undefined : `k=${k}: the image changed from ${name(after)} to ${name(next)} at the following reset`;
	});
	return report;
}

/** For each k of `points` (of 1..operations): from `base`, run `args` with a cut at k, reset, and let `keyLost` and `check` judge. */
async function cutEach(device: Device, keyLost: (reset: Out) => string | undefined, p: PhaseReport, base: ReturnType<Device["snapshot"]>, args: string[], operations: number, points: number[],
	check: (k: number, reset: { status: number; out: Out }) => Promise<string | undefined>): Promise<void> {
	p.operations = operations;
	p.points = points.length;
	for (const k of points) {
		device.restore(base);
		const cut = await device.run(args, k);
		if (cut.status !== CUT_EXIT) {
			p.failures.push(`${args[0]} k=${k}: the cut did not stop the device (exit ${cut.status}: ${JSON.stringify(cut.out).slice(0, 300)})`);
			continue;
		}
		const reset = await device.run(["boot"]);
		const why = reset.status !== 0 ? `${args[0]} k=${k}: the reset fails: ${JSON.stringify(reset.out)}` : keyLost(reset.out) ?? await check(k, reset);
		if (why) p.failures.push(`${args[0]} ${why}`);
	}
}
