/**
 * Protected TLVs that imgtool 2.4 builds from options: the TF-M boot record (boot_record.py,
 * `--boot-record`), the vendor and class UUIDs (image.py parse_uuid, `--vid`/`--cid`).
 */
import crypto from "node:crypto";
import { fail } from "sealdrop/image";

/** Longest `--boot-record` sw_type imgtool takes (image.py MAX_SW_TYPE_LENGTH). */
export const MAX_SW_TYPE_LENGTH = 12;

/** CBOR head: major type and argument in the shortest form (RFC 8949 §3). */
function cborHead(major: number, n: number): Buffer {
	if (n < 24) return Buffer.of((major << 5) | n);
	if (n < 0x100) return Buffer.of((major << 5) | 24, n);
	if (n < 0x10000) return Buffer.of((major << 5) | 25, n >> 8, n & 0xff);
	const b = Buffer.alloc(5);
	b[0] = (major << 5) | 26;
	b.writeUInt32BE(n, 1);
	return b;
}
const cborText = (s: string) => { const t = Buffer.from(s, "utf8"); return Buffer.concat([cborHead(3, t.length), t]); };
const cborBytes = (b: Uint8Array) => Buffer.concat([cborHead(2, b.length), b]);

/**
 * The BOOT_RECORD TLV value: a CBOR map of PSA software-component properties in imgtool's order
 * (boot_record.py create_sw_component_data, encoded by cbor2 with insertion order kept):
 * 1 type, 4 version, 5 signer id, 6 measurement description, 2 measurement value (zeros, last,
 * because TF-M's bootloader writes the real hash over it at boot).
 */
export function bootRecord(swType: string, version: string, hashTlvName: string, digestLength: number, signerId: Uint8Array): Buffer {
	if ([...swType].length > MAX_SW_TYPE_LENGTH)
		fail("E_USAGE", `'${swType}' is too long (${[...swType].length} characters) for sw_type. Its maximum allowed length is ${MAX_SW_TYPE_LENGTH} characters.`);
	return Buffer.concat([
		cborHead(5, 5),
		cborHead(0, 1), cborText(swType),
		cborHead(0, 4), cborText(version),
		cborHead(0, 5), cborBytes(signerId),
		cborHead(0, 6), cborText(hashTlvName),
		cborHead(0, 2), cborBytes(new Uint8Array(digestLength)),
	]);
}

/** uuid.NAMESPACE_DNS (RFC 4122 appendix C). */
const NAMESPACE_DNS = Buffer.from("6ba7b8109dad11d180b400c04fd430c8", "hex");

/** Name-based UUID, version 5 (RFC 4122 §4.3): SHA-1 over namespace ‖ name, version and variant bits set. */
export function uuid5(namespace: Uint8Array, name: string): Buffer {
	const h = crypto.createHash("sha1").update(namespace).update(name, "utf8").digest().subarray(0, 16);
	h[6] = (h[6] & 0x0f) | 0x50;
	h[8] = (h[8] & 0x3f) | 0x80;
	return h;
}

/** Python's str.isprintable(), for the characters a command line carries: no control or separator characters except the space. */
function isPrintable(s: string): boolean {
	return [...s].every((ch) => ch === " " || !/[\p{C}\p{Z}]/u.test(ch));
}

/**
 * image.py parse_uuid: "12345678-1234-5678-1234-567812345678", 32 hex digits, or a name turned
 * into a version-5 UUID in `namespace` (DNS for the vendor, the vendor UUID for the class).
 * Like imgtool, the patterns only anchor at the start and use its character class [0-9A-f]; the
 * result is cut or zero-filled to 16 bytes (struct '16s').
 */
export function parseUuid(namespace: Uint8Array | undefined, value: string, option: string): Buffer {
	let bytes: Buffer;
	const hexOf = (text: string) => {
		if (text.length % 2 || /[^0-9a-fA-F]/.test(text)) fail("E_USAGE", `${option} "${value}" is not a valid UUID`);
		return Buffer.from(text, "hex");
	};
	if (/^[0-9A-f]{8}-[0-9A-f]{4}-[0-9A-f]{4}-[0-9A-f]{4}-[0-9A-f]{12}/.test(value)) bytes = hexOf(value.replace(/-/g, ""));
	else if (/^[0-9A-f]{32}/.test(value)) bytes = hexOf(value);
	else if (isPrintable(value)) {
		if (!namespace) fail("E_USAGE", `${option} "${value}" is a name, which needs --vid to make a UUID from (imgtool: "Unknown namespace for UUID")`);
		bytes = uuid5(namespace, value);
	} else fail("E_USAGE", `${option} "${value}" is not a UUID or a printable name`);
	const out = Buffer.alloc(16);
	bytes.copy(out, 0, 0, 16);
	return out;
}

/** The UUID_VID and UUID_CID values for `--vid`/`--cid` (image.py create). */
export function imageUuids(vid: string | undefined, cid: string | undefined): { vid?: Buffer; cid?: Buffer } {
	const v = vid === undefined ? undefined : parseUuid(NAMESPACE_DNS, vid, "--vid");
	const c = cid === undefined ? undefined : parseUuid(v, cid, "--cid");
	return { vid: v, cid: c };
}
