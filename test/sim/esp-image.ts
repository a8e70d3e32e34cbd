/**
 * XS program for test/unit/sim-esp-idf.test.ts: runs EspAppImageCheck (sealdrop/update/esp-app-image)
 * over image files on the Linux XS host and prints one JSON line per file.
 *
 *   sealdrop-xs esp-image.js OPTIONS_JSON FILE...
 *   OPTIONS_JSON: { "chunks": [0, 1, 7, 4096],  chunk sizes to feed (0: the whole file at once);
 *                   "announce": true | N,         announce the file's length (true) or N as the size;
 *                   "maxSize": N, "chipId": N,    the other EspAppCheckOptions;
 *                   "mutations": N, "seed": N }   also check N damaged copies of each file
 *
 * Every chunking must give the same outcome, or the line says "chunking". Outcomes:
 *   { file, ok: true, version, projectName, size, sha256, ... } | { file, ok: false, code, message }
 * With mutations: { file, mutations, codes: { CODE: count }, crashes: [messages] }; a crash is
 * anything thrown that is not a SealdropError.
 */
import { EspAppImageCheck, type EspAppCheckOptions } from "sealdrop/update/esp-app-image";
import { SealdropError, toHex } from "sealdrop/image";
import { argv, readFile } from "sealdrop/xs-host";

interface Options {
	chunks?: number[];
	announce?: boolean | number;
	maxSize?: number;
	chipId?: number;
	mutations?: number;
	seed?: number;
}

type Outcome = Record<string, unknown>;

function checkOptions(options: Options, length: number): EspAppCheckOptions {
	const size = options.announce === true ? length : typeof options.announce === "number" ? options.announce : undefined;
	return { size, maxSize: options.maxSize, chipId: options.chipId };
}

/** One check of `image` fed in chunks of `chunk` bytes (0: at once). */
function check(image: Uint8Array, chunk: number, options: EspAppCheckOptions): Outcome {
	try {
		const checker = new EspAppImageCheck(options);
		const step = chunk > 0 ? chunk : Math.max(image.length, 1);
		for (let at = 0; at < image.length; at += step) checker.push(image.subarray(at, at + step));
		const info = checker.finish();
		return { ok: true, ...info, sha256: toHex(info.sha256) };
	} catch (error) {
		if (error instanceof SealdropError) return { ok: false, code: error.code, message: error.message };
		return { ok: false, code: "CRASH", message: String(error) };
	}
}

function checkFile(file: string, options: Options): Outcome {
	const image = readFile(file);
	const outcomes = (options.chunks ?? [0]).map((chunk) => check(image, chunk, checkOptions(options, image.length)));
	const texts = outcomes.map((o) => JSON.stringify(o));
	if (texts.some((t) => t !== texts[0])) return { file, ok: false, code: "chunking", outcomes };
	return { file, ...outcomes[0] };
}

/** xorshift32: a repeatable stream of damage. */
function random(seed: number): () => number {
	let x = seed >>> 0 || 1;
	return () => {
		x ^= x << 13;
		x >>>= 0;
		x ^= x >>> 17;
		x ^= x << 5;
		x >>>= 0;
		return x;
	};
}

/** A damaged copy: a few bytes changed (mostly in the headers), sometimes cut short or extended. */
function mutate(image: Uint8Array, next: () => number): Uint8Array {
	let copy = image.slice();
	const changes = 1 + (next() % 4);
	for (let i = 0; i < changes; i++) {
		const where = next() % 2 ? next() % Math.min(copy.length, 64) : next() % copy.length;
		copy[where] = next() & 0xff;
	}
	const shape = next() % 8;
	if (shape === 0) copy = copy.subarray(0, next() % copy.length);
	if (shape === 1) {
		const longer = new Uint8Array(copy.length + 1 + (next() % 64));
		longer.set(copy);
		copy = longer;
	}
	return copy;
}

function mutateFile(file: string, options: Options): Outcome {
	const image = readFile(file);
	const next = random(options.seed ?? 1);
	const codes: Record<string, number> = {};
	const crashes: string[] = [];
	for (let i = 0; i < (options.mutations ?? 0); i++) {
		const damaged = mutate(image, next);
		const outcome = check(damaged, i % 3 === 0 ? 1 + (next() % 97) : 0, checkOptions(options, image.length));
		const code = outcome.ok ? "ok" : String(outcome.code);
		codes[code] = (codes[code] ?? 0) + 1;
		if (code === "CRASH") crashes.push(String(outcome.message));
	}
	return { file, mutations: options.mutations, codes, crashes };
}

const options = JSON.parse(argv[1]) as Options;
for (const file of argv.slice(2)) {
	console.log(JSON.stringify(options.mutations ? mutateFile(file, options) : checkFile(file, options)));
}
