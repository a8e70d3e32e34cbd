/**
 * Loader for the imgtool vectors in test/vectors/imgtool: the case list (index.json), each image's
 * bytes and its JSON sidecar (what a correct parser must find). Also `expectCode`, the assertion
 * every test uses for a SealdropError's stable code.
 *
 * Paths are resolved from the repository root, found by walking up from this (compiled) file until
 * a directory holds package.json and the vectors; process.cwd() is the fallback.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SealdropError, type ErrorCode } from "sealdrop/image";

const VECTORS = join("test", "vectors", "imgtool");

function findRepoRoot(): string {
	let dir = dirname(fileURLToPath(import.meta.url));
	for (;;) {
		if (existsSync(join(dir, "package.json")) && existsSync(join(dir, VECTORS, "index.json"))) return dir;
		const parent = dirname(dir);
		if (parent === dir) return process.cwd();
		dir = parent;
	}
}

export const repoRoot = findRepoRoot();
export const vectorsDir = join(repoRoot, VECTORS);

/** What imgtool put in the image, as recorded next to it (`expected` in images/NAME.json). */
export interface VectorExpected {
	version: string;
	version_tuple: [number, number, number, number];
	flags: number;
	flag_names: string[];
	load_addr: number;
	header_size: number;
	img_size: number;
	body_zero_padding: number;
	hash_tlv: string;
	sig_tlv: string;
	key_tlv: string;
	sig_pure: boolean;
	enc_tlv: string | null;
	enc_tlv_len: number | null;
	aes_key_bits: number | null;
	payload_ciphertext: boolean;
	security_counter: number | null;
	dependencies: { image_id: number; min_version: [number, number, number, number] }[];
	padded: boolean;
	slot_size: number;
	file_size: number | null;
	trailer: { max_align: number; align: number; magic_hex: string; image_ok: number; erased_val: number } | null;
	header_fill_byte: number;
}

export interface VectorSidecar {
	name: string;
	description: string;
	image: string;
	image_sha256: string;
	command: string[];
	payload: {
		file: string;
		input_size: number;
		input_sha256: string;
		body_offset_in_input: number;
		plaintext_size: number;
		plaintext_sha256: string;
	};
	expected: VectorExpected;
}

export interface VectorCase {
	name: string;
	description: string;
	sidecar: VectorSidecar;
	/** The image file's bytes (a fresh copy per call, so tests may mutate it). */
	bytes(): Uint8Array;
}

const fileCache = new Map<string, Uint8Array>();

/** Bytes of a file under test/vectors/imgtool (cached; returns a fresh copy). */
export function readVectorFile(relative: string): Uint8Array {
	let bytes = fileCache.get(relative);
	if (!bytes) {
		bytes = new Uint8Array(readFileSync(join(vectorsDir, relative)));
		fileCache.set(relative, bytes);
	}
	return bytes.slice();
}

let cases: VectorCase[] | undefined;

/** Every case listed in index.json, in its order. */
export function vectorCases(): VectorCase[] {
	if (!cases) {
		const index = JSON.parse(readFileSync(join(vectorsDir, "index.json"), "utf8")) as { name: string; description: string }[];
		cases = index.map(({ name, description }) => {
			const sidecar = JSON.parse(readFileSync(join(vectorsDir, "images", `${name}.json`), "utf8")) as VectorSidecar;
			return { name, description, sidecar, bytes: () => readVectorFile(sidecar.image) };
		});
	}
	return cases;
}

export function vectorCase(name: string): VectorCase {
	const found = vectorCases().find((c) => c.name === name);
	if (!found) throw new Error(`no imgtool vector named ${name}`);
	return found;
}

/** Asserts that `fn` throws a SealdropError with this code; returns the error for further checks. */
export function expectCode(fn: () => unknown, code: ErrorCode, message?: string): SealdropError {
	let thrown: unknown;
	try {
		fn();
	} catch (err) {
		thrown = err;
	}
	const prefix = message ? `${message}: ` : "";
	assert.ok(thrown !== undefined, `${prefix}expected ${code}, but nothing was thrown`);
	assert.ok(thrown instanceof SealdropError, `${prefix}expected a SealdropError ${code}, got ${String(thrown)}`);
	assert.equal(thrown.code, code, `${prefix}expected ${code}, got ${thrown.code}: ${thrown.message}`);
	return thrown;
}

export function hex(bytes: Uint8Array): string {
	return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export function unhex(text: string): Uint8Array {
	const clean = text.replace(/\s+/g, "");
	if (!/^(?:[0-9a-fA-F]{2})*$/.test(clean)) throw new Error(`bad hex literal in a test: ${text}`);
	return new Uint8Array(Buffer.from(clean, "hex"));
}
