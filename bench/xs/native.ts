/**
 * The XS half of `npm run bench:native` (bench/native.ts runs it and adds Node's figures):
 *   sealdrop-xs --state DIR build/js/bench/xs/native.js INPUTS.json
 * Prints one JSON object: SHA-256 and AES-CTR throughput through the native modules and through
 * @noble on the same engine, ECIES unwraps per second, and the XS heap allocated per 4 KiB chunk
 * hashed and decrypted into caller-provided buffers (the agent's steady state).
 */
import AesCtr from "sealdrop/native/aes-ctr";
import DeviceKey from "sealdrop/native/device-key";
import Sha256 from "sealdrop/native/sha256";
import { fromHex } from "sealdrop/image";
import { argv, exit, gc, memory, now, readFile } from "sealdrop/xs-host";
import { ctr } from "@noble/ciphers/aes.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { rate as measure } from "../rate.js";

interface UnwrapInput { kind: "p256" | "x25519"; privateKey: string; encTlv: string; keyBits: 128 | 256 }
interface Inputs { minMilliseconds: number; unwrap: UnwrapInput[] }

const CHUNK = 4096;
const inputs = JSON.parse(new TextDecoder().decode(readFile(argv[1]))) as Inputs;

const rate = (step: () => void): number => measure(step, inputs.minMilliseconds, now);

const mbPerSecond = (chunksPerSecond: number) => +((chunksPerSecond * CHUNK) / 1e6).toFixed(2);

const chunk = new Uint8Array(CHUNK).map((_, i) => (i * 31) & 0xff);
const out = new Uint8Array(CHUNK);
const digest = new Uint8Array(32);
const aesKey = fromHex("2b7e151628aed2a6abf7158809cf4f3c");

const hasher = new Sha256();
const cipher = new AesCtr({ key: aesKey });
let offset = 0;

const sha256Native = mbPerSecond(rate(() => hasher.update(chunk)));
const sha256Noble = mbPerSecond(rate(() => sha256(chunk)));
const aesNative = mbPerSecond(rate(() => { cipher.process(chunk, out, offset); offset += CHUNK; }));
// @noble's ctr has no streaming state: each chunk gets a cipher for its counter block, as an
// agent built on it would.
const counter = new Uint8Array(16);
const view = new DataView(counter.buffer);
let nobleOffset = 0;
const aesNoble = mbPerSecond(rate(() => {
	view.setUint32(12, nobleOffset / 16);
	ctr(aesKey, counter).encrypt(chunk);
	nobleOffset += CHUNK;
}));

// Steady-state allocation of the agent's per-chunk work, with collection off so every byte
// allocated shows in the figures (less what an empty loop costs the measurement itself).
// Through the module shims (native/sha256.js, native/aes-ctr.js), which bind their C functions
// once at load, and with the same C functions bound here: both should be 0. (Shims that evaluated
// `native("xs_...")` on each call cost the host a string per call: XS copies string literals of
// code compiled at run time into a new chunk. A device build has no such cost: xsc binds native()
// at build time and the strings of preloaded or archived code stay in flash.)
const STEADY_CHUNKS = 1024;
function allocated(step: () => void): number {
	for (let i = 0; i < 16; i++) step();
	gc();
	gc(false);
	const before = memory();
	for (let i = 0; i < STEADY_CHUNKS; i++) step();
	const after = memory();
	gc(true);
	return after.chunksCurrent - before.chunksCurrent + (after.slotsCurrent - before.slotsCurrent);
}
const update = native("xs_sha256_update");
const process = native("xs_aesctr_process");
allocated(() => {}); // the first measurement pays for the measuring code's own first use
const baseline = allocated(() => {});
const throughShims = allocated(() => {
	hasher.update(chunk);
	cipher.process(chunk, out, offset);
	offset += CHUNK;
}) - baseline;
const boundOnce = allocated(() => {
	update.call(hasher, chunk);
	process.call(cipher, chunk, out, offset);
	offset += CHUNK;
}) - baseline;
hasher.digest(digest);
const inUse = memory();

const unwraps: Record<string, number> = {};
inputs.unwrap.forEach((input, slot) => {
	const key = DeviceKey.import(input.kind, fromHex(input.privateKey), { slot });
	const tlv = fromHex(input.encTlv);
	const kind = input.kind === "p256" ? "ec256" : "x25519";
	unwraps[input.kind === "p256" ? "ENC_EC256" : "ENC_X25519"] = Math.round(rate(() => key.unwrap(tlv, kind, input.keyBits).close()));
	key.destroy();
});

console.log(JSON.stringify({
	chunkBytes: CHUNK,
	sha256MBps: { native: sha256Native, nobleOnXs: sha256Noble },
	aesCtrMBps: { native: aesNative, nobleOnXs: aesNoble },
	unwrapsPerSecond: unwraps,
	heapBytesPerChunk: {
		chunks: STEADY_CHUNKS,
		boundAsOnDevice: boundOnce / STEADY_CHUNKS,
		throughHostShims: throughShims / STEADY_CHUNKS,
	},
	heapInUse: { chunkBytes: inUse.chunksCurrent, slotBytes: inUse.slotsCurrent },
}));
hasher.close();
cipher.close();
exit(0);
