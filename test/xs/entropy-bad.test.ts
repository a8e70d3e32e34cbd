/**
 * Entropy refuses a broken source. NEEDS the environment variable SEALDROP_ENTROPY set to a
 * broken source of the Linux XS host (native/lin/entropy-lin.c):
 *   SEALDROP_ENTROPY=zero build/xs/debug/sealdrop-xs build/js/test/xs-runner.js build/js/test/xs/entropy-bad.test.js
 * "zero" is the one the test suite runs; "stuck", "counter" and "repeat" pass too. Without the
 * variable (getrandom) every test here fails, as it should: fill then succeeds.
 */
import { fill } from "sealdrop/native/entropy";
import { ok, test, throws } from "../harness.js";

const REFUSED = /entropy: (repetition count test failed|adaptive proportion test failed|stuck output)/;

test("entropy (broken source): fill throws an Error naming the failed health test", () => {
	throws(() => fill(new Uint8Array(32)), { type: Error, message: REFUSED });
});

test("entropy (broken source): nothing of a refused request is handed out: the buffer is zeroed", () => {
	for (const n of [1, 16, 32, 600, 5000]) {
		const bytes = new Uint8Array(n).fill(0x77);
		throws(() => fill(bytes), REFUSED, `${n} bytes`);
		ok(bytes.every((b) => b === 0), `${n} bytes: buffer not zeroed`);
	}
});

test("entropy (broken source): every request is tested, however small, and keeps failing", () => {
	for (let i = 0; i < 20; i++) throws(() => fill(new Uint8Array(1)), REFUSED, `request ${i}`);
	throws(() => fill(new ArrayBuffer(64)), REFUSED, "ArrayBuffer");
	throws(() => fill(new DataView(new ArrayBuffer(64))), REFUSED, "DataView");
});

test("entropy (broken source): an empty request needs no entropy and succeeds", () => {
	ok(fill(new Uint8Array(0)).length === 0);
});
