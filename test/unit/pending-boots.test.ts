/**
 * What the agent marks pending, the bootloader boots. Over a spread of images made as imgtool
 * makes them (ECDSA P-256, Ed25519 and RSA-2048 signers, ENC_EC256 and ENC_X25519, AES-128 and
 * AES-256, sealed and nested releases, header flags, dependencies, a security counter), on a board
 * of every installer (MCUboot swap-using-scratch, overwrite-only, mcuboot-encrypted at AES-128 and
 * AES-256, the real NUCLEO-L4A6ZG layout, ESP-IDF): each `sim install` either refuses with a code
 * and leaves nothing pending, or ends pending and the next `sim reboot` runs the new image (the
 * bootloader model, host/sim/mcuboot.ts or esp-bootloader.ts, accepts it). An update the agent
 * marks pending and the bootloader then refuses would silently not happen: this test catches that.
 *
 * Images are made in this process (main()); the simulated devices run as `sealdrop sim`
 * subprocesses, two boards at a time.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { makeEspApp } from "../helpers/esp-app.js";
import { describeRun, mapLimit, runCli, runMain, type CliResult } from "../helpers/noble-cli.js";
import { repoRoot, tempDir } from "../helpers/cli.js";

const tmp = tempDir("sealdrop-pending-boots-");
after(() => tmp.cleanup());
const file = (name: string) => tmp.file(name);

async function make(...args: string[]): Promise<void> {
	const r = await runMain(args);
	assert.equal(r.code, 0, describeRun(args, r));
}

async function sim(...args: string[]): Promise<CliResult> {
	return runCli(["sim", ...args, "-f", "json"], tmp.dir);
}

async function simJson(...args: string[]): Promise<Record<string, unknown>> {
	const r = await sim(...args);
	assert.equal(r.code, 0, describeRun(["sim", ...args], r));
	return JSON.parse(r.stdout.toString()) as Record<string, unknown>;
}

const SIGNERS = ["ecdsa-p256", "ed25519", "rsa-2048"] as const;

/** boards/sim's layout with another installer, swap mode or AES size. */
function simLayout(name: string, sealdrop: Record<string, unknown>): string {
	const layout = JSON.parse(fs.readFileSync(path.join(repoRoot, "boards", "sim", "layout.json"), "utf8"));
	Object.assign(layout.sealdrop, sealdrop);
	fs.writeFileSync(file(`${name}.json`), JSON.stringify(layout));
	return file(`${name}.json`);
}

interface Board { name: string; board: () => string; keyType: "p256" | "x25519"; esp?: boolean }
const BOARDS: Board[] = [
	{ name: "mcuboot, swap-using-scratch", board: () => "sim", keyType: "p256" },
	{ name: "mcuboot, overwrite-only", board: () => simLayout("overwrite", { swap: "overwrite" }), keyType: "x25519" },
	{ name: "mcuboot-encrypted, move, AES-128", board: () => simLayout("enc-move-128", { installer: "mcuboot-encrypted", swap: "move" }), keyType: "p256" },
	{ name: "mcuboot-encrypted, scratch, AES-256", board: () => simLayout("enc-scratch-256", { installer: "mcuboot-encrypted", aesKeyBits: 256 }), keyType: "x25519" },
	{ name: "NUCLEO-L4A6ZG (mcuboot-encrypted, scratch, AES-128)", board: () => "nucleo_l4a6zg", keyType: "p256" },
	{ name: "esp-idf", board: () => "sim-esp32", keyType: "p256", esp: true },
];

/** An update: `sign` options (DEVPUB: the device's public key), then maybe sealed or wrapped and sealed. */
interface Variant { what: string; sign: string[]; then?: "seal" | "nest"; signer?: string }
const VARIANTS: Variant[] = [
	{ what: "signed", sign: [] },
	{ what: "encrypted (-E), AES-128", sign: ["-E", "DEVPUB"] },
	{ what: "encrypted (-E), AES-256", sign: ["-E", "DEVPUB", "--encrypt-keylen", "256"] },
	{ what: "sealable, sealed", sign: ["--sealable"], then: "seal" },
	{ what: "sealable AES-256, sealed", sign: ["--sealable", "--encrypt-keylen", "256"], then: "seal" },
	{ what: "signed, wrapped, sealed (nested)", sign: [], then: "nest" },
	{ what: "encrypted (-E) with --clear", sign: ["-E", "DEVPUB", "-c"] },
	{ what: "ROM_FIXED", sign: ["-F", "0x10000"] },
	{ what: "RAM_LOAD", sign: ["-L", "0x20000000"] },
	{ what: "NON_BOOTABLE", sign: ["--non-bootable"] },
	{ what: "an unmet dependency", sign: ["-d", "(1, 9.0.0)"] },
	{ what: "Ed25519 over SHA-512", sign: ["--sha", "512"], signer: "ed25519" },
	{ what: "security counter 3 (last: it raises the floor)", sign: ["-s", "3"] },
];

async function makeUpdate(board: Board, variant: Variant, index: number, devicePub: string, n: string): Promise<string> {
	const slot = board.esp ? "0x1e0000" : "0x60000";
	const version = `1.${index + 1}.0`;
	fs.writeFileSync(file(`${n}.app`), board.esp ? makeEspApp({ version, segments: [12_000, 3_000], seed: index }) : randomBytes(12_000 + index * 97));
	const sign = variant.sign.map((a) => (a === "DEVPUB" ? devicePub : a));
	// imgtool's sign (and ours) refuses -E with an encryption key of another type than an ECDSA or
	// RSA signer's; Ed25519 signs beside either kind of device key
	const signer = variant.signer ?? SIGNERS[index % SIGNERS.length];
	const key = file(`${sign.includes("-E") && signer !== "ed25519" && !(signer === "ecdsa-p256" && board.keyType === "p256") ? "ed25519" : signer}.pem`);
	const common = ["-k", key, "-v", version, "-H", "0x200", "--pad-header", "-S", slot, ...sign];
	if (variant.then === "nest") {
		await make("sign", ...common, file(`${n}.app`), file(`${n}.inner`));
		await make("wrap", "-k", key, "-S", board.esp ? "0x1e1000" : "0x61000", file(`${n}.inner`), file(`${n}.release`));
	} else await make("sign", ...common, file(`${n}.app`), file(`${n}.release`));
	if (!variant.then) return file(`${n}.release`);
	await make("seal", "--device-pub", devicePub, "-o", file(`${n}.sealed`), file(`${n}.release`));
	return file(`${n}.sealed`);
}

interface Running { version: string; hash: string }
const running = (out: Record<string, unknown>) => out.running as Running | null;

test("every image the agent marks pending is booted by the bootloader model, on every board and installer; every other is refused with a code and leaves nothing pending", async () => {
	for (const type of SIGNERS) await make("keygen", "-k", file(`${type}.pem`), "-t", type);
	const totals = { pendingBooted: 0, refused: {} as Record<string, number> };
	await mapLimit(BOARDS, 2, async (board, b) => {
		const dir = file(`dev-${b}`);
		const factory = file(`factory-${b}`);
		fs.writeFileSync(`${factory}.app`, board.esp ? makeEspApp({ version: "1.0.0", segments: [9_000], seed: 1 }) : randomBytes(10_000));
		await make("sign", "-k", file("ecdsa-p256.pem"), "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", board.esp ? "0x1e0000" : "0x60000", `${factory}.app`, factory);
		const boot = await simJson("init", "--dir", dir, "--board", board.board(), "--key-type", board.keyType, ...SIGNERS.flatMap((s) => ["--trust", file(`${s}.pem`)]),
			"--factory-image", board.esp ? `${factory}.app` : factory);
		let current = running(boot);
		assert.ok(current, `${board.name}: the factory image boots`);
		const pub = await runCli(["sim", "pubkey", "--dir", dir, "-o", `${dir}.pub.pem`], tmp.dir);
		assert.equal(pub.code, 0, describeRun(["sim", "pubkey"], pub));
		for (const [i, variant] of VARIANTS.entries()) {
			const label = `${board.name}: ${variant.what}`;
			const update = await makeUpdate(board, variant, i, `${dir}.pub.pem`, `u-${b}-${i}`);
			// permanent: the bootloader makes it the running image at once (no trial to confirm)
			const r = await sim("install", "--dir", dir, update, "--pending", "permanent");
			if (r.code !== 0) {
				const { code } = JSON.parse(r.stdout.toString()) as { code?: string };
				assert.match(code ?? "", /^E_[A-Z_]+$/, `${label}: a refusal with a code: ${describeRun(["sim", "install"], r)}`);
				totals.refused[code!] = (totals.refused[code!] ?? 0) + 1;
				const state = await simJson("state", "--dir", dir);
				assert.equal((state.slots as { pending: boolean }[]).filter((s) => s.pending).length, 0, `${label}: refused (${code}), nothing pending`);
				assert.equal(running(state)?.hash, current!.hash, `${label}: the running image stays`);
				continue;
			}
			assert.match((JSON.parse(r.stdout.toString()) as { state: string }).state, /^pending/, label);
			const booted = running(await simJson("reboot", "--dir", dir));
			assert.notEqual(booted?.hash, current!.hash, `${label}: marked pending, so the bootloader must boot it (it runs ${JSON.stringify(booted)})`);
			assert.equal(booted?.version.split("+")[0], `1.${i + 1}.0`, label);
			current = booted;
			totals.pendingBooted++;
		}
	});
	console.log(`# pending and booted: ${totals.pendingBooted}, refused: ${JSON.stringify(totals.refused)}`);
	// the spread reached both outcomes, and the refusals it was built for
	assert.ok(totals.pendingBooted >= 30, `${totals.pendingBooted} images went pending and booted`);
	for (const code of ["E_UNSUPPORTED", "E_FLAGS", "E_DEPENDENCY"]) assert.ok(totals.refused[code], `some images were refused with ${code}`);
});
