/**
 * Fleet lists' inline keys (host/cli/fleet.ts): base64 of a SubjectPublicKeyInfo and base64 of
 * what `getpub -e raw` writes (the same DER for P-256 and X25519, PKCS#1 for RSA) both seal for
 * their device (each sealed image opens with that device's private key, checked by Node's
 * crypto through unwrapKey); such a key is the key itself even where a file has its name; a P-256
 * point off the curve is refused before sealing; a key the ECDH refuses names its device;
 * `seal --help` documents both forms.
 */
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { parseImage, parseVersion } from "sealdrop/image";
import { buildImage } from "../../host/cli/build.js";
import { unwrapKey } from "../../host/cli/crypto.js";
import { readFleetList, sealFleet } from "../../host/cli/fleet.js";
import { encodePublicKey, generateKey, type Key } from "../../host/cli/keys.js";
import { openRelease, SealRun } from "../../host/cli/seal.js";
import { cliOk, tempDir } from "../helpers/cli.js";

const tmp = tempDir("sealdrop-fleet-keys-");
after(() => tmp.cleanup());

const built = buildImage(crypto.randomBytes(3000), { key: generateKey("ed25519"), version: parseVersion("1.0.0"), headerSize: 0x20, padHeader: true, slotSize: 0x10000, sealable: true });
if (!("image" in built)) throw new Error("unreachable");
const release = openRelease(built.image);

const spkiBase64 = (k: Key) => k.publicKey.export({ type: "spki", format: "der" }).toString("base64");
const getpubRawBase64 = (k: Key) => encodePublicKey(k, "raw").toString("base64");

async function sealAll(lines: string[], jobs = 1) {
	const list = tmp.file(`fleet-${crypto.randomUUID()}.txt`);
	fs.writeFileSync(list, lines.join("\n") + "\n");
	const run = new SealRun(release);
	const outDir = tmp.file(`out-${crypto.randomUUID()}`);
	try {
		const manifest = await sealFleet(run, readFleetList(list), { outDir, layout: "full", jobs });
		return { manifest, outDir, aesKey: Buffer.from(run.aesKey) };
	} finally {
		run.close();
	}
}

test("fleet list: base64 SubjectPublicKeyInfo and base64 of getpub -e raw, for P-256, X25519 and RSA-2048", async () => {
	const devices = (["ecdsa-p256", "x25519", "rsa-2048"] as const).flatMap((kind) => {
		const key = generateKey(kind);
		return [{ id: `${kind}-spki`, key, text: spkiBase64(key) }, { id: `${kind}-getpub`, key, text: getpubRawBase64(key) }];
	});
	assert.notEqual(devices[4].text, devices[5].text, "RSA: getpub raw is PKCS#1, not the SubjectPublicKeyInfo");
	const { manifest, outDir, aesKey } = await sealAll(devices.map((d) => `${d.id} ${d.text}`));
	assert.equal(manifest.devices.length, devices.length);
	for (const [i, d] of devices.entries()) {
		const record = manifest.devices[i];
		assert.equal(record.id, d.id);
		assert.equal(record.fingerprint, crypto.createHash("sha256").update(d.key.publicKey.export({ type: "spki", format: "der" })).digest("hex"), `${d.id}: fingerprint of its SubjectPublicKeyInfo`);
		const image = fs.readFileSync(path.join(outDir, `${d.id}.bin`));
		const enc = parseImage(image).unprotectedTlvs.find((t) => t.type >= 0x30 && t.type <= 0x34)!;
		assert.deepEqual(unwrapKey(enc, d.key, 128), aesKey, `${d.id}: opens with its own key`);
	}
});

test("fleet list: base64 of a SubjectPublicKeyInfo is the key even where a file has that name", async () => {
	// X25519: any 32 bytes are a key, so the text can be made a plain file name (no "/") and stay one
	const text = spkiBase64(generateKey("x25519")).replace(/\//g, "+");
	fs.writeFileSync(tmp.file(text), generateKey("x25519").publicKey.export({ type: "spki", format: "pem" }));
	const list = tmp.file("shadow.txt");
	fs.writeFileSync(list, `dev ${text}\n`);
	const run = new SealRun(release);
	const manifest = await sealFleet(run, readFleetList(list), { outDir: tmp.file("shadow-out"), layout: "split", jobs: 1 });
	run.close();
	assert.equal(manifest.devices[0].fingerprint, crypto.createHash("sha256").update(Buffer.from(text, "base64")).digest("hex"), "sealed for the inline bytes, not the file");
});

test("fleet list: a P-256 point off the curve is E_KEY_FORMAT at reading, naming its line", () => {
	const der = Buffer.from(spkiBase64(generateKey("ecdsa-p256")), "base64");
	der[der.length - 1] ^= 1; // y changed: no longer on the curve
	const list = tmp.file("off-curve.txt");
	fs.writeFileSync(list, `# devices\ngood ${spkiBase64(generateKey("ecdsa-p256"))}\nbad ${der.toString("base64")}\n`);
	assert.throws(() => readFleetList(list), (e: Error & { code?: string }) => e.code === "E_KEY_FORMAT" && e.message.includes(`${list}:3 (bad)`) && /not a point on the curve/.test(e.message));
});

test("fleet sealing on workers: a key the ECDH refuses names its device", async () => {
	// an X25519 point of small order (RFC 7748 §6.1: the all-zero u): the shared secret is zero and OpenSSL refuses it
	const lines = Array.from({ length: 200 }, (_, i) => `dev-${i} ${spkiBase64(generateKey("x25519"))}`);
	const zero = Buffer.concat([Buffer.from(spkiBase64(generateKey("x25519")), "base64").subarray(0, 12), Buffer.alloc(32)]);
	lines[150] = `weak-device ${zero.toString("base64")}`;
	await assert.rejects(sealAll(lines, 2), (e: Error & { code?: string }) => e.code === "E_KEY_FORMAT" && e.message.startsWith("weak-device: "));
});

test("seal --help documents both inline forms", () => {
	const help = cliOk(tmp.dir, "seal", "--help");
	assert.match(help, /base64\s+SubjectPublicKeyInfo/);
	assert.match(help, /base64\s+of\s+what\s+getpub\s+-e\s+raw\s+writes/);
});
