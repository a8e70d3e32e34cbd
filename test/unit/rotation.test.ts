/**
 * Device key rotation on XS through the simulator (modules/keys/rotation.ts) against the CLI's
 * server half (`sealdrop rotate`, Node's crypto: an implementation independent of the device's
 * PSA): the happy path end to end on an mcuboot-encrypted board, each refusal, and a power cut
 * at every flash operation of a rotation.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { CODE_EXIT, expectFailure, repoRoot, runCli, tempDir, cliOk } from "../helpers/cli.js";
import { Device } from "../faults/harness.js";
import { encodeTlvArea, TlvType } from "sealdrop/image";

const tmp = tempDir("sealdrop-rotation-");
after(() => tmp.cleanup());

const cli = (...args: string[]) => cliOk(tmp.dir, ...args);
const fails = (code: string, ...args: string[]) => expectFailure(runCli(args, { cwd: tmp.dir }), code, CODE_EXIT[code], args.join(" "));

interface KeyReport { fingerprint: string; rotating?: { counter: number; fingerprint: string } }
const keyOf = (dir: string) => JSON.parse(cli("sim", "pubkey", "--dir", dir, "-f", "json")) as KeyReport;
const keyFiles = (dir: string) => fs.readdirSync(tmp.file(path.join(dir, "state"))).filter((f) => f.endsWith(".psa_its"));
const fingerprintOf = (pem: string) => crypto.createHash("sha256").update(crypto.createPublicKey(fs.readFileSync(tmp.file(pem))).export({ type: "spki", format: "der" })).digest("hex");

const layout = JSON.parse(fs.readFileSync(path.join(repoRoot, "boards", "sim", "layout.json"), "utf8"));
layout.sealdrop.installer = "mcuboot-encrypted";
fs.writeFileSync(tmp.file("enc.json"), JSON.stringify(layout));
cli("keygen", "-k", "sign.pem", "-t", "ecdsa-p256");
cli("keygen", "-k", "stranger.pem", "-t", "ecdsa-p256");
fs.writeFileSync(tmp.file("app0"), crypto.randomBytes(30_000));
cli("sign", "-k", "sign.pem", "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", "app0", "factory.bin");
fs.writeFileSync(tmp.file("app1"), crypto.randomBytes(40_000));
cli("sign", "-k", "sign.pem", "-v", "1.1.0", "-H", "0x200", "--pad-header", "-S", "0x60000", "--sealable", "app1", "release.bin");

let made = 0;
function device(): { dir: string; pub: string } {
	const dir = `dev-${made++}`;
	cli("sim", "init", "--dir", dir, "--board", "enc.json", "--trust", "sign.pem", "--factory-image", "factory.bin");
	cli("sim", "pubkey", "--dir", dir, "-o", `${dir}.pub.pem`);
	return { dir, pub: `${dir}.pub.pem` };
}

function request(pub: string, counter: number, name: string, signer = "sign.pem"): string {
	cli("rotate", "request", "--device-pub", pub, "-k", signer, "--counter", String(counter), "--ephemeral", `${name}.eph.pem`, "-o", `${name}.req`);
	return name;
}

test("rotation end to end: the old key opens images until an image sealed for the new key is confirmed; then only the new one does", () => {
	const { dir, pub } = device();
	const before = keyOf(dir);
	const r = request(pub, 1, "happy");
	cli("sim", "rotate", "--dir", dir, `${r}.req`, "-o", `${r}.answer`);
	cli("rotate", "check", "--device-pub", pub, "--ephemeral", `${r}.eph.pem`, "--request", `${r}.req`, `${r}.answer`, "-o", "new.pub.pem");
	const during = keyOf(dir);
	assert.equal(during.fingerprint, before.fingerprint, "the old key is still the device key");
	assert.equal(during.rotating?.fingerprint, fingerprintOf("new.pub.pem"), "the checked answer's key is the one the device made");
	assert.equal(keyFiles(dir).length, 2);
	// the same request again (an answer lost on the way): the same answer, no new key
	cli("sim", "rotate", "--dir", dir, `${r}.req`, "-o", `${r}.again`);
	assert.deepEqual(fs.readFileSync(tmp.file(`${r}.again`)), fs.readFileSync(tmp.file(`${r}.answer`)));

	cli("seal", "--device-pub", pub, "-o", "for-old.bin", "release.bin");
	cli("seal", "--device-pub", "new.pub.pem", "-o", "for-new.bin", "release.bin");
	assert.equal(JSON.parse(cli("sim", "install", "--dir", dir, "--pending", "none", "for-old.bin", "-f", "json")).state, "ready", "the old key still opens images");
	assert.equal(JSON.parse(cli("sim", "install", "--dir", dir, "for-new.bin", "-f", "json")).state, "pending-test", "the new key opens images");
	const trial = JSON.parse(cli("sim", "reboot", "--dir", dir, "-f", "json"));
	assert.equal(trial.running.state, "trial", "the bootloader opened the image sealed for the new key");
	assert.equal(keyOf(dir).fingerprint, before.fingerprint, "no switch before the confirm");
	cli("sim", "confirm", "--dir", dir);
	const afterwards = keyOf(dir);
	assert.equal(afterwards.fingerprint, fingerprintOf("new.pub.pem"), "the switch: the new key is the device key");
	assert.equal(afterwards.rotating, undefined);
	assert.equal(keyFiles(dir).length, 1, "the old key is destroyed");
	assert.equal(cli("sim", "pubkey", "--dir", dir), fs.readFileSync(tmp.file("new.pub.pem"), "utf8"));
	fails("E_DEVICE_KEY", "sim", "install", "--dir", dir, "for-old.bin");
	assert.match(runCli(["sim", "install", "--dir", dir, "for-old.bin"], { cwd: tmp.dir }).stderr, /sealed for the key this device retired at rotation \d+/, "not just \"another device\"");
	// the request that started it was made for the old key; one for the new key with the same counter is a replay
	fails("E_DEVICE_KEY", "sim", "rotate", "--dir", dir, `${r}.req`, "-o", "x");
	fails("E_REPLAY", "sim", "rotate", "--dir", dir, `${request("new.pub.pem", 1, "replayed")}.req`, "-o", "x");
	cli("sim", "rotate", "--dir", dir, `${request("new.pub.pem", 2, "next")}.req`, "-o", "next.answer");
	cli("rotate", "check", "--device-pub", "new.pub.pem", "--ephemeral", "next.eph.pem", "--request", "next.req", "next.answer");
	assert.equal(JSON.parse(cli("sim", "reboot", "--dir", dir, "-f", "json")).running.state, "confirmed");
});

test("refusals leave the key as it was: untrusted signer, altered signature, another device, replayed counter, malformed request", () => {
	const { dir, pub } = device();
	const other = device();
	const before = keyOf(dir);
	const unchanged = (what: string) => {
		const now = keyOf(dir);
		assert.equal(now.fingerprint, before.fingerprint, what);
		assert.equal(now.rotating?.counter, before.rotating?.counter, what);
	};
	fails("E_WRONG_SIGNER", "sim", "rotate", "--dir", dir, `${request(pub, 5, "stranger", "stranger.pem")}.req`, "-o", "x");
	unchanged("untrusted signer");
	const signed = fs.readFileSync(tmp.file(`${request(pub, 5, "altered")}.req`));
	signed[signed.length - 10] ^= 1;
	fs.writeFileSync(tmp.file("altered.req"), signed);
	fails("E_SIGNATURE", "sim", "rotate", "--dir", dir, "altered.req", "-o", "x");
	unchanged("altered signature");
	const body = fs.readFileSync(tmp.file(`${request(pub, 5, "counter-changed")}.req`));
	body[6] = 9; // the counter, under the signature
	fs.writeFileSync(tmp.file("counter-changed.req"), body);
	fails("E_SIGNATURE", "sim", "rotate", "--dir", dir, "counter-changed.req", "-o", "x");
	fails("E_DEVICE_KEY", "sim", "rotate", "--dir", dir, `${request(other.pub, 5, "theirs")}.req`, "-o", "x");
	unchanged("another device's request");
	for (const [name, bytes] of [["empty", Buffer.alloc(0)], ["magic", Buffer.from("SDKX" + "\0".repeat(120))], ["short", fs.readFileSync(tmp.file("theirs.req")).subarray(0, 50)]] as const) {
		fs.writeFileSync(tmp.file(`${name}.req`), bytes);
		fails("E_ROTATION", "sim", "rotate", "--dir", dir, `${name}.req`, "-o", "x");
	}
	unchanged("malformed requests");

	cli("sim", "rotate", "--dir", dir, `${request(pub, 5, "five")}.req`, "-o", "five.answer");
	// a different request with a counter not above 5 is a replay, also while the rotation is pending
	fails("E_REPLAY", "sim", "rotate", "--dir", dir, `${request(pub, 5, "five-again")}.req`, "-o", "x");
	fails("E_REPLAY", "sim", "rotate", "--dir", dir, `${request(pub, 3, "three")}.req`, "-o", "x");
	assert.equal(keyOf(dir).rotating?.counter, 5);
	// a higher counter replaces the pending rotation's key
	cli("sim", "rotate", "--dir", dir, `${request(pub, 6, "six")}.req`, "-o", "six.answer");
	assert.equal(keyOf(dir).rotating?.counter, 6);
	assert.equal(keyFiles(dir).length, 2);

	// the server half refuses an answer that was altered or answers another request
	const answer = fs.readFileSync(tmp.file("six.answer"));
	for (const at of [12, answer.length - 1]) {
		const bad = Buffer.from(answer);
		bad[at] ^= 1;
		fs.writeFileSync(tmp.file("bad.answer"), bad);
		fails("E_ROTATION", "rotate", "check", "--device-pub", pub, "--ephemeral", "six.eph.pem", "--request", "six.req", "bad.answer");
	}
	fails("E_ROTATION", "rotate", "check", "--device-pub", pub, "--ephemeral", "five.eph.pem", "--request", "five.req", "six.answer");
	fails("E_ROTATION", "rotate", "check", "--device-pub", other.pub, "--ephemeral", "six.eph.pem", "--request", "six.req", "six.answer");
});

/** The CLI in a shell with umask 022 (a common default: files readable by everyone unless made otherwise). */
function cliUnderUmask022(...args: string[]): void {
	const r = spawnSync("/bin/sh", ["-c", "umask 022 && exec \"$@\"", "sh", process.execPath, path.join(repoRoot, "bin", "sealdrop.js"), ...args], { cwd: tmp.dir, encoding: "utf8" });
	assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
}

const modeOf = (file: string) => fs.statSync(tmp.file(file)).mode & 0o777;

test("the key store is private whatever the umask: sim init and a rotation under umask 022 write key files 0600 in a 0700 folder", () => {
	const dir = `dev-${made++}`;
	cliUnderUmask022("sim", "init", "--dir", dir, "--board", "enc.json", "--trust", "sign.pem", "--factory-image", "factory.bin");
	cli("sim", "pubkey", "--dir", dir, "-o", `${dir}.pub.pem`);
	cliUnderUmask022("sim", "rotate", "--dir", dir, `${request(`${dir}.pub.pem`, 1, `${dir}-private`)}.req`, "-o", "private.answer");
	const state = path.join(dir, "state");
	assert.equal(keyFiles(dir).length, 2, "the device key and the rotation's new key");
	assert.equal(modeOf(state).toString(8), "700");
	for (const f of keyFiles(dir)) assert.equal(modeOf(path.join(state, f)).toString(8), "600", f);
	assert.equal(modeOf(path.join(dir, "flash.bin")) & 0o077, 0, "the flash (decrypted firmware) is the owner's alone too");
	// a folder left open by an older version is closed at the next run
	fs.chmodSync(tmp.file(state), 0o755);
	cliUnderUmask022("sim", "state", "--dir", dir);
	assert.equal(modeOf(state).toString(8), "700");
});

/** `rotate request`'s request with its counter field set to `counter`, signed again by sign.pem (what another tool might build). */
function resigned(name: string, counter: number): string {
	const original = fs.readFileSync(tmp.file(`${name}.req`));
	const body = Buffer.from(original.subarray(0, 43 + original[42]));
	body.writeUInt32LE(counter, 6);
	const signer = crypto.createPrivateKey(fs.readFileSync(tmp.file("sign.pem")));
	const spki = crypto.createPublicKey(signer).export({ type: "spki", format: "der" });
	const area = encodeTlvArea([
		{ type: TlvType.KEYHASH, value: crypto.createHash("sha256").update(spki).digest() },
		{ type: TlvType.ECDSA_SIG, value: crypto.sign("sha256", body, signer) },
	], false);
	fs.writeFileSync(tmp.file(`${name}-${counter}.req`), Buffer.concat([body, area]));
	return `${name}-${counter}.req`;
}

test("a counter-0 request: `rotate request` refuses to build it (E_USAGE); one built otherwise, well signed, is a replay on the device (E_REPLAY)", () => {
	const { dir, pub } = device();
	fails("E_USAGE", "rotate", "request", "--device-pub", pub, "-k", "sign.pem", "--counter", "0", "--ephemeral", "zero.eph.pem", "-o", "zero.req");
	const zero = resigned(request(pub, 1, "one"), 0);
	fails("E_REPLAY", "sim", "rotate", "--dir", dir, zero, "-o", "x");
	assert.equal(keyOf(dir).rotating, undefined, "no rotation started");
	// the same re-signing with counter 1 is accepted: the refusal was the counter's
	cli("sim", "rotate", "--dir", dir, resigned("one", 1), "-o", "one.answer");
	assert.equal(keyOf(dir).rotating?.counter, 1);
});

test("the device program reads the request file itself: one that vanished after the CLI's check is E_IO, not a crash", async () => {
	const { dir } = device();
	const r = await new Device(tmp.file(dir)).run(["device-key", "rotate", tmp.file("vanished.req")]);
	assert.equal(r.status, 1);
	assert.equal((r.out.error as { code: string } | undefined)?.code, "E_IO", JSON.stringify(r.out));
});

test("a power cut at every flash operation of a rotation: the same request then gets an answer that checks, and at most two keys exist", async () => {
	const { dir, pub } = device();
	const r = request(pub, 1, "cut");
	const sim = new Device(tmp.file(dir));
	const start = sim.snapshot();
	const stateDir = tmp.file(path.join(dir, "state"));
	const keysBefore = new Map(keyFiles(dir).map((f) => [f, fs.readFileSync(path.join(stateDir, f))]));
	const operations = Number((await sim.ok(["device-key", "rotate", tmp.file(`${r}.req`)])).flashOperations);
	for (let k = 1; k <= operations; k++) {
		sim.restore(start);
		for (const f of keyFiles(dir)) if (!keysBefore.has(f)) fs.rmSync(path.join(stateDir, f));
		const cut = await sim.run(["device-key", "rotate", tmp.file(`${r}.req`)], k);
		assert.equal(cut.status, 99, `cut at ${k}`);
		const again = await sim.ok(["device-key", "rotate", tmp.file(`${r}.req`)]);
		fs.writeFileSync(tmp.file("cut.answer"), Buffer.from(String(again.answer), "hex"));
		cli("rotate", "check", "--device-pub", pub, "--ephemeral", `${r}.eph.pem`, "--request", `${r}.req`, "cut.answer");
		assert.ok(keyFiles(dir).length <= 2, `cut at ${k}`);
		assert.equal(keyOf(dir).fingerprint, fingerprintOf(pub), `cut at ${k}: the device key is unchanged`);
	}
});
