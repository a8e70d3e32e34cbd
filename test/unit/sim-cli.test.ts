/**
 * `sealdrop sim` end to end on XS, for every installer: a simulated device with a factory image
 * takes an update made by our CLI or by imgtool (test/vectors/imgtool, device key imported),
 * then install → reboot → trial → confirm keeps the new image, and install → reboot → no
 * confirm → reboot reverts to the old one. The bootloader model validates what it boots, and
 * read-slot's copy of the primary slot verifies with the CLI.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { randomBytes } from "node:crypto";
import { after, describe, test } from "node:test";
import { expectFailure, expectOk, findTlv, rawLayout, repoRoot, runCli, tempDir, vec, CODE_EXIT, cliOk } from "../helpers/cli.js";
import { makeEspApp } from "../helpers/esp-app.js";
import path from "node:path";

const tmp = tempDir("sealdrop-sim-cli-");
after(() => tmp.cleanup());

const cli = (...args: string[]) => cliOk(tmp.dir, ...args);

function json(...args: string[]): Record<string, unknown> {
	return JSON.parse(cli(...args, "-f", "json")) as Record<string, unknown>;
}

interface Running { version: string; hash: string; state: string }
const running = (out: Record<string, unknown>) => out.running as Running | null;

/** A layout of boards/sim with another installer and swap mode. */
function simLayout(installer: string, swap: string): string {
	const layout = JSON.parse(fs.readFileSync(path.join(repoRoot, "boards", "sim", "layout.json"), "utf8"));
	Object.assign(layout.sealdrop, { installer, swap });
	const file = tmp.file(`layout-${installer}-${swap}.json`);
	fs.writeFileSync(file, JSON.stringify(layout));
	return file;
}

interface Case {
	name: string;
	board: string;
	/** Signing key the device trusts. */
	sign: string;
	importKey?: string;
	/** The image a factory programs (no device key needed). */
	factory(): string;
	/** The update for a device whose public key is in `devicePub`, and the version it brings. */
	update(devicePub: string): { update: string; newVersion: string };
}

let made = 0;
function fresh(name: string): string {
	return `${name}-${made++}`;
}

const cases: Case[] = [
	{
		name: "mcuboot (swap-using-scratch), a nested release made by our CLI",
		board: "sim", sign: "sign.pem",
		factory: () => signedFactory("sign.pem"),
		update(devicePub) {
			const n = fresh("nested");
			fs.writeFileSync(tmp.file(`${n}.app`), randomBytes(50_000));
			cli("sign", "-k", "sign.pem", "-v", "1.1.0", "-H", "0x200", "--pad-header", "-S", "0x60000", `${n}.app`, `${n}.inner`);
			cli("wrap", "-k", "sign.pem", "-S", "0x61000", `${n}.inner`, `${n}.release`);
			cli("seal", "--device-pub", devicePub, "-o", `${n}.sealed`, `${n}.release`);
			return { update: `${n}.sealed`, newVersion: "1.1.0+0" };
		},
	},
	{
		name: "mcuboot-encrypted (swap-using-move), a sealed release made by our CLI",
		board: simLayout("mcuboot-encrypted", "move"), sign: "sign.pem",
		factory: () => signedFactory("sign.pem"),
		update(devicePub) {
			const n = fresh("sealed");
			fs.writeFileSync(tmp.file(`${n}.app`), randomBytes(70_000));
			cli("sign", "-k", "sign.pem", "-v", "2.0.0+7", "-H", "0x200", "--pad-header", "-S", "0x60000", "--sealable", `${n}.app`, `${n}.release`);
			cli("seal", "--device-pub", devicePub, "-o", `${n}.sealed`, `${n}.release`);
			return { update: `${n}.sealed`, newVersion: "2.0.0+7" };
		},
	},
	{
		name: "mcuboot-encrypted (swap-using-scratch), imgtool's ENC_EC256 image with its device key imported",
		board: simLayout("mcuboot-encrypted", "scratch"), sign: vec("keys/sign-ecdsa-p256.pem"), importKey: vec("keys/enc-ec256.pem"),
		factory: () => signedFactory(vec("keys/sign-ecdsa-p256.pem")),
		update: () => ({ update: vec("images/enc_ec256_aes128.bin"), newVersion: "1.2.3+4" }),
	},
	{
		name: "mcuboot (overwrite-only), imgtool's signed P-256 image",
		board: simLayout("mcuboot", "overwrite"), sign: vec("keys/sign-ecdsa-p256.pem"),
		factory: () => signedFactory(vec("keys/sign-ecdsa-p256.pem")),
		update: () => ({ update: vec("images/signed_ecdsa_p256.bin"), newVersion: "1.2.3+4" }),
	},
	{
		name: "esp-idf (sim-esp32), a sealed ESP-IDF app made by our CLI",
		board: "sim-esp32", sign: "sign.pem",
		factory() {
			const n = fresh("esp");
			fs.writeFileSync(tmp.file(`${n}.factory`), makeEspApp({ version: "1.0.0", segments: [20_000, 9_000], seed: made }));
			return `${n}.factory`;
		},
		update(devicePub) {
			const n = fresh("esp");
			fs.writeFileSync(tmp.file(`${n}.app`), makeEspApp({ version: "2.0.0", segments: [30_000, 5_000], seed: made + 100 }));
			cli("sign", "-k", "sign.pem", "-v", "2.0.0", "-H", "0x200", "--pad-header", "-S", "0x1e0000", "-s", "5", "--sealable", `${n}.app`, `${n}.release`);
			cli("seal", "--device-pub", devicePub, "-o", `${n}.sealed`, `${n}.release`);
			return { update: `${n}.sealed`, newVersion: "2.0.0" };
		},
	},
];

cli("keygen", "-k", "sign.pem", "-t", "ecdsa-p256");

/** A plain signed image v1.0.0, as a factory programs it. */
function signedFactory(key: string): string {
	const n = fresh("factory");
	fs.writeFileSync(tmp.file(`${n}.app`), randomBytes(30_000));
	cli("sign", "-k", key, "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", `${n}.app`, `${n}.bin`);
	return `${n}.bin`;
}

/** A device running the case's factory image, and the update made for its key. */
function setUp(c: Case) {
	const dir = fresh("dev");
	const boot = json("sim", "init", "--dir", dir, "--board", c.board, "--trust", c.sign, ...(c.importKey ? ["--import-key", c.importKey] : []), "--factory-image", c.factory());
	const old = running(boot);
	assert.ok(old, `the factory image boots: ${JSON.stringify(boot)}`);
	cli("sim", "pubkey", "--dir", dir, "-o", `${dir}.pub.pem`);
	return { dir, old: old!, ...c.update(`${dir}.pub.pem`) };
}

describe("sealdrop sim, end to end on XS", () => {
	for (const c of cases) {
		const esp = c.board === "sim-esp32";
		const revertible = !c.board.includes("overwrite");
		test(`${c.name}: install → reboot → trial → confirm keeps the new image`, () => {
			const { dir, update, newVersion, old } = setUp(c);
			const installed = json("sim", "install", "--dir", dir, update, "--chunk", "1000");
			assert.equal(installed.state, "pending-test");
			const pending = json("sim", "state", "--dir", dir);
			const slots = pending.slots as { slot: number; pending: boolean; active: boolean; version: string }[];
			assert.ok(slots.some((s) => s.pending && !s.active && s.version === newVersion), JSON.stringify(slots));
			assert.equal(running(pending)?.hash, old.hash);

			const trial = running(json("sim", "reboot", "--dir", dir));
			assert.equal(trial?.version, esp ? "2.0.0" : newVersion);
			assert.equal(trial?.state, revertible ? "trial" : "confirmed");
			const confirmed = json("sim", "confirm", "--dir", dir) as unknown as Running;
			assert.equal(confirmed.state, "confirmed");
			const kept = running(json("sim", "reboot", "--dir", dir));
			assert.equal(kept?.hash, trial?.hash);
			assert.equal(kept?.state, "confirmed");
			if (!esp) {
				cli("sim", "read-slot", "--dir", dir, "primary", "-o", `${dir}.primary.bin`);
				cli("verify", "-k", c.sign, `${dir}.primary.bin`);
			}
		});

		if (revertible) {
			test(`${c.name}: install → reboot → no confirm → reboot reverts to the old image`, () => {
				const { dir, update, old } = setUp(c);
				cli("sim", "install", "--dir", dir, update);
				const trial = running(json("sim", "reboot", "--dir", dir));
				assert.equal(trial?.state, "trial");
				assert.notEqual(trial?.hash, old.hash);
				// a second update is refused while the first is on trial
				expectFailure(runCli(["sim", "install", "--dir", dir, update], { cwd: tmp.dir }), "E_STATE", CODE_EXIT.E_STATE);
				const back = json("sim", "reboot", "--dir", dir);
				assert.equal(running(back)?.hash, old.hash);
				assert.equal(running(back)?.state, "confirmed");
				const slots = back.slots as { pending: boolean }[];
				assert.ok(slots.every((s) => !s.pending), "nothing is pending after the revert");
			});
		}
	}

	test("a lower security counter than the running image's is refused before the body (the bootloader compares with it), by every MCUboot installer; nothing is pending", () => {
		const layouts: [string, string][] = [["mcuboot (scratch), nested", "sim"], ["mcuboot-encrypted (move), sealed", simLayout("mcuboot-encrypted", "move")], ["mcuboot (overwrite), plain", simLayout("mcuboot", "overwrite")]];
		for (const [name, board] of layouts) {
			const n = fresh("counter");
			fs.writeFileSync(tmp.file(`${n}.factory.app`), randomBytes(30_000));
			cli("sign", "-k", "sign.pem", "-v", "1.2.0", "-s", "5", "-H", "0x200", "--pad-header", "-S", "0x60000", `${n}.factory.app`, `${n}.factory`);
			const dir = `${n}-dev`;
			const boot = json("sim", "init", "--dir", dir, "--board", board, "--trust", "sign.pem", "--factory-image", `${n}.factory`);
			cli("sim", "pubkey", "--dir", dir, "-o", `${dir}.pub.pem`);
			fs.writeFileSync(tmp.file(`${n}.app`), randomBytes(40_000));
			let update: string;
			if (name.endsWith("nested")) {
				cli("sign", "-k", "sign.pem", "-v", "1.3.0", "-s", "4", "-H", "0x200", "--pad-header", "-S", "0x60000", `${n}.app`, `${n}.inner`);
				cli("wrap", "-k", "sign.pem", "-S", "0x61000", `${n}.inner`, `${n}.release`);
				cli("seal", "--device-pub", `${dir}.pub.pem`, "-o", update = `${n}.sealed`, `${n}.release`);
			} else if (name.endsWith("sealed")) {
				cli("sign", "-k", "sign.pem", "-v", "1.3.0", "-s", "4", "-H", "0x200", "--pad-header", "-S", "0x60000", "--sealable", `${n}.app`, `${n}.release`);
				cli("seal", "--device-pub", `${dir}.pub.pem`, "-o", update = `${n}.sealed`, `${n}.release`);
			} else cli("sign", "-k", "sign.pem", "-v", "1.3.0", "-s", "4", "-H", "0x200", "--pad-header", "-S", "0x60000", `${n}.app`, update = `${n}.signed`);
			const refused = runCli(["sim", "install", "--dir", dir, update], { cwd: tmp.dir });
			expectFailure(refused, "E_SECURITY_COUNTER", CODE_EXIT.E_SECURITY_COUNTER, name);
			assert.match(refused.stderr, /below the running image's 5/, name);
			const after = json("sim", "state", "--dir", dir);
			assert.equal(running(after)?.hash, running(boot)?.hash, name);
			assert.ok((after.slots as { pending: boolean }[]).every((slot) => !slot.pending), `${name}: nothing pending`);
			// the same release at the running image's counter is taken
			if (name.endsWith("plain")) {
				cli("sign", "-k", "sign.pem", "-v", "1.3.0", "-s", "5", "-H", "0x200", "--pad-header", "-S", "0x60000", `${n}.app`, `${n}.equal`);
				assert.equal(json("sim", "install", "--dir", dir, `${n}.equal`).state, "pending-test", name);
			}
		}
	});

	test("a two-image board: the image number selects the slot pair; the other image is untouched; an unmet dependency is refused", () => {
		const layout = JSON.parse(fs.readFileSync(path.join(repoRoot, "boards", "sim", "layout.json"), "utf8"));
		Object.assign(layout.sealdrop, { images: [{ primary: "p0", secondary: "s0" }, { primary: "p1", secondary: "s1" }] });
		let offset = 0;
		const sizes: [string, number][] = [["bootloader", 0x10000], ["p0", 0x30000], ["s0", 0x30000], ["p1", 0x20000], ["s1", 0x20000], ["scratch", 0x10000], ["journal", 0x10000], ["storage", 0x8000], ["keys", 0x8000]];
		layout.partitions = sizes.map(([name, size]) => ({ name, offset: (offset += size) - size, size }));
		const board = tmp.file("layout-two-images.json");
		fs.writeFileSync(board, JSON.stringify(layout));
		const dir = fresh("dev");
		const factory0 = signedFactory("sign.pem");
		const factory1 = signedFactory("sign.pem");
		const boot = json("sim", "init", "--dir", dir, "--board", board, "--trust", "sign.pem", "--factory-image", factory0, "--factory-image", factory1);
		assert.equal(running(boot)?.version, "1.0.0+0");

		const n = fresh("image1");
		fs.writeFileSync(tmp.file(`${n}.app`), randomBytes(40_000));
		cli("sign", "-k", "sign.pem", "-v", "1.1.0", "-H", "0x200", "--pad-header", "-S", "0x20000", `${n}.app`, `${n}.bin`);
		cli("sign", "-k", "sign.pem", "-v", "1.2.0", "-H", "0x200", "--pad-header", "-S", "0x20000", "-d", "(0, 2.0.0)", `${n}.app`, `${n}.needs-2.bin`);
		expectFailure(runCli(["sim", "install", "--dir", dir, "--image", "1", `${n}.needs-2.bin`], { cwd: tmp.dir }), "E_DEPENDENCY", CODE_EXIT.E_DEPENDENCY);
		expectFailure(runCli(["sim", "install", "--dir", dir, "--image", "2", `${n}.bin`], { cwd: tmp.dir }), "E_RANGE", CODE_EXIT.E_RANGE);

		assert.equal(json("sim", "install", "--dir", dir, "--image", "1", `${n}.bin`).state, "pending-test");
		type Slot = { image: number; slot: number; version: string; pending: boolean; active: boolean; confirmed: boolean };
		const slots = (out: Record<string, unknown>) => (out.slots as Slot[]).map((s) => `${s.image}/${s.slot} ${s.version}${s.pending ? " pending" : ""}${s.active ? " active" : ""}${s.confirmed ? " confirmed" : ""}`);
		assert.deepEqual(slots(json("sim", "state", "--dir", dir)), ["0/0 1.0.0+0 active confirmed", "1/0 1.0.0+0 active confirmed", "1/1 1.1.0+0 pending"]);
		const rebooted = json("sim", "reboot", "--dir", dir);
		const swaps = ((rebooted.bootloader as { images: { swapType: string }[] }).images).map((i) => i.swapType);
		assert.deepEqual(swaps, ["none", "test"]);
		assert.deepEqual(slots(rebooted), ["0/0 1.0.0+0 active confirmed", "1/0 1.1.0+0 active", "1/1 1.0.0+0 confirmed"]);
		assert.equal((json("sim", "confirm", "--dir", dir, "--image", "1") as unknown as Running).version, "1.1.0+0");
		assert.deepEqual(slots(json("sim", "reboot", "--dir", dir)), ["0/0 1.0.0+0 active confirmed", "1/0 1.1.0+0 active confirmed", "1/1 1.0.0+0"]);
	});

	test("sim pubkey prints the imported key as getpub does, in every encoding", () => {
		const dir = fresh("dev");
		cli("sim", "init", "--dir", dir, "--import-key", vec("keys/enc-ec256.pem"));
		for (const e of ["pem", "raw", "lang-c", "lang-rust"]) {
			const fromDevice = runCli(["sim", "pubkey", "--dir", dir, "-e", e], { cwd: tmp.dir });
			const fromKey = runCli(["getpub", "-k", vec("keys/enc-ec256.pem"), "-e", e], { cwd: tmp.dir });
			expectOk(fromDevice);
			assert.equal(fromDevice.stdout, fromKey.stdout, e);
		}
	});

	test("sim init with a factory image the bootloader refuses (a signer the device does not trust) says why, with its code", () => {
		cli("keygen", "-k", "stranger.pem", "-t", "ecdsa-p256");
		const factory = signedFactory("stranger.pem");
		const r = runCli(["sim", "init", "--dir", fresh("dev"), "--trust", "sign.pem", "--factory-image", factory], { cwd: tmp.dir });
		expectFailure(r, "E_NO_IMAGE", CODE_EXIT.E_NO_IMAGE);
		assert.match(r.stderr, /the factory image does not boot: .*signed by a key this bootloader is not built with/);
	});

	test("an ENC TLV from another sealing of the same release (this device's, so it opens) is E_HASH, named as such; a sealed release that wraps no image is E_UNSUPPORTED", () => {
		const dir = fresh("dev");
		cli("sim", "init", "--dir", dir, "--trust", "sign.pem", "--factory-image", signedFactory("sign.pem"));
		cli("sim", "pubkey", "--dir", dir, "-o", `${dir}.pub.pem`);
		fs.writeFileSync(tmp.file(`${dir}.app`), randomBytes(30_000));
		cli("sign", "-k", "sign.pem", "-v", "1.1.0", "-H", "0x200", "--pad-header", "-S", "0x60000", `${dir}.app`, `${dir}.inner`);
		cli("wrap", "-k", "sign.pem", "-S", "0x61000", `${dir}.inner`, `${dir}.release`);
		cli("seal", "--device-pub", `${dir}.pub.pem`, "-o", `${dir}.a`, `${dir}.release`);
		cli("seal", "--device-pub", `${dir}.pub.pem`, "-o", `${dir}.b`, `${dir}.release`);
		const a = fs.readFileSync(tmp.file(`${dir}.a`));
		const b = fs.readFileSync(tmp.file(`${dir}.b`));
		const [encA, encB] = [a, b].map((image) => findTlv(rawLayout(image), 0x32)); // ENC_EC256
		Buffer.from(encB.value).copy(a, encA.offset + 4);
		fs.writeFileSync(tmp.file(`${dir}.swapped`), a);
		const swapped = runCli(["sim", "install", "--dir", dir, `${dir}.swapped`], { cwd: tmp.dir });
		expectFailure(swapped, "E_HASH", CODE_EXIT.E_HASH);
		assert.match(swapped.stderr, /ENC TLV's key is not the one it was encrypted with/);
		// the same bytes decrypted with the right key, but not an image: the release is at fault
		cli("sign", "-k", "sign.pem", "-v", "1.1.0", "-H", "0x200", "--pad-header", "-S", "0x60000", "--sealable", `${dir}.app`, `${dir}.plain`);
		cli("seal", "--device-pub", `${dir}.pub.pem`, "-o", `${dir}.plain.sealed`, `${dir}.plain`);
		expectFailure(runCli(["sim", "install", "--dir", dir, `${dir}.plain.sealed`], { cwd: tmp.dir }), "E_UNSUPPORTED", CODE_EXIT.E_UNSUPPORTED);
		assert.ok((json("sim", "state", "--dir", dir).slots as { pending: boolean }[]).every((slot) => !slot.pending));
	});

	test("a sealed image for another device is refused and nothing changes", () => {
		const c = cases[0];
		const { dir, old } = setUp(c);
		const other = fresh("dev");
		cli("sim", "init", "--dir", other, "--trust", "sign.pem");
		cli("sim", "pubkey", "--dir", other, "-o", `${other}.pub.pem`);
		const theirs = c.update(`${other}.pub.pem`).update;
		const before = json("sim", "state", "--dir", dir);
		expectFailure(runCli(["sim", "install", "--dir", dir, theirs], { cwd: tmp.dir }), "E_DEVICE_KEY", CODE_EXIT.E_DEVICE_KEY);
		const afterwards = json("sim", "state", "--dir", dir);
		assert.deepEqual(afterwards.slots, before.slots);
		assert.equal(running(json("sim", "reboot", "--dir", dir))?.hash, old.hash);
	});

	test("a file for the device program that cannot be read is E_IO (exit 4) before the device starts: rotate, install, init --factory-image", () => {
		const dir = fresh("dev");
		cli("sim", "init", "--dir", dir, "--trust", "sign.pem");
		const before = fs.readFileSync(tmp.file(path.join(dir, "flash.bin")));
		for (const args of [["rotate", "--dir", dir, "missing.req", "-o", "answer"], ["rotate", "--dir", dir, ".", "-o", "answer"], ["install", "--dir", dir, "missing.bin"]]) {
			expectFailure(runCli(["sim", ...args], { cwd: tmp.dir }), "E_IO", CODE_EXIT.E_IO, args.join(" "));
		}
		assert.ok(fs.readFileSync(tmp.file(path.join(dir, "flash.bin"))).equals(before), "the flash is as it was");
		assert.ok(!fs.existsSync(tmp.file("answer")), "no answer written");
		// init checks its files before it makes (or, with --force, removes) anything
		const other = fresh("dev");
		expectFailure(runCli(["sim", "init", "--dir", other, "--factory-image", "missing.bin"], { cwd: tmp.dir }), "E_IO", CODE_EXIT.E_IO);
		assert.ok(!fs.existsSync(tmp.file(other)), "no device folder made");
		expectFailure(runCli(["sim", "init", "--dir", dir, "--force", "--factory-image", "missing.bin"], { cwd: tmp.dir }), "E_IO", CODE_EXIT.E_IO);
		assert.ok(fs.readFileSync(tmp.file(path.join(dir, "flash.bin"))).equals(before), "the device given --force is still there");
	});

	test("usage errors: no folder, a folder without a device, an unknown subcommand", () => {
		expectFailure(runCli(["sim", "state"], { cwd: tmp.dir }), "E_USAGE", CODE_EXIT.E_USAGE);
		expectFailure(runCli(["sim", "state", "--dir", "nowhere"], { cwd: tmp.dir }), "E_IO", CODE_EXIT.E_IO);
		expectFailure(runCli(["sim", "fly"], { cwd: tmp.dir }), "E_USAGE", CODE_EXIT.E_USAGE);
		for (const sub of ["init", "pubkey", "install", "reboot", "confirm", "state", "read-slot"]) {
			const help = runCli(["sim", sub, "--help"], { cwd: tmp.dir });
			expectOk(help);
			assert.match(help.stdout, new RegExp(`^Usage: sealdrop sim ${sub}`));
		}
		// a board layout that is not JSON, or whose sealdrop section the agent would refuse: E_USAGE, nothing made
		fs.writeFileSync(tmp.file("broken-layout.json"), '{"name": "x", "sealdrop": {');
		fs.writeFileSync(tmp.file("bad-installer.json"), JSON.stringify({ name: "x", sealdrop: { installer: "nope" } }));
		for (const layout of ["broken-layout.json", "bad-installer.json"]) {
			const dir = fresh("dev");
			expectFailure(runCli(["sim", "init", "--dir", dir, "--board", layout], { cwd: tmp.dir }), "E_USAGE", CODE_EXIT.E_USAGE, layout);
			assert.equal(fs.existsSync(tmp.file(dir)), false, `${layout}: no device folder made`);
		}
	});
});
