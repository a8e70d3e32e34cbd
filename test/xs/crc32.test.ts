/**
 * The native CRC-32 (native/crc32.c) on XS: the CRC catalogue's check value (0xCBF43926 for
 * "123456789"), zlib's crc32() of a few published strings, continuation across calls, agreement
 * with the JavaScript table on every length 0-300 at every offset 0-7, ranges outside their
 * buffer refused, and modules/base/crc32.ts choosing it.
 */
import { bindCrc32 } from "sealdrop/native/crc32";
import { crc32, crc32Js } from "../../modules/base/crc32.js";
import { equal, test, throws } from "../harness.js";

const ascii = (s: string) => new TextEncoder().encode(s);
const crc = bindCrc32();

test("crc32: the check value and zlib's CRCs of published strings", () => {
	equal(crc(ascii("123456789"), 0, 9, 0), 0xcbf43926);
	equal(crc(new Uint8Array(0), 0, 0, 0), 0);
	// python3 -c 'import zlib; print(hex(zlib.crc32(b"The quick brown fox jumps over the lazy dog")))'
	equal(crc(ascii("The quick brown fox jumps over the lazy dog"), 0, 43, 0), 0x414fa339);
	equal(crc(ascii("a"), 0, 1, 0), 0xe8b7be43);
	// ESP-IDF's otadata CRC: esp_rom_crc32_le(UINT32_MAX, ota_seq) over ota_seq = 1, LE
	equal(crc(new Uint8Array([1, 0, 0, 0]), 0, 4, 0xffffffff), crc32Js(new Uint8Array([1, 0, 0, 0]), 0xffffffff, 0, 4));
});

test("crc32: continued across calls, and on a range of a view", () => {
	const check = ascii("xx123456789yy");
	equal(crc(check, 2, 9, 0), 0xcbf43926);
	equal(crc(check, 6, 5, crc(check, 2, 4, 0)), 0xcbf43926);
	equal(crc(check.subarray(2, 11), 0, 9, 0), 0xcbf43926);
	equal(crc(check.buffer, 2, 9, 0), 0xcbf43926);
});

test("crc32: native and JavaScript agree on every length 0-300 at offsets 0-7", () => {
	const bytes = new Uint8Array(308).map((_, i) => (i * 151 + 7) & 0xff);
	for (let offset = 0; offset < 8; offset++)
		for (let n = 0; n <= 300; n++) equal(crc(bytes, offset, n, 0x12345678), crc32Js(bytes, 0x12345678, offset, n), `offset ${offset}, length ${n}`);
});

test("crc32: a range outside the bytes is refused", () => {
	const bytes = new Uint8Array(8);
	throws(() => crc(bytes, 0, 9, 0), { type: RangeError });
	throws(() => crc(bytes, 9, 0, 0), { type: RangeError });
	throws(() => crc(bytes, -1, 2, 0), { type: RangeError });
	throws(() => crc("text" as unknown as Uint8Array, 0, 1, 0), { type: TypeError });
	throws(() => (crc as () => number)(), { type: TypeError }, "no arguments (no wrapper fills them in)");
	throws(() => crc(bytes, 0, 8, -1), { type: RangeError }, "a negative CRC");
	equal(crc(bytes), crc(bytes, 0, 8, 0), "offset, length and crc default to the whole buffer from 0");
});

test("crc32: modules/base/crc32 uses the native CRC on XS", () => {
	const bytes = ascii("123456789");
	equal(crc32(bytes), 0xcbf43926);
	equal(crc32(bytes, 0, 4, 5), crc(bytes, 4, 5, 0));
	// what tells them apart: the table reads past the end as undefined and carries on, the native
	// CRC refuses the range
	equal(typeof crc32Js(bytes, 0, 0, 20), "number");
	throws(() => crc32(bytes, 0, 0, 20), { type: RangeError });
});
