/**
 * The XS half of a `npm run fuzz:*` script: runs build/js/test/fuzz/PROGRAM on the Linux XS host
 * (release build) in a state folder and on a flash file of its own (boards/sim/layout.json),
 * with no power cut or fault injection, and returns the JSON object it prints last.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export function runXsFuzz(program: string, seconds: number, seed: number, env: NodeJS.ProcessEnv = {}): Record<string, unknown> {
	const root = fileURLToPath(new URL("../../../../", import.meta.url));
	const state = fs.mkdtempSync(path.join(os.tmpdir(), `sealdrop-fuzz-${path.basename(program, ".js")}-`));
	try {
		const run = spawnSync(path.join(root, "build", "xs", "release", "sealdrop-xs"),
			["--state", state, path.join(root, "build", "js", "test", "fuzz", program), String(seconds), String(seed)],
			{ encoding: "utf8", env: { ...process.env, SEALDROP_FLASH: path.join(state, "flash.bin"), SEALDROP_LAYOUT: path.join(root, "boards", "sim", "layout.json"), SEALDROP_FLASH_CUT: "", SEALDROP_FLASH_FAIL_AT: "", ...env } });
		const last = (run.stdout ?? "").trim().split("\n").pop() ?? "";
		if (!last.startsWith("{")) throw new Error(`the XS fuzz ended with ${run.status}${run.error ? `: ${run.error.message}` : ""}: ${(run.stderr ?? "").slice(-2000)}${(run.stdout ?? "").slice(-2000)}`);
		return JSON.parse(last) as Record<string, unknown>;
	} finally {
		fs.rmSync(state, { recursive: true, force: true });
	}
}
