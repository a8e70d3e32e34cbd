/**
 * The device key's first-boot provisioning (modules/keys) on XS through the simulator: made once
 * and locked, the same key exported every time in imgtool getpub's encodings, a power cut at every
 * flash operation of provisioning, a broken entropy source, factory import, and a store that no
 * longer matches its lock.
 */
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { CODE_EXIT, expectFailure, expectOk, runCli, tempDir, vec, cliOk } from "../helpers/cli.js";
import { Device } from "../faults/harness.js";

const tmp = tempDir("sealdrop-provision-");
after(() => tmp.cleanup());

const cli = (...args: string[]) => cliOk(tmp.dir, ...args);

interface KeyReport { kind: string; publicKey: string; fingerprint: string; mode: string; provisionedAt: number; created?: boolean; exportable?: boolean }

let made = 0;
/** A device folder made by `sim init` with no factory image: its first boot ran. */
function initDevice(...extra: string[]): string {
	const dir = `dev-${made++}`;
	cli("sim", "init", "--dir", dir, ...extra);
	return dir;
}

/** Keys in the device's PSA store (one file per persistent key on the Linux host). */
function storedKeys(dir: string): string[] {
	return fs.readdirSync(tmp.file(path.join(dir, "state"))).filter((f) => f.endsWith(".psa_its"));
}

cli("keygen", "-k", "sign.pem", "-t", "ecdsa-p256");

test("first boot makes a P-256 key and locks it; later boots change nothing; sim pubkey prints the same key every time", () => {
	const dir = initDevice();
	const info = JSON.parse(cli("sim", "pubkey", "--dir", dir, "-f", "json")) as KeyReport;
	assert.equal(info.kind, "p256");
	assert.equal(info.mode, "generated");
	assert.ok(Math.abs(info.provisionedAt - Date.now() / 1000) < 600, "provisioned-at is the device clock");
	const pem = cli("sim", "pubkey", "--dir", dir);
	// the fingerprint is the SHA-256 of the SubjectPublicKeyInfo DER, as Node computes it from the PEM
	const der = crypto.createPublicKey(pem).export({ type: "spki", format: "der" });
	assert.equal(info.fingerprint, crypto.createHash("sha256").update(der).digest("hex"));
	const device = new Device(tmp.file(dir));
	return (async () => {
		for (let i = 0; i < 3; i++) {
			const again = await device.ok(["first-boot"]) as unknown as KeyReport;
			assert.equal(again.created, false);
			assert.equal(again.fingerprint, info.fingerprint);
		}
		assert.equal(cli("sim", "pubkey", "--dir", dir), pem);
		assert.deepEqual(storedKeys(dir).length, 1);
	})();
});

test("--key-type x25519 makes an X25519 key; the device's export equals getpub of the same key", () => {
	const dir = initDevice("--key-type", "x25519");
	const info = JSON.parse(cli("sim", "pubkey", "--dir", dir, "-f", "json")) as KeyReport;
	assert.equal(info.kind, "x25519");
	fs.writeFileSync(tmp.file(`${dir}.pub.pem`), cli("sim", "pubkey", "--dir", dir));
	for (const e of ["raw", "lang-c", "lang-rust"]) assert.equal(cli("sim", "pubkey", "--dir", dir, "-e", e), cli("getpub", "-k", `${dir}.pub.pem`, "-e", e), e);
});

/** The device program takes an imported key's hex in a file (the CLI's handover), never as an argument. */
let keyFiles = 0;
function keyHexFile(hex: string): string {
	const file = tmp.file(`import-${keyFiles++}.hex`);
	fs.writeFileSync(file, hex, { mode: 0o600 });
	return file;
}

for (const [name, key] of [["P-256", "keys/enc-ec256.pem"], ["X25519", "keys/enc-x25519.pem"]] as const) {
	test(`factory import of imgtool's ${name} key: locked, exported byte for byte as imgtool getpub prints it`, () => {
		const dir = initDevice("--import-key", vec(key));
		const info = JSON.parse(cli("sim", "pubkey", "--dir", dir, "-f", "json")) as KeyReport;
		assert.equal(info.mode, "imported");
		for (const e of ["pem", "raw", "lang-c", "lang-rust"]) {
			const fromDevice = runCli(["sim", "pubkey", "--dir", dir, "-e", e], { cwd: tmp.dir });
			const fromKey = runCli(["getpub", "-k", vec(key), "-e", e], { cwd: tmp.dir });
			expectOk(fromDevice);
			assert.equal(fromDevice.stdout, fromKey.stdout, e);
		}
		// locked: another import is refused and the key stays
		const again = new Device(tmp.file(dir));
		return again.run(["device-key", "import", "p256", keyHexFile("11".repeat(32))]).then((r) => {
			assert.equal(r.status, 1);
			assert.equal((r.out.error as { code: string }).code, "E_STATE");
			assert.equal((JSON.parse(cli("sim", "pubkey", "--dir", dir, "-f", "json")) as KeyReport).fingerprint, info.fingerprint);
		});
	});
}

test("a weak or malformed imported key is refused (E_KEY_FORMAT) and nothing is provisioned", async () => {
	const dir = initDevice("--import-key", vec("keys/enc-ec256.pem"));
	const device = new Device(tmp.file(dir));
	fs.rmSync(tmp.file(path.join(dir, "state")), { recursive: true });
	fs.mkdirSync(tmp.file(path.join(dir, "state")));
	fs.rmSync(tmp.file(path.join(dir, "flash.bin")));
	for (const [kind, hex] of [["p256", "01".repeat(32)], ["p256", "ff".repeat(32)], ["p256", "00".repeat(31)], ["x25519", "00".repeat(32)]]) {
		const r = await device.run(["device-key", "import", kind, keyHexFile(hex)]);
		assert.equal(r.status, 1, `${kind} ${hex}`);
		assert.equal((r.out.error as { code: string }).code, "E_KEY_FORMAT", `${kind} ${hex}: ${JSON.stringify(r.out)}`);
		assert.deepEqual(storedKeys(dir), []);
	}
	const r = await device.run(["device-key", "public"]);
	assert.equal((r.out.error as { code: string }).code, "E_STATE", "not provisioned");
});

test("a power cut at every flash operation of provisioning: never two different keys exported, exactly one key after the next boot", async (t) => {
	const template = initDevice();
	const device = new Device(tmp.file(template));
	// the same device before its first boot: no key, no lock
	fs.rmSync(tmp.file(path.join(template, "state")), { recursive: true });
	fs.mkdirSync(tmp.file(path.join(template, "state")));
	fs.rmSync(device.flash);
	const operations = Number((await device.ok(["first-boot"])).flashOperations);
	assert.ok(operations >= 2, `provisioning made ${operations} flash operations`);
	let cuts = 0;
	for (let k = 1; k <= operations; k++) {
		fs.rmSync(tmp.file(path.join(template, "state")), { recursive: true });
		fs.mkdirSync(tmp.file(path.join(template, "state")));
		fs.rmSync(device.flash);
		const cut = await device.run(["first-boot"], k);
		assert.equal(cut.status, 99, `cut at ${k}: ${JSON.stringify(cut.out)}`);
		cuts++;
		// what the production interface gives before the next boot: nothing, or the key that stays
		const early = await device.run(["device-key", "public"]);
		const exported = early.status === 0 ? String(early.out.fingerprint) : undefined;
		if (!exported) assert.equal((early.out.error as { code: string }).code, "E_STATE", `cut at ${k}`);
		const next = await device.ok(["first-boot"]) as unknown as KeyReport;
		const final = (await device.ok(["device-key", "public"])).fingerprint;
		assert.equal(next.fingerprint, final);
		if (exported) assert.equal(exported, final, `cut at ${k}: the key exported before the reboot is the one that stays`);
		assert.equal(storedKeys(template).length, 1, `cut at ${k}: exactly one key`);
		assert.equal((await device.ok(["first-boot"]) as unknown as KeyReport).fingerprint, final, `cut at ${k}: stable afterwards`);
	}
	assert.equal(cuts, operations);
	t.diagnostic(`${operations} flash operations in provisioning, each cut`);
});

for (const source of ["zero", "stuck"]) {
	test(`an entropy source that is ${source} yields no key, a clear error (E_ENTROPY), and the next boot tries again`, async () => {
		const dir = `dev-${made++}`;
		const env = process.env.SEALDROP_ENTROPY;
		process.env.SEALDROP_ENTROPY = source;
		try {
			expectFailure(runCli(["sim", "init", "--dir", dir], { cwd: tmp.dir }), "E_ENTROPY", CODE_EXIT.E_ENTROPY);
		} finally {
			if (env === undefined) delete process.env.SEALDROP_ENTROPY;
			else process.env.SEALDROP_ENTROPY = env;
		}
		assert.deepEqual(storedKeys(dir), []);
		const device = new Device(tmp.file(dir));
		assert.equal(((await device.run(["device-key", "public"])).out.error as { code: string }).code, "E_STATE");
		const report = await device.ok(["first-boot"]) as unknown as KeyReport;
		assert.equal(report.created, true);
		assert.equal(storedKeys(dir).length, 1);
	});
}

test("the private key cannot be exported; a store that lost its locked key is reported (E_KEY_STORE), never silently replaced", async () => {
	const dir = initDevice();
	const device = new Device(tmp.file(dir));
	const info = await device.ok(["device-key", "public"]) as unknown as KeyReport;
	assert.equal(info.exportable, false, "PSA refuses to export the device key");
	for (const f of storedKeys(dir)) fs.rmSync(tmp.file(path.join(dir, "state", f)));
	const r = await device.run(["first-boot"]);
	assert.equal((r.out.error as { code: string }).code, "E_KEY_STORE", JSON.stringify(r.out));
	assert.deepEqual(storedKeys(dir), [], "no new key made behind the lock");
	expectFailure(runCli(["sim", "pubkey", "--dir", dir], { cwd: tmp.dir }), "E_KEY_STORE", CODE_EXIT.E_KEY_STORE);
});

test("sealdrop seal takes the device public key in every export encoding", () => {
	const dir = initDevice("--import-key", vec("keys/enc-ec256.pem"));
	fs.writeFileSync(tmp.file("app.bin"), crypto.randomBytes(5000));
	cli("sign", "-k", "sign.pem", "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", "--sealable", "app.bin", "release.bin");
	for (const e of ["pem", "raw", "lang-c", "lang-rust"]) {
		cli("sim", "pubkey", "--dir", dir, "-e", e, "-o", `${dir}.${e}`);
		cli("seal", "--device-pub", `${dir}.${e}`, "-o", `sealed.${e}.bin`, "release.bin");
		// sealed for this device: its private key (imported, so the test holds it) opens it and the hash checks
		cli("verify", "-k", "sign.pem", "--device-key", vec("keys/enc-ec256.pem"), `sealed.${e}.bin`);
		expectFailure(runCli(["verify", "-k", "sign.pem", "--device-key", vec("keys/enc-x25519.pem"), `sealed.${e}.bin`], { cwd: tmp.dir }), "E_DEVICE_KEY", CODE_EXIT.E_DEVICE_KEY);
	}
});
