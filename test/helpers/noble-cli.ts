/**
 * Running the `sealdrop` CLI from the interop and round-trip tests (the noble-* helpers of this
 * suite): as a subprocess (`node bin/sealdrop.js`, exactly what a user runs) or in-process through
 * `main()` for the large combination matrix, where spawning ~250 processes would be too slow.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadAllCommands, main } from "../../host/cli/main.js";
import { repoRoot, vectorsDir, type VectorSidecar } from "./vectors.js";

export { repoRoot, vectorsDir };

export const BIN = path.join(repoRoot, "bin", "sealdrop.js");

export interface CliResult {
	code: number;
	stdout: Buffer;
	stderr: string;
}

/** `node bin/sealdrop.js ARGS` in `cwd` (default the repository root). */
export function runCli(args: string[], cwd = repoRoot): Promise<CliResult> {
	return new Promise((resolve, reject) => {
		execFile(process.execPath, [BIN, ...args], { cwd, encoding: "buffer", maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
			if (error && typeof error.code !== "number") {
				reject(error);
				return;
			}
			resolve({ code: error ? Number(error.code) : 0, stdout, stderr: stderr.toString() });
		});
	});
}

/**
 * `main(ARGS)` in this process. stdout/stderr writes are captured while the command runs its
 * synchronous part (every command but a fleet seal prints before its first await), and the
 * originals are put back before anything else can run, so the test runner's own output is never
 * swallowed.
 */
export async function runMain(args: string[]): Promise<CliResult> {
	const out: Buffer[] = [];
	const err: Buffer[] = [];
	const stdoutWrite = process.stdout.write;
	const stderrWrite = process.stderr.write;
	const capture = (into: Buffer[]) => ((chunk: string | Uint8Array) => {
		into.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk));
		return true;
	}) as typeof process.stdout.write;
	await loadAllCommands(); // then main() runs the command without waiting for its module
	process.stdout.write = capture(out);
	process.stderr.write = capture(err);
	let pending: Promise<number>;
	try {
		pending = main(args);
	} finally {
		process.stdout.write = stdoutWrite;
		process.stderr.write = stderrWrite;
	}
	const code = await pending;
	return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() };
}

/** Asserts-free helper: the message for a failed CLI call. */
export function describeRun(args: string[], r: CliResult): string {
	return `sealdrop ${args.join(" ")} → exit ${r.code}\n${r.stderr}`;
}

/** A fresh temporary folder, removed by the returned function. */
export function makeTempDir(prefix: string): { dir: string; cleanup: () => void } {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sealdrop-${prefix}-`));
	return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
	const results: R[] = new Array(items.length);
	let next = 0;
	const worker = async () => {
		while (next < items.length) {
			const i = next++;
			results[i] = await fn(items[i], i);
		}
	};
	await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
	return results;
}

/** The sidecar's `keys` block (not in the shared VectorSidecar type). */
export interface VectorKeys {
	sign_private: string;
	sign_public: string;
	sign_type: string;
	enc_public_used_by_imgtool: string | null;
	enc_private_device: string | null;
	enc_type: string | null;
	enc_private_wrong: string | null;
}

export function vectorKeys(sidecar: VectorSidecar): VectorKeys {
	return (sidecar as VectorSidecar & { keys: VectorKeys }).keys;
}

/** Absolute path of a file named relative to test/vectors/imgtool. */
export function vectorPath(relative: string): string {
	return path.join(vectorsDir, relative);
}
