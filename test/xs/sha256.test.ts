/** Sha256 (native/sha256.c) on XS: FIPS 180-4 examples, streaming splits, @noble/hashes agreement. */
import Sha256 from "sealdrop/native/sha256";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { bytesEqual, equal, fromHex, test, throws } from "../harness.js";

const ascii = (s: string) => new TextEncoder().encode(s);
const once = (data: Uint8Array) => {
	const h = new Sha256();
	h.update(data);
	return new Uint8Array(h.digest());
};

// FIPS 180-4 / NIST CSRC "SHA256.pdf" examples
test("sha256: NIST examples", () => {
	bytesEqual(once(ascii("abc")), fromHex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	bytesEqual(once(new Uint8Array(0)), fromHex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	bytesEqual(once(ascii("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")), fromHex("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
	const h = new Sha256();
	const a = new Uint8Array(1000).fill(0x61);
	for (let i = 0; i < 1000; i++) h.update(a);
	bytesEqual(new Uint8Array(h.digest()), fromHex("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"), "one million 'a'");
});

test("sha256: any split of the input gives the same digest as @noble/hashes", () => {
	const data = new Uint8Array(10_000).map((_, i) => (i * 131 + 7) & 0xff);
	const expected = nobleSha256(data);
	for (const chunk of [1, 3, 63, 64, 65, 1000, 4096, 10_000]) {
		const h = new Sha256();
		for (let i = 0; i < data.length; i += chunk) h.update(data.subarray(i, i + chunk));
		bytesEqual(new Uint8Array(h.digest()), expected, `chunks of ${chunk}`);
	}
});

test("sha256: update(data, offset, length) hashes that range, as a subarray would", () => {
	const data = new Uint8Array(300).map((_, i) => (i * 31 + 5) & 0xff);
	for (const [offset, length] of [[0, 300], [7, 100], [299, 1], [300, 0], [64, 64]]) {
		const h = new Sha256();
		h.update(data, offset, length);
		bytesEqual(new Uint8Array(h.digest()), nobleSha256(data.subarray(offset, offset + length)), `${length} bytes from ${offset}`);
	}
	const h = new Sha256();
	h.update(data, 250); // to the end
	bytesEqual(new Uint8Array(h.digest()), nobleSha256(data.subarray(250)), "offset alone: to the end");
	h.update(data.subarray(10), 5, 20); // a range of a view is taken from the view's start
	bytesEqual(new Uint8Array(h.digest()), nobleSha256(data.subarray(15, 35)), "a range of a view");
	throws(() => h.update(data, 301), { type: RangeError }, "offset past the end");
	throws(() => h.update(data, 200, 101), { type: RangeError }, "length past the end");
	throws(() => h.update(data, -1, 1), { type: RangeError }, "negative offset");
	throws(() => h.update(data, 1.5, 1), { type: RangeError }, "fractional offset");
	throws(() => h.update(data, "1" as never, 1), { type: TypeError }, "offset that is not a number");
	bytesEqual(new Uint8Array(h.digest()), nobleSha256(new Uint8Array(0)), "refused ranges hashed nothing");
});

test("sha256: digest into a caller's buffer, then the object starts over", () => {
	const h = new Sha256();
	h.update(ascii("abc"));
	const out = new Uint8Array(40);
	equal(h.digest(out), out);
	bytesEqual(out.subarray(0, 32), fromHex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	bytesEqual(new Uint8Array(h.digest()), fromHex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	h.update(ascii("x"));
	h.reset();
	h.update(ascii("abc"));
	bytesEqual(new Uint8Array(h.digest()), fromHex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "after reset");
});

test("sha256: bad input throws, closed objects refuse work", () => {
	const h = new Sha256();
	throws(() => h.update("abc" as never), { type: TypeError });
	throws(() => h.update(new Uint32Array(2) as never), { type: TypeError });
	throws(() => h.update(undefined as never));
	// update is the C function itself (no JavaScript wrapper): a call without arguments is refused, not read off the stack
	throws(() => (h.update as () => void)(), { type: TypeError });
	throws(() => h.digest(new Uint8Array(31)), { type: RangeError });
	h.close();
	h.close();
	throws(() => h.update(new Uint8Array(1)));
	throws(() => h.digest());
	throws(() => Sha256.prototype.update.call({}, new Uint8Array(1)));
});
