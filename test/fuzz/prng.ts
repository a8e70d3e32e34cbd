/**
 * The fuzzers' randomness (a seeded LCG, so a seed replays a run exactly) and their byte
 * mutations; shared by ./smp-fuzz.ts (Node) and ./smp-agent.ts (XS).
 */
export interface Fuzzer {
	/** In [0, 1). */
	random(): number;
	/** An integer in [0, n). */
	int(n: number): number;
	bytes(n: number): Uint8Array;
	/**
	 * 1 to 4 edits: a byte changed, bytes inserted or deleted, a CBOR head that means trouble
	 * (indefinite, 64-bit, break), a run of the input copied elsewhere; with `headerBytes`, also a
	 * byte among the first `headerBytes` (a packet header's fields).
	 */
	mutate(input: Uint8Array, headerBytes?: number): Uint8Array;
}

const TROUBLE = [0x00, 0x1b, 0x5a, 0x5f, 0x7f, 0x9a, 0x9f, 0xbf, 0xfb, 0xff];

export function fuzzer(seed: number): Fuzzer {
	let state = seed >>> 0;
	const random = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
	const int = (n: number) => Math.floor(random() * n);
	// Copied in loops: XS's Array.from and TypedArray.from hold every value of an iterable on the JS
	// stack, which a board's few hundred slots (the host's too, manifest.json's creation) cannot at a few hundred.
	const bytes = (n: number) => {
		const out = new Uint8Array(n);
		for (let i = 0; i < n; i++) out[i] = int(256);
		return out;
	};
	const mutate = (input: Uint8Array, headerBytes?: number) => {
		const out: number[] = [];
		for (let i = 0; i < input.length; i++) out.push(input[i]);
		for (let k = 1 + int(4); k > 0; k--) {
			const at = int(out.length + 1);
			switch (int(headerBytes ? 6 : 5)) {
				case 0: out[at] = int(256); break;
				case 1: out.splice(at, 0, ...bytes(1 + int(8))); break;
				case 2: out.splice(at, 1 + int(8)); break;
				case 3: out[at] = TROUBLE[int(TROUBLE.length)]; break;
				case 4: { // a run of up to 24 bytes copied to `at`
					const from = int(out.length);
					out.splice(at, 0, ...out.slice(from, from + 1 + int(24)));
					break;
				}
				default: out[int(headerBytes!)] = int(256);
			}
		}
		const kept = out.filter((b) => b !== undefined);
		const result = new Uint8Array(kept.length);
		for (let i = 0; i < kept.length; i++) result[i] = kept[i] & 0xff;
		return result;
	};
	return { random, int, bytes, mutate };
}
