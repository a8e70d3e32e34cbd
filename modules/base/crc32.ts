/**
 * CRC-32 (IEEE 802.3: reflected, polynomial 0xEDB88320), continuing from `crc` as zlib's
 * crc32(crc, buf) and ESP-IDF's esp_rom_crc32_le(crc, buf) do: the register is inverted on the
 * way in and out, so crc32(b, crc32(a)) = crc32(a ‖ b). The record log checks its records with
 * it from 0; ESP-IDF's otadata entries start from UINT32_MAX.
 *
 * On XS the bytes go through native/crc32.c (the record log's CRC per journal record was ~1,300
 * interpreted instructions a byte); in Node, where XS's `native` does not exist, through the
 * table below.
 */
import { bindCrc32, type Crc32 } from "sealdrop/native/crc32";

const TABLE = (() => {
	const table = new Uint32Array(256);
	for (let n = 0; n < 256; n++) {
		let c = n;
		for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
		table[n] = c >>> 0;
	}
	return table;
})();

/** The CRC-32 of `length` bytes of `bytes` from `offset` in JavaScript, continuing from `crc`. */
export function crc32Js(bytes: Uint8Array, crc: number, offset: number, length: number): number {
	let c = ~crc >>> 0;
	for (let i = offset, end = offset + length; i < end; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
	return ~c >>> 0;
}

/** The CRC catalogue's check value: CRC-32 of "123456789". */
const CHECK = new Uint8Array([0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39]);
const CHECK_CRC = 0xcbf43926;

/**
 * The native CRC on XS (null: crc32Js), chosen at the first use, not when the module loads: a
 * board preloads this module at build time, where no native code runs.
 */
let inC: Crc32 | null | undefined; // (not named `native`: xsc reads native(...) as a binding of a C function)
function choose(): Crc32 | null {
	try {
		const bound = bindCrc32();
		return bound(CHECK, 0, CHECK.length, 0) === CHECK_CRC ? bound : null;
	} catch {
		return null; // Node: no `native`
	}
}

/** CRC-32 of `length` bytes of `bytes` from `offset` (all of them by default), continuing from `crc`. */
export function crc32(bytes: Uint8Array, crc = 0, offset = 0, length = bytes.length - offset): number {
	if (inC === undefined) inC = choose();
	return inC ? inC(bytes, offset, length, crc) : crc32Js(bytes, crc, offset, length);
}
