declare module "sealdrop/native/entropy" {
	/**
	 * Fills all of `buffer` (an ArrayBuffer, Uint8Array or other byte-sized typed array, or a
	 * DataView) with bytes from the platform's entropy source (getrandom(2) on the Linux host, the
	 * TRNG on boards) and returns it.
	 *
	 * The raw bytes pass NIST SP 800-90B's repetition count test (cutoff 11) and adaptive
	 * proportion test (window 512, cutoff 78, applied to every value of the window), for an
	 * assessed 4 bits of min-entropy per byte at a false-positive rate of 2^-40 per test, and a
	 * stuck-output test (no 16-byte block equal to the one before). Each call tests at least 512 fresh bytes. On a failure it throws an Error
	 * ("entropy: repetition count test failed ...") and leaves `buffer` zeroed: it never returns
	 * weak bytes. A healthy source fails by chance with probability below 2^-47 per call, even for
	 * a gigabyte. Throws a TypeError for anything that is not a byte buffer.
	 *
	 * Linux XS host only: the environment variable SEALDROP_ENTROPY swaps in a broken source for
	 * tests: "zero", "stuck" (0xa5 repeated), "counter" (a 32-bit little-endian counter) or
	 * "repeat" (one random 16-byte block repeated); unset means getrandom(2). Every one of them
	 * makes fill throw. See native/lin/entropy-lin.c.
	 */
	export function fill<T extends ArrayBuffer | ArrayBufferView>(buffer: T): T;
}
