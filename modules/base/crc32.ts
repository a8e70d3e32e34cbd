/**
 * CRC-32 (IEEE 802.3: reflected, polynomial 0xEDB88320), continuing from `crc` as zlib's
 * crc32(crc, buf) and ESP-IDF's esp_rom_crc32_le(crc, buf) do: the register is inverted on the
 * way in and out, so crc32(b, crc32(a)) = crc32(a ‖ b). The record log checks its records with
 * it from 0; ESP-IDF's otadata entries start from UINT32_MAX.
 */
const TABLE = (() => {
	const table = new Uint32Array(256);
	for (let n = 0; n < 256; n++) {
		let c = n;
		for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
		table[n] = c >>> 0;
	}
	return table;
})();

/** CRC-32 of `length` bytes of `bytes` from `offset` (all of them by default), continuing from `crc`. */
export function crc32(bytes: Uint8Array, crc = 0, offset = 0, length = bytes.length - offset): number {
	let c = ~crc >>> 0;
	for (let i = offset, end = offset + length; i < end; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
	return ~c >>> 0;
}
