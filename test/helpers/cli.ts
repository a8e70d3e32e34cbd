/**
 * Running the `sealdrop` CLI in tests: as a subprocess (`node bin/sealdrop.js ...`, the way users
 * run it); the failure-contract assertions; temp dirs;
 * and a small image reader written from the format reference (§A), independent of modules/image,
 * so tests can find the byte they want to cut or flip without trusting the code under test.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { repoRoot, vectorsDir } from "./vectors.js";

export { repoRoot, vectorsDir };

/** Exit codes the CLI documents (main.ts EXIT, `sealdrop --help`). */
export const EXIT = { OK: 0, CHECK_FAILED: 1, USAGE: 2, BAD_INPUT: 3, IO: 4 } as const;

/** The documented exit code of every error code (the contract the tests hold the CLI to). */
export const CODE_EXIT: Record<string, number> = {
	E_HASH: 1, E_NO_HASH: 1, E_SIGNATURE: 1, E_WRONG_SIGNER: 1, E_NO_SIGNATURE: 1, E_DEVICE_KEY: 1,
	E_USAGE: 2, E_VERSION: 2,
	E_TRUNCATED: 3, E_BAD_MAGIC: 3, E_HEADER_SIZE: 3, E_PROT_SIZE: 3, E_TLV_OVERRUN: 3, E_TLV_VALUE: 3, E_FLAGS: 3,
	E_TOO_LARGE: 3, E_ENC_TLV: 3, E_NOT_SEALABLE: 3, E_KEY_FORMAT: 3, E_KEY_TYPE: 3,
	E_IO: 4, E_KEY_READ: 4, E_HEX: 3, E_TOOL: 4,
	E_SECURITY_COUNTER: 1, E_DOWNGRADE: 1, E_DEPENDENCY: 1, E_NO_IMAGE: 1, E_UNSUPPORTED: 3, E_STATE: 3, E_RANGE: 3, E_FLASH: 4,
	E_NETWORK: 4, E_HTTP: 4,
	E_ENTROPY: 4, E_KEY_STORE: 4, E_ROTATION: 3, E_REPLAY: 1,
};

export interface CliResult {
	status: number | null;
	stdout: string;
	stderr: string;
}

function withoutDebug(): NodeJS.ProcessEnv {
	const env = { ...process.env };
	delete env.SEALDROP_DEBUG;
	return env;
}

/** Runs `node bin/sealdrop.js ...args` from the repository root. */
export function runCli(args: readonly string[], options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): CliResult {
	const r = spawnSync(process.execPath, [path.join(repoRoot, "bin", "sealdrop.js"), ...args], {
		cwd: options.cwd ?? repoRoot,
		input: options.input,
		encoding: "utf8",
		env: { ...withoutDebug(), ...options.env },
		timeout: 60_000,
	});
	if (r.error) throw r.error;
	return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `runCli` in `cwd` that must succeed (exit 0, nothing on stderr); returns its standard output. */
export function cliOk(cwd: string, ...args: string[]): string {
	const r = runCli(args, { cwd });
	expectOk(r, args.join(" "));
	return r.stdout;
}

export const ERROR_LINE = /^sealdrop: (E_[A-Z_]+): \S.*$/;

/** Lines of stderr (a trailing newline does not make an extra empty line). */
export function stderrLines(r: CliResult): string[] {
	return r.stderr.split("\n").filter((line, i, all) => !(line === "" && i === all.length - 1));
}

/** Asserts the failure contract: one stderr line `sealdrop: E_CODE: message`, no stack, that exit code. */
export function expectFailure(r: CliResult, code: string, exit: number, what = ""): void {
	expectOneOf(r, { [code]: exit }, what);
}

/** Asserts a failure with one of several acceptable codes; returns the code seen. */
export function expectOneOf(r: CliResult, codes: Record<string, number>, what = ""): string {
	const label = `${what ? `${what}: ` : ""}stderr ${JSON.stringify(r.stderr)}`;
	assertNoCrash(r, label);
	const lines = stderrLines(r);
	assert.equal(lines.length, 1, `${label}: expected exactly one stderr line`);
	const m = ERROR_LINE.exec(lines[0]);
	assert.ok(m, `${label}: not of the form "sealdrop: E_CODE: message"`);
	assert.ok(m[1] in codes, `${label}: expected one of ${Object.keys(codes).join(", ")}`);
	assert.equal(r.status, codes[m[1]], `${label}: expected exit ${codes[m[1]]} for ${m[1]}, got ${r.status}`);
	return m[1];
}

/** Asserts success: exit 0 and nothing on stderr. */
export function expectOk(r: CliResult, what = ""): void {
	assert.equal(r.status, 0, `${what ? `${what}: ` : ""}expected exit 0, got ${r.status}; stderr ${JSON.stringify(r.stderr)}`);
	assert.equal(r.stderr, "", `${what}: expected nothing on stderr`);
}

export function assertNoCrash(r: CliResult, label: string): void {
	assert.ok(!/internal error/i.test(r.stderr), `${label}: internal error`);
	assert.ok(!/^\s+at /m.test(r.stderr), `${label}: stack trace`);
	assert.ok(!/\b(TypeError|RangeError|ReferenceError|SyntaxError)\b/.test(r.stderr), `${label}: JavaScript error`);
}

/** A fresh temp directory; `cleanup()` removes it. */
export function tempDir(prefix = "sealdrop-cli-"): { dir: string; file(name: string): string; cleanup(): void } {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
	return {
		dir,
		file: (name) => path.join(dir, name),
		cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
	};
}

/** Absolute path of a file under test/vectors/imgtool. */
export function vec(relative: string): string {
	return path.join(vectorsDir, relative);
}

/* An independent reading of an image (reference §A.1-§A.4). */

export interface RawTlv {
	type: number;
	/** Offset of the TLV's 4-byte header in the image. */
	offset: number;
	value: Uint8Array;
}

export interface RawLayout {
	hdrSize: number;
	protectTlvSize: number;
	imgSize: number;
	flags: number;
	/** BOOT_TLV_OFF = hdrSize + imgSize. */
	tlvOffset: number;
	/** Offset of the 0x6907 info header. */
	unprotectedOffset: number;
	/** Total of the unprotected area (including its info header). */
	unprotectedTotal: number;
	protectedTlvs: RawTlv[];
	unprotectedTlvs: RawTlv[];
	/** End of the image proper. */
	end: number;
}

export function u16le(b: Uint8Array, at: number): number {
	return b[at] | (b[at + 1] << 8);
}

export function u32le(b: Uint8Array, at: number): number {
	return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

export function putU16le(b: Uint8Array, at: number, v: number): void {
	b[at] = v & 0xff;
	b[at + 1] = (v >>> 8) & 0xff;
}

export function putU32le(b: Uint8Array, at: number, v: number): void {
	for (let i = 0; i < 4; i++) b[at + i] = (v >>> (8 * i)) & 0xff;
}

function readArea(b: Uint8Array, at: number, magic: number): { tlvs: RawTlv[]; total: number } {
	assert.equal(u16le(b, at), magic, `test image: expected TLV info magic 0x${magic.toString(16)} at ${at}`);
	const total = u16le(b, at + 2);
	const tlvs: RawTlv[] = [];
	for (let p = at + 4; p < at + total;) {
		const type = u16le(b, p), len = u16le(b, p + 2);
		tlvs.push({ type, offset: p, value: b.subarray(p + 4, p + 4 + len) });
		p += 4 + len;
	}
	return { tlvs, total };
}

/** Reads a well-formed image's regions; test images only (asserts, does not validate). */
export function rawLayout(b: Uint8Array): RawLayout {
	assert.equal(u32le(b, 0), 0x96f3b83d, "test image: header magic");
	const hdrSize = u16le(b, 8), protectTlvSize = u16le(b, 10), imgSize = u32le(b, 12), flags = u32le(b, 16);
	const tlvOffset = hdrSize + imgSize;
	const prot = protectTlvSize ? readArea(b, tlvOffset, 0x6908) : { tlvs: [], total: 0 };
	const unprotectedOffset = tlvOffset + prot.total;
	const unprot = readArea(b, unprotectedOffset, 0x6907);
	return {
		hdrSize, protectTlvSize, imgSize, flags, tlvOffset, unprotectedOffset, unprotectedTotal: unprot.total,
		protectedTlvs: prot.tlvs, unprotectedTlvs: unprot.tlvs, end: unprotectedOffset + unprot.total,
	};
}

export function findTlv(layout: RawLayout, type: number): RawTlv {
	const t = [...layout.protectedTlvs, ...layout.unprotectedTlvs].find((x) => x.type === type);
	assert.ok(t, `test image: no TLV 0x${type.toString(16)}`);
	return t;
}

/** Deterministic PRNG (mulberry32), so a failing fuzz case can be replayed. */
export function prng(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}
