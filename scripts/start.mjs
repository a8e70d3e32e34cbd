// `npm start`: the main job end to end in a scratch folder, with the real CLI and the simulated
// device (the update agent and the MCUboot bootloader model on the Linux XS host):
// a simulated board with a factory image makes its own device key; the factory reads its public
// key; firmware is signed once and sealed for that device; the device streams, decrypts,
// verifies and installs it; it reboots, the bootloader swaps, the new image runs on trial and
// confirms itself. Then a tampered image is refused and nothing changes.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../bin/sealdrop.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "sealdrop-start-"));

function say(text) {
	console.log(`\n== ${text}`);
}

function sealdrop(...args) {
	console.log(`$ sealdrop ${args.join(" ")}`);
	const out = execFileSync(process.execPath, [cli, ...args], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
	if (out.trim()) console.log(out.trimEnd().split("\n").map((l) => `  ${l}`).join("\n"));
	return out;
}

console.log(`working in ${dir}`);
writeFileSync(join(dir, "app-1.0.bin"), randomBytes(120 * 1024));
writeFileSync(join(dir, "app-1.1.bin"), randomBytes(160 * 1024));

say("The release team makes a signing key; the factory programs firmware 1.0.0 into a board (simulated: 1 MiB flash, MCUboot swap-using-scratch)");
sealdrop("keygen", "-k", "release-signing.pem", "-t", "ecdsa-p256");
sealdrop("sign", "-k", "release-signing.pem", "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", "app-1.0.bin", "factory.bin");
sealdrop("sim", "init", "--dir", "device", "--board", "sim", "--trust", "release-signing.pem", "--factory-image", "factory.bin");

say("The factory reads the device's public key: the private key was generated on the device and never leaves it");
sealdrop("sim", "pubkey", "--dir", "device", "-o", "device.pub.pem");
console.log(readFileSync(join(dir, "device.pub.pem"), "utf8").trimEnd().split("\n").map((l) => `  ${l}`).join("\n"));

say("Firmware 1.1.0 is signed once (no device key needed), then sealed for this one device (no signing key needed)");
sealdrop("sign", "-k", "release-signing.pem", "-v", "1.1.0", "-H", "0x200", "--pad-header", "-S", "0x60000", "-s", "2", "app-1.1.bin", "firmware.bin");
sealdrop("wrap", "-k", "release-signing.pem", "-S", "0x61000", "firmware.bin", "release.bin");
sealdrop("seal", "--device-pub", "device.pub.pem", "-o", "sealed.bin", "release.bin");

say("The device streams the sealed image: unwraps its key with the device key, decrypts, hashes and writes it, verifies it, marks it pending");
sealdrop("sim", "install", "--dir", "device", "sealed.bin");
sealdrop("sim", "state", "--dir", "device");

say("Reboot: the bootloader swaps; 1.1.0 runs on trial, passes its health check and confirms itself");
sealdrop("sim", "reboot", "--dir", "device");
sealdrop("sim", "confirm", "--dir", "device");
sealdrop("sim", "reboot", "--dir", "device");

say("Act two: one byte of a sealed image is changed on the way; the device refuses it and nothing changes");
const tampered = readFileSync(join(dir, "sealed.bin"));
tampered[0x200 + 5000] ^= 0x01;
writeFileSync(join(dir, "tampered.bin"), tampered);
console.log("$ sealdrop sim install --dir device tampered.bin");
const refused = spawnSync(process.execPath, [cli, "sim", "install", "--dir", "device", "tampered.bin"], { cwd: dir, encoding: "utf8" });
console.log(`  ${refused.stderr.trim()}  (exit ${refused.status})`);
if (refused.status === 0) throw new Error("the tampered image was accepted");
sealdrop("sim", "state", "--dir", "device");
console.log(`\nDone: the device runs 1.1.0, confirmed; the tampered image changed nothing. Everything is in ${dir}.`);
