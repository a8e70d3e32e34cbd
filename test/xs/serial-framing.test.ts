/**
 * The serial framing's native half (native/serial-framing.c) on XS: RFC 4648 §10's base64 test
 * vectors, CRC-16/XMODEM's check value (0x31C3 for "123456789", the CRC catalogue's "check"),
 * malformed base64 refused as the JavaScript codec refuses it, ranges outside their buffers refused
 * with E_RANGE, and on XS the framing module choosing the native codec and still round-tripping
 * frames split at every byte.
 */
import { bindSerialFraming } from "sealdrop/native/serial-framing";
import { encodeSerialFrame, framingCodec, jsFraming, SerialFrameDecoder } from "../../modules/transport/smp/serial-framing.js";
import { bytesEqual, equal, ok, test, throws } from "../harness.js";

const ascii = (s: string) => new TextEncoder().encode(s);
const native = bindSerialFraming();
/** RFC 4648 §10. */
const RFC4648 = [["", ""], ["f", "Zg=="], ["fo", "Zm8="], ["foo", "Zm9v"], ["foob", "Zm9vYg=="], ["fooba", "Zm9vYmE="], ["foobar", "Zm9vYmFy"]];

test("serial framing: base64 of RFC 4648 §10's vectors, both ways, at an offset", () => {
	for (const [plain, encoded] of RFC4648) {
		const bytes = ascii(`xx${plain}`);
		const out = new Uint8Array(20).fill(0xee);
		equal(native.base64Encode(bytes, 2, plain.length, out, 3), encoded.length, plain);
		bytesEqual(out.subarray(3, 3 + encoded.length), ascii(encoded), plain);
		equal(out[3 + encoded.length], 0xee, `${plain}: nothing written past the text`);
		const text = ascii(`..${encoded}`);
		const back = new Uint8Array(10);
		equal(native.base64Decode(text, 2, encoded.length, back, 1), plain.length, encoded);
		bytesEqual(back.subarray(1, 1 + plain.length), ascii(plain), encoded);
		// padding is optional, as Zephyr's base64_decode takes it
		const bare = encoded.replace(/=+$/, "");
		equal(native.base64Decode(ascii(bare), 0, bare.length, back, 0), plain.length, bare);
	}
});

test("serial framing: CRC-16/XMODEM check value 0x31C3, continued across calls", () => {
	const check = ascii("123456789");
	equal(native.crc16(check, 0, 9, 0), 0x31c3);
	equal(native.crc16(check, 4, 5, native.crc16(check, 0, 4, 0)), 0x31c3);
	equal(native.crc16(new Uint8Array(0), 0, 0, 0x1234), 0x1234);
	// a packet followed by its CRC, big-endian, leaves 0 (what the decoder checks)
	equal(native.crc16(new Uint8Array([...check, 0x31, 0xc3]), 0, 11, 0), 0);
});

test("serial framing: native and JavaScript codecs agree on every length 0-300", () => {
	for (let n = 0; n <= 300; n++) {
		const bytes = new Uint8Array(n).map((_, i) => (i * 73 + n * 11) & 0xff);
		const a = new Uint8Array(404), b = new Uint8Array(404);
		const la = native.base64Encode(bytes, 0, n, a, 0), lb = jsFraming.base64Encode(bytes, 0, n, b, 0);
		equal(la, lb, `length ${n}`);
		bytesEqual(a.subarray(0, la), b.subarray(0, lb), `length ${n}`);
		const back = new Uint8Array(n);
		equal(native.base64Decode(a, 0, la, back, 0), n);
		bytesEqual(back, bytes, `length ${n}`);
		equal(native.crc16(bytes, 0, n, 0), jsFraming.crc16(bytes, 0, n, 0), `crc, length ${n}`);
	}
});

test("serial framing: malformed base64 is -1, no room is -2, and neither writes", () => {
	const out = new Uint8Array(8).fill(0xee);
	for (const bad of ["Zg=a", "Z===", "Zm9vY", "Zm 9", "Zm9\u00e9", "Zm-v", "Z", "====", "Zg==="]) {
		const text = ascii(bad);
		equal(native.base64Decode(text, 0, text.length, out, 0), -1, JSON.stringify(bad));
		equal(native.base64Decode(text, 0, text.length, out, 0), jsFraming.base64Decode(text, 0, text.length, out, 0), `${JSON.stringify(bad)}: as the JavaScript codec`);
	}
	equal(native.base64Decode(ascii("Zm9vYmFy"), 0, 8, out, 3), -2);
	ok(out.every((b) => b === 0xee), "nothing written");
});

test("serial framing: ranges outside their buffers are E_RANGE", () => {
	const b = new Uint8Array(8);
	throws(() => native.crc16(b, 4, 5, 0), { code: "E_RANGE" });
	throws(() => native.crc16(b, -1, 1, 0), { code: "E_RANGE" });
	throws(() => native.base64Encode(b, 0, 8, b, 0), { code: "E_RANGE" }, "12 characters do not fit 8 bytes");
	throws(() => native.base64Decode(b, 0, 4, b, 9), { code: "E_RANGE" });
	throws(() => native.find(b.subarray(2), 0, 7, 0), { code: "E_RANGE" }, "the view's length bounds the range");
	equal(native.find(new Uint8Array([1, 10, 3, 10]), 2, 2, 10), 3, "index from the view's start");
	equal(native.find(new Uint8Array([1, 10, 3]), 2, 1, 10), -1);
	throws(() => native.crc16({} as Uint8Array, 0, 0, 0), { type: TypeError });
	// called as they are, with no wrapper: a missing argument is refused before anything is read
	const bare = native as unknown as Record<string, (...args: unknown[]) => number>;
	throws(() => bare.crc16(b, 0, 8), { code: "E_RANGE" }, "crc16 without its crc");
	throws(() => bare.find(b, 0), { code: "E_RANGE" }, "find without length and byte");
	throws(() => bare.base64Encode(b, 0, 3, new Uint8Array(4)), { code: "E_RANGE" }, "base64Encode without outputOffset");
	throws(() => bare.base64Decode(), { code: "E_RANGE" }, "base64Decode without arguments");
});

test("serial framing: on XS the module decodes with the native codec, a frame split at every byte", () => {
	// the native codec refuses a range past its buffer, the JavaScript one reads on as the array ends
	ok(framingCodec() !== jsFraming, "the native codec is chosen");
	throws(() => framingCodec().find(new Uint8Array(4), 0, 9, 10), { code: "E_RANGE" }, "the native codec is chosen");
	const packet = new Uint8Array(300).map((_, i) => (i * 7) & 0xff);
	const frame = encodeSerialFrame(packet);
	for (let split = 0; split <= frame.length; split++) {
		const decoder = new SerialFrameDecoder({ maxPacket: 512 });
		const got = [...decoder.push(frame.subarray(0, split)), ...decoder.push(frame.subarray(split))];
		equal(got.length, 1, `split at ${split}`);
		bytesEqual(got[0], packet, `split at ${split}`);
	}
	const corrupt = frame.slice();
	corrupt[10] = corrupt[10] === 0x41 ? 0x42 : 0x41;
	const decoder = new SerialFrameDecoder({ maxPacket: 512 });
	equal(decoder.push(corrupt).length, 0);
	equal(decoder.dropped.frames, 1, "a bad CRC drops the frame");
});
