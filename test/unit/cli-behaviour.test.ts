/**
 * What the `sealdrop` command does when used right (run as users run it: `node bin/sealdrop.js`):
 * help everywhere, JSON output that parses, keygen/getpub round trips and file modes, and sign's
 * options behaving as imgtool's (reference §A.2, §A.5, §D.2-§D.3, §E.1-§E.2, §E.8), checked on
 * the bytes of the images it writes, read with the independent reader in helpers/cli.ts and, where
 * an imgtool vector has the same thing, against imgtool's own bytes.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import {
	expectFailure, expectOk, findTlv, rawLayout, runCli, stderrLines, tempDir, u32le, vec, assertNoCrash,
} from "../helpers/cli.js";

const tmp = tempDir("sealdrop-cli-behaviour-");
after(() => tmp.cleanup());

const P256 = vec("keys/sign-ecdsa-p256.pem");
const P256_PUB = vec("keys/sign-ecdsa-p256.pub.pem");
const P384 = vec("keys/sign-ecdsa-p384.pem");
const RSA = vec("keys/sign-rsa-2048.pem");
const RSA_PUB = vec("keys/sign-rsa-2048.pub.pem");
const ED25519 = vec("keys/sign-ed25519.pem");
const PAYLOAD = vec("payloads/p_odd.bin");
const PAYLOAD_100K = vec("payloads/p100k.bin");
const COMMANDS = ["keygen", "getpub", "sign", "create", "wrap", "seal", "verify", "dumpinfo", "decrypt"];

let serial = 0;
function out(ext = "bin"): string {
	return tmp.file(`out-${++serial}.${ext}`);
}

/** `sealdrop sign` with the given options (before INFILE OUTFILE); returns the image bytes. */
function signed(options: readonly string[], input = PAYLOAD): { file: string; bytes: Uint8Array } {
	const file = out();
	expectOk(runCli(["sign", ...options, input, file]), `sign ${options.join(" ")}`);
	return { file, bytes: new Uint8Array(fs.readFileSync(file)) };
}

const BASE = ["-v", "1.2.3", "-H", "0x200", "-S", "0x60000"];
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("help and usage", () => {
	test("sealdrop --help, -h and help: exit 0, usage listing every command", () => {
		for (const flag of ["--help", "-h", "help"]) {
			const r = runCli([flag]);
			expectOk(r, flag);
			assert.ok(r.stdout.startsWith("Usage: sealdrop"), `${flag}: ${r.stdout.slice(0, 40)}`);
			for (const name of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${name} `, "m"), `${flag} lists ${name}`);
		}
	});

	for (const name of COMMANDS) {
		test(`sealdrop ${name} --help: exit 0, "Usage: sealdrop ${name}"`, () => {
			const r = runCli([name, "--help"]);
			expectOk(r);
			assert.ok(r.stdout.startsWith(`Usage: sealdrop ${name === "create" ? "sign" : name}`), r.stdout.slice(0, 60));
			assert.match(r.stdout, /^Options:$/m);
			assert.match(r.stdout, /-h, --help/);
		});
	}

	test("-h works after other options, without running the command", () => {
		const target = out();
		const r = runCli(["sign", "-k", P256, ...BASE, "-h", PAYLOAD, target]);
		expectOk(r);
		assert.ok(r.stdout.startsWith("Usage: sealdrop sign"));
		assert.equal(fs.existsSync(target), false);
	});

	test("sealdrop with no arguments: usage, exit 2", () => {
		const r = runCli([]);
		assertNoCrash(r, "no arguments");
		assert.equal(r.status, 2);
		assert.ok(r.stdout.startsWith("Usage: sealdrop"));
		assert.ok(stderrLines(r).length <= 1);
	});

	test("sealdrop --version prints the package version", () => {
		const r = runCli(["--version"]);
		expectOk(r);
		const pkg = JSON.parse(fs.readFileSync("package.json", "utf8")) as { version: string };
		assert.equal(r.stdout.trim(), pkg.version);
	});
});

describe("-f json", () => {
	test("verify -f json: parses, says what was checked", () => {
		const r = runCli(["verify", "-f", "json", "-k", P256_PUB, vec("images/seccnt_explicit.bin")]);
		expectOk(r);
		const v = JSON.parse(r.stdout);
		assert.equal(v.ok, true);
		assert.equal(v.version, "1.2.3+4");
		assert.equal(v.hash, "sha256");
		assert.equal(v.signature, "verified");
		assert.equal(v.body, "plaintext");
		const L = rawLayout(new Uint8Array(fs.readFileSync(vec("images/seccnt_explicit.bin"))));
		assert.equal(v.digest, hex(findTlv(L, 0x10).value));
	});

	test("verify -f json of an encrypted image with its device key: body ciphertext", () => {
		const r = runCli(["verify", "-f", "json", "-k", vec("keys/sign-ed25519.pub.pem"), "--device-key", vec("keys/enc-x25519.pem"), vec("images/enc_x25519_aes256.bin")]);
		expectOk(r);
		const v = JSON.parse(r.stdout);
		assert.equal(v.body, "ciphertext");
		assert.equal(v.signature, "verified");
	});

	test("dumpinfo -f json: parses, agrees with the vector's sidecar", () => {
		for (const name of ["seccnt_explicit", "enc_ec256_aes128", "pad_confirm"]) {
			const sidecar = JSON.parse(fs.readFileSync(vec(`images/${name}.json`), "utf8"));
			const r = runCli(["dumpinfo", "-f", "json", vec(`images/${name}.bin`)]);
			expectOk(r, name);
			const d = JSON.parse(r.stdout);
			assert.equal(d.header.hdrSize, sidecar.expected.header_size, name);
			assert.equal(d.header.imgSize, sidecar.expected.img_size, name);
			assert.equal(d.header.flags, sidecar.expected.flags, name);
			assert.equal(d.header.version, sidecar.expected.version, name);
			assert.deepEqual(d.header.flagNames, sidecar.expected.flag_names, name);
			assert.ok(Array.isArray(d.tlvs) && d.tlvs.length >= 3, name);
		}
	});

	test("dumpinfo -f json -o OUT writes the JSON to OUT", () => {
		const target = out("json");
		const r = runCli(["dumpinfo", "-f", "json", "-o", target, vec("images/dependency.bin")]);
		expectOk(r);
		assert.equal(r.stdout, "");
		const d = JSON.parse(fs.readFileSync(target, "utf8"));
		assert.equal(d.protectedTlvs[0].minVersion, "2.3.4+5");
	});

	test("seal -f json: parses; the sealed image verifies with the device key", () => {
		const release = signed(["-k", P256, ...BASE, "--pad-header", "--sealable"]).file;
		const sealed = out();
		const r = runCli(["seal", "-f", "json", "--device-pub", vec("keys/enc-ec256.pub.pem"), "-o", sealed, release]);
		expectOk(r);
		const s = JSON.parse(r.stdout);
		assert.equal(s.ok, true);
		assert.equal(s.output, sealed);
		assert.equal(s.size, fs.statSync(sealed).size);
		assert.equal(s.aesKeyBits, 128);
		assert.match(s.device, /^[0-9a-f]{64}$/);
		const before = JSON.parse(runCli(["verify", "-f", "json", release]).stdout);
		const v = runCli(["verify", "-f", "json", "-k", P256_PUB, "--device-key", vec("keys/enc-ec256.pem"), sealed]);
		expectOk(v);
		const after = JSON.parse(v.stdout);
		assert.equal(after.body, "ciphertext");
		assert.equal(after.digest, before.digest);
	});
});

describe("keygen and getpub", () => {
	test("keygen refuses to overwrite without --force (E_IO, exit 4); --force overwrites", () => {
		const key = tmp.file("exists.pem");
		fs.writeFileSync(key, "precious\n");
		expectFailure(runCli(["keygen", "-k", key, "-t", "ed25519"]), "E_IO", 4);
		assert.equal(fs.readFileSync(key, "utf8"), "precious\n");
		expectOk(runCli(["keygen", "-k", key, "-t", "ed25519", "--force"]));
		assert.match(fs.readFileSync(key, "utf8"), /^-----BEGIN PRIVATE KEY-----\n/);
	});

	test("keygen writes the key with mode 0600, also over an existing file with --force", () => {
		const fresh = tmp.file("fresh.pem");
		expectOk(runCli(["keygen", "-k", fresh, "-t", "ecdsa-p256"]));
		assert.equal(fs.statSync(fresh).mode & 0o777, 0o600);
		const old = tmp.file("old-0644.pem");
		fs.writeFileSync(old, "old\n", { mode: 0o644 });
		fs.chmodSync(old, 0o644);
		expectOk(runCli(["keygen", "-k", old, "-t", "ecdsa-p256", "--force"]));
		assert.equal(fs.statSync(old).mode & 0o777, 0o600, "a private key overwritten with --force must not stay world-readable");
	});

	for (const type of ["ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048", "rsa-3072", "x25519"]) {
		test(`keygen -t ${type}; getpub round-trips (pem of the private key = pem of the public pem; raw)`, () => {
			const priv = tmp.file(`${type}.pem`);
			const pub = tmp.file(`${type}.pub.pem`);
			const raw = tmp.file(`${type}.raw`);
			expectOk(runCli(["keygen", "-k", priv, "-t", type]), "keygen");
			assert.equal(fs.statSync(priv).mode & 0o777, 0o600);
			const key = crypto.createPrivateKey(fs.readFileSync(priv));
			assert.match(fs.readFileSync(priv, "utf8"), /^-----BEGIN PRIVATE KEY-----\n/, "PKCS#8 PEM");
			const details = key.asymmetricKeyDetails ?? {};
			const expectedType = type.startsWith("ecdsa") ? "ec" : type.startsWith("rsa") ? "rsa" : type;
			assert.equal(key.asymmetricKeyType, expectedType);
			if (type === "ecdsa-p256") assert.equal(details.namedCurve, "prime256v1");
			if (type === "ecdsa-p384") assert.equal(details.namedCurve, "secp384r1");
			if (type.startsWith("rsa")) {
				assert.equal(details.modulusLength, Number(type.slice(4)));
				assert.equal(details.publicExponent, 65537n);
			}
			expectOk(runCli(["getpub", "-k", priv, "-e", "pem", "-o", pub]), "getpub -e pem of the private key");
			const again = runCli(["getpub", "-k", pub, "-e", "pem"]);
			expectOk(again, "getpub -e pem of the public pem");
			assert.equal(again.stdout, fs.readFileSync(pub, "utf8"));
			assert.equal(again.stdout, crypto.createPublicKey(key).export({ type: "spki", format: "pem" }));
			// raw: SPKI DER, except PKCS#1 RSAPublicKey for RSA (reference §E.2)
			expectOk(runCli(["getpub", "-k", pub, "-e", "raw", "-o", raw]), "getpub -e raw");
			const der = crypto.createPublicKey(key).export({ type: type.startsWith("rsa") ? "pkcs1" : "spki", format: "der" });
			assert.equal(hex(fs.readFileSync(raw)), hex(der));
		});
	}

	test("getpub of the vector keys equals imgtool's getpub output, every encoding", () => {
		for (const [key, name] of [[P256, "sign-ecdsa-p256"], [RSA_PUB, "sign-rsa-2048"], [vec("keys/enc-x25519.pem"), "enc-x25519"]] as const) {
			for (const encoding of ["lang-c", "lang-rust", "pem", "raw"]) {
				const target = out(encoding);
				expectOk(runCli(["getpub", "-k", key, "-e", encoding, "-o", target]), `${name} ${encoding}`);
				assert.equal(hex(fs.readFileSync(target)), hex(fs.readFileSync(vec(`getpub/${name}.${encoding}`))), `${name} ${encoding}`);
			}
		}
	});
});

describe("sign options, as imgtool's", () => {
	test("signed images verify with the signing key (P-256, P-384, Ed25519, RSA-2048)", () => {
		for (const [priv, pub] of [[P256, P256_PUB], [P384, vec("keys/sign-ecdsa-p384.pub.pem")], [ED25519, vec("keys/sign-ed25519.pub.pem")], [RSA, RSA_PUB]]) {
			const { file } = signed(["-k", priv, ...BASE, "--pad-header"]);
			expectOk(runCli(["verify", "-k", pub, file]), priv);
		}
	});

	test("--pad-header fills the header with 0xff (0x00 with -R 0)", () => {
		const ff = signed([...BASE, "--pad-header"]).bytes;
		assert.equal(u32le(ff, 0), 0x96f3b83d);
		assert.equal(hex(ff.subarray(28, 32)), "00000000", "_pad1");
		assert.ok(ff.subarray(32, 0x200).every((b) => b === 0xff), "fill is 0xff");
		assert.equal(hex(ff.subarray(0x200, 0x200 + 64)), hex(fs.readFileSync(PAYLOAD).subarray(0, 64)), "body follows the header");
		const zero = signed([...BASE, "--pad-header", "-R", "0"]).bytes;
		assert.ok(zero.subarray(32, 0x200).every((b) => b === 0x00), "fill is 0x00 with -R 0");
	});

	test("the fill matches imgtool's (vector header bytes 32..0x200)", () => {
		const vector = new Uint8Array(fs.readFileSync(vec("images/signed_ecdsa_p256.bin")));
		const ours = signed(["-k", P256, "-v", "1.2.3+4", "-H", "0x200", "-S", "0x60000", "--pad-header"], PAYLOAD_100K).bytes;
		assert.equal(hex(ours.subarray(0, 0x200)), hex(vector.subarray(0, 0x200)));
	});

	test("without --pad-header the input's first hdr_size bytes must be zero (else E_USAGE)", () => {
		const target = out();
		expectFailure(runCli(["sign", ...BASE, PAYLOAD_100K, target]), "E_USAGE", 2);
		assert.equal(fs.existsSync(target), false);
		// an input that starts with hdr_size zero bytes is signed in place, like --pad-header -R 0
		const zeroed = tmp.file("zeroed.bin");
		fs.writeFileSync(zeroed, Buffer.concat([Buffer.alloc(0x200), fs.readFileSync(PAYLOAD)]));
		const inPlace = signed(BASE, zeroed).bytes;
		const padded = signed([...BASE, "--pad-header", "-R", "0"]).bytes;
		assert.equal(hex(inPlace), hex(padded));
	});

	test("-s auto gives (major<<24)+(minor<<16)+revision in SEC_CNT (build left out)", () => {
		for (const [version, counter] of [["1.2.3", 0x01020003], ["1.2.3+99", 0x01020003], ["255.255.65535", 0xffffffff], ["0.0.0", 0]] as const) {
			const { bytes } = signed(["-v", version, "-H", "0x200", "-S", "0x60000", "--pad-header", "-s", "auto"]);
			const L = rawLayout(bytes);
			assert.equal(L.protectedTlvs.length, 1);
			const sec = findTlv(L, 0x50);
			assert.equal(sec.value.length, 4);
			assert.equal(u32le(sec.value, 0), counter, version);
		}
	});

	test("-s N gives that counter; the protected area is what the header says", () => {
		const { bytes } = signed([...BASE, "--pad-header", "-s", "0x12345678"]);
		const L = rawLayout(bytes);
		assert.equal(L.protectTlvSize, 4 + 4 + 4);
		assert.equal(u32le(findTlv(L, 0x50).value, 0), 0x12345678);
		// the same bytes as imgtool's seccnt_explicit vector
		const V = rawLayout(new Uint8Array(fs.readFileSync(vec("images/seccnt_explicit.bin"))));
		assert.equal(hex(bytes.subarray(L.tlvOffset, L.unprotectedOffset)), hex(fs.readFileSync(vec("images/seccnt_explicit.bin")).subarray(V.tlvOffset, V.unprotectedOffset)));
	});

	test("-d with two dependencies gives two DEPENDENCY TLVs", () => {
		const { bytes, file } = signed(["-k", P256, ...BASE, "--pad-header", "-d", "(1, 2.3.4+5),(2, 1.0.0)"]);
		const L = rawLayout(bytes);
		const deps = L.protectedTlvs.filter((t) => t.type === 0x40);
		assert.equal(deps.length, 2);
		assert.equal(hex(deps[0].value), "01000000" + "0203" + "0400" + "05000000");
		assert.equal(hex(deps[1].value), "02000000" + "0100" + "0000" + "00000000");
		// the first one is byte for byte what imgtool wrote for the same dependency
		const V = rawLayout(new Uint8Array(fs.readFileSync(vec("images/dependency.bin"))));
		assert.equal(hex(deps[0].value), hex(findTlv(V, 0x40).value));
		expectOk(runCli(["verify", "-k", P256_PUB, file]));
	});

	test("--custom-tlv TAG 0xHEX and TAG TEXT: protected TLVs, in order", () => {
		const { bytes, file } = signed(["-k", P256, ...BASE, "--pad-header", "--custom-tlv", "0xa0", "0x0102", "--custom-tlv", "0xa1", "hello world"]);
		const L = rawLayout(bytes);
		assert.deepEqual(L.protectedTlvs.map((t) => [t.type, hex(t.value)]), [[0xa0, "0102"], [0xa1, hex(Buffer.from("hello world"))]]);
		assert.equal(L.protectTlvSize, 4 + (4 + 2) + (4 + 11));
		expectOk(runCli(["verify", "-k", P256_PUB, file]));
	});

	test("a custom tag below 0xa0, a predefined tag, or 0xffff is refused (E_USAGE)", () => {
		for (const tag of ["0x9f", "0x50", "0x10", "0x75", "0xffff", "0x10000"]) {
			const target = out();
			expectFailure(runCli(["sign", ...BASE, "--pad-header", "--custom-tlv", tag, "0x01", PAYLOAD, target]), "E_USAGE", 2, tag);
			assert.equal(fs.existsSync(target), false);
		}
		expectFailure(runCli(["sign", ...BASE, "--pad-header", "--custom-tlv", "0xa0", "0x123", PAYLOAD, out()]), "E_USAGE", 2, "odd hex value");
	});

	test("--public-key-format full gives a PUBKEY TLV equal to getpub -e raw (and imgtool's)", () => {
		for (const [priv, pub, name] of [[P256, P256_PUB, "sign-ecdsa-p256"], [RSA, RSA_PUB, "sign-rsa-2048"]]) {
			const { bytes, file } = signed(["-k", priv, ...BASE, "--pad-header", "--public-key-format", "full"]);
			const L = rawLayout(bytes);
			assert.equal(L.unprotectedTlvs.some((t) => t.type === 0x01), false, "no KEYHASH");
			const raw = out("raw");
			expectOk(runCli(["getpub", "-k", priv, "-e", "raw", "-o", raw]));
			assert.equal(hex(findTlv(L, 0x02).value), hex(fs.readFileSync(raw)), name);
			assert.equal(hex(findTlv(L, 0x02).value), hex(fs.readFileSync(vec(`getpub/${name}.raw`))), name);
			expectOk(runCli(["verify", "-k", pub, file]), `${name} verify`);
		}
	});

	test("default --public-key-format hash: KEYHASH = SHA-256 of getpub -e raw", () => {
		const L = rawLayout(signed(["-k", P256, ...BASE, "--pad-header"]).bytes);
		assert.equal(hex(findTlv(L, 0x01).value), crypto.createHash("sha256").update(fs.readFileSync(vec("getpub/sign-ecdsa-p256.raw"))).digest("hex"));
	});

	const MAGIC8 = "77c295f360d2ef7f3552500f2cb67980";
	const MAGIC32 = "20002de15d29410b8d77679c110f1f8a";

	test("--confirm: padded to the slot, magic at the end, image_ok at S-24 (max-align 8)", () => {
		const S = 0x20000;
		const { bytes, file } = signed(["-v", "1.2.3", "-H", "0x200", "-S", String(S), "--pad-header", "--confirm"]);
		assert.equal(bytes.length, S);
		assert.equal(hex(bytes.subarray(S - 16)), MAGIC8);
		assert.equal(bytes[S - 24], 0x01);
		const L = rawLayout(bytes);
		const rest = [...bytes.subarray(L.end, S - 16)];
		rest.splice(S - 24 - L.end, 1);
		assert.ok(rest.every((b) => b === 0xff), "everything else between image and magic is erased");
		expectOk(runCli(["verify", file]));
		const d = JSON.parse(runCli(["dumpinfo", "-f", "json", file]).stdout);
		assert.equal(d.trailer.magic, "good");
		assert.equal(d.trailer.imageOk, "set");
	});

	test("--confirm with -S 0x60000 ends like imgtool's pad_confirm vector", () => {
		const vector = fs.readFileSync(vec("images/pad_confirm.bin"));
		const { bytes } = signed(["-k", P256, "-v", "1.2.3+4", "-H", "0x200", "-S", "0x60000", "--pad-header", "--confirm"], PAYLOAD_100K);
		assert.equal(bytes.length, vector.length);
		assert.equal(hex(bytes.subarray(-4096)), hex(vector.subarray(-4096)));
	});

	test("--pad (and --test): magic, image_ok left erased", () => {
		const S = 0x20000;
		for (const flag of ["--pad", "--test"]) {
			const { bytes } = signed(["-v", "1.2.3", "-H", "0x200", "-S", String(S), "--pad-header", flag]);
			assert.equal(bytes.length, S);
			assert.equal(hex(bytes.subarray(S - 16)), MAGIC8, flag);
			assert.equal(bytes[S - 24], 0xff, flag);
		}
	});

	test("--max-align 32 --confirm: magic starts 20 00 2d e1, image_ok at S-64", () => {
		const S = 0x20000;
		const { bytes } = signed(["-v", "1.2.3", "-H", "0x200", "-S", String(S), "--pad-header", "--confirm", "--max-align", "32"]);
		assert.equal(bytes.length, S);
		assert.equal(hex(bytes.subarray(S - 16)), MAGIC32);
		assert.equal(bytes[S - 64], 0x01);
		assert.equal(bytes[S - 24], 0xff);
	});

	test("-R 0 --confirm: padding and trailer fill are 0x00", () => {
		const S = 0x20000;
		const { bytes } = signed(["-v", "1.2.3", "-H", "0x200", "-S", String(S), "--pad-header", "--confirm", "-R", "0"]);
		const L = rawLayout(bytes);
		assert.equal(bytes[S - 24], 0x01);
		assert.equal(hex(bytes.subarray(S - 16)), MAGIC8);
		assert.ok(bytes.subarray(L.end, S - 24).every((b) => b === 0x00));
	});

	test("--pad-sig pads ECDSA P-256 signatures to 72 bytes, and they still verify", () => {
		for (let i = 0; i < 3; i++) {
			const { bytes, file } = signed(["-k", P256, ...BASE, "--pad-header", "--pad-sig"]);
			const sig = findTlv(rawLayout(bytes), 0x22);
			assert.equal(sig.value.length, 72);
			assert.equal(sig.value[0], 0x30);
			assert.ok(sig.value.subarray(sig.value[1] + 2).every((b) => b === 0), "zero padding after the DER");
			expectOk(runCli(["verify", "-k", P256_PUB, file]));
		}
	});

	test(".hex files are Intel HEX: output needs an address (E_USAGE), binary named .hex is E_HEX", () => {
		const target = out("hex");
		expectFailure(runCli(["sign", "-k", P256, ...BASE, "--pad-header", PAYLOAD, target]), "E_USAGE", 2, "OUTFILE .hex without -x");
		assert.equal(fs.existsSync(target), false);
		const hexIn = tmp.file("app.hex");
		fs.copyFileSync(PAYLOAD, hexIn);
		expectFailure(runCli(["sign", ...BASE, "--pad-header", hexIn, out()]), "E_HEX", 3, "INFILE .hex holding binary");
		expectFailure(runCli(["sign", ...BASE, "--pad-header", PAYLOAD, tmp.file("APP.HEX")]), "E_USAGE", 2, "upper-case .HEX without -x");
	});

	test("create is sign", () => {
		const file = out();
		expectOk(runCli(["create", "-k", ED25519, ...BASE, "--pad-header", PAYLOAD, file]));
		expectOk(runCli(["verify", "-k", vec("keys/sign-ed25519.pub.pem"), file]));
	});
});
