/**
 * `dumpinfo` output as imgtool 2.4 prints it (scripts/imgtool/dumpinfo.py): the same fields in the
 * same order, in its human layout, as YAML (PyYAML's yaml.dump, sort_keys=False) or as JSON
 * (json.dump, indent 2, bytes as hex). The image has already passed parseImage, so every offset
 * read here is inside it.
 */
import { alignUp, TLV_INFO_SIZE } from "sealdrop/image";

/** image.py IMAGE_F, in its order (dumpinfo lists set flags in this order). */
const IMAGE_F: [string, number][] = [
	["PIC", 0x1], ["ENCRYPTED_AES128", 0x4], ["ENCRYPTED_AES256", 0x8], ["NON_BOOTABLE", 0x10], ["RAM_LOAD", 0x20],
	["ROM_FIXED", 0x100], ["COMPRESSED_LZMA1", 0x200], ["COMPRESSED_LZMA2", 0x400], ["COMPRESSED_ARM_THUMB", 0x800],
];

/** image.py TLV_VALUES, reversed (dumpinfo.py TLV_TYPES); anything else is "UNKNOWN". */
const TLV_TYPES: Record<number, string> = {
	0x01: "KEYHASH", 0x02: "PUBKEY", 0x10: "SHA256", 0x11: "SHA384", 0x12: "SHA512", 0x20: "RSA2048", 0x22: "ECDSASIG",
	0x23: "RSA3072", 0x24: "ED25519", 0x25: "SIG_PURE", 0x30: "ENCRSA2048", 0x31: "ENCKW", 0x32: "ENCEC256", 0x33: "ENCX25519",
	0x34: "ENCX25519_SHA512", 0x40: "DEPENDENCY", 0x50: "SEC_CNT", 0x60: "BOOT_RECORD", 0x70: "DECOMP_SIZE", 0x71: "DECOMP_SHA",
	0x72: "DECOMP_SIGNATURE", 0x73: "COMP_DEC_SIZE", 0x74: "UUID_VID", 0x75: "UUID_CID",
};

const BOOT_MAGIC = Buffer.from("77c295f360d2ef7f3552500f2cb67980", "hex");
const BOOT_MAGIC_2 = Buffer.from("2de15d29410b8d77679c110f1f8a", "hex");
const LINE_LENGTH = 60;

interface TlvInfo { type: number; type_name: string; len: number; data: Buffer }
export interface ImgInfo {
	filename: string;
	header: { magic: number; load_addr: number; hdr_size: number; protected_tlv_size: number; img_size: number; flags: number; version: string };
	tlv_area: { tlv_hdr_prot: { magic?: number; tlv_tot?: number }; tlvs_prot: TlvInfo[]; tlv_hdr: { magic: number; tlv_tot: number }; tlvs: TlvInfo[] };
	trailer: { magic?: Buffer; image_ok?: number; copy_done?: number; swap_info?: number; swap_size?: number; key_field_len?: number };
	/** Printed by imgtool on standard output when the trailer magic is not recognised. */
	warning?: string;
}

function readTlvs(b: Buffer, start: number, end: number): TlvInfo[] {
	const out: TlvInfo[] = [];
	for (let off = start; off < end;) {
		const type = b.readUInt16LE(off);
		const len = b.readUInt16LE(off + 2);
		off += TLV_INFO_SIZE;
		out.push({ type, type_name: TLV_TYPES[type] ?? "UNKNOWN", len, data: b.subarray(off, off + len) });
		off += len;
	}
	return out;
}

/** dumpinfo.py _read_imginfo. */
export function readImgInfo(b: Buffer, filename: string): ImgInfo {
	const v = { major: b[20], minor: b[21], revision: b.readUInt16LE(22), build: b.readUInt32LE(24) };
	const header = {
		magic: b.readUInt32LE(0), load_addr: b.readUInt32LE(4), hdr_size: b.readUInt16LE(8), protected_tlv_size: b.readUInt16LE(10),
		img_size: b.readUInt32LE(12), flags: b.readUInt32LE(16), version: `${v.major}.${v.minor}.${v.revision}+${v.build}`,
	};
	const area: ImgInfo["tlv_area"] = { tlv_hdr_prot: {}, tlvs_prot: [], tlv_hdr: { magic: 0, tlv_tot: 0 }, tlvs: [] };
	let off = header.hdr_size + header.img_size;
	if (header.protected_tlv_size !== 0) {
		area.tlv_hdr_prot = { magic: b.readUInt16LE(off), tlv_tot: b.readUInt16LE(off + 2) };
		area.tlvs_prot = readTlvs(b, off + TLV_INFO_SIZE, off + area.tlv_hdr_prot.tlv_tot!);
		off += area.tlv_hdr_prot.tlv_tot!;
	}
	area.tlv_hdr = { magic: b.readUInt16LE(off), tlv_tot: b.readUInt16LE(off + 2) };
	const tlvEnd = off + area.tlv_hdr.tlv_tot;
	area.tlvs = readTlvs(b, off + TLV_INFO_SIZE, tlvEnd);

	const trailer: ImgInfo["trailer"] = {};
	let warning: string | undefined;
	if (b.length - tlvEnd > 0) {
		let t = b.length - BOOT_MAGIC.length;
		const magic = b.subarray(t);
		trailer.magic = magic;
		let maxAlign: number | undefined;
		if (magic.equals(BOOT_MAGIC)) maxAlign = 8;
		else if (magic.subarray(2).equals(BOOT_MAGIC_2)) maxAlign = magic.readUInt16LE(0);
		else warning = "Warning: the trailer magic value is invalid!";
		if (maxAlign !== undefined) {
			if (maxAlign > BOOT_MAGIC.length) t -= maxAlign - BOOT_MAGIC.length;
			t -= maxAlign;
			trailer.image_ok = b[t];
			t -= maxAlign;
			trailer.copy_done = b[t];
			t -= maxAlign;
			trailer.swap_info = b[t];
			t -= maxAlign;
			trailer.swap_size = b.readUInt32LE(t);
			if (header.flags & 0xc) trailer.key_field_len = alignUp(16, maxAlign) * 2;
		}
	}
	return { filename, header, tlv_area: area, trailer, warning };
}

const hex = (n: number) => `0x${n.toString(16)}`;

function row(text: string): string {
	const t = `#### ${text} `;
	return t + "#".repeat(Math.max(0, LINE_LENGTH - t.length));
}

function frame(headerText: string, content: string): string {
	const head = `#### ${headerText} `;
	const offset = Math.floor((LINE_LENGTH - content.length) / 2);
	const pre = "|" + " ".repeat(offset - 1);
	const post = " ".repeat(LINE_LENGTH - pre.length - content.length - 1) + "|";
	const blank = "|" + " ".repeat(LINE_LENGTH - 2) + "|";
	return [head + "#".repeat(LINE_LENGTH - head.length), blank, pre + content + post, blank, "#".repeat(LINE_LENGTH)].join("\n");
}

function tlvRecords(tlvs: TlvInfo[]): string {
	const indent = " ".repeat(LINE_LENGTH / 8 | 0);
	const lines: string[] = [];
	for (const tlv of tlvs) {
		lines.push(`${indent} ${"-".repeat(45)}`, `${indent} type: ${tlv.type_name} (${hex(tlv.type)})`, `${indent} len:  ${hex(tlv.len)}`);
		let line = `${indent} data: `;
		tlv.data.forEach((byte, j) => {
			line += `0x${byte.toString(16).padStart(2, "0")} `;
			if ((j + 1) % 8 === 0 && j + 1 !== tlv.data.length) {
				lines.push(line);
				line = " ".repeat(indent.length + 7);
			}
		});
		lines.push(line);
	}
	return lines.join("\n");
}

const STATUS: Record<number, string> = { 1: "SET", 2: "BAD", 3: "UNSET", 4: "ANY" };
const status = (v: number) => `${STATUS[v] ?? "INVALID"} (${hex(v)})`;

/** dumpinfo.py _write_format_human. */
export function formatHuman(info: ImgInfo): string {
	const out: string[] = [];
	const print = (...parts: string[]) => out.push(parts.join(" ") + "\n");
	const { header, tlv_area: area, trailer } = info;
	print("Printing content of signed image:", info.filename, "\n");
	print(row("Image header (offset: 0x0)"));
	for (const [key, value] of Object.entries(header)) {
		let text: string;
		if (key === "flags") {
			const flags = value as number;
			text = !flags ? hex(flags) : IMAGE_F.filter(([, bit]) => flags & bit).map(([name, bit]) => `${name} (${hex(bit)})`).join("\n" + " ".repeat(20));
		} else text = typeof value === "string" ? value : hex(value);
		out.push(`${key}:${" ".repeat(Math.max(0, 19 - key.length))}${text}\n`);
	}
	print("#".repeat(LINE_LENGTH));
	let sectionOff = header.hdr_size;
	print(frame(`Payload (offset: ${hex(sectionOff)})`, `FW image (size: ${hex(header.img_size)} Bytes)`));
	sectionOff += header.img_size;
	if (header.protected_tlv_size !== 0) {
		print(row(`Protected TLV area (offset: ${hex(sectionOff)})`));
		print("magic:    ", hex(area.tlv_hdr_prot.magic!));
		print("area size:", hex(area.tlv_hdr_prot.tlv_tot!));
		print(tlvRecords(area.tlvs_prot));
		print("#".repeat(LINE_LENGTH));
	}
	sectionOff += header.protected_tlv_size;
	print(row(`TLV area (offset: ${hex(sectionOff)})`));
	print("magic:    ", hex(area.tlv_hdr.magic));
	print("area size:", hex(area.tlv_hdr.tlv_tot));
	print(tlvRecords(area.tlvs));
	print("#".repeat(LINE_LENGTH));
	if (trailer.magic?.length) {
		print(row("Image trailer (offset: unknown)"));
		const notice = "(Note: some fields may not be used, depending on the update strategy)\n";
		const chunks: string[] = [];
		for (let i = 0; i < notice.length; i += LINE_LENGTH) chunks.push(notice.slice(i, i + LINE_LENGTH));
		print(chunks.join("\n"));
		print("swap status: (len: unknown)");
		print("enc. keys:  ", trailer.key_field_len !== undefined ? `(len: ${hex(trailer.key_field_len)}, if BOOT_SWAP_SAVE_ENCTLV is unset)` : "Image not encrypted");
		if (trailer.swap_size !== undefined) print("swap size:  ", trailer.swap_size === 0xffffffff ? "unknown" : `${hex(trailer.swap_size)} octal: ${trailer.swap_size}`);
		if (trailer.swap_info !== undefined) print("swap_info:  ", status(trailer.swap_info));
		if (trailer.copy_done !== undefined) print("copy_done:  ", status(trailer.copy_done));
		if (trailer.image_ok !== undefined) print("image_ok:   ", status(trailer.image_ok));
		let magic = "";
		trailer.magic.forEach((byte, i) => {
			magic += `0x${byte.toString(16).padStart(2, "0")} `;
			if (i === BOOT_MAGIC.length / 2 - 1) magic += "\n" + " ".repeat(13);
		});
		print("boot magic: ", magic);
		print("");
	}
	print(row("End of Image "));
	return out.join("");
}

/** The dict imgtool dumps, with its key order (for YAML and JSON). */
function asTree(info: ImgInfo): Record<string, unknown> {
	return { filename: info.filename, header: info.header, tlv_area: info.tlv_area, trailer: info.trailer };
}

/** dumpinfo.py json.dump(indent=2, bytes as hex); `toStdout` adds the newline imgtool prints after it. */
export function formatJson(info: ImgInfo, toStdout: boolean): string {
	const text = JSON.stringify(asTree(info), (_k, v) => (v && v.type === "Buffer" && Array.isArray(v.data) ? Buffer.from(v.data).toString("hex") : v), 2);
	return toStdout ? text + "\n" : text;
}

/** A string as PyYAML writes it: plain when nothing in it could be read as another type or as syntax, else single-quoted. */
function yamlString(s: string): string {
	const plain = /^[A-Za-z_./][A-Za-z0-9_./+-]*$/.test(s) && !/^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~)$/.test(s)
		|| /^\d+\.\d+\.\d+\+\d+$/.test(s);
	return plain ? s : `'${s.replace(/'/g, "''")}'`;
}

/**
 * A block mapping as PyYAML's emitter writes it (default_flow_style=False): nested mappings two
 * spaces in, a sequence of mappings at its key's own indent ("- " taking the first key's place),
 * empty collections as {} and [], bytes as !!binary literal blocks of base64.encodebytes lines (76
 * characters).
 */
function yamlMapping(value: Record<string, unknown>, indent: string): string[] {
	const lines: string[] = [];
	for (const [k, v] of Object.entries(value)) {
		if (v === undefined) continue;
		if (Buffer.isBuffer(v)) {
			lines.push(`${indent}${k}: !!binary |`);
			const text = v.toString("base64");
			for (let i = 0; i < text.length; i += 76) lines.push(`${indent}  ${text.slice(i, i + 76)}`);
		} else if (Array.isArray(v)) {
			if (!v.length) lines.push(`${indent}${k}: []`);
			else {
				lines.push(`${indent}${k}:`);
				for (const item of v) {
					const itemLines = yamlMapping(item as Record<string, unknown>, indent + "  ");
					itemLines[0] = `${indent}- ${itemLines[0].slice(indent.length + 2)}`;
					lines.push(...itemLines);
				}
			}
		} else if (v && typeof v === "object") {
			if (!Object.values(v).some((x) => x !== undefined)) lines.push(`${indent}${k}: {}`);
			else lines.push(`${indent}${k}:`, ...yamlMapping(v as Record<string, unknown>, indent + "  "));
		} else lines.push(`${indent}${k}: ${typeof v === "string" ? yamlString(v) : String(v)}`);
	}
	return lines;
}

/** yaml.dump(imginfo, sort_keys=False). */
export function formatYaml(info: ImgInfo): string {
	return yamlMapping(asTree(info), "").join("\n") + "\n";
}
