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
	const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
	const mutate = (input: Uint8Array, headerBytes?: number) => {
		const out = Array.from(input);
		for (let k = 1 + int(4); k > 0; k--) {
			const at = int(out.length + 1);
			switch (int(headerBytes ? 6 : 5)) {
				case 0: out[at] = int(256); break;
				case 1: out.splice(at, 0, ...bytes(1 + int(8))); break;
				case 2: out.splice(at, 1 + int(8)); break;
				case 3: out[at] = TROUBLE[int(TROUBLE.length)]; break;
				case 4: out.splice(at, 0, ...out.slice(int(out.length), int(out.length) + 24)); break;
				default: out[int(headerBytes!)] = int(256);
			}
		}
		return Uint8Array.from(out.filter((b) => b !== undefined), (b) => b & 0xff);
	};
	return { random, int, bytes, mutate };
}
