/**
 * Signing outside Sealdrop and nested releases, through the CLI (`node bin/sealdrop.js`):
 *
 * - `sign --vector-to-sign digest|payload` writes what an HSM signs; the signature made with
 *   node:crypto, base64-encoded and given back with `sign --fix-sig FILE --fix-sig-pubkey PUB`
 *   gives an image that verifies; a wrong signature is refused (exit 1, E_SIGNATURE);
 * - `wrap -k KEY -S N inner.bin outer.bin` of a signed inner image, sealed, then
 *   `verify --device-key -f json` reports and checks the inner image (field `inner`).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describeRun, makeTempDir, runCli, vectorPath } from "../helpers/noble-cli.js";
import { nobleCheck, nobleDevice, nobleHash, nobleParse, nobleSigner, T } from "../helpers/noble-mcuboot.js";

let tmp: { dir: string; cleanup: () => void };
let payload: Buffer;
const IMAGE_ARGS = ["-v", "3.4.5+6", "-H", "0x200", "--pad-header", "-S", "0x20000"];

function key(name: string): string {
	return vectorPath(`keys/${name}`);
}

async function sealdrop(args: string[]): Promise<Buffer> {
	const r = await runCli(args, tmp.dir);
	assert.equal(r.code, 0, describeRun(args, r));
	return r.stdout;
}

function file(name: string): string {
	return path.join(tmp.dir, name);
}

function read(name: string): Uint8Array {
	return new Uint8Array(fs.readFileSync(file(name)));
}

function privateKey(name: string): crypto.KeyObject {
	return crypto.createPrivateKey(fs.readFileSync(key(name)));
}

before(() => {
	tmp = makeTempDir("roundtrip-external");
	payload = crypto.randomBytes(4000);
	fs.writeFileSync(file("app.bin"), payload);
});
after(() => tmp.cleanup());

describe("external signing: --vector-to-sign, then --fix-sig", () => {
	test("the digest is the SHA-256 of the payload vector", async () => {
		await Promise.all([
			sealdrop(["sign", "--vector-to-sign", "digest", ...IMAGE_ARGS, "app.bin", "digest.bin"]),
			sealdrop(["sign", "--vector-to-sign", "payload", ...IMAGE_ARGS, "app.bin", "payload.bin"]),
		]);
		const digest = read("digest.bin"), vector = read("payload.bin");
		assert.equal(digest.length, 32);
		assert.deepEqual(nobleHash("sha256", vector), digest);
		// the payload vector is header ‖ body (no protected TLVs here)
		assert.equal(vector.length, 0x200 + payload.length);
		assert.ok(Buffer.from(vector.subarray(0x200)).equals(payload));
	});

	test("Ed25519 over the digest (node:crypto) → --fix-sig: verifies, and equals signing with -k", async () => {
		const signature = crypto.sign(null, read("digest.bin"), privateKey("sign-ed25519.pem"));
		fs.writeFileSync(file("ed.sig.b64"), signature.toString("base64") + "\n");
		await sealdrop(["sign", "--fix-sig", "ed.sig.b64", "--fix-sig-pubkey", key("sign-ed25519.pub.pem"), ...IMAGE_ARGS, "app.bin", "ed-fixed.bin"]);
		await sealdrop(["verify", "-k", key("sign-ed25519.pub.pem"), "ed-fixed.bin"]);
		nobleCheck(read("ed-fixed.bin"), { signer: nobleSigner(fs.readFileSync(key("sign-ed25519.pub.pem"))), bodyEncrypted: false });
		// Ed25519 is deterministic: the same image as signing with the key itself
		await sealdrop(["sign", "-k", key("sign-ed25519.pem"), ...IMAGE_ARGS, "app.bin", "ed-direct.bin"]);
		assert.ok(Buffer.from(read("ed-fixed.bin")).equals(Buffer.from(read("ed-direct.bin"))));
	});

	test("ECDSA P-256 over the payload (node:crypto, DER) → --fix-sig verifies", async () => {
		const signature = crypto.sign("sha256", read("payload.bin"), privateKey("sign-ecdsa-p256.pem"));
		fs.writeFileSync(file("ec.sig.b64"), signature.toString("base64"));
		await sealdrop(["sign", "--fix-sig", "ec.sig.b64", "--fix-sig-pubkey", key("sign-ecdsa-p256.pub.pem"), ...IMAGE_ARGS, "app.bin", "ec-fixed.bin"]);
		await sealdrop(["verify", "-k", key("sign-ecdsa-p256.pub.pem"), "ec-fixed.bin"]);
		const r = nobleCheck(read("ec-fixed.bin"), { signer: nobleSigner(fs.readFileSync(key("sign-ecdsa-p256.pub.pem"))), bodyEncrypted: false });
		assert.deepEqual(r.image.tlvs.find((t) => t.type === T.ECDSASIG)!.value, new Uint8Array(signature));
	});

	test("ECDSA P-384 over the payload (SHA-384) → --fix-sig verifies, with a SHA384 hash TLV", async () => {
		const signature = crypto.sign("sha384", read("payload.bin"), privateKey("sign-ecdsa-p384.pem"));
		fs.writeFileSync(file("p384.sig.b64"), signature.toString("base64"));
		await sealdrop(["sign", "--fix-sig", "p384.sig.b64", "--fix-sig-pubkey", key("sign-ecdsa-p384.pub.pem"), ...IMAGE_ARGS, "app.bin", "p384-fixed.bin"]);
		await sealdrop(["verify", "-k", key("sign-ecdsa-p384.pub.pem"), "p384-fixed.bin"]);
		const r = nobleCheck(read("p384-fixed.bin"), { signer: nobleSigner(fs.readFileSync(key("sign-ecdsa-p384.pub.pem"))), bodyEncrypted: false });
		assert.equal(r.hashAlg, "sha384");
	});

	test("RSA-2048 PSS (salt 32) over the payload → --fix-sig verifies", async () => {
		const signature = crypto.sign("sha256", read("payload.bin"), { key: privateKey("sign-rsa-2048.pem"), padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
		fs.writeFileSync(file("rsa.sig.b64"), signature.toString("base64"));
		await sealdrop(["sign", "--fix-sig", "rsa.sig.b64", "--fix-sig-pubkey", key("sign-rsa-2048.pub.pem"), ...IMAGE_ARGS, "app.bin", "rsa-fixed.bin"]);
		await sealdrop(["verify", "-k", key("sign-rsa-2048.pub.pem"), "rsa-fixed.bin"]);
		nobleCheck(read("rsa-fixed.bin"), { signer: nobleSigner(fs.readFileSync(key("sign-rsa-2048.pub.pem"))), bodyEncrypted: false });
	});

	test("a wrong signature is refused: exit 1, E_SIGNATURE, no image written", async () => {
		const digest = read("digest.bin");
		const other = Uint8Array.from(digest);
		other[0] ^= 1;
		const cases = [
			{ name: "over another digest", sig: crypto.sign(null, other, privateKey("sign-ed25519.pem")), pub: "sign-ed25519.pub.pem" },
			{ name: "by another key", sig: crypto.sign("sha256", read("payload.bin"), privateKey("enc-ec256.pem")), pub: "sign-ecdsa-p256.pub.pem" },
			{ name: "a corrupted one", sig: Buffer.from(crypto.sign(null, digest, privateKey("sign-ed25519.pem")).map((b, i) => (i === 10 ? b ^ 0x80 : b))), pub: "sign-ed25519.pub.pem" },
		];
		for (const [i, c] of cases.entries()) {
			fs.writeFileSync(file(`bad-${i}.b64`), c.sig.toString("base64"));
			const args = ["sign", "--fix-sig", `bad-${i}.b64`, "--fix-sig-pubkey", key(c.pub), ...IMAGE_ARGS, "app.bin", `bad-${i}.bin`];
			const r = await runCli(args, tmp.dir);
			assert.equal(r.code, 1, `${c.name}: ${describeRun(args, r)}`);
			assert.match(r.stderr, /E_SIGNATURE/, c.name);
			assert.ok(!fs.existsSync(file(`bad-${i}.bin`)), `${c.name}: no output`);
		}
	});

	test("a sealable release signed externally can be sealed and verified", async () => {
		const common = [...IMAGE_ARGS, "--sealable", "--encrypt-keylen", "256", "-s", "7"];
		await sealdrop(["sign", "--vector-to-sign", "digest", ...common, "app.bin", "sealable-digest.bin"]);
		const signature = crypto.sign(null, read("sealable-digest.bin"), privateKey("sign-ed25519.pem"));
		fs.writeFileSync(file("sealable.b64"), signature.toString("base64"));
		await sealdrop(["sign", "--fix-sig", "sealable.b64", "--fix-sig-pubkey", key("sign-ed25519.pub.pem"), ...common, "app.bin", "sealable.bin"]);
		await sealdrop(["seal", "--device-pub", key("enc-ec256.pub.pem"), "-o", "sealable-sealed.bin", "sealable.bin"]);
		await sealdrop(["verify", "-k", key("sign-ed25519.pub.pem"), "--device-key", key("enc-ec256.pem"), "sealable-sealed.bin"]);
		const r = nobleCheck(read("sealable-sealed.bin"), {
			signer: nobleSigner(fs.readFileSync(key("sign-ed25519.pub.pem"))), device: nobleDevice(fs.readFileSync(key("enc-ec256.pem"))), bodyEncrypted: true,
		});
		assert.ok(Buffer.from(r.plaintextBody.subarray(0, payload.length)).equals(payload));
		assert.equal(r.aesKeyBytes, 32);
	});
});

describe("nested release: wrap, seal, verify --device-key reports the inner image", () => {
	interface VerifyJson {
		ok: boolean;
		version: string;
		body: string;
		signature: string;
		digest: string;
		inner?: { version: string; body: string; signature: string; digest: string };
	}

	before(async () => {
		await sealdrop(["sign", "-k", key("sign-ecdsa-p256.pem"), "-v", "2.0.0+7", "-H", "0x200", "--pad-header", "-S", "0x20000", "-s", "5", "app.bin", "inner.bin"]);
	});

	test("wrap -k KEY (same key outside and inside), seal for an X25519 device, verify -f json", async () => {
		await sealdrop(["wrap", "-k", key("sign-ecdsa-p256.pem"), "-S", "0x21000", "inner.bin", "outer.bin"]);
		await sealdrop(["seal", "--device-pub", key("enc-x25519.pub.pem"), "-o", "outer-sealed.bin", "outer.bin"]);
		const out = await sealdrop(["verify", "-f", "json", "-k", key("sign-ecdsa-p256.pub.pem"), "--device-key", key("enc-x25519.pem"), "outer-sealed.bin"]);
		const v = JSON.parse(out.toString()) as VerifyJson;
		assert.equal(v.ok, true);
		assert.equal(v.body, "ciphertext");
		assert.equal(v.signature, "verified");
		assert.equal(v.version, "2.0.0+7", "outer version defaults to the inner one");
		assert.ok(v.inner, "inner image reported");
		assert.equal(v.inner.version, "2.0.0+7");
		assert.equal(v.inner.signature, "verified");
		assert.equal(v.inner.body, "plaintext");

		// independently: the outer plaintext body is the inner image, which checks out on its own
		const signer = nobleSigner(fs.readFileSync(key("sign-ecdsa-p256.pub.pem")));
		const outer = nobleCheck(read("outer-sealed.bin"), { signer, device: nobleDevice(fs.readFileSync(key("enc-x25519.pem"))), bodyEncrypted: true });
		const inner = read("inner.bin");
		assert.ok(Buffer.from(outer.plaintextBody.subarray(0, inner.length)).equals(Buffer.from(inner)), "outer body = inner image");
		assert.ok(outer.plaintextBody.subarray(inner.length).every((b) => b === 0));
		const innerCheck = nobleCheck(outer.plaintextBody.subarray(0, inner.length), { signer, bodyEncrypted: false });
		assert.equal(Buffer.from(innerCheck.digest).toString("hex"), v.inner.digest);
		// the security counter of the inner image is carried to the outer one
		const secCnt = outer.image.protectedTlvs.find((t) => t.type === T.SEC_CNT);
		assert.equal(secCnt && Buffer.from(secCnt.value).readUInt32LE(0), 5);
		assert.equal(outer.image.flags & 0x04, 0x04, "outer flagged AES-128 (sealable default)");
	});

	test("different keys outside and inside: --inner-key", async () => {
		await sealdrop(["wrap", "-k", key("sign-ed25519.pem"), "--inner-key", key("sign-ecdsa-p256.pub.pem"), "-S", "0x21000", "inner.bin", "outer2.bin"]);
		await sealdrop(["seal", "--device-pub", key("enc-ec256.pub.pem"), "-o", "outer2-sealed.bin", "outer2.bin"]);
		const args = ["verify", "-f", "json", "-k", key("sign-ed25519.pub.pem"), "--inner-key", key("sign-ecdsa-p256.pub.pem"), "--device-key", key("enc-ec256.pem"), "outer2-sealed.bin"];
		const v = JSON.parse((await sealdrop(args)).toString()) as VerifyJson;
		assert.equal(v.signature, "verified");
		assert.equal(v.inner?.signature, "verified");
		assert.equal(v.inner?.version, "2.0.0+7");
		assert.equal(nobleParse(read("outer2.bin")).tlvs.some((t) => t.type === T.ED25519), true);

		// without --inner-key the inner image is checked with -k, which did not sign it
		const r = await runCli(["verify", "-k", key("sign-ed25519.pub.pem"), "--device-key", key("enc-ec256.pem"), "outer2-sealed.bin"], tmp.dir);
		assert.equal(r.code, 1, r.stderr);
		assert.match(r.stderr, /E_WRONG_SIGNER/);
	});

	test("wrap refuses an inner image that is not signed by the key it is checked with", async () => {
		const r = await runCli(["wrap", "-k", key("sign-ed25519.pem"), "-S", "0x21000", "inner.bin", "outer3.bin"], tmp.dir);
		assert.equal(r.code, 1, r.stderr);
		assert.match(r.stderr, /E_WRONG_SIGNER/);
	});
});

describe("regressions", () => {
	test("an ordinary image whose body starts with the MCUboot magic verifies", async () => {
		const body = Buffer.concat([Buffer.from([0x3d, 0xb8, 0xf3, 0x96]), crypto.randomBytes(2000)]);
		fs.writeFileSync(file("magic-body.bin"), body);
		await sealdrop(["sign", "-k", key("sign-ed25519.pem"), ...IMAGE_ARGS, "magic-body.bin", "magic-body-signed.bin"]);
		// hash and signature are right (imgtool verify accepts such an image) ...
		nobleCheck(read("magic-body-signed.bin"), { signer: nobleSigner(fs.readFileSync(key("sign-ed25519.pub.pem"))), bodyEncrypted: false });
		// ... and so should we
		const r = await runCli(["verify", "-k", key("sign-ed25519.pub.pem"), "magic-body-signed.bin"], tmp.dir);
		assert.equal(r.code, 0, r.stderr);
	});
});
