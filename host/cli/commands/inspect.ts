/** verify, dumpinfo and decrypt: reading images. */
import {
	aesKeyBits, describeTlv, fail, findEncTlv, flagNames, formatVersion, parseImage, readTrailer, swapTypeFor, swapTypeName,
	tlvName, trailerLayout, u16, type ImageLayout, type Tlv, BOOT_MAGIC_SIZE, bootMagic, equalBytes,
} from "sealdrop/image";
import { FORMAT, parseInteger, type CommandSpec } from "../args.js";
import { checkImage, type CheckResult } from "../check.js";
import { formatHuman, formatJson, formatYaml, readImgInfo } from "../imgtool/dumpinfo.js";
import { hexToBinary, isHexPath, parseIntelHex } from "../imgtool/intelhex.js";
import { printJson, readInput, writeOutput, writeResult } from "../io.js";
import { loadKey } from "../keys.js";


function checkSummary(r: CheckResult): Record<string, unknown> {
	return {
		version: r.version, hash: r.hashAlg, digest: r.digest, body: r.body, signature: r.signature,
		...(r.inner ? { inner: checkSummary(r.inner) } : {}),
	};
}

/** An image file: raw binary, or Intel HEX when its name ends in .hex (imgtool: IntelHex(path).tobinstr()). */
function readImageFile(file: string): Buffer {
	const raw = readInput(file, "image");
	return isHexPath(file) ? hexToBinary(parseIntelHex(raw.toString("latin1"), file)).data : raw;
}

export const verify: CommandSpec = {
	name: "verify",
	summary: "Check an image's hash and signature, as imgtool verify; with --device-key also an encrypted image, decrypted on the fly.",
	usage: "verify [-k KEY] [--device-key DEVPRIV] [--inner-key KEY] [-f human|json] IMAGE",
	options: [
		{ long: "key", short: "k", metavar: "KEY", help: "signing key (public or private) the image must be signed by" },
		{ long: "device-key", metavar: "DEVPRIV", help: "device private key: open the ENC TLV and check the plaintext" },
		{ long: "inner-key", metavar: "KEY", help: "key for a nested inner image (default: -k)" },
		{ long: "slot-size", short: "S", metavar: "N", help: "also refuse an image larger than this slot" },
		FORMAT,
	],
	notes: `Exit codes: 0 the image checks out, 1 it does not (hash, signature, signer, device key),
2 bad usage, 3 malformed image or key, 4 file error.
Example:
  sealdrop verify -k sign.pub.pem --device-key device.pem sealed.bin`,
	run(args) {
		const [file, extra] = args.positionals;
		if (!file || extra) fail("E_USAGE", "verify takes one IMAGE");
		const image = readImageFile(file);
		const result = checkImage(image, {
			key: args.has("key") ? loadKey(args.require("key"), { role: "signing key" }) : undefined,
			deviceKey: args.has("device-key") ? loadKey(args.require("device-key"), { private: true, role: "device key" }) : undefined,
			innerKey: args.has("inner-key") ? loadKey(args.require("inner-key"), { role: "inner signing key" }) : undefined,
			slotSize: args.has("slot-size") ? parseInteger(args.require("slot-size"), "--slot-size") : undefined,
		});
		if (args.get("format") === "json") printJson({ ok: true, file, ...checkSummary(result) });
		else {
			const lines = ["Image was correctly validated", `Image version: ${result.version}`, `Image digest: ${result.digest}`];
			lines.push(`Signature: ${result.signature}`, `Body: ${result.body === "ciphertext" ? "encrypted, decrypted with the device key" : "plaintext"}`);
			if (result.inner) lines.push(`Inner image: ${result.inner.version}, digest ${result.inner.digest}, signature ${result.inner.signature}`);
			process.stdout.write(lines.join("\n") + "\n");
		}
		return 0;
	},
};

function tlvJson(t: Tlv): Record<string, unknown> {
	return { type: t.type, name: tlvName(t.type), offset: t.offset, length: t.value.length, ...describeTlv(t) };
}

/** The trailer of a padded image (slot size = file size, as imgtool dumpinfo assumes). */
function trailerInfo(image: Uint8Array, layout: ImageLayout): Record<string, unknown> | undefined {
	if (!layout.trailingLength || image.length < layout.size + 48) return undefined;
	const magic = image.subarray(image.length - BOOT_MAGIC_SIZE);
	const maxAlign = equalBytes(magic, bootMagic(8)) ? 8 : [16, 32].includes(u16(magic, 0)) && equalBytes(magic, bootMagic(u16(magic, 0))) ? u16(magic, 0) : 8;
	const trailerLayoutInfo = trailerLayout({ slotSize: image.length, maxAlign });
	const erasedVal = image[image.length - 17];
	const state = readTrailer(image.subarray(trailerLayoutInfo.swapSizeOffset), trailerLayoutInfo, erasedVal);
	const erased = { magic: "unset", imageOk: "unset", copyDone: "unset", swapInfo: null, swapSize: null } as const;
	return { slotSize: image.length, maxAlign, erasedVal, ...state, swapTypeAsSecondary: swapTypeName(swapTypeFor(erased, state)) };
}

export const dumpinfo: CommandSpec = {
	name: "dumpinfo",
	summary: "Print an image's header, TLV areas and trailer as imgtool dumpinfo does (human, yaml); -f json and -f sealdrop give Sealdrop's decoded view.",
	usage: "dumpinfo [-f human|yaml|imgtool-json|json|sealdrop] [-o OUT] IMAGE",
	options: [
		{ long: "format", short: "f", choices: ["human", "yaml", "imgtool-json", "json", "sealdrop"],
			help: "human/yaml/imgtool-json: imgtool's layouts (default human, yaml with -o); json/sealdrop: Sealdrop's decoded view" },
		{ long: "outfile", short: "o", metavar: "OUT", help: "write to OUT instead of standard output" },
		{ long: "silent", short: "s", arity: 0, help: "accepted and ignored, as imgtool 2.4 does" },
	],
	notes: `Sealdrop's views (-f json, -f sealdrop) decode every TLV, name the flags and read the trailer
state; imgtool's own -f json layout is -f imgtool-json. IMAGE may be Intel HEX (.hex).
Exit codes: 0 done, 2 bad usage, 3 malformed image, 4 file error.
Example:
  sealdrop dumpinfo -f yaml -o app.yaml app-signed.bin`,
	run(args) {
		const [file, extra] = args.positionals;
		if (!file || extra) fail("E_USAGE", "dumpinfo takes one IMAGE");
		const image = readImageFile(file);
		const layout = parseImage(image);
		const outfile = args.get("outfile");
		const format = args.get("format") ?? (outfile ? "yaml" : "human");
		if (format === "human" || format === "yaml" || format === "imgtool-json") {
			const info = readImgInfo(image, file.split(/[\\/]/).pop()!);
			// imgtool prints its trailer warning on standard output, whatever the output file
			if (info.warning) process.stdout.write(info.warning + "\n");
			writeResult(outfile, format === "human" ? formatHuman(info) : format === "yaml" ? formatYaml(info) : formatJson(info, !outfile));
			return 0;
		}
		const h = layout.header;
		const encTlv = findEncTlv(layout);
		const info = {
			file, size: image.length,
			header: {
				magic: "0x96f3b83d", loadAddr: h.loadAddr, hdrSize: h.hdrSize, protectTlvSize: h.protectTlvSize, imgSize: h.imgSize,
				flags: h.flags, flagNames: flagNames(h.flags), version: formatVersion(h.version),
			},
			encryption: aesKeyBits(h.flags) ? { aesKeyBits: aesKeyBits(h.flags), encTlv: encTlv ? tlvName(encTlv.type) : null, sealable: !encTlv } : null,
			protectedTlvs: layout.protectedTlvs.map(tlvJson),
			tlvs: layout.unprotectedTlvs.map(tlvJson),
			imageSize: layout.size,
			trailer: trailerInfo(image, layout) ?? null,
		};
		let out: string;
		if (format === "json") out = JSON.stringify(info, null, 2) + "\n";
		else {
			const hex = (n: number) => `0x${n.toString(16)}`;
			const lines = [
				`${file}: ${image.length} bytes`,
				"header:",
				`  magic            0x96f3b83d`,
				`  load_addr        ${hex(h.loadAddr)}`,
				`  hdr_size         ${hex(h.hdrSize)}`,
				`  protect_tlv_size ${hex(h.protectTlvSize)}`,
				`  img_size         ${hex(h.imgSize)} (${h.imgSize})`,
				`  flags            ${hex(h.flags)}${h.flags ? ` ${flagNames(h.flags).join(" | ")}` : ""}`,
				`  version          ${formatVersion(h.version)}`,
			];
			if (info.encryption) lines.push(`encryption: AES-${info.encryption.aesKeyBits}, ${info.encryption.encTlv ?? "no ENC TLV (sealable release)"}`);
			const tlvLines = (title: string, tlvs: Tlv[]) => {
				lines.push(`${title}:${tlvs.length ? "" : " none"}`);
				for (const t of tlvs) {
					const d = describeTlv(t);
					const text = Object.entries(d).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" ");
					lines.push(`  ${hex(t.type).padEnd(6)} ${tlvName(t.type).padEnd(16)} ${String(t.value.length).padStart(4)}  ${text}`);
				}
			};
			tlvLines("protected TLVs", layout.protectedTlvs);
			tlvLines("TLVs", layout.unprotectedTlvs);
			lines.push(`image ends at ${hex(layout.size)}${layout.trailingLength ? `, ${layout.trailingLength} bytes follow` : ""}`);
			if (info.trailer) {
				const t = info.trailer as Record<string, unknown>;
				lines.push("trailer:", `  slot size ${hex(t.slotSize as number)}, max-align ${t.maxAlign}, erased 0x${(t.erasedVal as number).toString(16)}`,
					`  magic ${t.magic}, image_ok ${t.imageOk}, copy_done ${t.copyDone}, swap_info ${JSON.stringify(t.swapInfo)}, swap_size ${t.swapSize}`,
					`  in the secondary slot this means: ${t.swapTypeAsSecondary}`);
			}
			out = lines.join("\n") + "\n";
		}
		writeResult(outfile, out);
		return 0;
	},
};

export const decrypt: CommandSpec = {
	name: "decrypt",
	summary: "Write the image with its body decrypted (as --clear would leave it), after checking the hash over the plaintext.",
	usage: "decrypt --device-key DEVPRIV -o OUT IMAGE",
	options: [
		{ long: "device-key", metavar: "DEVPRIV", help: "device private key (required)" },
		{ long: "output", short: "o", metavar: "OUT", help: "output file (required)" },
	],
	notes: "Exit codes: 0 done, 1 wrong device key or hash, 2 bad usage, 3 malformed input, 4 file error.",
	run(args) {
		const [file, extra] = args.positionals;
		if (!file || extra) fail("E_USAGE", "decrypt takes one IMAGE");
		const deviceKey = loadKey(args.require("device-key"), { private: true, role: "device key" });
		const out = args.require("output");
		const image = readInput(file, "image");
		const layout = parseImage(image);
		if (!findEncTlv(layout)) fail("E_ENC_TLV", `${file} has no ENC TLV: it is not sealed for a device`);
		const result = checkImage(image, { deviceKey });
		if (result.body === "plaintext") fail("E_USAGE", `${file} is already in plaintext (a --clear image)`);
		const clear = Buffer.from(image);
		clear.set(result.plaintextBody!, layout.header.hdrSize);
		writeOutput(out, clear);
		return 0;
	},
};
