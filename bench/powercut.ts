/**
 * Power-cut benchmark (`npm run bench:powercut`): the fault-injection harness
 * (test/faults/harness.ts) on every installer and swap mode, with a larger image than the test
 * uses (BENCH_PAYLOAD bytes, default 60,000). Prints JSON: per configuration and phase (install,
 * the bootloader's test swap, revert, confirm), the cut points tried, the failures (goal: none)
 * and what booted after each cut.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ALL_CONFIGS, runPowercut, type PowercutReport } from "../test/faults/harness.js";

const payload = Number(process.env.BENCH_PAYLOAD ?? 60_000);
const work = fs.mkdtempSync(path.join(os.tmpdir(), "sealdrop-bench-powercut-"));
const started = performance.now();
try {
	const reports: PowercutReport[] = [];
	for (const config of ALL_CONFIGS) {
		process.stderr.write(`bench:powercut: ${config.installer}${config.swap ? `/${config.swap}` : ""}\n`);
		reports.push(await runPowercut(config, path.join(work, String(reports.length)), payload));
	}
	const phases = ["install", "testSwap", "revert", "confirm"] as const;
	const results = {
		payloadBytes: payload,
		seconds: +((performance.now() - started) / 1000).toFixed(1),
		totalPoints: reports.reduce((n, r) => n + phases.reduce((m, p) => m + r[p].points, 0), 0),
		totalFailures: reports.reduce((n, r) => n + phases.reduce((m, p) => m + r[p].failures.length, 0), 0),
		configs: reports.map((r) => ({
			config: r.config,
			...Object.fromEntries(phases.map((p) => [p, { points: r[p].points, failures: r[p].failures.length, outcomes: r[p].outcomes, ...(r[p].failures.length ? { firstFailures: r[p].failures.slice(0, 3) } : {}) }])),
			resumedMidBody: r.install.resumedMidBody,
		})),
	};
	process.stdout.write(JSON.stringify(results, null, 2) + "\n");
} finally {
	fs.rmSync(work, { recursive: true, force: true });
}
