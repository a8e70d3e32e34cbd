/**
 * A power cut at every flash operation of an install, on the simulated device (host/sim/device.ts
 * on the Linux XS host): SEALDROP_FLASH_CUT=k tears the k-th write or erase and kills the
 * process, then the device is started again and the transport begins the same session.
 * `npm run test:long` tries every k; `npm test` a fixed sample of them (test/helpers/sweep.ts).
 * For every k the install must finish with exactly the image an uncut install leaves, pending
 * for a test boot, without starting over once blocks were durable; and a different image after
 * a cut must restart cleanly.
 * Images are made with the CLI: a nested release (mcuboot installer) and an imgtool-style sealed
 * image (mcuboot-encrypted), both sealed for a P-256 key generated on the simulated device.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { deviceKeyFromRaw, spkiDer } from "../../host/cli/keys.js";
import { repoRoot, tempDir, cliOk } from "../helpers/cli.js";
import { sweepPoints } from "../helpers/sweep.js";

const tmp = tempDir("sealdrop-powercut-");
after(() => tmp.cleanup());
const xs = path.join(repoRoot, "build", "xs", "release", "sealdrop-xs");
const deviceProgram = path.join(repoRoot, "build", "js", "host", "sim", "device.js");

interface Run { status: number | null; out: Record<string, unknown> }

function device(layout: string, flash: string, args: string[], env: Record<string, string> = {}): Run {
	const config = layout.replace(/\.json$/, ".device.json");
	const r = spawnSync(xs, ["--state", tmp.file("state"), deviceProgram, config, ...args], {
		encoding: "utf8", env: { ...process.env, SEALDROP_LAYOUT: layout, SEALDROP_FLASH: flash, ...env }, timeout: 60_000,
	});
	const line = r.stdout.trim().split("\n").pop() ?? "";
	return { status: r.status, out: line.startsWith("{") ? JSON.parse(line) : { stderr: r.stderr } };
}

const cli = (...args: string[]) => cliOk(tmp.dir, ...args);

/** A layout of boards/sim with the given installer, and the simulated device's config beside it. */
function layoutFor(installer: string): string {
	const layout = JSON.parse(fs.readFileSync(path.join(repoRoot, "boards", "sim", "layout.json"), "utf8"));
	layout.sealdrop.installer = installer;
	const file = tmp.file(`layout-${installer}.json`);
	fs.writeFileSync(file, JSON.stringify(layout));
	fs.writeFileSync(file.replace(/\.json$/, ".device.json"), JSON.stringify({ layout: file, trust: [fs.readFileSync(tmp.file("sign.raw")).toString("hex")] }));
	return file;
}

before(() => {
	cli("keygen", "-k", "sign.pem", "-t", "ecdsa-p256");
	cli("getpub", "-k", "sign.pem", "-e", "raw", "-o", "sign.raw");
	fs.writeFileSync(tmp.file("app.bin"), randomBytes(30_000));
	fs.writeFileSync(tmp.file("other.bin"), randomBytes(20_000));
	const layout = layoutFor("mcuboot");
	const key = device(layout, tmp.file("keyflash.bin"), ["first-boot"]);
	assert.equal(key.status, 0, JSON.stringify(key.out));
	fs.writeFileSync(tmp.file("device.der"), spkiDer(deviceKeyFromRaw("p256", Buffer.from(String(key.out.publicKey), "hex"), "the simulated device")));
	// nested release for the mcuboot installer
	cli("sign", "-k", "sign.pem", "-v", "2.0.0", "-H", "0x200", "--pad-header", "-S", "0x5c000", "app.bin", "inner.bin");
	cli("wrap", "-k", "sign.pem", "-S", "0x60000", "inner.bin", "outer.bin");
	cli("seal", "--device-pub", "device.der", "-o", "nested-sealed.bin", "outer.bin");
	// sealed firmware for mcuboot-encrypted
	cli("sign", "-k", "sign.pem", "-v", "2.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", "--sealable", "app.bin", "release.bin");
	cli("seal", "--device-pub", "device.der", "-o", "sealed.bin", "release.bin");
	cli("sign", "-k", "sign.pem", "-v", "3.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", "other.bin", "other-signed.bin");
});

function secondaryOf(flash: string, length: number): Buffer {
	// boards/sim/layout.json: secondary at 0x70000
	return fs.readFileSync(flash).subarray(0x70000, 0x70000 + length);
}

for (const [installer, imageName, written] of [["mcuboot", "nested-sealed.bin", "inner.bin"], ["mcuboot-encrypted", "sealed.bin", "sealed.bin"]] as const) {
	test(`power cut at every flash operation of an install (${installer}): it resumes and ends with the same image`, () => {
		const layout = layoutFor(installer);
		const image = tmp.file(imageName);
		const expected = fs.readFileSync(tmp.file(written));
		const session = ["--session-id", "5e55"];
		// every flash file starts as the provisioned device's: the key's lock record is in its keys partition
		const provisioned = () => fs.readFileSync(tmp.file("keyflash.bin"));
		fs.writeFileSync(tmp.file(`ref-${installer}.bin`), provisioned());
		const reference = device(layout, tmp.file(`ref-${installer}.bin`), ["install", image, ...session]);
		assert.equal(reference.status, 0, JSON.stringify(reference.out));
		assert.equal(reference.out.state, "pending-test");
		assert.ok(secondaryOf(tmp.file(`ref-${installer}.bin`), expected.length).equals(expected), "the uncut install writes the expected image");
		const operations = Number(reference.out.flashOperations);
		assert.ok(operations > 20, `an install takes ${operations} flash operations`);

		let resumedMidBody = 0;
		// every tenth cut is also followed by another image: the sample keeps those
		const points = sweepPoints(operations, `agent-powercut ${installer}`, 16, (k) => k % 10 === 0);
		for (const k of points) {
			const flash = tmp.file(`cut-${installer}.bin`);
			fs.writeFileSync(flash, provisioned());
			const cut = device(layout, flash, ["install", image, ...session], { SEALDROP_FLASH_CUT: String(k) });
			assert.equal(cut.status, 99, `k=${k}: the power cut ends the process`);
			const again = device(layout, flash, ["install", image, ...session]);
			assert.equal(again.status, 0, `k=${k}: ${JSON.stringify(again.out)}`);
			assert.equal(again.out.state, "pending-test", `k=${k}`);
			assert.ok(secondaryOf(flash, expected.length).equals(expected), `k=${k}: the secondary slot holds the image`);
			if (Number(again.out.resumedFrom) > 0x200) resumedMidBody++;
			if (k % 10 === 0) {
				// a different image after a cut restarts cleanly
				fs.writeFileSync(flash, provisioned());
				device(layout, flash, ["install", image, ...session], { SEALDROP_FLASH_CUT: String(k) });
				const other = device(layout, flash, ["install", tmp.file("other-signed.bin"), "--session-id", "0123"]);
				assert.equal(other.status, 0, `k=${k}, other image: ${JSON.stringify(other.out)}`);
				assert.equal(other.out.resumed, false);
				assert.equal(other.out.version, "3.0.0+0");
			}
		}
		assert.ok(resumedMidBody > points.length / 2, `most cuts resume after durable blocks (${resumedMidBody} of ${points.length})`);
		console.log(`# ${installer}: ${points.length} of ${operations} cut points tried, all recovered; ${resumedMidBody} resumed mid-body`);
	});
}
