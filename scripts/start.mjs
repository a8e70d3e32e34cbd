// `npm start`: the main job end to end in a scratch folder, with the real CLI and the simulated
// device (the update agent, its SMP server and the MCUboot bootloader model on the Linux XS host):
// a simulated board with a factory image makes its own device key; the factory reads its public
// key; firmware is signed once and sealed for that device; it is uploaded over MCUmgr's SMP on
// UDP, and the device decrypts, verifies and installs it as it streams in; it reboots, the
// bootloader swaps, the new image runs on trial and confirms itself. Then a tampered image is
// refused and nothing changes.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
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

say("The device runs the app a board runs (key check, health check, SMP server on its console UART), put on UDP as `mcumgr` or `smpmgr` would reach a board");
console.log("$ sealdrop sim serve --dir device --app --udp 127.0.0.1:0");
const server = spawn(process.execPath, [cli, "sim", "serve", "--dir", "device", "--app", "--udp", "127.0.0.1:0", "-f", "json"], { cwd: dir, stdio: ["ignore", "pipe", "inherit"] });
const serverLines = [];
const listening = new Promise((resolve, reject) => {
	let buffer = "";
	server.stdout.on("data", (d) => {
		buffer += d;
		for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
			const line = JSON.parse(buffer.slice(0, nl));
			buffer = buffer.slice(nl + 1);
			if (line.udp) resolve(line.udp);
			else serverLines.push(line);
		}
	});
	server.on("close", (status) => reject(new Error(`sim serve stopped (exit ${status})`)));
});
const udp = await listening;
console.log(`  SMP over UDP on ${udp}`);
try {
	say("The sealed image is uploaded over SMP; the device unwraps its key with the device key, decrypts, hashes and writes as it streams in, then verifies it");
	sealdrop("smp", "echo", "--udp", udp, "hello device");
	sealdrop("smp", "upload", "--udp", udp, "sealed.bin");
	const state = JSON.parse(execFileSync(process.execPath, [cli, "smp", "state", "--udp", udp, "-f", "json"], { cwd: dir, encoding: "utf8" }));
	const hash = state.images.find((i) => i.slot === 1).hash;
	sealdrop("smp", "state", "--udp", udp);

	say("The new image is marked for a test boot, and the device resets: the bootloader swaps; 1.1.0 runs on trial, passes its health check and confirms itself");
	sealdrop("smp", "test", "--udp", udp, hash.slice(0, 16));
	sealdrop("smp", "reset", "--udp", udp);
	await sleep(300);
	for (const line of serverLines.splice(0)) console.log(`  (device) ${line.reset}: the bootloader ran; running ${line.running?.version} (${line.running?.state})`);
	sealdrop("smp", "state", "--udp", udp); // the app confirmed 1.1.0 after its health check

	say("Act two: one byte of a sealed image is changed on the way; the device refuses it and nothing changes");
	const tampered = readFileSync(join(dir, "sealed.bin"));
	tampered[0x200 + 5000] ^= 0x01;
	writeFileSync(join(dir, "tampered.bin"), tampered);
	console.log("$ sealdrop smp upload --udp " + udp + " tampered.bin");
	const refused = spawnSync(process.execPath, [cli, "smp", "upload", "--udp", udp, "tampered.bin"], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
	console.log(`  ${refused.stderr.trim().split("\n").pop()}  (exit ${refused.status})`);
	if (refused.status === 0) throw new Error("the tampered image was accepted");
	sealdrop("smp", "state", "--udp", udp);
} finally {
	server.kill("SIGTERM");
}
console.log(`\nDone: the device runs 1.1.0, confirmed; the tampered image changed nothing. Everything is in ${dir}.`);
