/**
 * getpub: for every key and encoding in test/vectors/imgtool/getpub, `sealdrop getpub -k
 * keys/NAME.pem -e ENC` prints exactly what imgtool 2.4.0 printed. Also the other ways to ask
 * (-l, the default, a public key file) and an independent check of the raw bytes (SPKI / PKCS#1
 * DER assembled by the noble helper from the key's numbers).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { describeRun, runCli, vectorPath, vectorsDir } from "../helpers/noble-cli.js";
import { nobleDevice, noblePublicKeyBytes, nobleSigner, x25519Spki } from "../helpers/noble-mcuboot.js";
import { x25519 } from "@noble/curves/ed25519.js";

const files = fs.readdirSync(vectorPath("getpub")).filter((f) => f !== "README.md").sort();
const entries = files.map((f) => {
	const dot = f.indexOf(".");
	return { file: f, name: f.slice(0, dot), encoding: f.slice(dot + 1) };
});
const names = [...new Set(entries.map((e) => e.name))];

function expected(name: string, encoding: string): Buffer {
	return fs.readFileSync(vectorPath(`getpub/${name}.${encoding}`));
}

test("the getpub vectors cover every key in all four encodings", () => {
	assert.ok(names.length >= 6, `${names.length} keys`);
	for (const name of names) {
		assert.deepEqual(entries.filter((e) => e.name === name).map((e) => e.encoding).sort(), ["lang-c", "lang-rust", "pem", "raw"], name);
	}
});

describe("getpub -k keys/NAME.pem -e ENC is byte-identical to imgtool", { concurrency: 4 }, () => {
	for (const { name, encoding } of entries) {
		test(`${name} ${encoding}`, async () => {
			const args = ["getpub", "-k", `keys/${name}.pem`, "-e", encoding];
			const r = await runCli(args, vectorsDir);
			assert.equal(r.code, 0, describeRun(args, r));
			assert.equal(r.stdout.toString("latin1"), expected(name, encoding).toString("latin1"));
			assert.ok(r.stdout.equals(expected(name, encoding)));
		});
	}
});

describe("other spellings give the same bytes", { concurrency: 4 }, () => {
	for (const name of names) {
		test(`${name}: default encoding and -l c / -l rust`, async () => {
			const [plain, c, rust] = await Promise.all([
				runCli(["getpub", "-k", `keys/${name}.pem`], vectorsDir),
				runCli(["getpub", "-k", `keys/${name}.pem`, "-l", "c"], vectorsDir),
				runCli(["getpub", "-k", `keys/${name}.pem`, "-l", "rust"], vectorsDir),
			]);
			assert.ok(plain.stdout.equals(expected(name, "lang-c")), "default is lang-c");
			assert.ok(c.stdout.equals(expected(name, "lang-c")));
			assert.ok(rust.stdout.equals(expected(name, "lang-rust")));
		});
		if (fs.existsSync(vectorPath(`keys/${name}.pub.pem`))) {
			test(`${name}: from the public key file`, async () => {
				const [raw, pem] = await Promise.all([
					runCli(["getpub", "-k", `keys/${name}.pub.pem`, "-e", "raw"], vectorsDir),
					runCli(["getpub", "-k", `keys/${name}.pub.pem`, "-e", "pem"], vectorsDir),
				]);
				assert.ok(raw.stdout.equals(expected(name, "raw")));
				assert.ok(pem.stdout.equals(expected(name, "pem")));
			});
		}
	}
});

describe("raw bytes agree with an independent DER encoding", () => {
	for (const name of names) {
		test(name, () => {
			const pem = fs.readFileSync(vectorPath(`keys/${name}.pem`));
			let bytes: Uint8Array;
			if (name.includes("x25519")) {
				const device = nobleDevice(pem);
				assert.equal(device.kind, "x25519");
				bytes = x25519Spki(x25519.getPublicKey(device.kind === "x25519" ? device.secret : new Uint8Array(32)));
			} else bytes = noblePublicKeyBytes(nobleSigner(pem));
			assert.equal(Buffer.from(bytes).toString("hex"), expected(name, "raw").toString("hex"));
		});
	}
});
