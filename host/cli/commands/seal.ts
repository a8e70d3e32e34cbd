/** seal: a sealable release → one sealed image per device, without the signing key. */
import os from "node:os";
import { fail } from "sealdrop/image";
import { parseInteger, type CommandSpec } from "../args.js";
import { checkImage } from "../check.js";
import { readFleetList, sealFleet, type FleetLayout } from "../fleet.js";
import { printJson, ProgressBar, readInput, writeOutput } from "../io.js";
import { fingerprint, loadKey } from "../keys.js";
import { openRelease, SealRun } from "../seal.js";

export const seal: CommandSpec = {
	name: "seal",
	summary: "Encrypt a sealable release for one device (--device-pub) or a fleet (--fleet): a fresh AES key per run, wrapped per device in an ENC_EC256 / ENC_X25519 / ENC_RSA2048 TLV. Needs no signing key: hash and signature cover the plaintext.",
	usage: "seal --device-pub DEVPUB -o OUT RELEASE\n       sealdrop seal --fleet LIST --out-dir DIR [--layout full|split|both] [-j N] RELEASE",
	options: [
		{ long: "device-pub", metavar: "DEVPUB", help: "device public key (pem, raw, lang-c or lang-rust as getpub writes it)" },
		{ long: "output", short: "o", metavar: "OUT", help: "sealed image (with --device-pub)" },
		{ long: "fleet", metavar: "LIST", help: 'fleet list: lines of "<device-id> <public key>", the key a file or inline in base64 (see below)' },
		{ long: "out-dir", metavar: "DIR", help: "output folder (with --fleet)" },
		{ long: "layout", choices: ["full", "split", "both"], help: "full: DIR/<id>.bin; split: DIR/shared.bin + DIR/tails.bin (offsets in fleet.json) for servers that assemble images; both (default full)" },
		{ long: "jobs", short: "j", metavar: "N", help: `worker threads (default: one per core, here ${os.availableParallelism()})` },
		{ long: "key", short: "k", metavar: "KEY", help: "check the release's signature with this public key before sealing" },
		{ long: "format", short: "f", choices: ["human", "json"], help: "output format of the summary (default human)" },
	],
	notes: `Examples:
  sealdrop seal --device-pub device.pub.pem -o sealed.bin release.bin
  sealdrop seal --fleet fleet.txt --out-dir out/ --layout split release.bin
Fleet list: one device per line, "<device-id> <public key>"; # starts a comment. The key is
  a file (any getpub encoding; path relative to the list) or inline, either as base64
  SubjectPublicKeyInfo DER or as base64 of what getpub -e raw writes (the same bytes for P-256
  and X25519, PKCS#1 for RSA): getpub -k dev.pem -e raw | base64 -w0. Base64 of a P-256 or
  X25519 SubjectPublicKeyInfo is always the key itself, never a file name.
  # id        public key
  dev-0001    keys/dev-0001.pub.pem
  dev-0002    MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE...
Exit codes: 0 done, 1 release signature wrong, 2 bad usage, 3 bad release or key, 4 file error.`,
	async run(args) {
		const [file, extra] = args.positionals;
		if (!file || extra) fail("E_USAGE", "seal takes one RELEASE");
		if (args.has("device-pub") === args.has("fleet")) fail("E_USAGE", "give either --device-pub (one device) or --fleet (many)");
		const release = openRelease(readInput(file, "release"));
		if (args.has("key")) checkImage(release.image, { key: loadKey(args.require("key"), { role: "signing key" }) });
		if (release.layout.trailingLength) process.stderr.write(`sealdrop: note: ${file} is padded to a slot; the sealed image leaves the padding and trailer out\n`);
		const json = args.get("format") === "json";
		const run = new SealRun(release);
		try {
			if (args.has("device-pub")) {
				const device = loadKey(args.require("device-pub"), { role: "device public key" });
				const out = args.require("output");
				const sealed = run.sealFor(device);
				writeOutput(out, sealed);
				if (json) printJson({ ok: true, output: out, size: sealed.length, device: fingerprint(device), aesKeyBits: release.keyBits });
				return 0;
			}
			const devices = readFleetList(args.require("fleet"));
			const outDir = args.require("out-dir");
			const jobs = args.has("jobs") ? parseInteger(args.require("jobs"), "--jobs") : os.availableParallelism();
			const bar = new ProgressBar("sealing", devices.length);
			const started = performance.now();
			const manifest = await sealFleet(run, devices, { outDir, layout: (args.get("layout") ?? "full") as FleetLayout, jobs, onProgress: (done) => bar.update(done) });
			const seconds = (performance.now() - started) / 1000;
			if (json) printJson({ ok: true, outDir, devices: manifest.devices.length, seconds, manifest: `${outDir}/fleet.json` });
			else process.stdout.write(`sealed ${file} for ${devices.length} devices in ${seconds.toFixed(2)} s → ${outDir}/fleet.json\n`);
			return 0;
		} finally {
			run.close();
		}
	},
};
