/**
 * Differential test against MCUboot's imgtool 2.4.0, replayed from data (test/vectors/imgtool-2.4,
 * see its README for how the real tool was run):
 * - sign.json: random option sets. "identical" cases must give imgtool's bytes (sha256), including
 *   --sig-out; "cross-verified" cases (ECDSA/RSA signatures, encryption: random by design) must
 *   have imgtool's image accepted by our verify and our image built with the same options agree
 *   with it field by field, except the random values; "refused" cases fail in both tools, with the
 *   Sealdrop code recorded; "refused-by-sealdrop" are the documented refusals.
 * - keys.json: getpubhash, getpriv and getpub output, byte for byte, and the refusals.
 * - dumpinfo.json: dumpinfo in imgtool's human, yaml and json layouts, to stdout and to -o.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parseImage, SIGNATURE_TLV_TYPES, ENC_TLV_TYPES, TlvType, type ImageLayout } from "sealdrop/image";
import { makeTempDir, runMain, vectorPath } from "../helpers/noble-cli.js";
import { formatIntelHex, hexToBinary, parseIntelHex } from "../../host/cli/imgtool/intelhex.js";
import { SealdropError } from "sealdrop/image";

const DIR = vectorPath("../imgtool-2.4");
const KEYS = vectorPath("keys");
const load = (name: string) => JSON.parse(fs.readFileSync(path.join(DIR, name), "utf8"));

interface SignCase {
	id: string; args: string[]; files: Record<string, string>; outfile: string; input?: string; inputHex: string | null;
	class: "identical" | "cross-verified" | "refused" | "refused-by-sealdrop";
	/** `image` (base64) is imgtool's output; for a slot-padded one only up to its TLVs, then `fill.count` bytes `fill.byte` and `tail`. */
	imgtool: { exit: number; sha256?: string; length?: number; image?: string; fill?: { byte: number; count: number }; tail?: string; sigOut?: string; error?: string };
	sealdrop?: { exit: number; error: string };
}

function imgtoolImage(c: SignCase): Buffer {
	const { image, fill, tail } = c.imgtool;
	return Buffer.concat([Buffer.from(image!, "base64"), Buffer.alloc(fill?.count ?? 0, fill?.byte ?? 0), Buffer.from(tail ?? "", "base64")]);
}

const sha256 = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex");
const codeOf = (stderr: string) => /sealdrop: (E_[A-Z_]+):/.exec(stderr)?.[1];

/** The case's files in `dir`, and its argument list with the placeholders replaced. */
function materialize(c: SignCase, dir: string): { args: string[]; infile: string; outfile: string; sigOut: string } {
	const sigOut = path.join(dir, "sig.b64");
	const args = c.args.map((a) => {
		if (a.startsWith("@key:")) return path.join(KEYS, `${a.slice(5)}.pem`);
		if (a.startsWith("@file:")) {
			const file = path.join(dir, `${a.slice(6)}.bin`);
			fs.writeFileSync(file, Buffer.from(c.files[a.slice(6)], "hex"));
			return file;
		}
		return a === "@sigout" ? sigOut : a;
	});
	const infile = path.join(dir, c.inputHex !== null ? "in.hex" : "in.bin");
	fs.writeFileSync(infile, c.inputHex !== null ? c.inputHex : Buffer.from(c.input!, "hex"));
	return { args, infile, outfile: path.join(dir, c.outfile), sigOut };
}

function imageBytes(file: string): Buffer {
	const raw = fs.readFileSync(file);
	return file.endsWith(".hex") ? hexToBinary(parseIntelHex(raw.toString("latin1"), file)).data : raw;
}

/** Field-by-field agreement of two images made with the same options, random values (signatures, ENC TLVs, and what hashes them) aside. */
function assertSameShape(ours: Buffer, theirs: Buffer, c: SignCase): void {
	const a = parseImage(ours);
	const b = parseImage(theirs);
	// ECDSA signatures are DER, 70-72 (P-256) or 102-104 (P-384) bytes: only a slot-padded image has a fixed length
	const padded = ["--pad", "--confirm", "--test"].some((f) => c.args.includes(f));
	if (padded) assert.equal(ours.length, theirs.length, "slot length");
	const random = (t: number) => SIGNATURE_TLV_TYPES.includes(t) || ENC_TLV_TYPES.includes(t) || t === TlvType.DECOMP_SIGNATURE;
	// a compressed image carries the (random) uncompressed signature in its hashed area
	const hashRandom = c.args.includes("--compression") && a.protectedTlvs.some((t) => t.type === TlvType.DECOMP_SIGNATURE);
	const encrypted = c.args.includes("-E") && !c.args.includes("--clear");
	const { protectTlvSize: pa, ...ha } = a.header;
	const { protectTlvSize: pb, ...hb } = b.header;
	assert.deepEqual(ha, hb, "header");
	if (!hashRandom) assert.equal(pa, pb, "protected TLV size");
	if (!encrypted) assert.ok(ours.subarray(a.header.hdrSize, a.header.hdrSize + a.header.imgSize).equals(theirs.subarray(b.header.hdrSize, b.header.hdrSize + b.header.imgSize)), "body");
	const list = (l: ImageLayout) => [...l.protectedTlvs, ...l.unprotectedTlvs];
	assert.deepEqual(list(a).map((t) => t.type), list(b).map((t) => t.type), "TLV types");
	list(a).forEach((t, i) => {
		const u = list(b)[i];
		const isHash = t.type === TlvType.SHA256 || t.type === TlvType.SHA384 || t.type === TlvType.SHA512;
		if (random(t.type) || (isHash && hashRandom)) return;
		assert.equal(Buffer.from(t.value).toString("hex"), Buffer.from(u.value).toString("hex"), `TLV 0x${t.type.toString(16)}`);
	});
	const tail = Math.min(ours.length - a.size, theirs.length - b.size);
	assert.ok(ours.subarray(ours.length - tail).equals(theirs.subarray(theirs.length - tail)), "slot padding and trailer");
}

const signCases: SignCase[] = load("sign.json").cases;

test("the sign vectors cover each outcome and every imgtool 2.4 sign option", () => {
	const classes = new Set(signCases.map((c) => c.class));
	for (const k of ["identical", "cross-verified", "refused", "refused-by-sealdrop"]) assert.ok(classes.has(k as SignCase["class"]), k);
	const used = new Set(signCases.flatMap((c) => c.args.filter((a) => a.startsWith("-"))));
	for (const option of ["-k", "--public-key-format", "-v", "-H", "--pad-header", "-S", "--align", "--max-align", "-M", "--pad", "--confirm", "--test",
		"--overwrite-only", "-R", "-s", "-d", "--custom-tlv", "--custom-tlv-file", "-e", "--boot-record", "--vid", "--cid", "--sha", "--pure", "--pad-sig",
		"-L", "-F", "--non-bootable", "--compression", "-E", "--encrypt-keylen", "--clear", "--save-enctlv", "--hmac-sha", "--sig-out", "-x"])
		assert.ok(used.has(option), option);
	assert.ok(signCases.some((c) => c.inputHex !== null), "an Intel HEX input");
	assert.ok(signCases.some((c) => c.outfile.endsWith(".hex") && c.class === "identical"), "an Intel HEX output");
});

describe("sign: imgtool 2.4 differential cases", () => {
	for (const c of signCases) {
		test(`${c.id} (${c.class}): ${c.args.join(" ")}`, async () => {
			const tmp = makeTempDir("sealdrop-imgtool24-");
			try {
				const { args, infile, outfile, sigOut } = materialize(c, tmp.dir);
				const argv = ["sign", ...args, infile, outfile];
				const r = await runMain(argv);
				if (c.class === "refused" || c.class === "refused-by-sealdrop") {
					assert.notEqual(r.code, 0, `sealdrop accepted what ${c.class === "refused" ? "imgtool refused" : "it documents as refused"}`);
					assert.equal(r.code, c.sealdrop!.exit, r.stderr);
					assert.equal(codeOf(r.stderr), codeOf(c.sealdrop!.error), r.stderr);
					return;
				}
				assert.equal(r.code, 0, r.stderr);
				const ours = fs.readFileSync(outfile);
				if (c.class === "identical") {
					assert.equal(ours.length, c.imgtool.length, "length");
					assert.equal(sha256(ours), c.imgtool.sha256, "bytes");
				} else if (c.args.includes("--vector-to-sign")) {
					// nothing is signed yet: the vector is deterministic
					assert.ok(ours.equals(imgtoolImage(c)), "vector");
				} else {
					const theirsFile = path.join(tmp.dir, `imgtool${path.extname(c.outfile)}`);
					fs.writeFileSync(theirsFile, imgtoolImage(c));
					const key = c.args[c.args.indexOf("-k") + 1];
					const verifyArgs = [...(c.args.includes("-k") ? ["-k", path.join(KEYS, `${key.slice(5)}.pub.pem`)] : [])];
					if (c.args.includes("-E") && !c.args.includes("--clear"))
						verifyArgs.push("--device-key", path.join(KEYS, `${c.args[c.args.indexOf("-E") + 1].slice(5).replace(/\.pub$/, "")}.pem`));
					for (const file of [theirsFile, outfile]) {
						const v = await runMain(["verify", ...verifyArgs, file]);
						assert.equal(v.code, 0, `verify ${path.basename(file)}: ${v.stderr}`);
					}
					assertSameShape(imageBytes(outfile), imageBytes(theirsFile), c);
				}
				if (c.imgtool.sigOut !== undefined && c.class === "identical") assert.equal(fs.readFileSync(sigOut, "ascii"), c.imgtool.sigOut, "--sig-out");
			} finally {
				tmp.cleanup();
			}
		});
	}
});

describe("getpubhash, getpriv, getpub: imgtool 2.4's output", () => {
	const { keys, cases } = load("keys.json") as { keys: Record<string, string>; cases: { args: string[]; class: string; imgtool: { stdoutSha256?: string; stdoutLength?: number }; sealdrop?: { exit: number; error: string } }[] };
	const tmp = makeTempDir("sealdrop-imgtool24-keys-");
	for (const [name, pem] of Object.entries(keys)) fs.writeFileSync(path.join(tmp.dir, `${name}.pem`), pem);
	test("the cases cover both commands, every key kind and a refusal", () => {
		assert.ok(cases.some((c) => c.args[0] === "getpubhash") && cases.some((c) => c.args[0] === "getpriv"));
		assert.ok(cases.some((c) => c.class === "refused") && cases.filter((c) => c.class === "identical").length > 40);
	});
	for (const c of cases) {
		test(`${c.args.join(" ")} (${c.class})`, async () => {
			const r = await runMain(c.args.map((a) => (a.startsWith("@") ? path.join(tmp.dir, a.slice(1)) : a)));
			if (c.class === "refused") {
				assert.equal(r.code, c.sealdrop!.exit, r.stderr);
				assert.equal(codeOf(r.stderr), codeOf(c.sealdrop!.error));
			} else {
				assert.equal(r.code, 0, r.stderr);
				assert.equal(r.stdout.length, c.imgtool.stdoutLength, "length");
				assert.equal(sha256(r.stdout), c.imgtool.stdoutSha256, "bytes");
			}
		});
	}
	test("cleanup", () => tmp.cleanup());
});

describe("dumpinfo: imgtool 2.4's layouts", () => {
	const { cases } = load("dumpinfo.json") as { cases: { name: string; image: string; outputs: Record<string, { args: string[]; stdout: string; file: string | null }> }[] };
	for (const c of cases) {
		for (const [label, o] of Object.entries(c.outputs)) {
			test(`${c.name}: dumpinfo ${o.args.join(" ")}`, async () => {
				const tmp = makeTempDir("sealdrop-imgtool24-dump-");
				try {
					const image = path.join(tmp.dir, "image.bin");
					fs.writeFileSync(image, Buffer.from(c.image, "base64"));
					// imgtool's -f json is Sealdrop's -f imgtool-json (Sealdrop's -f json is its own decoded view)
					const args = o.args.map((a) => (a === "json" ? "imgtool-json" : a === "out.txt" ? path.join(tmp.dir, "out.txt") : a));
					const r = await runMain(["dumpinfo", ...args, image]);
					assert.equal(r.code, 0, r.stderr);
					assert.equal(r.stdout.toString(), o.stdout, `${label}: stdout`);
					const out = path.join(tmp.dir, "out.txt");
					assert.equal(fs.existsSync(out) ? fs.readFileSync(out, "utf8") : null, o.file, `${label}: -o file`);
				} finally {
					tmp.cleanup();
				}
			});
		}
	}
});

describe("Intel HEX and xz edges", () => {
	test("a bad checksum, a foreign record type, a missing end record: E_HEX", () => {
		const good = formatIntelHex(new Map([[0x10, 1], [0x11, 2]]));
		assert.deepEqual([...hexToBinary(parseIntelHex(good, "good")).data], [1, 2]);
		for (const bad of [good.replace(/..\n:00000001FF/, "00\n:00000001FF"), ":0100000601F8\n:00000001FF\n", good.replace(":00000001FF\n", ""), "0102\n"]) {
			assert.throws(() => parseIntelHex(bad, "bad"), (e) => e instanceof SealdropError && e.code === "E_HEX", bad);
		}
	});

	test("sign --compression without xz: E_TOOL, exit 4", async () => {
		const tmp = makeTempDir("sealdrop-imgtool24-xz-");
		const saved = process.env.SEALDROP_XZ;
		process.env.SEALDROP_XZ = path.join(tmp.dir, "no-such-xz");
		try {
			const input = path.join(tmp.dir, "in.bin");
			fs.writeFileSync(input, Buffer.alloc(4000, 0x41));
			const r = await runMain(["sign", "-v", "1.0.0", "-H", "32", "--pad-header", "-S", "0x10000", "--compression", "lzma2", input, path.join(tmp.dir, "out.bin")]);
			assert.equal(r.code, 4, r.stderr);
			assert.equal(codeOf(r.stderr), "E_TOOL");
		} finally {
			if (saved === undefined) delete process.env.SEALDROP_XZ;
			else process.env.SEALDROP_XZ = saved;
			tmp.cleanup();
		}
	});
});
