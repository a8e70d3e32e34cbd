/**
 * TLV areas after the body (MCUboot image.h:99-188, bootutil tlv.c:43-184).
 *
 *   [protected area]  info{0x6908, tot == ih_protect_tlv_size} TLV...   (hashed, so signed)
 *   unprotected area  info{0x6907, tot} TLV...                          (hash, key id, signature, ENC)
 *
 * `tot` includes the 4-byte info header; TLVs are {u16 type, u16 len, value[len]} back to back.
 */
import { fail } from "sealdrop/base/errors";
import { concatBytes, latin1, putU16, toHex, u16, u32 } from "sealdrop/base/bytes";
import { decodeVersion, encodeVersion, formatVersion, type ImageVersion } from "./version.js";

export const TLV_INFO_MAGIC = 0x6907;
export const TLV_PROT_INFO_MAGIC = 0x6908;
export const TLV_INFO_SIZE = 4;
export const TLV_HEADER_SIZE = 4;

/** IMAGE_TLV_* type numbers. */
export const TlvType = {
	KEYHASH: 0x01,
	PUBKEY: 0x02,
	SHA256: 0x10,
	SHA384: 0x11,
	SHA512: 0x12,
	RSA2048_PSS: 0x20,
	ECDSA224: 0x21,
	ECDSA_SIG: 0x22,
	RSA3072_PSS: 0x23,
	ED25519: 0x24,
	SIG_PURE: 0x25,
	ENC_RSA2048: 0x30,
	ENC_KW: 0x31,
	ENC_EC256: 0x32,
	ENC_X25519: 0x33,
	ENC_X25519_SHA512: 0x34,
	DEPENDENCY: 0x40,
	SEC_CNT: 0x50,
	BOOT_RECORD: 0x60,
	DECOMP_SIZE: 0x70,
	DECOMP_SHA: 0x71,
	DECOMP_SIGNATURE: 0x72,
	COMP_DEC_SIZE: 0x73,
	UUID_VID: 0x74,
	UUID_CID: 0x75,
} as const;

/** imgtool's names (image.py:71-96), used in dumpinfo output so both tools read alike. */
const IMGTOOL_NAMES: Record<number, string> = {
	0x01: "KEYHASH", 0x02: "PUBKEY", 0x10: "SHA256", 0x11: "SHA384", 0x12: "SHA512",
	0x20: "RSA2048", 0x21: "ECDSA224", 0x22: "ECDSASIG", 0x23: "RSA3072", 0x24: "ED25519",
	0x25: "SIG_PURE", 0x30: "ENCRSA2048", 0x31: "ENCKW", 0x32: "ENCEC256", 0x33: "ENCX25519",
	0x34: "ENCX25519_SHA512", 0x40: "DEPENDENCY", 0x50: "SEC_CNT", 0x60: "BOOT_RECORD",
	0x70: "DECOMP_SIZE", 0x71: "DECOMP_SHA", 0x72: "DECOMP_SIGNATURE", 0x73: "COMP_DEC_SIZE",
	0x74: "UUID_VID", 0x75: "UUID_CID",
};

export function tlvName(type: number): string {
	return IMGTOOL_NAMES[type] ?? (type >= 0xa0 && type <= 0xfffe ? "CUSTOM" : "UNKNOWN");
}

/** Hash TLV type → algorithm and digest length. */
export const HASH_TLVS: Record<number, { alg: "sha256" | "sha384" | "sha512"; length: number }> = {
	[TlvType.SHA256]: { alg: "sha256", length: 32 },
	[TlvType.SHA384]: { alg: "sha384", length: 48 },
	[TlvType.SHA512]: { alg: "sha512", length: 64 },
};

export const ENC_TLV_TYPES: readonly number[] = [TlvType.ENC_RSA2048, TlvType.ENC_KW, TlvType.ENC_EC256, TlvType.ENC_X25519, TlvType.ENC_X25519_SHA512];
export const SIGNATURE_TLV_TYPES: readonly number[] = [TlvType.RSA2048_PSS, TlvType.ECDSA_SIG, TlvType.RSA3072_PSS, TlvType.ED25519];

/** Lengths fixed by the format; a TLV of these types with another length is malformed. */
const FIXED_LENGTHS: Record<number, readonly number[]> = {
	[TlvType.SHA256]: [32], [TlvType.SHA384]: [48], [TlvType.SHA512]: [64],
	[TlvType.KEYHASH]: [32, 48, 64],
	[TlvType.RSA2048_PSS]: [256], [TlvType.RSA3072_PSS]: [384], [TlvType.ED25519]: [64],
	[TlvType.SIG_PURE]: [1],
	[TlvType.ENC_RSA2048]: [256], [TlvType.ENC_KW]: [24, 40], [TlvType.ENC_EC256]: [113, 129],
	[TlvType.ENC_X25519]: [80, 96], [TlvType.ENC_X25519_SHA512]: [112, 128],
	[TlvType.DEPENDENCY]: [12], [TlvType.SEC_CNT]: [4],
	[TlvType.DECOMP_SIZE]: [4], [TlvType.COMP_DEC_SIZE]: [4],
	[TlvType.UUID_VID]: [16], [TlvType.UUID_CID]: [16],
};

export interface Tlv {
	type: number;
	value: Uint8Array;
	protected: boolean;
	/** Offset of the TLV's 4-byte header in the image (or in the area, for TLVs not yet placed). */
	offset: number;
}

/**
 * Parses one TLV area held in `area` (starting with its info header) and placed at `areaOffset`
 * in the image. Applies bootutil's rules: right magic, `tot` within the bytes, no TLV past the end.
 */
export function parseTlvArea(area: Uint8Array, areaOffset: number, isProtected: boolean): Tlv[] {
	const name = isProtected ? "protected TLV area" : "TLV area";
	if (area.length < TLV_INFO_SIZE) fail("E_TRUNCATED", `image truncated in the ${name} header at offset ${areaOffset}`);
	const magic = u16(area, 0);
	const expected = isProtected ? TLV_PROT_INFO_MAGIC : TLV_INFO_MAGIC;
	if (magic !== expected) fail("E_BAD_MAGIC", `${name} at offset ${areaOffset} has magic 0x${magic.toString(16)}, expected 0x${expected.toString(16)}`);
	const total = u16(area, 2);
	if (total < TLV_INFO_SIZE) fail("E_TLV_OVERRUN", `${name} at offset ${areaOffset} claims ${total} bytes, less than its own header`);
	if (area.length < total) fail("E_TRUNCATED", `image truncated in the ${name} at offset ${areaOffset + area.length} (${total} bytes expected)`);
	const tlvs: Tlv[] = [];
	let at = TLV_INFO_SIZE;
	while (at < total) {
		if (at + TLV_HEADER_SIZE > total) fail("E_TLV_OVERRUN", `TLV header at offset ${areaOffset + at} runs past the end of the ${name}`);
		const type = u16(area, at);
		const length = u16(area, at + 2);
		if (at + TLV_HEADER_SIZE + length > total)
			fail("E_TLV_OVERRUN", `TLV 0x${type.toString(16)} at offset ${areaOffset + at} (${length} bytes) runs past the end of the ${name}`);
		const tlv = { type, value: area.subarray(at + TLV_HEADER_SIZE, at + TLV_HEADER_SIZE + length), protected: isProtected, offset: areaOffset + at };
		checkTlvLength(tlv);
		tlvs.push(tlv);
		at += TLV_HEADER_SIZE + length;
	}
	return tlvs;
}

function checkTlvLength(tlv: Tlv): void {
	const lengths = FIXED_LENGTHS[tlv.type];
	if (lengths && !lengths.includes(tlv.value.length))
		fail("E_TLV_VALUE", `${tlvName(tlv.type)} TLV at offset ${tlv.offset} has ${tlv.value.length} bytes, expected ${lengths.join(" or ")}`);
	if (tlv.type === TlvType.SIG_PURE && tlv.value[0] !== 1) fail("E_TLV_VALUE", `SIG_PURE TLV at offset ${tlv.offset} must hold 0x01`);
}

/** Encodes a TLV area; an empty protected area is no area at all (image.py:601-603). */
export function encodeTlvArea(tlvs: readonly { type: number; value: Uint8Array }[], isProtected: boolean): Uint8Array {
	if (isProtected && tlvs.length === 0) return new Uint8Array(0);
	const parts: Uint8Array[] = [new Uint8Array(TLV_INFO_SIZE)];
	for (const tlv of tlvs) {
		if (tlv.value.length > 0xffff) fail("E_TLV_VALUE", `TLV 0x${tlv.type.toString(16)} is too long (${tlv.value.length} bytes)`);
		const head = new Uint8Array(TLV_HEADER_SIZE);
		putU16(head, 0, tlv.type);
		putU16(head, 2, tlv.value.length);
		parts.push(head, tlv.value);
	}
	const area = concatBytes(parts);
	if (area.length > 0xffff) fail("E_TLV_VALUE", `TLV area of ${area.length} bytes exceeds 65535`);
	putU16(area, 0, isProtected ? TLV_PROT_INFO_MAGIC : TLV_INFO_MAGIC);
	putU16(area, 2, area.length);
	return area;
}

/* Values */

export interface Dependency {
	imageId: number;
	minVersion: ImageVersion;
}

/** struct image_dependency {u8 image_id; u8 _pad1; u16 _pad2; image_version min} (image.h:156-164). */
export function encodeDependency(dep: Dependency): Uint8Array {
	const out = new Uint8Array(12);
	out[0] = dep.imageId;
	encodeVersion(dep.minVersion, out, 4);
	return out;
}

export function decodeDependency(value: Uint8Array): Dependency {
	if (value.length !== 12) fail("E_TLV_VALUE", `DEPENDENCY TLV has ${value.length} bytes, expected 12`);
	return { imageId: value[0], minVersion: decodeVersion(value, 4) };
}

export function encodeU32(value: number): Uint8Array {
	const out = new Uint8Array(4);
	new DataView(out.buffer).setUint32(0, value, true);
	return out;
}

/** Parts of an ECIES TLV (reference §C.2): ephemeral public key, HMAC tag, encrypted AES key. */
export interface EciesParts {
	ephemeral: Uint8Array;
	tag: Uint8Array;
	encryptedKey: Uint8Array;
}

export function splitEciesTlv(tlv: { type: number; value: Uint8Array }): EciesParts {
	const pointLength = tlv.type === TlvType.ENC_EC256 ? 65 : tlv.type === TlvType.ENC_X25519 || tlv.type === TlvType.ENC_X25519_SHA512 ? 32 : 0;
	if (!pointLength) fail("E_ENC_TLV", `TLV 0x${tlv.type.toString(16)} is not an ECIES TLV`);
	const tagLength = tlv.type === TlvType.ENC_X25519_SHA512 ? 64 : 32;
	const keyLength = tlv.value.length - pointLength - tagLength;
	if (keyLength !== 16 && keyLength !== 32) fail("E_ENC_TLV", `${tlvName(tlv.type)} TLV has ${tlv.value.length} bytes, which fits no AES key size`);
	return {
		ephemeral: tlv.value.subarray(0, pointLength),
		tag: tlv.value.subarray(pointLength, pointLength + tagLength),
		encryptedKey: tlv.value.subarray(pointLength + tagLength),
	};
}

function formatUuid(b: Uint8Array): string {
	const h = toHex(b);
	return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A JSON-friendly reading of a TLV's value, for dumpinfo and diagnostics. */
export function describeTlv(tlv: Tlv): Record<string, unknown> {
	const v = tlv.value;
	switch (tlv.type) {
		case TlvType.SEC_CNT: return { securityCounter: u32(v, 0) };
		case TlvType.DEPENDENCY: {
			const dep = decodeDependency(v);
			return { imageId: dep.imageId, minVersion: formatVersion(dep.minVersion) };
		}
		case TlvType.SIG_PURE: return { pure: true };
		case TlvType.DECOMP_SIZE: case TlvType.COMP_DEC_SIZE: return { size: u32(v, 0) };
		case TlvType.UUID_VID: case TlvType.UUID_CID: return { uuid: formatUuid(v) };
		case TlvType.ENC_EC256: case TlvType.ENC_X25519: case TlvType.ENC_X25519_SHA512: {
			const parts = splitEciesTlv(tlv);
			return { aesKeyBits: parts.encryptedKey.length * 8, ephemeralKey: toHex(parts.ephemeral), tag: toHex(parts.tag), encryptedKey: toHex(parts.encryptedKey) };
		}
		case TlvType.BOOT_RECORD: return { bootRecord: decodeBootRecord(v) ?? toHex(v) };
		default: {
			const out: Record<string, unknown> = { hex: toHex(v) };
			if (tlv.type >= 0xa0 && v.every((c) => c >= 0x20 && c <= 0x7e)) out.text = latin1(v);
			return out;
		}
	}
}

/**
 * Reads the measured-boot record imgtool writes (boot_record.py): a definite CBOR map of small
 * unsigned keys to text, byte strings or unsigned numbers. Returns undefined for anything else,
 * since the record is informational here and the bootloader fills in its measurement.
 */
export function decodeBootRecord(bytes: Uint8Array): Record<string, unknown> | undefined {
	const names: Record<number, string> = { 1: "type", 2: "measurementValue", 4: "version", 5: "signerId", 6: "measurementDescription" };
	let at = 0;
	const head = (): [number, number] | undefined => {
		if (at >= bytes.length) return undefined;
		const major = bytes[at] >> 5, info = bytes[at] & 31;
		at++;
		if (info < 24) return [major, info];
		const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : 0;
		if (!size || at + size > bytes.length) return undefined;
		let n = 0;
		for (let i = 0; i < size; i++) n = n * 256 + bytes[at++];
		return [major, n];
	};
	const map = head();
	if (!map || map[0] !== 5) return undefined;
	const out: Record<string, unknown> = {};
	for (let i = 0; i < map[1]; i++) {
		const key = head(), val = head();
		if (!key || key[0] !== 0 || !val) return undefined;
		let value: unknown;
		if (val[0] === 0) value = val[1];
		else if (val[0] === 2 || val[0] === 3) {
			if (at + val[1] > bytes.length) return undefined;
			const raw = bytes.subarray(at, at + val[1]);
			at += val[1];
			value = val[0] === 3 ? latin1(raw) : toHex(raw);
		} else return undefined;
		out[names[key[1]] ?? String(key[1])] = value;
	}
	return at === bytes.length ? out : undefined;
}
