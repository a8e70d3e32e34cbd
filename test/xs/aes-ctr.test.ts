/** AesCtr (native/aes-ctr.c) on XS: NIST SP 800-38A vectors, seeking, in place, @noble/ciphers agreement. */
import AesCtr from "sealdrop/native/aes-ctr";
import { ctr as nobleCtr } from "@noble/ciphers/aes.js";
import { bytesEqual, fromHex, test, throws } from "../harness.js";

// NIST SP 800-38A Appendix F.5.1 (CTR-AES128.Encrypt) and F.5.5 (CTR-AES256.Encrypt)
const counter = fromHex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
const plaintext = fromHex(
	"6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710",
);
const vectors = [
	{ bits: 128, key: "2b7e151628aed2a6abf7158809cf4f3c", ciphertext: "874d6191b620e3261bef6864990db6ce 9806f66b7970fdff8617187bb9fffdff 5ae4df3edbd5d35e5b4f09020db03eab 1e031dda2fbe03d1792170a0f3009cee" },
	{ bits: 256, key: "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4", ciphertext: "601ec313775789a5b7a7f504bbf3d228 f443e3ca4d62b59aca84e990cacaf5c5 2b0930daa23de94ce87017ba2d84988d dfc9c58db67aada613c2dd08457941a6" },
];

test("aes-ctr: NIST SP 800-38A F.5.1 and F.5.5", () => {
	for (const v of vectors) {
		const cipher = new AesCtr({ key: fromHex(v.key), counter });
		const out = new Uint8Array(64);
		cipher.process(plaintext, out, 0);
		bytesEqual(out, fromHex(v.ciphertext), `AES-${v.bits} encrypt`);
		cipher.process(out, out, 0);
		bytesEqual(out, plaintext, `AES-${v.bits} decrypt in place`);
		cipher.close();
	}
});

test("aes-ctr: any offset, any order, equals one pass (@noble/ciphers, zero counter as MCUboot)", () => {
	const key = fromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	const data = new Uint8Array(5000).map((_, i) => (i * 7 + 3) & 0xff);
	const expected = nobleCtr(key, new Uint8Array(16)).encrypt(data);
	const cipher = new AesCtr({ key });
	for (const chunk of [1, 15, 16, 17, 333, 4096]) {
		const out = new Uint8Array(data.length);
		const starts: number[] = [];
		for (let i = 0; i < data.length; i += chunk) starts.push(i);
		// backwards, so every call has to seek
		for (const i of starts.reverse()) cipher.process(data.subarray(i, i + chunk), out.subarray(i, i + chunk), i);
		bytesEqual(out, expected, `chunks of ${chunk}, reversed`);
	}
	const out = new Uint8Array(data.length);
	for (let i = 0; i < data.length; i += 1000) cipher.process(data.subarray(i, i + 1000), out.subarray(i, i + 1000), i);
	bytesEqual(out, expected, "sequential");
});

test("aes-ctr: process(input, output, byteOffset, inputOffset, length, outputOffset) works on ranges, as subarrays would", () => {
	const key = fromHex("2b7e151628aed2a6abf7158809cf4f3c");
	const data = new Uint8Array(200).map((_, i) => (i * 13 + 1) & 0xff);
	const expected = nobleCtr(key, new Uint8Array(16)).encrypt(data);
	const cipher = new AesCtr({ key });
	const out = new Uint8Array(100).fill(0xee);
	cipher.process(data, out, 37, 37, 50, 10); // stream bytes 37..86 into out[10..60)
	bytesEqual(out.subarray(10, 60), expected.subarray(37, 87), "the range, where outputOffset says");
	bytesEqual(out.subarray(0, 10), new Uint8Array(10).fill(0xee), "nothing before outputOffset");
	bytesEqual(out.subarray(60), new Uint8Array(40).fill(0xee), "nothing after the length");
	const all = new Uint8Array(200);
	cipher.process(data, all, 150, 150); // inputOffset alone: to the end, into output's start
	bytesEqual(all.subarray(0, 50), expected.subarray(150));
	const inPlace = data.slice();
	cipher.process(inPlace, inPlace, 16, 16, 32, 16);
	bytesEqual(inPlace.subarray(16, 48), expected.subarray(16, 48), "in place");
	bytesEqual(inPlace.subarray(0, 16), data.subarray(0, 16), "in place: nothing else changed");
	throws(() => cipher.process(data, out, 0, 150, 60), { type: RangeError }, "input range past its end");
	throws(() => cipher.process(data, out, 0, 0, 50, 60), { type: RangeError }, "output too short from outputOffset");
	throws(() => cipher.process(data, out, 0, 0, 10, 101), { type: RangeError }, "outputOffset past the end");
	throws(() => cipher.process(data, out, 0, "0" as never, 10), { type: TypeError }, "inputOffset that is not a number");
	// process is the C function itself (no JavaScript wrapper): missing arguments are refused, not read off the stack
	throws(() => (cipher.process as (input: Uint8Array) => void)(data), { type: TypeError }, "no output");
	throws(() => (cipher.process as () => void)(), { type: TypeError }, "no arguments");
	cipher.close();
});

test("aes-ctr: the counter block carries across 64-bit boundaries", () => {
	const key = fromHex("2b7e151628aed2a6abf7158809cf4f3c");
	const start = fromHex("00000000000000ffffffffffffffffff");
	const data = new Uint8Array(64);
	const expected = nobleCtr(key, start).encrypt(data);
	const out = new Uint8Array(64);
	new AesCtr({ key, counter: start }).process(data.subarray(32), out.subarray(32), 32);
	bytesEqual(out.subarray(32), expected.subarray(32));
});

test("aes-ctr: bad input throws, closed objects refuse work", () => {
	throws(() => new AesCtr({ key: new Uint8Array(15) }), { type: RangeError });
	throws(() => new AesCtr({ key: new Uint8Array(16), counter: new Uint8Array(8) }), { type: RangeError });
	throws(() => new AesCtr({ key: "k" as never }), { type: TypeError });
	const keyless = new AesCtr();
	throws(() => keyless.process(new Uint8Array(4), new Uint8Array(4), 0), { message: /no key/, code: "E_STATE" });
	const cipher = new AesCtr({ key: new Uint8Array(16) });
	throws(() => cipher.process(new Uint8Array(8), new Uint8Array(7), 0), { type: RangeError });
	throws(() => cipher.process(new Uint8Array(8), new Uint8Array(8), -1), { type: RangeError });
	throws(() => cipher.process(new Uint8Array(8), new Uint8Array(8), 1.5), { type: RangeError });
	throws(() => cipher.process(new Uint8Array(8), "out" as never, 0), { type: TypeError });
	cipher.close();
	throws(() => cipher.process(new Uint8Array(8), new Uint8Array(8), 0));
});
