/** sign (alias create), as imgtool's (reference §E.8), plus --sealable; and wrap for nested releases. */
import { fail, formatVersion, IMAGE_MAGIC, parseImage, parseVersion, securityCounter, u32, type Dependency } from "sealdrop/image";
import { parseInteger, type CommandSpec, type OptionSpec, type ParsedArgs } from "../args.js";
import { buildImage, imageOkFromEnd, imgtoolBootMagic, type SignOptions } from "../build.js";
import { checkImage } from "../check.js";
import { formatIntelHex, hexToBinary, isHexPath, parseIntelHex, putBytes, type HexMemory } from "../imgtool/intelhex.js";
import { readInput, writeOutput } from "../io.js";
import { loadKey } from "../keys.js";

const SIGN_OPTIONS: OptionSpec[] = [
	{ long: "key", short: "k", metavar: "KEY", help: "signing key, private PEM (none: hash TLV only)" },
	{ long: "public-key-format", choices: ["hash", "full"], help: "embed the key as KEYHASH (hash, default) or PUBKEY (full)" },
	{ long: "version", short: "v", metavar: "VER", help: "image version maj.min.rev+build (required)" },
	{ long: "header-size", short: "H", metavar: "N", help: "header size in bytes, at least 32 (required)" },
	{ long: "pad-header", arity: 0, help: "prepend the header area to the input (filled with the erased value)" },
	{ long: "slot-size", short: "S", metavar: "N", help: "slot size: the image plus trailer must fit (required)" },
	{ long: "pad", arity: 0, help: "pad to the slot size and write the trailer magic" },
	{ long: "test", arity: 0, help: "same as --pad (the image boots once, in test mode)" },
	{ long: "confirm", arity: 0, help: "pad and also set image_ok (the image is made permanent)" },
	{ long: "align", choices: ["1", "2", "4", "8", "16", "32"], help: "flash write size (default 1)" },
	{ long: "max-align", choices: ["8", "16", "32"], help: "trailer alignment (default max(8, align))" },
	{ long: "max-sectors", short: "M", metavar: "N", help: "sectors per slot for the trailer estimate (default 128)" },
	{ long: "overwrite-only", arity: 0, help: "overwrite-only bootloader: smaller trailer, no image_ok" },
	{ long: "erased-val", short: "R", choices: ["0", "0xff"], help: "erased flash value (default 0xff)" },
	{ long: "security-counter", short: "s", metavar: "N|auto", help: "SEC_CNT TLV; auto = (major<<24)+(minor<<16)+revision" },
	{ long: "dependencies", short: "d", metavar: "DEPS", help: 'DEPENDENCY TLVs, e.g. "(1, 2.3.4+5),(2, 1.0.0)"' },
	{ long: "encrypt", short: "E", metavar: "KEY", help: "encrypt for this public key (P-256, X25519 or RSA-2048)" },
	{ long: "encrypt-keylen", choices: ["128", "256"], help: "AES key size (default 128)" },
	{ long: "hmac-sha", choices: ["auto", "256", "512"], help: "HMAC/HKDF hash for X25519 (default auto = 256)" },
	{ long: "clear", short: "c", arity: 0, help: "with -E: flag and wrap the key but leave the body in plaintext" },
	{ long: "sealable", arity: 0, help: "make a sealable release: ENCRYPTED flag, plaintext body, no ENC TLV (seal it per device later)" },
	{ long: "custom-tlv", arity: 2, repeat: true, metavar: "TAG VALUE", help: "protected custom TLV; VALUE 0x.. is hex, else UTF-8 (repeatable)" },
	{ long: "custom-tlv-file", arity: 2, repeat: true, metavar: "TAG FILE", help: "protected custom TLV holding FILE's bytes (repeatable)" },
	{ long: "boot-record", metavar: "SW_TYPE", help: "TF-M measured boot: CBOR BOOT_RECORD TLV for this software type (at most 12 characters)" },
	{ long: "vid", metavar: "UUID|NAME", help: "vendor UUID TLV: a UUID, or a domain name hashed into one (UUIDv5, DNS namespace)" },
	{ long: "cid", metavar: "UUID|NAME", help: "image class UUID TLV: a UUID, or a name hashed into one in the --vid namespace" },
	{ long: "endian", short: "e", choices: ["little", "big"], help: "byte order of header and TLV fields (default little)" },
	{ long: "compression", choices: ["disabled", "lzma2", "lzma2armthumb"], help: "LZMA2-compress the body when smaller (needs xz); default disabled" },
	{ long: "save-enctlv", arity: 0, help: "trailer sized for a bootloader built with BOOT_SWAP_SAVE_ENCTLV (saves the ENC TLV)" },
	{ long: "hex-addr", short: "x", metavar: "ADDR", help: "Intel HEX output (.hex OUTFILE): load address of the image" },
	{ long: "sig-out", metavar: "FILE", help: "also write the image signature to FILE, base64" },
	{ long: "sha", choices: ["auto", "256", "384", "512"], help: "image hash (default auto: from the key type)" },
	{ long: "pure", arity: 0, help: "Ed25519 over the whole image instead of its digest (SIG_PURE)" },
	{ long: "pad-sig", arity: 0, help: "zero-pad ECDSA signatures to a fixed length (72 / 103)" },
	{ long: "load-addr", short: "L", metavar: "ADDR", help: "RAM load address (sets RAM_LOAD)" },
	{ long: "rom-fixed", short: "F", metavar: "ADDR", help: "fixed flash address (sets ROM_FIXED)" },
	{ long: "non-bootable", arity: 0, help: "mark the image non-bootable" },
	{ long: "vector-to-sign", choices: ["payload", "digest"], help: "write what an external signer signs to OUTFILE, not an image" },
	{ long: "fix-sig", metavar: "FILE", help: "embed this base64 signature made elsewhere (with --fix-sig-pubkey)" },
	{ long: "fix-sig-pubkey", metavar: "KEY", help: "public key that verifies --fix-sig" },
];

const EXIT_NOTES = `INFILE and OUTFILE are Intel HEX when their names end in .hex, else raw binary (as in imgtool).
Exit codes: 0 done, 2 bad usage, 3 bad input (image, key, Intel HEX; an image too large for the slot), 4 file error (also: xz missing).`;

function parseDependencies(text: string): Dependency[] {
	const images = [...text.matchAll(/\((\d+)/g)].map((m) => m[1]);
	const versions = [...text.matchAll(/,\s*([0-9.+]+)\)/g)].map((m) => m[1]);
	if (!images.length || images.length !== versions.length)
		fail("E_USAGE", `dependencies "${text}" are not in the form "(image_id, maj.min.rev+build), ..."`);
	return images.map((id, i) => {
		const imageId = Number(id);
		if (imageId > 255) fail("E_USAGE", `dependency image id ${id} exceeds 255`);
		return { imageId, minVersion: parseVersion(versions[i]) };
	});
}

/** main.py sign: a value starting "0x" (lower case only, as imgtool) is hex, anything else UTF-8 text. */
function customTlvValue(text: string): Uint8Array {
	if (text.startsWith("0x")) {
		const hex = text.slice(2);
		if (hex.length % 2) fail("E_USAGE", `Custom TLV length is odd ("${text}")`);
		if (/[^0-9a-f]/i.test(hex)) fail("E_USAGE", `custom TLV value "${text}" is not valid hex`);
		return Buffer.from(hex, "hex");
	}
	return Buffer.from(text, "utf8");
}

/** --custom-tlv then --custom-tlv-file, in the order imgtool adds them (main.py sign). */
function customTlvs(args: ParsedArgs): { type: number; value: Uint8Array }[] {
	return [
		...args.all("custom-tlv").map(([tag, value]) => ({ type: parseInteger(tag, "custom TLV tag"), value: customTlvValue(value) })),
		...args.all("custom-tlv-file").map(([tag, file]) => ({ type: parseInteger(tag, "custom TLV tag"), value: new Uint8Array(readInput(file, "custom TLV file")) })),
	];
}

/** The SignOptions an argument list asks for; `defaults` fill what the user left out. */
function signOptions(args: ParsedArgs, defaults: Partial<SignOptions> = {}): SignOptions {
	const version = args.get("version");
	const counter = args.get("security-counter");
	const fixSig = args.get("fix-sig");
	if (fixSig && args.has("key")) fail("E_USAGE", "--fix-sig replaces signing: do not pass -k as well");
	if (fixSig && !args.has("fix-sig-pubkey")) fail("E_USAGE", "--fix-sig needs --fix-sig-pubkey");
	const sha = args.get("sha");
	return {
		...defaults,
		key: args.has("key") ? loadKey(args.require("key"), { private: true, role: "signing key" }) : undefined,
		publicKeyFormat: (args.get("public-key-format") ?? "hash") as "hash" | "full",
		version: version !== undefined ? parseVersion(version) : defaults.version ?? parseVersion(args.require("version")),
		headerSize: args.has("header-size") ? parseInteger(args.require("header-size"), "--header-size") : defaults.headerSize ?? parseInteger(args.require("header-size"), "--header-size"),
		padHeader: args.flag("pad-header"),
		slotSize: parseInteger(args.require("slot-size"), "--slot-size"),
		pad: args.flag("pad") || args.flag("test") || args.flag("confirm"),
		confirm: args.flag("confirm"),
		align: Number(args.get("align") ?? 1),
		maxAlign: args.has("max-align") ? Number(args.get("max-align")) : undefined,
		maxSectors: args.has("max-sectors") ? parseInteger(args.require("max-sectors"), "--max-sectors") : undefined,
		overwriteOnly: args.flag("overwrite-only"),
		erasedVal: args.get("erased-val") === "0" ? 0 : 0xff,
		securityCounter: counter === undefined ? defaults.securityCounter : counter === "auto" ? "auto" : parseInteger(counter, "--security-counter"),
		dependencies: args.has("dependencies") ? parseDependencies(args.require("dependencies")) : [],
		encrypt: args.has("encrypt") ? loadKey(args.require("encrypt"), { kinds: ["ecdsa-p256", "x25519", "rsa-2048"], role: "encryption key" }) : undefined,
		sealable: args.flag("sealable") || defaults.sealable,
		encryptKeylen: Number(args.get("encrypt-keylen") ?? 128) as 128 | 256,
		hmacSha: (args.get("hmac-sha") ?? "auto") as "auto" | "256" | "512",
		clear: args.flag("clear"),
		customTlvs: customTlvs(args),
		endian: (args.get("endian") ?? "little") as "little" | "big",
		vid: args.get("vid"),
		cid: args.get("cid"),
		bootRecord: args.get("boot-record"),
		saveEnctlv: args.flag("save-enctlv"),
		compression: args.get("compression") === "lzma2" || args.get("compression") === "lzma2armthumb" ? args.get("compression") as "lzma2" : undefined,
		sha: sha === undefined || sha === "auto" ? "auto" : (`sha${sha}` as "sha256"),
		pure: args.flag("pure"),
		padSig: args.flag("pad-sig"),
		loadAddr: args.has("load-addr") ? parseInteger(args.require("load-addr"), "--load-addr") : undefined,
		romFixed: args.has("rom-fixed") ? parseInteger(args.require("rom-fixed"), "--rom-fixed") : undefined,
		nonBootable: args.flag("non-bootable"),
		vectorToSign: args.get("vector-to-sign") as "payload" | "digest" | undefined,
		fixSig: fixSig ? {
			signature: Buffer.from(readInput(fixSig, "signature").toString("ascii").trim(), "base64"),
			publicKey: loadKey(args.require("fix-sig-pubkey"), { role: "--fix-sig-pubkey" }),
		} : undefined,
	};
}

/** The input file: raw binary, or Intel HEX (image.py load: the bytes from its lowest address, gaps 0xff). */
function readSignInput(infile: string): { data: Buffer; baseAddr?: number } {
	const raw = readInput(infile, "input");
	if (!isHexPath(infile)) return { data: raw };
	return hexToBinary(parseIntelHex(raw.toString("latin1"), infile));
}

function signAndWrite(args: ParsedArgs, infile: string, outfile: string, defaults: Partial<SignOptions> = {}, given?: Buffer): number {
	const { data, baseAddr: inputBase } = given ? { data: given, baseAddr: undefined } : readSignInput(infile);
	const options = signOptions(args, defaults);
	if (args.has("sig-out") && (!(options.key || options.fixSig) || options.vectorToSign))
		fail("E_USAGE", "--sig-out needs a signed image (-k or --fix-sig, no --vector-to-sign)");
	const result = buildImage(data, options);
	if (isHexPath(outfile)) {
		// image.py save: the unpadded image at its address; with --pad only the trailer's magic (and image_ok) are placed
		let base = inputBase !== undefined && options.padHeader && inputBase ? inputBase - options.headerSize : inputBase;
		if (args.has("hex-addr")) base = parseInteger(args.require("hex-addr"), "--hex-addr");
		if (base === undefined) fail("E_USAGE", `${outfile}: Intel HEX output needs an address: give -x/--hex-addr or an Intel HEX input`);
		const memory: HexMemory = new Map();
		putBytes(memory, base, result.unpadded);
		if (options.pad) {
			const trailerEnd = base + options.slotSize;
			// the compressed image is made without imgtool's `test` (main.py sign), so it places no image_ok
			const test = args.flag("test") && !result.compressed;
			if ((test || options.confirm) && !options.overwriteOnly) {
				const maxAlign = options.maxAlign ?? Math.max(8, options.align ?? 1);
				const flag = Buffer.alloc(maxAlign, options.erasedVal ?? 0xff);
				if (options.confirm) flag[0] = 0x01;
				putBytes(memory, trailerEnd - imageOkFromEnd(options), flag);
			}
			putBytes(memory, trailerEnd - 16, imgtoolBootMagic(options));
		}
		writeOutput(outfile, formatIntelHex(memory));
	} else writeOutput(outfile, result.image);
	if (args.has("sig-out")) writeOutput(args.require("sig-out"), Buffer.from(result.signature!).toString("base64"));
	return 0;
}

export const sign: CommandSpec = {
	name: "sign",
	summary: "Make an MCUboot image from a binary: header, hash, signature, optional encryption and trailer (imgtool sign).",
	usage: "sign -k KEY -v VER -H N -S N [options] INFILE OUTFILE",
	options: SIGN_OPTIONS,
	notes: `Examples:
  sealdrop sign -k sign.pem -v 1.2.3 -H 0x200 --pad-header -S 0x60000 app.bin app-signed.bin
  sealdrop sign -k sign.pem -v 1.2.3 -H 0x200 --pad-header -S 0x60000 --sealable app.bin release.bin
External signing (the private key stays in the HSM):
  sealdrop sign --vector-to-sign digest -v 1.2.3 -H 0x200 --pad-header -S 0x60000 app.bin digest.bin
  sealdrop sign --fix-sig sig.b64 --fix-sig-pubkey sign.pub.pem -v 1.2.3 -H 0x200 --pad-header -S 0x60000 app.bin app-signed.bin
${EXIT_NOTES}`,
	run(args) {
		const [infile, outfile, extra] = args.positionals;
		if (!infile || !outfile || extra) fail("E_USAGE", "sign takes INFILE and OUTFILE");
		return signAndWrite(args, infile, outfile);
	},
};

export const create: CommandSpec = { ...sign, name: "create", summary: "Alias of sign (as in imgtool)." };

export const wrap: CommandSpec = {
	name: "wrap",
	summary: "Wrap a signed MCUboot image as the payload of a sealable release (the nested image for the mcuboot installer). The inner image is checked; version, security counter and header size default to the inner image's.",
	usage: "wrap -k KEY -S N [-v VER] [-H N] [--inner-key KEY] [sign options] INNER OUTFILE",
	options: [...SIGN_OPTIONS.filter((o) => !["sealable", "pad-header", "encrypt", "clear", "vector-to-sign", "fix-sig", "fix-sig-pubkey", "pad", "test", "confirm", "compression"].includes(o.long)),
		{ long: "inner-key", metavar: "KEY", help: "check the inner image's signature with this key (default: -k)" }],
	notes: `Example:
  sealdrop sign -k fw.pem -v 2.0.0 -H 0x200 --pad-header -S 0x60000 app.bin inner.bin
  sealdrop wrap -k release.pem -S 0x61000 inner.bin release.bin
  sealdrop seal --device-pub device.pub.pem -o sealed.bin release.bin
${EXIT_NOTES}`,
	run(args) {
		const [infile, outfile, extra] = args.positionals;
		if (!infile || !outfile || extra) fail("E_USAGE", "wrap takes INNER and OUTFILE");
		const inner = readInput(infile, "inner image");
		if (inner.length < 4 || u32(inner, 0) !== IMAGE_MAGIC) fail("E_BAD_MAGIC", `${infile} is not an MCUboot image; wrap takes a signed image`);
		const innerKeyPath = args.get("inner-key") ?? args.get("key");
		checkImage(inner, { key: innerKeyPath ? loadKey(innerKeyPath) : undefined });
		const layout = parseImage(inner);
		if (layout.trailingLength) fail("E_USAGE", `${infile} is padded to a slot; wrap the unpadded image`);
		const counter = securityCounter(layout);
		return signAndWrite(args, infile, outfile, {
			sealable: true,
			version: parseVersion(formatVersion(layout.header.version)),
			headerSize: layout.header.hdrSize,
			securityCounter: counter ?? undefined,
		}, Buffer.concat([Buffer.alloc(args.has("header-size") ? parseInteger(args.require("header-size"), "--header-size") : layout.header.hdrSize), inner]));
	},
};
