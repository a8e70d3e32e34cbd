/**
 * Round trips over every signature type × encryption × AES key length:
 *
 *   signature  ecdsa-p256, ecdsa-p384, ed25519, ed25519 --pure, rsa-2048, rsa-3072
 *   encryption none; a --sealable release then `seal` for a P-256 / X25519 device;
 *              `sign -E` for P-256, X25519, X25519 --hmac-sha 512, RSA-2048
 *   key length 128, 256
 *
 * Keys come from `sealdrop keygen` (once, in a temporary folder). Each image is checked twice:
 * by our own `verify` (with --device-key when encrypted) and by the independent noble checker,
 * which parses the image itself, opens the ENC TLV, decrypts the body and verifies the hash and
 * signature per reference §B/§C. The CLI runs in-process (`main()`) here: ~80 images with 3-4
 * commands each would take minutes as subprocesses; the vector and seal tests use real ones.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describeRun, makeTempDir, runMain } from "../helpers/noble-cli.js";
import { nobleCheck, nobleDevice, nobleSigner, T, type NobleDevice, type NobleSigner } from "../helpers/noble-mcuboot.js";

interface SigCase {
	name: string;
	keyType: string;
	extra: string[];
	hashTlv: number;
	sigTlv: number;
	keyHashLength: number;
}

const SIGS: SigCase[] = [
	{ name: "ecdsa-p256", keyType: "ecdsa-p256", extra: [], hashTlv: T.SHA256, sigTlv: T.ECDSASIG, keyHashLength: 32 },
	{ name: "ecdsa-p384", keyType: "ecdsa-p384", extra: [], hashTlv: T.SHA384, sigTlv: T.ECDSASIG, keyHashLength: 48 },
	{ name: "ed25519", keyType: "ed25519", extra: [], hashTlv: T.SHA256, sigTlv: T.ED25519, keyHashLength: 32 },
	{ name: "ed25519-pure", keyType: "ed25519", extra: ["--pure"], hashTlv: T.SHA512, sigTlv: T.ED25519, keyHashLength: 64 },
	{ name: "rsa-2048", keyType: "rsa-2048", extra: [], hashTlv: T.SHA256, sigTlv: T.RSA2048, keyHashLength: 32 },
	{ name: "rsa-3072", keyType: "rsa-3072", extra: [], hashTlv: T.SHA256, sigTlv: T.RSA3072, keyHashLength: 32 },
];

type Device = "p256" | "x25519" | "rsa";

interface EncCase {
	name: string;
	mode: "none" | "seal" | "sign-E";
	device?: Device;
	extra: string[];
	bits?: 128 | 256;
	encTlv?: number;
	encTlvLength?: number;
}

const ENCS: EncCase[] = [{ name: "plain", mode: "none", extra: [] }];
for (const bits of [128, 256] as const) {
	const k = bits / 8;
	ENCS.push(
		{ name: `sealable+seal P-256 AES-${bits}`, mode: "seal", device: "p256", extra: [], bits, encTlv: T.ENC_EC256, encTlvLength: 65 + 32 + k },
		{ name: `sealable+seal X25519 AES-${bits}`, mode: "seal", device: "x25519", extra: [], bits, encTlv: T.ENC_X25519, encTlvLength: 32 + 32 + k },
		{ name: `-E P-256 AES-${bits}`, mode: "sign-E", device: "p256", extra: [], bits, encTlv: T.ENC_EC256, encTlvLength: 65 + 32 + k },
		{ name: `-E X25519 AES-${bits}`, mode: "sign-E", device: "x25519", extra: [], bits, encTlv: T.ENC_X25519, encTlvLength: 32 + 32 + k },
		{ name: `-E X25519 --hmac-sha 512 AES-${bits}`, mode: "sign-E", device: "x25519", extra: ["--hmac-sha", "512"], bits, encTlv: T.ENC_X25519_SHA512, encTlvLength: 32 + 64 + k },
		{ name: `-E RSA-2048 AES-${bits}`, mode: "sign-E", device: "rsa", extra: [], bits, encTlv: T.ENC_RSA2048, encTlvLength: 256 },
	);
}

/**
 * imgtool 2.4's sign (main.py) pairs an ECDSA or RSA signing key only with an encryption key of
 * the same kind, and refuses -E with a P-384 signer (it has no P-384 encryption); Ed25519 signs
 * beside any. The same rule holds in test/vectors/imgtool-2.4 ("refused by both").
 */
function imgtoolAllowsEncryption(signType: string, device: Device): boolean {
	if (signType === "ed25519") return true;
	if (signType === "ecdsa-p256") return device === "p256";
	if (signType.startsWith("rsa")) return device === "rsa";
	return false;
}

const PAYLOAD_SIZE = 3001; // not a multiple of 16: encrypted images get imgtool's zero padding
const HEADER = 0x200;

let tmp: { dir: string; cleanup: () => void };
let payload: Buffer;
let payloadFile: string;
const signKeys = new Map<string, { priv: string; pub: string; noble: NobleSigner }>();
const devices = new Map<Device, { priv: string; pub: string; noble: NobleDevice; otherPriv: string; otherNoble: NobleDevice }>();

async function sealdrop(args: string[]): Promise<Buffer> {
	const r = await runMain(args);
	assert.equal(r.code, 0, describeRun(args, r));
	return r.stdout;
}

async function keygen(name: string, type: string): Promise<{ priv: string; pub: string }> {
	const priv = path.join(tmp.dir, `${name}.pem`), pub = path.join(tmp.dir, `${name}.pub.pem`);
	await sealdrop(["keygen", "-k", priv, "-t", type]);
	await sealdrop(["getpub", "-k", priv, "-e", "pem", "-o", pub]);
	return { priv, pub };
}

before(async () => {
	tmp = makeTempDir("roundtrip-matrix");
	payload = crypto.randomBytes(PAYLOAD_SIZE);
	payloadFile = path.join(tmp.dir, "payload.bin");
	fs.writeFileSync(payloadFile, payload);
	for (const type of ["ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048", "rsa-3072"]) {
		const k = await keygen(`sign-${type}`, type);
		signKeys.set(type, { ...k, noble: nobleSigner(fs.readFileSync(k.pub)) });
	}
	const deviceTypes: [Device, string][] = [["p256", "ecdsa-p256"], ["x25519", "x25519"], ["rsa", "rsa-2048"]];
	for (const [device, type] of deviceTypes) {
		const k = await keygen(`device-${device}`, type);
		const other = await keygen(`device-${device}-other`, type);
		devices.set(device, { ...k, noble: nobleDevice(fs.readFileSync(k.priv)), otherPriv: other.priv, otherNoble: nobleDevice(fs.readFileSync(other.priv)) });
	}
});
after(() => tmp.cleanup());

test("sealdrop keygen wrote PKCS#8 PEM keys of each type", () => {
	for (const [type, k] of signKeys) {
		const text = fs.readFileSync(k.priv, "utf8");
		assert.match(text, /^-----BEGIN PRIVATE KEY-----\n/, type);
		assert.equal(nobleSigner(text).kind, type);
	}
	assert.equal(devices.get("p256")!.noble.kind, "p256");
	assert.equal(devices.get("x25519")!.noble.kind, "x25519");
	assert.equal(devices.get("rsa")!.noble.kind, "rsa-2048");
});

interface VerifyJson {
	ok: boolean;
	version: string;
	hash: string;
	digest: string;
	body: string;
	signature: string;
}

for (const sig of SIGS) {
	describe(`signed with ${sig.name}`, () => {
		for (const enc of ENCS) {
			test(enc.name, async () => {
				const id = `${sig.name}-${enc.name.replace(/[^A-Za-z0-9]+/g, "_")}`;
				const key = signKeys.get(sig.keyType)!;
				const device = enc.device ? devices.get(enc.device)! : undefined;
				const out = path.join(tmp.dir, `${id}.bin`);
				const common = ["-k", key.priv, ...sig.extra, "-v", "1.2.3+4", "-H", String(HEADER), "--pad-header", "-S", "0x20000"];
				const keylen = enc.bits ? ["--encrypt-keylen", String(enc.bits)] : [];

				if (enc.mode === "seal") {
					const release = path.join(tmp.dir, `${id}.release.bin`);
					await sealdrop(["sign", ...common, "--sealable", ...keylen, payloadFile, release]);
					// the release itself: ENCRYPTED flag, plaintext body, no ENC TLV; checks without a device key
					const r = nobleCheck(new Uint8Array(fs.readFileSync(release)), { signer: key.noble, bodyEncrypted: false });
					assert.equal(r.aesKeyBytes * 8, enc.bits);
					assert.ok(!r.image.tlvs.some((t) => t.type >= 0x30 && t.type <= 0x34), "a sealable release has no ENC TLV");
					const v = JSON.parse((await sealdrop(["verify", "-f", "json", "-k", key.pub, release])).toString()) as VerifyJson;
					assert.equal(v.body, "plaintext");
					await sealdrop(["seal", "--device-pub", device!.pub, "-o", out, release]);
				} else {
					const encrypt = device ? ["-E", device.pub, ...keylen, ...enc.extra] : [];
					if (device && !imgtoolAllowsEncryption(sig.keyType, enc.device!)) {
						// imgtool 2.4 main.py: "Signing and encryption must use the same type of key"
						const r = await runMain(["sign", ...common, ...encrypt, payloadFile, out]);
						assert.equal(r.code, 2, describeRun(["sign"], r));
						assert.match(r.stderr, /^sealdrop: E_USAGE: /);
						assert.ok(!fs.existsSync(out), "no image written");
						return;
					}
					await sealdrop(["sign", ...common, ...encrypt, payloadFile, out]);
				}

				const image = new Uint8Array(fs.readFileSync(out));
				const encrypted = enc.mode !== "none";

				// our verify
				const v = JSON.parse((await sealdrop(["verify", "-f", "json", "-k", key.pub, ...(device ? ["--device-key", device.priv] : []), out])).toString()) as VerifyJson;
				assert.equal(v.ok, true);
				assert.equal(v.signature, "verified");
				assert.equal(v.body, encrypted ? "ciphertext" : "plaintext");
				assert.equal(v.version, "1.2.3+4");

				// the independent check
				const r = nobleCheck(image, { signer: key.noble, device: device?.noble, bodyEncrypted: encrypted });
				assert.equal(Buffer.from(r.digest).toString("hex"), v.digest, "same digest as our verify");
				assert.equal(r.image.hdrSize, HEADER);
				assert.deepEqual(r.image.version, [1, 2, 3, 4]);
				const paddedSize = encrypted ? Math.ceil((HEADER + PAYLOAD_SIZE) / 16) * 16 - HEADER : PAYLOAD_SIZE;
				assert.equal(r.image.imgSize, paddedSize, "body size (zero-padded to 16 when encrypted)");
				assert.ok(Buffer.from(r.plaintextBody.subarray(0, PAYLOAD_SIZE)).equals(payload), "plaintext body = payload");
				assert.ok(r.plaintextBody.subarray(PAYLOAD_SIZE).every((b) => b === 0), "zero padding");
				assert.equal(r.image.flags, encrypted ? (enc.bits === 256 ? 0x08 : 0x04) : 0, "flags");
				assert.equal(r.pure, sig.extra.includes("--pure"));

				const types = r.image.tlvs.map((t) => t.type);
				assert.equal(types[0], sig.hashTlv, "hash TLV first");
				assert.equal(r.image.tlvs.find((t) => t.type === T.KEYHASH)?.value.length, sig.keyHashLength, "KEYHASH length");
				assert.ok(types.indexOf(sig.sigTlv) > types.indexOf(T.KEYHASH), "signature after KEYHASH");
				if (encrypted) {
					const encTlv = r.image.tlvs.find((t) => t.type === enc.encTlv);
					assert.ok(encTlv, `ENC TLV 0x${enc.encTlv!.toString(16)}`);
					assert.equal(encTlv.value.length, enc.encTlvLength);
					assert.equal(r.aesKey?.length, enc.bits! / 8);
					assert.ok(!Buffer.from(image.subarray(HEADER, HEADER + 64)).equals(payload.subarray(0, 64)), "stored body is ciphertext");

					// another device's key does not open it, for us or for the noble checker
					const wrong = ["verify", "-k", key.pub, "--device-key", device!.otherPriv, out];
					const w = await runMain(wrong);
					assert.equal(w.code, 1, describeRun(wrong, w));
					assert.match(w.stderr, /E_DEVICE_KEY/);
					assert.throws(() => nobleCheck(image, { device: device!.otherNoble, bodyEncrypted: true }), /ENC:/);

					// and without a device key our verify reports a hash mismatch (exit 1), as imgtool would
					const none = await runMain(["verify", "-k", key.pub, out]);
					assert.equal(none.code, 1);
					assert.match(none.stderr, /E_HASH/);
				}
			});
		}
	});
}

/** Options outside the matrix that change what is hashed or signed, checked the same two ways. */
describe("variants", () => {
	interface Variant {
		name: string;
		sign: string;
		args: string[];
		device?: Device;
		/** Seal the release (made with --sealable) for `device` before checking. */
		seal?: boolean;
		check(r: ReturnType<typeof nobleCheck>, image: Uint8Array): void;
	}
	const small = () => path.join(tmp.dir, "small.bin");
	const variants: Variant[] = [
		{
			name: "-H 0x24 (header not a multiple of 16) with -E X25519: header ‖ body zero-padded to 16",
			sign: "ed25519", args: ["-H", "0x24", "--pad-header"], device: "x25519",
			check: (r) => {
				assert.equal(r.image.hdrSize, 0x24);
				assert.equal(r.image.imgSize, 108, "reference §C.1: a 100-byte body becomes 108 bytes");
			},
		},
		{
			name: "--pad-sig --public-key-format full, ECDSA P-256",
			sign: "ecdsa-p256", args: ["-H", "0x200", "--pad-header", "--pad-sig", "--public-key-format", "full"],
			check: (r) => {
				assert.equal(r.image.tlvs.find((t) => t.type === T.ECDSASIG)?.value.length, 72);
				assert.ok(r.image.tlvs.some((t) => t.type === T.PUBKEY) && !r.image.tlvs.some((t) => t.type === T.KEYHASH));
			},
		},
		{
			name: "--pad-sig, ECDSA P-384",
			sign: "ecdsa-p384", args: ["-H", "0x200", "--pad-header", "--pad-sig"],
			check: (r) => assert.ok(r.image.tlvs.find((t) => t.type === T.ECDSASIG)!.value.length >= 103),
		},
		{
			name: "--sha 512 with Ed25519 (not pure): SHA512 TLV, 64-byte KEYHASH, signature over the digest",
			sign: "ed25519", args: ["-H", "0x200", "--pad-header", "--sha", "512"],
			check: (r) => {
				assert.equal(r.hashAlg, "sha512");
				assert.equal(r.pure, false);
				assert.equal(r.image.tlvs.find((t) => t.type === T.KEYHASH)?.value.length, 64);
			},
		},
		{
			name: "protected TLVs (security counter, dependency, custom) in a sealed release",
			sign: "rsa-3072", args: ["-H", "0x100", "--pad-header", "-s", "auto", "-d", "(1, 2.3.4+5)", "--custom-tlv", "0xa0", "0xdeadbeef", "--sealable"],
			device: "p256", seal: true,
			check: (r, image) => {
				assert.deepEqual(r.image.protectedTlvs.map((t) => t.type), [T.SEC_CNT, T.DEPENDENCY, 0xa0]);
				assert.equal(Buffer.from(r.image.protectedTlvs[0].value).readUInt32LE(0), 0x01020003);
				assert.deepEqual([...r.image.protectedTlvs[1].value], [1, 0, 0, 0, 2, 3, 4, 0, 5, 0, 0, 0]);
				assert.deepEqual([...r.image.protectedTlvs[2].value], [0xde, 0xad, 0xbe, 0xef]);
				assert.equal(r.image.protectTlvSize, image.length - r.image.tlvOffset - (r.image.end - r.image.unprotectedOffset));
			},
		},
		{
			name: "--erased-val 0: the header fill is zeros",
			sign: "ecdsa-p256", args: ["-H", "0x200", "--pad-header", "-R", "0"],
			check: (_r, image) => assert.ok(image.subarray(32, 0x200).every((b) => b === 0)),
		},
		{
			name: "--confirm with -E P-256: image, then erased fill and trailer up to the slot size",
			sign: "ecdsa-p256", args: ["-H", "0x200", "--pad-header", "--confirm"], device: "p256",
			check: (r, image) => {
				assert.equal(image.length, 0x20000);
				assert.ok(image.subarray(r.image.end, image.length - 48).every((b) => b === 0xff));
				assert.equal(Buffer.from(image.subarray(image.length - 16)).toString("hex"), "77c295f360d2ef7f3552500f2cb67980");
				assert.equal(image[image.length - 24], 0x01, "image_ok (max-align 8)");
			},
		},
	];

	before(() => {
		fs.writeFileSync(small(), payload.subarray(0, 100));
	});

	for (const v of variants) {
		test(v.name, async () => {
			const id = `variant-${variants.indexOf(v)}`;
			const key = signKeys.get(v.sign)!;
			const device = v.device ? devices.get(v.device)! : undefined;
			const out = path.join(tmp.dir, `${id}.bin`);
			const base = ["sign", "-k", key.priv, "-v", "1.2.3+4", "-S", "0x20000", ...v.args];
			if (v.seal) {
				await sealdrop([...base, small(), `${out}.release`]);
				await sealdrop(["seal", "--device-pub", device!.pub, "-o", out, `${out}.release`]);
			} else await sealdrop([...base, ...(device ? ["-E", device.pub] : []), small(), out]);
			const verify = ["verify", "-f", "json", "-k", key.pub, ...(device ? ["--device-key", device.priv] : []), out];
			const ours = JSON.parse((await sealdrop(verify)).toString()) as VerifyJson;
			assert.equal(ours.signature, "verified");
			const image = new Uint8Array(fs.readFileSync(out));
			const r = nobleCheck(image, { signer: key.noble, device: device?.noble, bodyEncrypted: !!device });
			assert.equal(Buffer.from(r.digest).toString("hex"), ours.digest);
			assert.ok(Buffer.from(r.plaintextBody.subarray(0, 100)).equals(payload.subarray(0, 100)));
			assert.ok(r.plaintextBody.subarray(100).every((b) => b === 0));
			v.check(r, image);
		});
	}
});
