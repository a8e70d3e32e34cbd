/**
 * imgtool 2.4.0 images (test/vectors/imgtool) through the `sealdrop` CLI, as a user runs it
 * (`node bin/sealdrop.js`, paths relative to the vector folder):
 *
 * - dumpinfo -f json agrees with every sidecar's `expected` block;
 * - verify -k SIGN_PUB (with --device-key for encrypted ones) exits 0, and encrypted images without
 *   the device key exit 1 like imgtool's own verify;
 * - decrypt gives the plaintext whose sha256 the sidecar records;
 * - the --clear image can be sealed for its device key and is refused with another one;
 * - and the independent noble checker (test/helpers/noble-mcuboot.ts) accepts every vector, which is
 *   what makes it trustworthy as the second opinion in the round-trip tests.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { vectorCases, type VectorCase } from "../helpers/vectors.js";
import { describeRun, makeTempDir, runCli, vectorKeys, vectorPath, vectorsDir } from "../helpers/noble-cli.js";
import { nobleCheck, nobleDevice, nobleParse, nobleSigner, sha256Hex, T } from "../helpers/noble-mcuboot.js";

const cases = vectorCases();
let tmp: { dir: string; cleanup: () => void };

before(() => {
	tmp = makeTempDir("interop-vectors");
});
after(() => tmp.cleanup());

function read(relative: string): Uint8Array {
	return new Uint8Array(fs.readFileSync(vectorPath(relative)));
}

function sealdrop(args: string[]) {
	return runCli(args, vectorsDir);
}

/** The sha256 of the plaintext payload inside a (plaintext) body, as the sidecar records it. */
function assertPlaintext(c: VectorCase, body: Uint8Array): void {
	const p = c.sidecar.payload, e = c.sidecar.expected;
	assert.equal(body.length, p.plaintext_size + e.body_zero_padding, "body length = plaintext + zero padding");
	assert.equal(sha256Hex(body.subarray(0, p.plaintext_size)), p.plaintext_sha256, "plaintext sha256");
	assert.ok(body.subarray(p.plaintext_size).every((b) => b === 0), "padding after the plaintext is zeros");
}

function versionText(t: [number, number, number, number]): string {
	return `${t[0]}.${t[1]}.${t[2]}+${t[3]}`;
}

interface DumpTlv {
	type: number;
	name: string;
	offset: number;
	length: number;
	securityCounter?: number;
	imageId?: number;
	minVersion?: string;
}

interface Dump {
	size: number;
	header: { loadAddr: number; hdrSize: number; protectTlvSize: number; imgSize: number; flags: number; flagNames: string[]; version: string };
	encryption: { aesKeyBits: number; encTlv: string | null; sealable: boolean } | null;
	protectedTlvs: DumpTlv[];
	tlvs: DumpTlv[];
	imageSize: number;
	trailer: { slotSize: number; maxAlign: number; erasedVal: number; magic: string; imageOk: string; swapTypeAsSecondary: string } | null;
}

test("the vector set is complete", () => {
	assert.equal(cases.length, 12);
	for (const c of cases) assert.equal(sha256Hex(read(c.sidecar.image)), c.sidecar.image_sha256, `${c.name}: image sha256`);
});

describe("dumpinfo -f json agrees with the sidecars", { concurrency: 4 }, () => {
	for (const c of cases) {
		test(c.name, async () => {
			const e = c.sidecar.expected;
			const args = ["dumpinfo", "-f", "json", c.sidecar.image];
			const r = await sealdrop(args);
			assert.equal(r.code, 0, describeRun(args, r));
			const info = JSON.parse(r.stdout.toString()) as Dump;
			const bytes = read(c.sidecar.image);
			const layout = nobleParse(bytes);

			assert.equal(info.size, bytes.length);
			assert.equal(info.header.version, e.version);
			assert.equal(info.header.version, versionText(e.version_tuple));
			assert.equal(info.header.flags, e.flags);
			assert.deepEqual(info.header.flagNames, e.flag_names);
			assert.equal(info.header.loadAddr, e.load_addr);
			assert.equal(info.header.hdrSize, e.header_size);
			assert.equal(info.header.imgSize, e.img_size);
			assert.equal(info.header.protectTlvSize, layout.protectTlvSize);
			assert.equal(info.imageSize, layout.end);

			// TLV names: the sidecar's kinds, in the order they are stored in the file
			const expectedNames = [e.hash_tlv, e.key_tlv, e.sig_tlv, ...(e.sig_pure ? ["SIG_PURE"] : []), ...(e.enc_tlv ? [e.enc_tlv] : [])];
			assert.deepEqual([...info.tlvs.map((t) => t.name)].sort(), [...expectedNames].sort(), "TLV names");
			assert.deepEqual(info.tlvs.map((t) => t.type), layout.tlvs.map((t) => t.type), "TLV order");
			assert.deepEqual(info.tlvs.map((t) => [t.offset, t.length]), layout.tlvs.map((t) => [t.offset, t.value.length]), "TLV offsets and lengths");

			if (e.enc_tlv) {
				const enc = info.tlvs.find((t) => t.name === e.enc_tlv);
				assert.equal(enc?.length, e.enc_tlv_len, "ENC TLV length");
				assert.deepEqual(info.encryption, { aesKeyBits: e.aes_key_bits, encTlv: e.enc_tlv, sealable: false });
			} else assert.equal(info.encryption, null);

			const secCnt = info.protectedTlvs.find((t) => t.name === "SEC_CNT");
			assert.equal(secCnt?.securityCounter ?? null, e.security_counter, "security counter");
			const deps = info.protectedTlvs.filter((t) => t.name === "DEPENDENCY").map((t) => ({ image_id: t.imageId, min_version: t.minVersion }));
			assert.deepEqual(deps, e.dependencies.map((d) => ({ image_id: d.image_id, min_version: versionText(d.min_version) })), "dependencies");

			if (e.trailer) {
				assert.ok(e.padded && info.trailer);
				assert.equal(info.size, e.file_size);
				assert.equal(info.trailer.slotSize, e.slot_size);
				assert.equal(info.trailer.maxAlign, e.trailer.max_align);
				assert.equal(info.trailer.erasedVal, e.trailer.erased_val);
				assert.equal(info.trailer.magic, "good");
				assert.equal(info.trailer.imageOk, e.trailer.image_ok === 1 ? "set" : "unset");
				assert.equal(info.trailer.swapTypeAsSecondary, e.trailer.image_ok === 1 ? "PERM" : "TEST");
				assert.equal(Buffer.from(bytes.subarray(bytes.length - 16)).toString("hex"), e.trailer.magic_hex, "magic bytes");
			} else {
				assert.equal(info.trailer, null);
				assert.equal(info.size, layout.end, "nothing after the TLV area");
			}
			assert.ok(bytes.subarray(32, e.header_size).every((b) => b === e.header_fill_byte), "header fill");
		});
	}
});

describe("verify -k SIGN_PUB [--device-key DEV] exits 0", { concurrency: 4 }, () => {
	for (const c of cases) {
		test(c.name, async () => {
			const e = c.sidecar.expected, keys = vectorKeys(c.sidecar);
			const args = ["verify", "-f", "json", "-k", keys.sign_public, ...(keys.enc_private_device ? ["--device-key", keys.enc_private_device] : []), c.sidecar.image];
			const r = await sealdrop(args);
			assert.equal(r.code, 0, describeRun(args, r));
			const out = JSON.parse(r.stdout.toString()) as { ok: boolean; version: string; hash: string; digest: string; body: string; signature: string };
			const hashTlv = nobleParse(read(c.sidecar.image)).tlvs.find((t) => t.type >= T.SHA256 && t.type <= T.SHA512)!;
			assert.equal(out.ok, true);
			assert.equal(out.version, e.version);
			assert.equal(out.hash, e.hash_tlv.toLowerCase());
			assert.equal(out.digest, Buffer.from(hashTlv.value).toString("hex"));
			assert.equal(out.signature, "verified");
			assert.equal(out.body, e.payload_ciphertext ? "ciphertext" : "plaintext");
		});
	}
});

describe("encrypted vectors", { concurrency: 4 }, () => {
	for (const c of cases.filter((v) => v.sidecar.expected.payload_ciphertext)) {
		const keys = vectorKeys(c.sidecar);
		test(`${c.name}: verify without --device-key fails with exit 1, as imgtool`, async () => {
			const args = ["verify", "-k", keys.sign_public, c.sidecar.image];
			const r = await sealdrop(args);
			assert.equal(r.code, 1, describeRun(args, r));
			assert.match(r.stderr, /E_HASH/);
		});
		test(`${c.name}: verify with another device key fails with exit 1 (E_DEVICE_KEY)`, async () => {
			const wrong = keys.enc_private_wrong ?? "keys/enc-x25519-other.pem";
			const args = ["verify", "-k", keys.sign_public, "--device-key", wrong, c.sidecar.image];
			const r = await sealdrop(args);
			assert.equal(r.code, 1, describeRun(args, r));
			assert.match(r.stderr, /E_DEVICE_KEY/);
		});
		test(`${c.name}: decrypt gives the recorded plaintext`, async () => {
			const out = path.join(tmp.dir, `${c.name}.decrypted.bin`);
			const args = ["decrypt", "--device-key", keys.enc_private_device!, "-o", out, c.sidecar.image];
			const r = await sealdrop(args);
			assert.equal(r.code, 0, describeRun(args, r));
			const clear = new Uint8Array(fs.readFileSync(out));
			const original = read(c.sidecar.image);
			const e = c.sidecar.expected;
			assert.equal(clear.length, original.length);
			assertPlaintext(c, clear.subarray(e.header_size, e.header_size + e.img_size));
			// everything but the body is left as it was
			assert.deepEqual(clear.subarray(0, e.header_size), original.subarray(0, e.header_size));
			assert.deepEqual(clear.subarray(e.header_size + e.img_size), original.subarray(e.header_size + e.img_size));
		});
	}
});

describe("the --clear vector (enc_x25519_clear)", () => {
	const c = cases.find((v) => v.name === "enc_x25519_clear")!;
	const keys = vectorKeys(c.sidecar);
	let sealed: string;

	test("verifies without a device key: its body is plaintext", async () => {
		const args = ["verify", "-k", keys.sign_public, c.sidecar.image];
		const r = await sealdrop(args);
		assert.equal(r.code, 0, describeRun(args, r));
	});

	test("seal --device-pub keys/enc-x25519.pub.pem", async () => {
		sealed = path.join(tmp.dir, "clear-sealed.bin");
		const args = ["seal", "--device-pub", "keys/enc-x25519.pub.pem", "-o", sealed, c.sidecar.image];
		const r = await sealdrop(args);
		assert.equal(r.code, 0, describeRun(args, r));
		const bytes = new Uint8Array(fs.readFileSync(sealed));
		const original = read(c.sidecar.image);
		const e = c.sidecar.expected;
		assert.deepEqual(bytes.subarray(0, e.header_size), original.subarray(0, e.header_size), "header unchanged");
		assert.notDeepEqual(bytes.subarray(e.header_size, e.header_size + 64), original.subarray(e.header_size, e.header_size + 64), "body encrypted");
		const result = nobleCheck(bytes, { signer: nobleSigner(read(keys.sign_public)), device: nobleDevice(read("keys/enc-x25519.pem")), bodyEncrypted: true });
		assertPlaintext(c, result.plaintextBody);
		assert.equal(result.image.tlvs.filter((t) => t.type === T.ENC_X25519).length, 1, "one ENC_X25519 TLV (the old one replaced)");
	});

	test("the sealed image verifies with --device-key keys/enc-x25519.pem", async () => {
		const args = ["verify", "-f", "json", "-k", keys.sign_public, "--device-key", "keys/enc-x25519.pem", sealed];
		const r = await sealdrop(args);
		assert.equal(r.code, 0, describeRun(args, r));
		assert.equal((JSON.parse(r.stdout.toString()) as { body: string }).body, "ciphertext");
	});

	test("the sealed image is refused with keys/enc-x25519-other.pem (exit 1, E_DEVICE_KEY)", async () => {
		const args = ["verify", "-k", keys.sign_public, "--device-key", "keys/enc-x25519-other.pem", sealed];
		const r = await sealdrop(args);
		assert.equal(r.code, 1, describeRun(args, r));
		assert.match(r.stderr, /E_DEVICE_KEY/);
	});
});

describe("the independent noble checker accepts every imgtool vector", () => {
	for (const c of cases) {
		test(c.name, () => {
			const keys = vectorKeys(c.sidecar), e = c.sidecar.expected;
			const result = nobleCheck(read(c.sidecar.image), {
				signer: nobleSigner(read(keys.sign_public)),
				device: keys.enc_private_device ? nobleDevice(read(keys.enc_private_device)) : undefined,
				bodyEncrypted: e.payload_ciphertext,
			});
			assertPlaintext(c, result.plaintextBody);
			assert.equal(result.aesKeyBytes * 8, e.aes_key_bits ?? 0);
			if (e.enc_tlv) assert.equal(result.aesKey?.length, (e.aes_key_bits ?? 0) / 8, "ENC TLV opened");
			if (keys.enc_private_wrong && e.enc_tlv) {
				assert.throws(() => nobleCheck(read(c.sidecar.image), {
					device: nobleDevice(read(keys.enc_private_wrong!)), bodyEncrypted: e.payload_ciphertext,
				}), /ENC: HMAC tag/);
			}
		});
	}
});
