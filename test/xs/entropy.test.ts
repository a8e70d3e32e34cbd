/**
 * Entropy (native/entropy.c, native/lin/entropy-lin.c) on XS with the real source: run WITHOUT
 * SEALDROP_ENTROPY set (getrandom(2)). The broken sources are tested by entropy-bad.test.ts.
 */
import { fill } from "sealdrop/native/entropy";
import { equal, ok, test, throws } from "../harness.js";

const allZero = (bytes: Uint8Array) => bytes.every((b) => b === 0);
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

test("entropy: fill fills a Uint8Array and returns it", () => {
	const bytes = new Uint8Array(32);
	equal(fill(bytes), bytes);
	ok(!allZero(bytes), "32 zero bytes");
});

test("entropy: every call gives other bytes", () => {
	const seen: Uint8Array[] = [];
	for (let i = 0; i < 50; i++) {
		const bytes = fill(new Uint8Array(16));
		ok(!seen.some((s) => same(s, bytes)), `call ${i} repeated an earlier output`);
		seen.push(bytes);
	}
});

test("entropy: ArrayBuffer, DataView, byte-sized typed arrays and views at an offset", () => {
	const buffer = new ArrayBuffer(24);
	equal(fill(buffer), buffer);
	ok(!allZero(new Uint8Array(buffer)));
	const view = new DataView(new ArrayBuffer(24));
	equal(fill(view), view);
	ok(!allZero(new Uint8Array(view.buffer)));
	for (const typed of [new Int8Array(24), new Uint8ClampedArray(24)]) {
		fill(typed);
		ok(!allZero(new Uint8Array(typed.buffer)), typed.constructor.name);
	}
	// only the view's window is written
	const whole = new Uint8Array(64).fill(0x5a);
	fill(whole.subarray(16, 48));
	ok(whole.subarray(0, 16).every((b) => b === 0x5a) && whole.subarray(48).every((b) => b === 0x5a), "bytes outside the view changed");
	ok(!allZero(whole.subarray(16, 48)));
});

test("entropy: any length, from 0 bytes to more than a window", () => {
	equal(fill(new Uint8Array(0)).length, 0);
	for (const n of [1, 15, 16, 17, 127, 128, 129, 511, 512, 513, 1000, 4096]) {
		const bytes = fill(new Uint8Array(n));
		equal(bytes.length, n);
		if (n >= 8) ok(!allZero(bytes), `${n} zero bytes`);
	}
});

test("entropy: 64 KiB look uniform (every byte value, no value far too common)", () => {
	const bytes = fill(new Uint8Array(65536));
	const counts = new Array<number>(256).fill(0);
	for (const b of bytes) counts[b]++;
	// expected 256 each, standard deviation 16: 100 and 420 are nearly ten deviations away
	ok(counts.every((c) => c > 100 && c < 420), `counts from ${Math.min(...counts)} to ${Math.max(...counts)}`);
	// and the second half is not the first
	ok(!same(bytes.subarray(0, 32768), bytes.subarray(32768)));
});

test("entropy: anything but a byte buffer throws TypeError", () => {
	const f = fill as (...args: unknown[]) => unknown;
	for (const bad of [undefined, null, 0, 32, "32 bytes", [0, 0, 0], {}, { byteLength: 32 }, new Uint16Array(8), new Float64Array(4), () => 0])
		throws(() => f(bad), { type: TypeError }, String(bad));
	throws(() => f(), { type: TypeError }, "no argument");
});
