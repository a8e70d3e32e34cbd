/** keygen, getpub, getpubhash and getpriv, as imgtool 2.4's (main.py; reference §E.1-E.2). */
import fs from "node:fs";
import { fail } from "sealdrop/image";
import type { CommandSpec } from "../args.js";
import { writeOutput, writeResult } from "../io.js";
import { encodePrivateKey, encodePublicKey, encodePublicKeyHash, generateKey, KEY_KINDS, loadKey, privateKeyPem, PUBLIC_ENCODINGS, type KeyKind, type PublicEncoding } from "../keys.js";

export const keygen: CommandSpec = {
	name: "keygen",
	summary: "Generate a private key (PKCS#8 PEM, unencrypted), as imgtool keygen.",
	usage: "keygen -k FILE -t TYPE [--force]",
	options: [
		{ long: "key", short: "k", metavar: "FILE", help: "where to write the private key (required)" },
		{ long: "type", short: "t", choices: KEY_KINDS, help: "key type (required)" },
		{ long: "password", short: "p", arity: 0, help: "not supported: Sealdrop writes unencrypted keys (keep them in an HSM or a vault)" },
		{ long: "force", arity: 0, help: "overwrite FILE if it exists (imgtool overwrites silently; Sealdrop refuses by default)" },
	],
	notes: "Example:\n  sealdrop keygen -k sign.pem -t ecdsa-p256",
	run(args) {
		if (args.flag("password")) fail("E_USAGE", "password-protected keys are not supported; store the key file in a vault or use --vector-to-sign/--fix-sig with an HSM");
		const file = args.require("key");
		const kind = args.require("type") as KeyKind;
		if (fs.existsSync(file)) {
			if (!args.flag("force")) fail("E_IO", `${file} exists; pass --force to overwrite it`);
			// writeFileSync's mode only applies to a file it creates: make the old one private before the key goes in
			try {
				if (fs.statSync(file).isFile()) fs.chmodSync(file, 0o600);
			} catch (e) {
				fail("E_IO", `${file}: cannot overwrite (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
			}
		}
		writeOutput(file, privateKeyPem(generateKey(kind)), 0o600);
		return 0;
	},
};

export const getpub: CommandSpec = {
	name: "getpub",
	summary: "Print the public key of a key file, byte for byte as imgtool getpub.",
	usage: "getpub -k KEY [-e lang-c|lang-rust|pem|raw] [-o OUT] [--name-suffix S]",
	options: [
		{ long: "key", short: "k", metavar: "KEY", help: "private or public key file (required)" },
		{ long: "encoding", short: "e", choices: PUBLIC_ENCODINGS, help: "output encoding (default lang-c)" },
		{ long: "lang", short: "l", choices: ["c", "rust"], help: "same as -e lang-c / -e lang-rust" },
		{ long: "output", short: "o", metavar: "OUT", help: "write to OUT instead of standard output" },
		{ long: "name-suffix", metavar: "S", help: "suffix for the C/Rust array name" },
	],
	notes: "Example:\n  sealdrop getpub -k sign.pem -e pem",
	run(args) {
		const key = loadKey(args.require("key"));
		if (args.has("encoding") && args.has("lang")) fail("E_USAGE", "use -e or -l, not both");
		const lang = args.get("lang");
		const encoding = (args.get("encoding") ?? (lang ? `lang-${lang}` : "lang-c")) as PublicEncoding;
		const out = encodePublicKey(key, encoding, args.get("name-suffix") ?? "");
		writeResult(args.get("output"), out);
		return 0;
	},
};

export const getpubhash: CommandSpec = {
	name: "getpubhash",
	summary: "Print the SHA-256 of a key's public-key bytes (what MCUboot compares with KEYHASH), byte for byte as imgtool getpubhash.",
	usage: "getpubhash -k KEY [-e lang-c|raw] [-o OUT]",
	options: [
		{ long: "key", short: "k", metavar: "KEY", help: "private or public key file (required)" },
		{ long: "encoding", short: "e", choices: ["lang-c", "raw"], help: "output encoding (default lang-c)" },
		{ long: "output", short: "o", metavar: "OUT", help: "write to OUT instead of standard output" },
	],
	notes: "Example:\n  sealdrop getpubhash -k sign.pem -e raw -o sign.hash\nExit codes: 0 done, 2 bad usage, 3 bad key, 4 file error.",
	run(args) {
		const key = loadKey(args.require("key"));
		writeResult(args.get("output"), encodePublicKeyHash(key, (args.get("encoding") ?? "lang-c") as "lang-c" | "raw"));
		return 0;
	},
};

export const getpriv: CommandSpec = {
	name: "getpriv",
	summary: "Print a private key as the C array MCUboot's decryption code embeds (enc_priv_key), byte for byte as imgtool getpriv.",
	usage: "getpriv -k KEY [-f openssl|pkcs8] [--minimal]",
	options: [
		{ long: "key", short: "k", metavar: "KEY", help: "private key file (required)" },
		{ long: "format", short: "f", choices: ["openssl", "pkcs8"], help: "DER inside the array: pkcs8 (ECDSA, X25519 default) or openssl (SEC1 for ECDSA, PKCS#1 for RSA, RSA default)" },
		{ long: "minimal", arity: 0, help: "leave out what decryption does not need (ECDSA: the public key; RSA: the CRT values)" },
	],
	notes: "Ed25519 keys cannot be dumped (imgtool refuses them too).\nExample:\n  sealdrop getpriv -k enc-x25519.pem > enc_priv_key.c\nExit codes: 0 done, 2 bad usage (also a key kind or format imgtool refuses), 3 bad key, 4 file error.",
	run(args) {
		const key = loadKey(args.require("key"), { role: "key" });
		writeResult(undefined, encodePrivateKey(key, args.flag("minimal"), args.get("format") as "pkcs8" | "openssl" | undefined));
		return 0;
	},
};
