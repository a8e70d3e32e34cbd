/**
 * A power cut that lands, from the outside: `sealdrop sim install` of a large sealed release with
 * SEALDROP_FLASH_CUT=k (the Linux flash backend ends the XS process at its k-th write or erase,
 * leaving that operation torn), over and over, each run resuming where the journal says the last
 * one got to, until the install completes. Every cut is reported as E_FLASH (exit 4) and leaves
 * nothing pending and the old image running; the end is a valid new image that the bootloader
 * model boots and that verifies with the signing key. A `kill -9` from another process almost
 * never lands inside a write (an install writes in milliseconds); this does, at 50+ points of a
 * 300 KB release under `npm run test:long` (test/helpers/sweep.ts); `npm test` cuts a 60 KB one
 * at 10+ points, drawn from the same seed.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { after, test } from "node:test";
import { CODE_EXIT, cliOk, runCli, tempDir } from "../helpers/cli.js";
import { fuzzer } from "../fuzz/prng.js";
import { LONG } from "../helpers/sweep.js";

const tmp = tempDir("sealdrop-install-kill-");
after(() => tmp.cleanup());
const cli = (...args: string[]) => cliOk(tmp.dir, ...args);
const json = (...args: string[]) => JSON.parse(cli(...args, "-f", "json")) as Record<string, unknown>;
const running = (out: Record<string, unknown>) => out.running as { version: string; hash: string } | null;

const APP_BYTES = LONG ? 300_000 : 60_000;
const MIN_CUTS = LONG ? 50 : 10;

test(`sim install killed at ${MIN_CUTS}+ flash operations (SEALDROP_FLASH_CUT), resumed each time, ends on a valid image`, () => {
	cli("keygen", "-k", "sign.pem", "-t", "ecdsa-p256");
	fs.writeFileSync(tmp.file("factory.app"), randomBytes(20_000));
	cli("sign", "-k", "sign.pem", "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", "factory.app", "factory.bin");
	const old = running(json("sim", "init", "--dir", "dev", "--trust", "sign.pem", "--factory-image", "factory.bin"))!;
	cli("sim", "pubkey", "--dir", "dev", "-o", "dev.pub.pem");
	fs.writeFileSync(tmp.file("app.app"), randomBytes(APP_BYTES));
	cli("sign", "-k", "sign.pem", "-v", "2.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", "app.app", "inner.bin");
	cli("wrap", "-k", "sign.pem", "-S", "0x61000", "inner.bin", "release.bin");
	cli("seal", "--device-pub", "dev.pub.pem", "-o", "sealed.bin", "release.bin");

	const { int } = fuzzer(0x6b111);
	const cutAt: number[] = [];
	let done: Record<string, unknown> | undefined;
	for (let run = 0; !done && run < 400; run++) {
		const k = 2 + int(12);
		const r = runCli(["sim", "install", "--dir", "dev", "sealed.bin", "--chunk", "3000", "-f", "json"], { cwd: tmp.dir, env: { SEALDROP_FLASH_CUT: String(k) } });
		if (r.status === 0) {
			done = JSON.parse(r.stdout) as Record<string, unknown>;
			break;
		}
		const failure = JSON.parse(r.stdout) as { code: string; message: string };
		assert.equal(failure.code, "E_FLASH", `run ${run}, cut at ${k}: ${r.stdout} ${r.stderr}`);
		assert.equal(r.status, CODE_EXIT.E_FLASH);
		assert.match(failure.message, new RegExp(`power cut at flash operation ${k}\\b`));
		cutAt.push(k);
		if (run % 10 === 0) {
			const state = json("sim", "state", "--dir", "dev");
			assert.equal(running(state)?.hash, old.hash, "the old image still runs");
			assert.ok((state.slots as { pending: boolean }[]).every((s) => !s.pending), "nothing pending after a cut");
		}
	}
	console.log(`# ${cutAt.length} cuts landed (at operations ${cutAt.join(",")}), then the install completed`);
	assert.ok(done, "the install completed");
	assert.ok(cutAt.length >= MIN_CUTS, `${cutAt.length} cuts landed`);
	assert.equal(done.state, "pending-test");
	assert.equal(done.resumed, true, "the last run resumed");
	const booted = running(json("sim", "reboot", "--dir", "dev"));
	assert.equal(booted?.version, "2.0.0+0");
	cli("sim", "read-slot", "--dir", "dev", "primary", "-o", "primary.bin");
	cli("verify", "-k", "sign.pem", "primary.bin");
});
