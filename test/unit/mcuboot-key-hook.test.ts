/**
 * The MCUboot key hook (boards/zephyr-mcuboot/sealdrop-enc-key-hook.c), compiled for Linux against
 * Debian's mbedTLS PSA (the same the XS host uses) with a harness that plays MCUboot's part:
 * it unwraps a sealed image's ENC_EC256 TLV with the device key a simulated device made and keeps
 * in its PSA storage, then decrypts the body's first block. A device's own key opens its image
 * (the plaintext is the inner MCUboot image's header), another device's key does not.
 * The harness calls boot_decrypt_key as MCUboot's encrypted.c and bootutil_misc.c do, and is
 * linked with `-Wl,--wrap=boot_decrypt_key`, the way boards/zephyr-mcuboot/CMakeLists.txt links the
 * hook into MCUboot. This checks the hook's crypto, key lookup and linking; its run inside real
 * MCUboot bootutil is recorded in test/vectors/mcuboot-bootutil (mcuboot-bootutil-vectors.test.ts).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { expectOk, repoRoot, runCli, tempDir } from "../helpers/cli.js";

const work = tempDir("sealdrop-hook-");
after(() => work.cleanup());
const ok = (...args: string[]) => expectOk(runCli(args, { cwd: work.dir }), args.join(" "));

test("the hook opens an image sealed for the device with the device's stored key, and only with it", () => {
	const harness = work.file("harness");
	const cc = spawnSync("cc", ["-O1", "-Wall", "-Werror", "-o", harness,
		path.join(repoRoot, "test", "fixtures", "mcuboot-key-hook", "harness.c"),
		path.join(repoRoot, "boards", "zephyr-mcuboot", "sealdrop-enc-key-hook.c"), "-Wl,--wrap=boot_decrypt_key", "-lmbedcrypto"], { encoding: "utf8" });
	assert.equal(cc.status, 0, cc.stderr);
	fs.writeFileSync(work.file("app.bin"), Buffer.alloc(5000, 0x42));
	ok("keygen", "-k", "sign.pem", "-t", "ecdsa-p256");
	ok("sign", "-k", "sign.pem", "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", "app.bin", "inner.bin");
	ok("wrap", "-k", "sign.pem", "-S", "0x61000", "inner.bin", "release.bin");
	for (const d of ["a", "b"]) {
		ok("sim", "init", "--dir", d, "--trust", "sign.pem");
		ok("sim", "pubkey", "--dir", d, "-o", `${d}.pub.pem`);
	}
	ok("seal", "--device-pub", "a.pub.pem", "-o", "sealed-a.bin", "release.bin");
	const run = (device: string) => spawnSync(harness, [work.file("sealed-a.bin")], { cwd: work.file(`${device}/state`), encoding: "utf8" });
	const mine = run("a");
	assert.equal(mine.status, 0, mine.stdout + mine.stderr);
	const inner = fs.readFileSync(work.file("inner.bin"));
	assert.equal(mine.stdout.trim().split("\n").pop(), inner.subarray(0, 16).toString("hex"), "the body decrypts to the inner image's header");
	const other = run("b");
	assert.equal(other.status, 1, "another device's key fails the HMAC check");
	assert.match(other.stdout, /rc -1/);
});
