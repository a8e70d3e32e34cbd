// `npm start`: the release pipeline end to end in a scratch folder, with the real CLI:
// a signing key and a device key are made, firmware is signed once as a sealable release,
// sealed for the device, and checked the way the device will (hash and signature over the
// decrypted plaintext, with the device's private key).
//
// The device side (the agent on the Linux XS host with a simulated flash and bootloader) is not
// built yet; when it is, this script will hand the sealed image to the simulated device instead
// of checking it with `sealdrop verify --device-key`.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../bin/sealdrop.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "sealdrop-start-"));

function sealdrop(...args) {
	console.log(`$ sealdrop ${args.join(" ")}`);
	const out = execFileSync(process.execPath, [cli, ...args], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
	if (out.trim()) console.log(out.trimEnd().split("\n").map((l) => `  ${l}`).join("\n"));
}

console.log(`working in ${dir}\n`);
writeFileSync(join(dir, "app.bin"), randomBytes(256 * 1024));
sealdrop("keygen", "-k", "release-signing.pem", "-t", "ecdsa-p256");
sealdrop("keygen", "-k", "device.pem", "-t", "ecdsa-p256");
sealdrop("getpub", "-k", "device.pem", "-e", "pem", "-o", "device.pub.pem");
sealdrop("sign", "-k", "release-signing.pem", "-v", "1.4.0+7", "-H", "0x200", "--pad-header", "-S", "0x80000", "-s", "auto", "--sealable", "app.bin", "release.bin");
sealdrop("seal", "--device-pub", "device.pub.pem", "-o", "sealed.bin", "release.bin");
sealdrop("dumpinfo", "sealed.bin");
sealdrop("verify", "-k", "release-signing.pem", "--device-key", "device.pem", "sealed.bin");
console.log("\nThe sealed image opens only with device.pem, and its hash and signature check out over the plaintext.");
