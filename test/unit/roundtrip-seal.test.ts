/**
 * Sealing through the CLI (`node bin/sealdrop.js`):
 *
 * - one sealable release sealed twice: a fresh AES key per run, so different ciphertexts, but the
 *   hash, key hash and signature TLVs (which cover the plaintext) stay identical;
 * - fleet sealing (`seal --fleet LIST --out-dir DIR --layout both`) for five devices with mixed
 *   P-256 / X25519 keys, one given inline as base64 of `getpub -e raw`: each DIR/<id>.bin is
 *   shared.bin ‖ its range of tails.bin, verifies with its own device key, is refused by another
 *   device's key, and fleet.json's hashes match the files.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describeRun, makeTempDir, mapLimit, runCli, vectorPath } from "../helpers/noble-cli.js";
import { nobleCheck, nobleDevice, nobleParse, noblePublicKeyBytes, nobleSigner, sha256Hex, T, x25519Spki, type NobleDevice } from "../helpers/noble-mcuboot.js";
import { x25519 } from "@noble/curves/ed25519.js";

let tmp: { dir: string; cleanup: () => void };
let payload: Buffer;
let release: string;
const SIGN_PRIV = vectorPath("keys/sign-ed25519.pem");
const SIGN_PUB = vectorPath("keys/sign-ed25519.pub.pem");

async function sealdrop(args: string[]): Promise<Buffer> {
	const r = await runCli(args, tmp.dir);
	assert.equal(r.code, 0, describeRun(args, r));
	return r.stdout;
}

function read(file: string): Uint8Array {
	return new Uint8Array(fs.readFileSync(file));
}

before(async () => {
	tmp = makeTempDir("roundtrip-seal");
	payload = crypto.randomBytes(5000);
	fs.writeFileSync(path.join(tmp.dir, "app.bin"), payload);
	release = path.join(tmp.dir, "release.bin");
	await sealdrop(["sign", "-k", SIGN_PRIV, "-v", "2.1.0+9", "-H", "0x200", "--pad-header", "-S", "0x20000", "-s", "auto", "--sealable", "--encrypt-keylen", "256", "app.bin", "release.bin"]);
});
after(() => tmp.cleanup());

describe("one release sealed twice", () => {
	test("different ciphertexts and ENC TLVs, identical hash / key hash / signature TLVs", async () => {
		const device = vectorPath("keys/enc-x25519.pub.pem");
		await Promise.all([
			sealdrop(["seal", "--device-pub", device, "-o", "sealed-1.bin", "release.bin"]),
			sealdrop(["seal", "--device-pub", device, "-o", "sealed-2.bin", "release.bin"]),
		]);
		const one = read(path.join(tmp.dir, "sealed-1.bin")), two = read(path.join(tmp.dir, "sealed-2.bin"));
		const a = nobleParse(one), b = nobleParse(two), plain = nobleParse(read(release));
		assert.equal(one.length, two.length);
		assert.deepEqual(one.subarray(0, a.hdrSize), two.subarray(0, b.hdrSize), "same header");
		assert.notDeepEqual(one.subarray(a.hdrSize, a.tlvOffset), two.subarray(b.hdrSize, b.tlvOffset), "different ciphertexts");
		assert.deepEqual(one.subarray(a.tlvOffset, a.unprotectedOffset), two.subarray(b.tlvOffset, b.unprotectedOffset), "same protected TLVs");
		for (const type of [T.SHA256, T.KEYHASH, T.ED25519]) {
			const va = a.tlvs.find((t) => t.type === type)!.value, vb = b.tlvs.find((t) => t.type === type)!.value;
			assert.deepEqual(va, vb, `TLV 0x${type.toString(16)} identical`);
			assert.deepEqual(va, plain.tlvs.find((t) => t.type === type)!.value, `TLV 0x${type.toString(16)} as in the release`);
		}
		const encA = a.tlvs.find((t) => t.type === T.ENC_X25519)!.value, encB = b.tlvs.find((t) => t.type === T.ENC_X25519)!.value;
		assert.notDeepEqual(encA, encB, "different ENC TLVs");

		const signer = nobleSigner(fs.readFileSync(SIGN_PUB)), dev = nobleDevice(fs.readFileSync(vectorPath("keys/enc-x25519.pem")));
		const ra = nobleCheck(one, { signer, device: dev, bodyEncrypted: true });
		const rb = nobleCheck(two, { signer, device: dev, bodyEncrypted: true });
		assert.notDeepEqual(ra.aesKey, rb.aesKey, "a fresh AES key per run");
		assert.equal(ra.aesKey!.length, 32);
		assert.deepEqual(ra.plaintextBody, rb.plaintextBody);
		assert.ok(Buffer.from(ra.plaintextBody.subarray(0, payload.length)).equals(payload));

		// the protected SEC_CNT from -s auto: (2 << 24) + (1 << 16) + 0
		const secCnt = a.protectedTlvs.find((t) => t.type === T.SEC_CNT)!.value;
		assert.equal(Buffer.from(secCnt).readUInt32LE(0), 0x02010000);

		const results = await mapLimit(["sealed-1.bin", "sealed-2.bin"], 2, (f) =>
			runCli(["verify", "-k", SIGN_PUB, "--device-key", vectorPath("keys/enc-x25519.pem"), f], tmp.dir));
		for (const r of results) assert.equal(r.code, 0, r.stderr);
	});

	test("an already sealed image cannot be sealed again (E_NOT_SEALABLE)", async () => {
		const r = await runCli(["seal", "--device-pub", vectorPath("keys/enc-x25519.pub.pem"), "-o", "again.bin", "sealed-1.bin"], tmp.dir);
		assert.equal(r.code, 3, r.stderr);
		assert.match(r.stderr, /E_NOT_SEALABLE/);
	});
});

describe("seal --device-pub takes the device key in every getpub encoding", { concurrency: 4 }, () => {
	for (const name of ["enc-ec256", "enc-x25519"]) {
		for (const encoding of ["pem", "raw", "lang-c", "lang-rust"]) {
			test(`${name}.${encoding} (imgtool's getpub output)`, async () => {
				const out = `sealed-${name}-${encoding}.bin`;
				await sealdrop(["seal", "--device-pub", vectorPath(`getpub/${name}.${encoding}`), "-o", out, "release.bin"]);
				const r = nobleCheck(read(path.join(tmp.dir, out)), {
					signer: nobleSigner(fs.readFileSync(SIGN_PUB)), device: nobleDevice(fs.readFileSync(vectorPath(`keys/${name}.pem`))), bodyEncrypted: true,
				});
				assert.ok(Buffer.from(r.plaintextBody.subarray(0, payload.length)).equals(payload));
				assert.ok(r.image.tlvs.some((t) => t.type === (name === "enc-ec256" ? T.ENC_EC256 : T.ENC_X25519)));
			});
		}
	}
});

describe("fleet sealing", () => {
	interface FleetDev {
		id: string;
		kind: "p256" | "x25519";
		priv: string;
		/** What goes in the list: a key file path (relative to the list) or base64. */
		listed: string;
		noble: NobleDevice;
		spki: Uint8Array;
	}
	const fleet: FleetDev[] = [];
	const outDir = () => path.join(tmp.dir, "fleet-out");

	interface Manifest {
		format: string;
		version: string;
		aesKeyBits: number;
		shared: { file?: string; size: number; sha256: string };
		devices: { id: string; fingerprint: string; encTlv: string; imageSize: number; imageSha256: string; image?: string; tailOffset?: number; tailSize: number }[];
		tails?: { file: string; size: number };
	}

	before(async () => {
		const keysDir = path.join(tmp.dir, "fleet-keys");
		fs.mkdirSync(keysDir);
		const gen = async (id: string, type: string) => {
			const priv = path.join(keysDir, `${id}.pem`);
			await sealdrop(["keygen", "-k", priv, "-t", type]);
			await sealdrop(["getpub", "-k", priv, "-e", "pem", "-o", path.join(keysDir, `${id}.pub.pem`)]);
			return priv;
		};
		const [p1, p2, x1, x2] = await Promise.all([gen("dev-p256-1", "ecdsa-p256"), gen("dev-p256-2", "ecdsa-p256"), gen("dev-x25519-1", "x25519"), gen("dev-x25519-2", "x25519")]);
		const inlineRaw = await sealdrop(["getpub", "-k", vectorPath("keys/enc-x25519.pem"), "-e", "raw"]);
		const add = (id: string, kind: FleetDev["kind"], priv: string, listed: string) => {
			const noble = nobleDevice(fs.readFileSync(priv));
			const spki = noble.kind === "x25519" ? x25519Spki(x25519.getPublicKey(noble.secret)) : noblePublicKeyBytes(nobleSigner(fs.readFileSync(priv)));
			fleet.push({ id, kind, priv, listed, noble, spki });
		};
		add("dev-p256-1", "p256", p1, "fleet-keys/dev-p256-1.pub.pem");
		add("dev-x25519-1", "x25519", x1, "fleet-keys/dev-x25519-1.pub.pem");
		add("dev-inline", "x25519", vectorPath("keys/enc-x25519.pem"), inlineRaw.toString("base64"));
		add("dev-p256-2", "p256", p2, "fleet-keys/dev-p256-2.pub.pem");
		add("dev-x25519-2", "x25519", x2, "fleet-keys/dev-x25519-2.pub.pem");
		const list = ["# id  key", ...fleet.map((d) => `${d.id}  ${d.listed}`), ""].join("\n");
		fs.writeFileSync(path.join(tmp.dir, "fleet.txt"), list);
		await sealdrop(["seal", "--fleet", "fleet.txt", "--out-dir", "fleet-out", "--layout", "both", "release.bin"]);
	});

	test("the inline key is base64 of getpub -e raw", () => {
		const inline = fleet.find((d) => d.id === "dev-inline")!;
		assert.deepEqual(new Uint8Array(Buffer.from(inline.listed, "base64")), inline.spki);
	});

	test("each <id>.bin = shared.bin ‖ its tails.bin range, and fleet.json matches the files", () => {
		const manifest = JSON.parse(fs.readFileSync(path.join(outDir(), "fleet.json"), "utf8")) as Manifest;
		const shared = read(path.join(outDir(), "shared.bin"));
		const tails = read(path.join(outDir(), "tails.bin"));
		assert.deepEqual(manifest.tails, { file: "tails.bin", size: tails.length });
		assert.equal(manifest.format, "sealdrop-fleet/1");
		assert.equal(manifest.version, "2.1.0+9");
		assert.equal(manifest.aesKeyBits, 256);
		assert.equal(manifest.shared.file, "shared.bin");
		assert.equal(manifest.shared.size, shared.length);
		assert.equal(manifest.shared.sha256, sha256Hex(shared));
		assert.deepEqual(manifest.devices.map((d) => d.id), fleet.map((d) => d.id));
		for (const dev of fleet) {
			const record = manifest.devices.find((d) => d.id === dev.id)!;
			const image = read(path.join(outDir(), `${dev.id}.bin`));
			const tail = tails.subarray(record.tailOffset!, record.tailOffset! + record.tailSize);
			assert.equal(record.image, `${dev.id}.bin`);
			assert.ok(Buffer.concat([shared, tail]).equals(image), `${dev.id}: image = shared ‖ tail`);
			assert.equal(record.imageSha256, sha256Hex(image), `${dev.id}: imageSha256`);
			assert.equal(record.imageSize, image.length);
			assert.equal(record.tailSize, tail.length);
			assert.equal(record.fingerprint, sha256Hex(dev.spki), `${dev.id}: fingerprint = sha256(SPKI)`);
			assert.equal(record.encTlv, dev.kind === "p256" ? "ENC_EC256" : "ENC_X25519");
		}
	});

	test("every device image passes the independent check, all with one AES key", () => {
		const signer = nobleSigner(fs.readFileSync(SIGN_PUB));
		const keys = fleet.map((dev) => {
			const r = nobleCheck(read(path.join(outDir(), `${dev.id}.bin`)), { signer, device: dev.noble, bodyEncrypted: true });
			assert.ok(Buffer.from(r.plaintextBody.subarray(0, payload.length)).equals(payload), dev.id);
			assert.ok(r.image.tlvs.some((t) => t.type === (dev.kind === "p256" ? T.ENC_EC256 : T.ENC_X25519)), dev.id);
			return Buffer.from(r.aesKey!).toString("hex");
		});
		assert.equal(new Set(keys).size, 1, "one key K per sealing run");
	});

	test("a fleet large enough for worker threads (70 devices, -j 2) seals the same way", async () => {
		const dir = path.join(tmp.dir, "big-fleet");
		fs.mkdirSync(dir);
		const devices = Array.from({ length: 70 }, (_, i) => {
			const pair = i % 2 ? crypto.generateKeyPairSync("x25519") : crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
			const pub = pair.publicKey.export({ type: "spki", format: "der" });
			fs.writeFileSync(path.join(dir, `d${i}.pub.pem`), pair.publicKey.export({ type: "spki", format: "pem" }));
			return { id: `unit-${String(i).padStart(3, "0")}`, noble: nobleDevice(pair.privateKey.export({ type: "pkcs8", format: "pem" })), pub, listed: i % 7 === 3 ? pub.toString("base64") : `d${i}.pub.pem` };
		});
		fs.writeFileSync(path.join(dir, "list.txt"), devices.map((d) => `${d.id} ${d.listed}`).join("\n") + "\n");
		await sealdrop(["seal", "--fleet", path.join("big-fleet", "list.txt"), "--out-dir", path.join("big-fleet", "out"), "--layout", "full", "-j", "2", "release.bin"]);
		const manifest = JSON.parse(fs.readFileSync(path.join(dir, "out", "fleet.json"), "utf8")) as Manifest;
		assert.equal(manifest.devices.length, devices.length);
		assert.equal(manifest.shared.file, undefined, "layout full writes no shared.bin");
		assert.ok(!fs.existsSync(path.join(dir, "out", "tails.bin")));
		const signer = nobleSigner(fs.readFileSync(SIGN_PUB));
		const keys = new Set<string>();
		devices.forEach((d, i) => {
			const record = manifest.devices[i];
			assert.equal(record.id, d.id);
			assert.equal(record.fingerprint, sha256Hex(d.pub), `${d.id}: fingerprint`);
			const image = read(path.join(dir, "out", `${d.id}.bin`));
			assert.equal(record.imageSha256, sha256Hex(image), `${d.id}: imageSha256`);
			const r = nobleCheck(image, { signer, device: d.noble, bodyEncrypted: true });
			assert.ok(Buffer.from(r.plaintextBody.subarray(0, payload.length)).equals(payload), d.id);
			keys.add(Buffer.from(r.aesKey!).toString("hex"));
		});
		assert.equal(keys.size, 1, "one key K per sealing run, also across worker threads");
	});

	test("each verifies with its own device key and is refused by another's (exit 1, E_DEVICE_KEY)", async () => {
		const jobs = fleet.flatMap((dev, i) => {
			const sameKind = fleet.find((o) => o !== dev && o.kind === dev.kind)!;
			const otherKind = fleet[(i + 1) % fleet.length];
			return [
				{ dev, key: dev.priv, ok: true },
				{ dev, key: sameKind.priv, ok: false },
				...(otherKind.kind !== dev.kind ? [{ dev, key: otherKind.priv, ok: false }] : []),
			];
		});
		const results = await mapLimit(jobs, 4, (j) => runCli(["verify", "-k", SIGN_PUB, "--device-key", j.key, path.join("fleet-out", `${j.dev.id}.bin`)], tmp.dir));
		jobs.forEach((j, i) => {
			const r = results[i];
			if (j.ok) assert.equal(r.code, 0, `${j.dev.id} with its own key: ${r.stderr}`);
			else {
				assert.equal(r.code, 1, `${j.dev.id} with ${path.basename(j.key)}: ${r.stderr}`);
				assert.match(r.stderr, /E_DEVICE_KEY/);
			}
		});
	});
});

describe("regressions", () => {
	test("sign --sealable -S N refuses a release whose sealed image would not fit N, like sign -E does", async () => {
		// a sealable release that fits the slot with a plain trailer: 128*3 + 4*8 + 16 = 432 bytes
		await sealdrop(["sign", "-k", SIGN_PRIV, "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x10000", "--sealable", "app.bin", "probe.bin"]);
		const slot = fs.statSync(path.join(tmp.dir, "probe.bin")).size + 432;
		const common = ["-k", SIGN_PRIV, "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", String(slot)];
		// the same image encrypted right away does not fit (ENC TLV + 2 key slots in the trailer) ...
		const direct = await runCli(["sign", ...common, "-E", vectorPath("keys/enc-x25519.pub.pem"), "app.bin", "direct.bin"], tmp.dir);
		assert.equal(direct.code, 3);
		assert.match(direct.stderr, /E_TOO_LARGE/);
		// ... so the sealable release, which becomes exactly such an image once sealed, must not be made either
		const sealable = await runCli(["sign", ...common, "--sealable", "app.bin", "too-big.bin"], tmp.dir);
		assert.equal(sealable.code, 3, "sign --sealable should exit 3 (E_TOO_LARGE)");
	});
});
