/**
 * The CLI's failure contract, row by row: every bad input makes `sealdrop` print exactly one line
 * `sealdrop: E_CODE: message` on stderr (no stack trace, no "internal error") and exit with the
 * code documented for E_CODE (1 image does not check out, 2 usage, 3 malformed input, 4 file
 * error), writing no output file. Inputs are the imgtool vectors, cut or altered at the byte the
 * row names (offsets found with the independent reader in helpers/cli.ts, reference §A).
 * Ends with a bounded, seeded fuzz loop run in-process through `main(argv)`.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import { main } from "../../host/cli/main.js";
import {
	assertNoCrash, CODE_EXIT, ERROR_LINE, expectFailure, expectOk, expectOneOf, findTlv, prng, putU16le, putU32le, rawLayout,
	runCli, stderrLines, tempDir, u32le, vec, type CliResult,
} from "../helpers/cli.js";

const tmp = tempDir("sealdrop-cli-errors-");
after(() => tmp.cleanup());

const KEYS = {
	p256: vec("keys/sign-ecdsa-p256.pem"),
	p256pub: vec("keys/sign-ecdsa-p256.pub.pem"),
	p384: vec("keys/sign-ecdsa-p384.pem"),
	p384pub: vec("keys/sign-ecdsa-p384.pub.pem"),
	ed25519: vec("keys/sign-ed25519.pem"),
	ed25519pub: vec("keys/sign-ed25519.pub.pem"),
	rsa: vec("keys/sign-rsa-2048.pem"),
	rsapub: vec("keys/sign-rsa-2048.pub.pem"),
	encEc256: vec("keys/enc-ec256.pem"),
	encEc256pub: vec("keys/enc-ec256.pub.pem"),
	encX25519: vec("keys/enc-x25519.pem"),
	encX25519pub: vec("keys/enc-x25519.pub.pem"),
	encX25519other: vec("keys/enc-x25519-other.pem"),
	encRsa: vec("keys/enc-rsa-2048.pem"),
} as const;

const IMG = (name: string) => vec(`images/${name}.bin`);
const PAYLOAD = vec("payloads/p100k.bin");
const PAYLOAD_ODD = vec("payloads/p_odd.bin");
/** A sign command line that succeeds (before the row changes one thing). */
const SIGN = ["sign", "-k", KEYS.p256, "-v", "1.2.3", "-H", "0x200", "--pad-header", "-S", "0x60000"];

const E = CODE_EXIT;
let serial = 0;

/** A copy of a vector image, changed by `edit`, in the temp dir. */
function altered(name: string, edit: (b: Uint8Array) => void): string {
	const bytes = new Uint8Array(fs.readFileSync(IMG(name)));
	edit(bytes);
	const file = tmp.file(`${name}-${++serial}.bin`);
	fs.writeFileSync(file, bytes);
	return file;
}

function cut(name: string, length: number): string {
	const bytes = fs.readFileSync(IMG(name));
	assert.ok(length < bytes.length);
	const file = tmp.file(`${name}-cut${length}-${++serial}.bin`);
	fs.writeFileSync(file, bytes.subarray(0, length));
	return file;
}

function layoutOf(name: string) {
	return rawLayout(new Uint8Array(fs.readFileSync(IMG(name))));
}

/** A fresh output path that must still not exist after a failing command. */
function outPath(ext = "bin"): string {
	return tmp.file(`out-${++serial}.${ext}`);
}

function expectNotWritten(file: string): void {
	assert.equal(fs.existsSync(file), false, `${file} was written by a failing command`);
}

/** Runs `args` (OUT replaced by a fresh path) and checks the failure and that OUT was not written. */
function fails(args: readonly string[], code: string, what = ""): CliResult {
	const out = outPath();
	const r = runCli(args.map((a) => (a === "OUT" ? out : a)));
	expectFailure(r, code, E[code], what || args.join(" "));
	expectNotWritten(out);
	return r;
}

/** Runs the CLI's `main(argv)` in this process, capturing what it writes to stdout and stderr. */
async function runInProcess(args: readonly string[]): Promise<CliResult> {
	const out: string[] = [];
	const err: string[] = [];
	const stdoutWrite = process.stdout.write;
	const stderrWrite = process.stderr.write;
	const capture = (sink: string[]) => ((chunk: string | Uint8Array, ...rest: unknown[]) => {
		sink.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
		const callback = rest.find((r) => typeof r === "function") as (() => void) | undefined;
		callback?.();
		return true;
	}) as typeof process.stdout.write;
	process.stdout.write = capture(out);
	process.stderr.write = capture(err);
	let status: number;
	try {
		status = await main([...args]);
	} finally {
		process.stdout.write = stdoutWrite;
		process.stderr.write = stderrWrite;
	}
	return { status, stdout: out.join(""), stderr: err.join("") };
}

describe("truncation at every region boundary → E_TRUNCATED (exit 3)", () => {
	const cases: { image: string; verify: string[] }[] = [
		{ image: "signed_ecdsa_p256", verify: ["-k", KEYS.p256pub] },
		{ image: "seccnt_explicit", verify: ["-k", KEYS.p256pub] },
		{ image: "enc_ec256_aes128", verify: ["-k", KEYS.p256pub, "--device-key", KEYS.encEc256] },
	];
	for (const { image, verify } of cases) {
		const L = layoutOf(image);
		const lastTlv = L.unprotectedTlvs[L.unprotectedTlvs.length - 1];
		const points: [string, number][] = [
			["an empty file", 0],
			["inside the 32-byte header", 17],
			["at 32, the end of struct image_header", 32],
			["inside the header fill", 100],
			["at hdr_size", L.hdrSize],
			["inside the body", L.hdrSize + 1000],
			["at the TLV offset (hdr_size + img_size)", L.tlvOffset],
			["inside the first TLV info header", L.tlvOffset + 2],
		];
		if (L.protectTlvSize) {
			points.push(
				["inside the protected area, after its info header", L.tlvOffset + 4],
				["inside the protected area, in a TLV value", L.protectedTlvs[0].offset + 4 + 1],
				["at the end of the protected area", L.tlvOffset + L.protectTlvSize],
				["inside the unprotected info header", L.unprotectedOffset + 2],
			);
		}
		points.push(
			["right after the unprotected info header", L.unprotectedOffset + 4],
			["inside a TLV header", L.unprotectedOffset + 4 + 2],
			["inside a TLV value (the first)", L.unprotectedTlvs[0].offset + 4 + 5],
			["inside a TLV value (the last)", lastTlv.offset + 4 + 5],
			["one byte before the end", L.end - 1],
		);
		for (const [where, length] of points) {
			test(`${image} cut ${where} (${length} bytes): verify and dumpinfo -o say E_TRUNCATED`, async () => {
				const file = cut(image, length);
				expectFailure(runCli(["verify", ...verify, file]), "E_TRUNCATED", 3, "verify");
				// dumpinfo through main() in this process (same code as the launcher runs; one spawn per row keeps this fast)
				const dumpOut = outPath("txt");
				expectFailure(await runInProcess(["dumpinfo", "-o", dumpOut, file]), "E_TRUNCATED", 3, "dumpinfo");
				expectNotWritten(dumpOut);
			});
		}
	}
});

describe("malformed structure → exit 3", () => {
	/** verify as a process, dumpinfo -f json through main() in this process (same code, no spawn). */
	const both = async (file: string, code: string, verifyArgs: string[] = []) => {
		expectFailure(runCli(["verify", ...verifyArgs, file]), code, 3, "verify");
		const r = await runInProcess(["dumpinfo", "-f", "json", file]);
		expectFailure(r, code, 3, "dumpinfo");
		// -f json: nothing but the failure itself on stdout, as one JSON object (issue 17)
		assert.deepEqual(JSON.parse(r.stdout), { ok: false, code, message: ERROR_LINE.exec(stderrLines(r)[0])![0].replace(/^sealdrop: E_[A-Z_]+: /, "") }, "dumpinfo -f json failure");
	};

	test("wrong header magic → E_BAD_MAGIC", async () => {
		await both(altered("signed_ecdsa_p256", (b) => { b[0] ^= 0x01; }), "E_BAD_MAGIC", ["-k", KEYS.p256pub]);
		// IMAGE_MAGIC_V1 (0x96f3b83c) is not accepted either
		await both(altered("signed_ecdsa_p256", (b) => putU32le(b, 0, 0x96f3b83c)), "E_BAD_MAGIC");
		// an erased slot
		await both(altered("signed_ecdsa_p256", (b) => putU32le(b, 0, 0xffffffff)), "E_BAD_MAGIC");
	});

	test("not an image at all (a payload, a key file) → E_BAD_MAGIC", async () => {
		await both(PAYLOAD, "E_BAD_MAGIC");
		await both(KEYS.p256, "E_BAD_MAGIC");
	});

	test("wrong unprotected TLV info magic → E_BAD_MAGIC", async () => {
		for (const name of ["signed_ecdsa_p256", "seccnt_explicit"]) {
			const L = layoutOf(name);
			await both(altered(name, (b) => putU16le(b, L.unprotectedOffset, 0x6906)), "E_BAD_MAGIC", ["-k", KEYS.p256pub]);
		}
	});

	test("hdr_size below 32 → E_HEADER_SIZE", async () => {
		for (const size of [0, 16, 31]) await both(altered("signed_ecdsa_p256", (b) => putU16le(b, 8, size)), "E_HEADER_SIZE");
	});

	test("ih_protect_tlv_size disagrees with the 0x6908 area → E_PROT_SIZE", async () => {
		const L = layoutOf("seccnt_explicit");
		assert.equal(L.protectTlvSize, 12);
		// header says 16, area says 12
		await both(altered("seccnt_explicit", (b) => putU16le(b, 10, 16)), "E_PROT_SIZE");
		// header says 12, area's tot says 16
		await both(altered("seccnt_explicit", (b) => putU16le(b, L.tlvOffset + 2, 16)), "E_PROT_SIZE");
		// header says 0 but a 0x6908 area follows the body
		await both(altered("seccnt_explicit", (b) => putU16le(b, 10, 0)), "E_PROT_SIZE");
	});

	test("header announces a protected area but none follows → E_PROT_SIZE", async () => {
		await both(altered("signed_ecdsa_p256", (b) => putU16le(b, 10, 12)), "E_PROT_SIZE");
	});

	test("a TLV length running past its area → E_TLV_OVERRUN", async () => {
		const L = layoutOf("signed_ecdsa_p256");
		const last = L.unprotectedTlvs[L.unprotectedTlvs.length - 1];
		await both(altered("signed_ecdsa_p256", (b) => putU16le(b, last.offset + 2, last.value.length + 1)), "E_TLV_OVERRUN");
		await both(altered("signed_ecdsa_p256", (b) => putU16le(b, L.unprotectedTlvs[0].offset + 2, 0xffff)), "E_TLV_OVERRUN");
		// in the protected area too
		const P = layoutOf("seccnt_explicit");
		await both(altered("seccnt_explicit", (b) => putU16le(b, P.protectedTlvs[0].offset + 2, 5)), "E_TLV_OVERRUN");
		// an area whose tot is smaller than its own info header
		await both(altered("signed_ecdsa_p256", (b) => putU16le(b, L.unprotectedOffset + 2, 2)), "E_TLV_OVERRUN");
	});

	test("a known TLV with the wrong length → E_TLV_VALUE", async () => {
		const L = layoutOf("signed_ecdsa_p256");
		const hash = findTlv(L, 0x10);
		// the 32-byte SHA256 TLV relabelled SHA384 (which must be 48 bytes)
		await both(altered("signed_ecdsa_p256", (b) => putU16le(b, hash.offset, 0x11)), "E_TLV_VALUE");
	});

	test("both AES flags set → E_FLAGS", async () => {
		await both(altered("signed_ecdsa_p256", (b) => putU32le(b, 16, u32le(b, 16) | 0x0c)), "E_FLAGS");
		await both(altered("enc_ec256_aes128", (b) => putU32le(b, 16, u32le(b, 16) | 0x08)), "E_FLAGS", ["--device-key", KEYS.encEc256]);
	});

	test("AES-256 flag on an image whose ENC TLV wraps a 128-bit key → E_ENC_TLV", async () => {
		const file = altered("enc_ec256_aes128", (b) => putU32le(b, 16, (u32le(b, 16) & ~0x04) | 0x08));
		expectFailure(runCli(["verify", "--device-key", KEYS.encEc256, file]), "E_ENC_TLV", 3);
	});
});

describe("the image does not check out → exit 1", () => {
	test("a body byte flipped → E_HASH", () => {
		const L = layoutOf("signed_ecdsa_p256");
		const file = altered("signed_ecdsa_p256", (b) => { b[L.hdrSize + 1234] ^= 0x40; });
		expectFailure(runCli(["verify", file]), "E_HASH", 1, "verify");
		expectFailure(runCli(["verify", "-k", KEYS.p256pub, file]), "E_HASH", 1, "verify -k");
		expectFailure(runCli(["verify", "-f", "json", file]), "E_HASH", 1, "verify -f json");
	});

	test("a header fill byte or a protected TLV byte flipped → E_HASH (both are hashed)", () => {
		expectFailure(runCli(["verify", altered("seccnt_explicit", (b) => { b[0x80] ^= 1; })]), "E_HASH", 1, "header fill");
		const L = layoutOf("seccnt_explicit");
		expectFailure(runCli(["verify", altered("seccnt_explicit", (b) => { b[L.protectedTlvs[0].offset + 4] ^= 1; })]), "E_HASH", 1, "SEC_CNT value");
		// the version in the header
		expectFailure(runCli(["verify", altered("seccnt_explicit", (b) => { b[20] ^= 1; })]), "E_HASH", 1, "header version");
	});

	test("an encrypted body byte flipped, checked with the device key → E_HASH", () => {
		const L = layoutOf("enc_ec256_aes128");
		const file = altered("enc_ec256_aes128", (b) => { b[L.hdrSize + 99] ^= 1; });
		expectFailure(runCli(["verify", "-k", KEYS.p256pub, "--device-key", KEYS.encEc256, file]), "E_HASH", 1);
	});

	test("the hash TLV value flipped → E_HASH", () => {
		const L = layoutOf("signed_ed25519");
		const hash = findTlv(L, 0x10);
		expectFailure(runCli(["verify", altered("signed_ed25519", (b) => { b[hash.offset + 4 + 7] ^= 0x80; })]), "E_HASH", 1);
	});

	test("a byte inside the ECDSA signature TLV flipped → E_SIGNATURE", () => {
		for (const [name, pub] of [["signed_ecdsa_p256", KEYS.p256pub], ["signed_ecdsa_p384", KEYS.p384pub]] as const) {
			const sig = findTlv(layoutOf(name), 0x22);
			// well inside r (DER: 30 len 02 len r...), so the DER stays well-formed
			const file = altered(name, (b) => { b[sig.offset + 4 + 12] ^= 0x01; });
			expectFailure(runCli(["verify", "-k", pub, file]), "E_SIGNATURE", 1, name);
			// the private key works as the check key as well
			expectFailure(runCli(["verify", "-k", name === "signed_ecdsa_p256" ? KEYS.p256 : KEYS.p384, file]), "E_SIGNATURE", 1, `${name} private`);
			// without a key only the hash is checked, which still holds
			expectOk(runCli(["verify", file]), `${name} without -k`);
		}
	});

	test("a byte inside the ECDSA signature's DER framing flipped → E_SIGNATURE", () => {
		const sig = findTlv(layoutOf("signed_ecdsa_p256"), 0x22);
		const file = altered("signed_ecdsa_p256", (b) => { b[sig.offset + 4 + 2] ^= 0x01; });
		expectFailure(runCli(["verify", "-k", KEYS.p256pub, file]), "E_SIGNATURE", 1);
	});

	test("the Ed25519 signature altered → E_SIGNATURE", () => {
		const sig = findTlv(layoutOf("signed_ed25519"), 0x24);
		for (const at of [0, 31, 63]) {
			const file = altered("signed_ed25519", (b) => { b[sig.offset + 4 + at] ^= 0x10; });
			expectFailure(runCli(["verify", "-k", KEYS.ed25519pub, file]), "E_SIGNATURE", 1, `byte ${at}`);
		}
	});

	test("the RSA-PSS signature altered → E_SIGNATURE", () => {
		const sig = findTlv(layoutOf("signed_rsa2048"), 0x20);
		const file = altered("signed_rsa2048", (b) => { b[sig.offset + 4 + 100] ^= 0x01; });
		expectFailure(runCli(["verify", "-k", KEYS.rsapub, file]), "E_SIGNATURE", 1);
	});

	test("verify with another key of the same type (from sealdrop keygen) → E_WRONG_SIGNER", () => {
		for (const [type, image] of [["ecdsa-p256", "signed_ecdsa_p256"], ["ed25519", "signed_ed25519"], ["ecdsa-p384", "signed_ecdsa_p384"]] as const) {
			const other = tmp.file(`other-${type}.pem`);
			expectOk(runCli(["keygen", "-k", other, "-t", type]), `keygen ${type}`);
			expectFailure(runCli(["verify", "-k", other, IMG(image)]), "E_WRONG_SIGNER", 1, type);
			// and its public half
			const otherPub = tmp.file(`other-${type}.pub.pem`);
			expectOk(runCli(["getpub", "-k", other, "-e", "pem", "-o", otherPub]));
			expectFailure(runCli(["verify", "-k", otherPub, IMG(image)]), "E_WRONG_SIGNER", 1, `${type} public`);
		}
	});

	test("verify with a key of another type → E_WRONG_SIGNER", () => {
		expectFailure(runCli(["verify", "-k", KEYS.ed25519pub, IMG("signed_ecdsa_p256")]), "E_WRONG_SIGNER", 1);
	});

	test("verify -k on an image carrying only a hash → E_NO_SIGNATURE", () => {
		const unsigned = tmp.file("unsigned.bin");
		expectOk(runCli(["sign", "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", PAYLOAD_ODD, unsigned]));
		expectOk(runCli(["verify", unsigned]), "verify without a key");
		expectFailure(runCli(["verify", "-k", KEYS.p256pub, unsigned]), "E_NO_SIGNATURE", 1);
	});

	test("verify --device-key with a key the image was not sealed for → E_DEVICE_KEY", () => {
		expectFailure(runCli(["verify", "--device-key", KEYS.encX25519other, IMG("enc_x25519_aes256")]), "E_DEVICE_KEY", 1, "other x25519 key");
		expectFailure(runCli(["verify", "--device-key", KEYS.encX25519, IMG("enc_ec256_aes128")]), "E_DEVICE_KEY", 1, "ec256 image, x25519 key");
		expectFailure(runCli(["verify", "--device-key", KEYS.encEc256, IMG("enc_rsa2048_aes128")]), "E_DEVICE_KEY", 1, "rsa image, ec256 key");
		expectFailure(runCli(["verify", "--device-key", KEYS.encRsa, IMG("enc_x25519_aes256")]), "E_DEVICE_KEY", 1, "x25519 image, rsa key");
		const other = tmp.file("other-ec256.pem");
		expectOk(runCli(["keygen", "-k", other, "-t", "ecdsa-p256"]));
		expectFailure(runCli(["verify", "--device-key", other, IMG("enc_ec256_aes128")]), "E_DEVICE_KEY", 1, "other ec256 key");
	});

	test("decrypt with the wrong device key → E_DEVICE_KEY, no output", () => {
		fails(["decrypt", "--device-key", KEYS.encX25519other, "-o", "OUT", IMG("enc_x25519_aes256")], "E_DEVICE_KEY");
	});

	test("ENC_EC256 tag tampered (bytes 65..97) → E_DEVICE_KEY", () => {
		const enc = findTlv(layoutOf("enc_ec256_aes128"), 0x32);
		assert.equal(enc.value.length, 65 + 32 + 16);
		for (const at of [65, 80, 96]) {
			const file = altered("enc_ec256_aes128", (b) => { b[enc.offset + 4 + at] ^= 0x01; });
			expectFailure(runCli(["verify", "--device-key", KEYS.encEc256, file]), "E_DEVICE_KEY", 1, `tag byte ${at}`);
			fails(["decrypt", "--device-key", KEYS.encEc256, "-o", "OUT", file], "E_DEVICE_KEY", `decrypt, tag byte ${at}`);
		}
	});

	test("ENC_EC256 encrypted key tampered (bytes 97..113) → E_DEVICE_KEY (the tag covers it)", () => {
		const enc = findTlv(layoutOf("enc_ec256_aes128"), 0x32);
		const file = altered("enc_ec256_aes128", (b) => { b[enc.offset + 4 + 100] ^= 0x01; });
		expectFailure(runCli(["verify", "--device-key", KEYS.encEc256, file]), "E_DEVICE_KEY", 1);
	});

	test("ENC_X25519 tag or ephemeral key tampered → E_DEVICE_KEY", () => {
		const enc = findTlv(layoutOf("enc_x25519_aes256"), 0x33);
		assert.equal(enc.value.length, 32 + 32 + 32);
		for (const at of [5, 40]) {
			const file = altered("enc_x25519_aes256", (b) => { b[enc.offset + 4 + at] ^= 0x01; });
			expectFailure(runCli(["verify", "--device-key", KEYS.encX25519, file]), "E_DEVICE_KEY", 1, `byte ${at}`);
		}
	});

	test("ENC_RSA2048 tampered → E_DEVICE_KEY", () => {
		const enc = findTlv(layoutOf("enc_rsa2048_aes128"), 0x30);
		const file = altered("enc_rsa2048_aes128", (b) => { b[enc.offset + 4 + 128] ^= 0x01; });
		expectFailure(runCli(["verify", "--device-key", KEYS.encRsa, file]), "E_DEVICE_KEY", 1);
	});

	test("ENC_EC256 ephemeral point tampered → E_ENC_TLV (not a point) or E_DEVICE_KEY, one line", () => {
		const enc = findTlv(layoutOf("enc_ec256_aes128"), 0x32);
		const seen = new Set<string>();
		// the point prefix (04 = uncompressed), bytes of X and of Y
		for (const [at, mask] of [[0, 0x01], [1, 0x01], [10, 0x80], [33, 0x01], [64, 0x02]]) {
			const file = altered("enc_ec256_aes128", (b) => { b[enc.offset + 4 + at] ^= mask; });
			seen.add(expectOneOf(runCli(["verify", "--device-key", KEYS.encEc256, file]), { E_ENC_TLV: 3, E_DEVICE_KEY: 1 }, `byte ${at}`));
		}
		assert.ok(seen.size > 0);
	});
});

describe("bad command lines → exit 2", () => {
	for (const version of ["1.2.3.4", "01.2", "256.0.0", "abc", "1.2.65536", "1.2.3+4294967296", "", "1..2", "-1.0.0"]) {
		test(`sign -v ${JSON.stringify(version)} → E_VERSION`, () => {
			assert.equal(SIGN[3], "-v");
			fails([...SIGN.map((a, i) => (i === 4 ? version : a)), PAYLOAD_ODD, "OUT"], "E_VERSION");
		});
	}

	test("sign -d with a bad dependency version → E_VERSION", () => {
		fails([...SIGN, "-d", "(1, 1.256.0)", PAYLOAD_ODD, "OUT"], "E_VERSION");
	});

	test("unknown command → E_USAGE", () => {
		expectFailure(runCli(["frobnicate"]), "E_USAGE", 2);
		expectFailure(runCli(["keyinfo", "-k", KEYS.p256]), "E_USAGE", 2);
	});

	test("unknown option → E_USAGE", () => {
		expectFailure(runCli(["verify", "--bogus", IMG("signed_ed25519")]), "E_USAGE", 2, "--bogus");
		expectFailure(runCli(["dumpinfo", "-z", IMG("signed_ed25519")]), "E_USAGE", 2, "-z");
		expectFailure(runCli(["verify", "--bogus=1", IMG("signed_ed25519")]), "E_USAGE", 2, "--bogus=1");
		fails([...SIGN, "--bogus-option", "x", PAYLOAD_ODD, "OUT"], "E_USAGE", "sign --bogus-option");
	});

	test("missing required option → E_USAGE", () => {
		fails(["sign", "-k", KEYS.p256, "-H", "0x200", "--pad-header", "-S", "0x60000", PAYLOAD_ODD, "OUT"], "E_USAGE", "sign without -v");
		fails(["sign", "-k", KEYS.p256, "-v", "1.0.0", "--pad-header", "-S", "0x60000", PAYLOAD_ODD, "OUT"], "E_USAGE", "sign without -H");
		fails(["sign", "-k", KEYS.p256, "-v", "1.0.0", "-H", "0x200", "--pad-header", PAYLOAD_ODD, "OUT"], "E_USAGE", "sign without -S");
		expectFailure(runCli(["keygen", "-t", "ed25519"]), "E_USAGE", 2, "keygen without -k");
		fails(["keygen", "-k", "OUT"], "E_USAGE", "keygen without -t");
		expectFailure(runCli(["getpub"]), "E_USAGE", 2, "getpub without -k");
		fails(["decrypt", "-o", "OUT", IMG("enc_ec256_aes128")], "E_USAGE", "decrypt without --device-key");
		fails(["seal", "-o", "OUT", IMG("enc_x25519_clear")], "E_USAGE", "seal without --device-pub or --fleet");
		fails(["seal", "--device-pub", KEYS.encEc256pub, IMG("enc_x25519_clear")], "E_USAGE", "seal without -o");
	});

	test("an option without its value, a bad choice, a bad number → E_USAGE", () => {
		expectFailure(runCli(["verify", IMG("signed_ed25519"), "-k"]), "E_USAGE", 2, "-k at the end");
		expectFailure(runCli(["dumpinfo", "-f", "xml", IMG("signed_ed25519")]), "E_USAGE", 2, "-f xml");
		expectFailure(runCli(["keygen", "-k", tmp.file("never.pem"), "-t", "rsa-1024"]), "E_USAGE", 2, "-t rsa-1024");
		expectNotWritten(tmp.file("never.pem"));
		fails([...SIGN.slice(0, -1), "lots", PAYLOAD_ODD, "OUT"], "E_USAGE", "-S lots");
		fails([...SIGN, "--verbose=1", PAYLOAD_ODD, "OUT"], "E_USAGE", "--verbose=1");
		fails([...SIGN, "--pad-header=yes", PAYLOAD_ODD, "OUT"], "E_USAGE", "flag with a value");
	});

	test("wrong number of positionals → E_USAGE", () => {
		expectFailure(runCli(["verify"]), "E_USAGE", 2, "verify, no image");
		expectFailure(runCli(["verify", IMG("signed_ed25519"), IMG("signed_ed25519")]), "E_USAGE", 2, "verify, two images");
		expectFailure(runCli(["dumpinfo"]), "E_USAGE", 2, "dumpinfo, no image");
		expectFailure(runCli([...SIGN, PAYLOAD_ODD]), "E_USAGE", 2, "sign, no OUTFILE");
	});

	test("keygen -p (password-protected keys) → E_USAGE", () => {
		fails(["keygen", "-k", "OUT", "-t", "ed25519", "-p"], "E_USAGE");
	});
});

describe("slot too small → E_TOO_LARGE (exit 3)", () => {
	test("sign -S smaller than the input", () => {
		fails(["sign", "-k", KEYS.p256, "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x1000", PAYLOAD, "OUT"], "E_TOO_LARGE");
	});

	test("sign -S that fits the image but not its trailer", () => {
		// the hash-only image is 0x19228 bytes, but not with imgtool's trailer estimate (128 sectors: 0x1b0)
		fails(["sign", "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x19300", PAYLOAD, "OUT"], "E_TOO_LARGE");
		expectOk(runCli(["sign", "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x193d8", PAYLOAD, tmp.file("fits.bin")]));
	});

	test("verify -S too small for the image", () => {
		expectFailure(runCli(["verify", "-S", "0x1000", IMG("signed_ecdsa_p256")]), "E_TOO_LARGE", 3, "header already too large");
		const L = layoutOf("signed_ecdsa_p256");
		expectFailure(runCli(["verify", "-S", String(L.end - 1), IMG("signed_ecdsa_p256")]), "E_TOO_LARGE", 3, "one byte short");
		expectOk(runCli(["verify", "-S", String(L.end), IMG("signed_ecdsa_p256")]), "exactly the image size");
	});
});

describe("key files", () => {
	const random = tmp.file("random.key");
	const empty = tmp.file("empty.key");
	const garbagePriv = tmp.file("garbage-priv.pem");
	const garbagePub = tmp.file("garbage-pub.pem");
	const next = prng(0x5ea1d409);
	fs.writeFileSync(random, Uint8Array.from({ length: 300 }, () => Math.floor(next() * 256)));
	fs.writeFileSync(empty, "");
	fs.writeFileSync(garbagePriv, "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5LCBqdXN0IGdhcmJhZ2UgaW4gYSBQRU0gd3JhcHBlcg==\n-----END PRIVATE KEY-----\n");
	fs.writeFileSync(garbagePub, "-----BEGIN PUBLIC KEY-----\n!!!! this is not base64 !!!!\n-----END PUBLIC KEY-----\n");
	const missing = tmp.file("no-such-dir/missing.pem");

	test("a key file that cannot be read → E_KEY_READ (exit 4)", () => {
		expectFailure(runCli(["verify", "-k", missing, IMG("signed_ecdsa_p256")]), "E_KEY_READ", 4, "verify -k");
		fails(["sign", "-k", missing, "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", PAYLOAD_ODD, "OUT"], "E_KEY_READ", "sign -k");
		expectFailure(runCli(["getpub", "-k", missing]), "E_KEY_READ", 4, "getpub -k");
		expectFailure(runCli(["verify", "--device-key", missing, IMG("enc_ec256_aes128")]), "E_KEY_READ", 4, "verify --device-key");
		fails(["seal", "--device-pub", missing, "-o", "OUT", IMG("enc_x25519_clear")], "E_KEY_READ", "seal --device-pub");
		// a directory is not a readable key file either
		expectFailure(runCli(["getpub", "-k", tmp.dir]), "E_KEY_READ", 4, "a directory");
	});

	for (const [what, file] of [["random bytes", random], ["an empty file", empty], ["a PRIVATE KEY PEM with garbage", garbagePriv], ["a PUBLIC KEY PEM with garbage", garbagePub], ["an image", IMG("signed_ed25519")]] as const) {
		test(`a key file that is not a key (${what}) → E_KEY_FORMAT (exit 3)`, () => {
			expectFailure(runCli(["verify", "-k", file, IMG("signed_ecdsa_p256")]), "E_KEY_FORMAT", 3, "verify -k");
			fails(["sign", "-k", file, "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", PAYLOAD_ODD, "OUT"], "E_KEY_FORMAT", "sign -k");
			expectFailure(runCli(["getpub", "-k", file]), "E_KEY_FORMAT", 3, "getpub -k");
			fails(["seal", "--device-pub", file, "-o", "OUT", IMG("enc_x25519_clear")], "E_KEY_FORMAT", "seal --device-pub");
		});
	}

	test("an X25519 key as the signing key → E_KEY_TYPE", () => {
		fails([...SIGN.slice(0, 1), "-k", KEYS.encX25519, ...SIGN.slice(3), PAYLOAD_ODD, "OUT"], "E_KEY_TYPE");
	});

	test("a public key as the signing key → E_KEY_TYPE", () => {
		fails([...SIGN.slice(0, 1), "-k", KEYS.p256pub, ...SIGN.slice(3), PAYLOAD_ODD, "OUT"], "E_KEY_TYPE");
	});

	test("a public key as the device key → E_KEY_TYPE", () => {
		expectFailure(runCli(["verify", "--device-key", KEYS.encEc256pub, IMG("enc_ec256_aes128")]), "E_KEY_TYPE", 3);
		fails(["decrypt", "--device-key", KEYS.encEc256pub, "-o", "OUT", IMG("enc_ec256_aes128")], "E_KEY_TYPE");
	});

	test("an Ed25519 key as --device-pub for seal → E_KEY_TYPE", () => {
		fails(["seal", "--device-pub", KEYS.ed25519pub, "-o", "OUT", IMG("enc_x25519_clear")], "E_KEY_TYPE", "public");
		fails(["seal", "--device-pub", KEYS.ed25519, "-o", "OUT", IMG("enc_x25519_clear")], "E_KEY_TYPE", "private");
	});

	test("a P-384 key as -E → E_KEY_TYPE", () => {
		fails(["sign", "-k", KEYS.p384, "-E", KEYS.p384pub, "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", PAYLOAD_ODD, "OUT"], "E_KEY_TYPE");
		fails(["sign", "-E", KEYS.ed25519pub, "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", PAYLOAD_ODD, "OUT"], "E_KEY_TYPE", "Ed25519 as -E");
	});

	test("a key type Sealdrop does not use (P-521, RSA-1024) → E_KEY_TYPE", () => {
		const p521 = tmp.file("p521.pem");
		fs.writeFileSync(p521, crypto.generateKeyPairSync("ec", { namedCurve: "secp521r1" }).privateKey.export({ type: "pkcs8", format: "pem" }));
		const rsa1024 = tmp.file("rsa1024.pub.pem");
		fs.writeFileSync(rsa1024, crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" }));
		fails(["sign", "-k", p521, "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", PAYLOAD_ODD, "OUT"], "E_KEY_TYPE", "P-521 signing key");
		expectFailure(runCli(["verify", "-k", rsa1024, IMG("signed_rsa2048")]), "E_KEY_TYPE", 3, "RSA-1024 verify key");
	});
});

describe("seal refuses what it cannot seal → E_NOT_SEALABLE (exit 3)", () => {
	test("an already sealed (encrypted) image", () => {
		fails(["seal", "--device-pub", KEYS.encEc256pub, "-o", "OUT", IMG("enc_ec256_aes128")], "E_NOT_SEALABLE", "enc_ec256_aes128");
		fails(["seal", "--device-pub", KEYS.encX25519pub, "-o", "OUT", IMG("enc_x25519_aes256")], "E_NOT_SEALABLE", "enc_x25519_aes256");
	});

	test("a plain signed image (no ENCRYPTED flag)", () => {
		fails(["seal", "--device-pub", KEYS.encEc256pub, "-o", "OUT", IMG("signed_ecdsa_p256")], "E_NOT_SEALABLE");
	});

	test("the output of seal, sealed again", () => {
		const release = tmp.file("release.bin");
		const sealed = tmp.file("sealed-once.bin");
		expectOk(runCli([...SIGN, "--sealable", PAYLOAD_ODD, release]));
		expectOk(runCli(["seal", "--device-pub", KEYS.encEc256pub, "-o", sealed, release]));
		fails(["seal", "--device-pub", KEYS.encEc256pub, "-o", "OUT", sealed], "E_NOT_SEALABLE");
	});

	test("a malformed release → its parse error, not a seal", () => {
		fails(["seal", "--device-pub", KEYS.encEc256pub, "-o", "OUT", cut("enc_x25519_clear", 5000)], "E_TRUNCATED");
	});

	test("seal -k with the wrong release signer → E_WRONG_SIGNER, nothing written", () => {
		// enc_x25519_clear is signed with the Ed25519 key
		fails(["seal", "-k", KEYS.p256pub, "--device-pub", KEYS.encEc256pub, "-o", "OUT", IMG("enc_x25519_clear")], "E_WRONG_SIGNER");
		expectOk(runCli(["seal", "-k", KEYS.ed25519pub, "--device-pub", KEYS.encEc256pub, "-o", tmp.file("sealed-checked.bin"), IMG("enc_x25519_clear")]));
	});
});

describe("file errors → E_IO (exit 4)", () => {
	const missing = tmp.file("missing.bin");
	test("missing input file", () => {
		expectFailure(runCli(["dumpinfo", missing]), "E_IO", 4, "dumpinfo");
		expectFailure(runCli(["verify", "-k", KEYS.p256pub, missing]), "E_IO", 4, "verify");
		fails([...SIGN, missing, "OUT"], "E_IO", "sign");
		fails(["seal", "--device-pub", KEYS.encEc256pub, "-o", "OUT", missing], "E_IO", "seal");
		fails(["decrypt", "--device-key", KEYS.encEc256, "-o", "OUT", missing], "E_IO", "decrypt");
	});

	test("an input that is a directory", () => {
		expectFailure(runCli(["dumpinfo", tmp.dir]), "E_IO", 4);
	});

	test("an output that cannot be written", () => {
		const noDir = tmp.file("no-such-dir/out.bin");
		expectFailure(runCli([...SIGN, PAYLOAD_ODD, noDir]), "E_IO", 4, "sign");
		expectFailure(runCli(["dumpinfo", "-o", noDir, IMG("signed_ed25519")]), "E_IO", 4, "dumpinfo -o");
		expectFailure(runCli(["keygen", "-k", noDir, "-t", "ed25519"]), "E_IO", 4, "keygen");
		expectFailure(runCli(["getpub", "-k", KEYS.p256, "-o", tmp.dir]), "E_IO", 4, "getpub -o DIR");
	});
});

/* Fuzz: random single-byte changes and cuts of real images, in-process. */

test("fuzz: 300 seeded single-byte mutations and cuts never crash dumpinfo -f json or verify", async () => {
	const targets = [
		{ image: "signed_ed25519", verify: ["-k", KEYS.ed25519pub] },
		{ image: "seccnt_explicit", verify: ["-k", KEYS.p256pub] },
		{ image: "dependency", verify: [] as string[] },
		{ image: "enc_x25519_aes256", verify: ["--device-key", KEYS.encX25519] },
		{ image: "enc_ec256_aes128", verify: ["-k", KEYS.p256pub, "--device-key", KEYS.encEc256] },
		{ image: "pad_confirm", verify: [] as string[] },
	].map((t) => {
		const bytes = new Uint8Array(fs.readFileSync(IMG(t.image)));
		return { ...t, bytes, layout: rawLayout(bytes) };
	});
	const seed = 20240611;
	const next = prng(seed);
	const int = (n: number) => Math.floor(next() * n);
	const file = tmp.file("fuzz.bin");
	const exits = new Map<number, number>();
	const codes = new Map<string, number>();
	const ITERATIONS = 300;
	for (let i = 0; i < ITERATIONS; i++) {
		const t = targets[i % targets.length];
		const L = t.layout;
		let bytes: Uint8Array;
		let change: string;
		if (next() < 0.3) {
			// a cut, mostly near the structure rather than anywhere in the body
			const near = [0, 32, L.hdrSize, L.tlvOffset, L.unprotectedOffset, L.end];
			const length = next() < 0.7 ? Math.max(0, Math.min(t.bytes.length - 1, near[int(near.length)] + int(24) - 8)) : int(t.bytes.length);
			bytes = t.bytes.subarray(0, length);
			change = `cut at ${length}`;
		} else {
			// one byte changed: in the header, the TLV areas, the trailer, or anywhere
			const r = next();
			const at = r < 0.35 ? int(32)
				: r < 0.75 ? L.tlvOffset + int(L.end - L.tlvOffset)
				: r < 0.85 && t.bytes.length > L.end ? t.bytes.length - 1 - int(Math.min(64, t.bytes.length - L.end))
				: int(t.bytes.length);
			const value = next() < 0.5 ? t.bytes[at] ^ (1 << int(8)) : int(256);
			bytes = t.bytes.slice();
			bytes[at] = value;
			change = `byte ${at} = 0x${value.toString(16)}`;
		}
		fs.writeFileSync(file, bytes);
		for (const args of [["dumpinfo", "-f", "json", file], ["verify", ...t.verify, file]]) {
			const label = `iteration ${i} (seed ${seed}) ${t.image} ${change}: ${args[0]}`;
			const r = await runInProcess(args);
			assertNoCrash(r, label);
			assert.ok(r.status === 0 || r.status === 1 || r.status === 3, `${label}: exit ${r.status}, stderr ${JSON.stringify(r.stderr)}`);
			const lines = stderrLines(r);
			assert.ok(lines.length <= 1, `${label}: ${lines.length} stderr lines: ${JSON.stringify(r.stderr)}`);
			exits.set(r.status, (exits.get(r.status) ?? 0) + 1);
			if (r.status === 0) {
				assert.equal(r.stderr, "", `${label}: exit 0 but stderr ${JSON.stringify(r.stderr)}`);
				if (args[0] === "dumpinfo") assert.doesNotThrow(() => JSON.parse(r.stdout), `${label}: -f json output is not JSON`);
			} else {
				const m = ERROR_LINE.exec(lines[0] ?? "");
				assert.ok(m, `${label}: stderr ${JSON.stringify(r.stderr)} is not "sealdrop: E_CODE: message"`);
				assert.equal(r.status, CODE_EXIT[m[1]], `${label}: ${m[1]} exited ${r.status}, documented ${CODE_EXIT[m[1]]}`);
				codes.set(m[1], (codes.get(m[1]) ?? 0) + 1);
			}
		}
	}
	// the loop reached the parser's errors, not only hash mismatches
	for (const code of ["E_TRUNCATED", "E_HASH"]) assert.ok(codes.has(code), `fuzz never produced ${code}: ${JSON.stringify([...codes])}`);
	assert.ok(codes.size >= 5, `fuzz produced too few kinds of error: ${JSON.stringify([...codes])}`);
});
