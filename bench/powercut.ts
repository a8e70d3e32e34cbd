/**
 * Power-cut benchmark (`npm run bench:powercut`): the fault-injection harness
 * (test/faults/harness.ts) on every installer and swap mode, with a larger image than the test
 * uses (BENCH_PAYLOAD bytes, default 60,000). Prints JSON: per configuration and phase (install,
 * the bootloader's test swap, revert, confirm), the cut points tried, the failures (goal: none)
 * and what booted after each cut. Every cut point of every phase is tried; the configurations run
 * side by side, one per core (each cut is a device process of its own), and the JSON gives the
 * wall time against its goal (10 minutes on 2 cores) with the CPU time it took beside it.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ALL_CONFIGS, configName, runPowercut, type PowercutReport } from "../test/faults/harness.js";
import { ms, reapedChildrenCpuMs, selfCpuMs } from "./cpu.js";

const payload = Number(process.env.BENCH_PAYLOAD ?? 60_000);
const parallel = Math.max(1, Number(process.env.BENCH_JOBS ?? os.availableParallelism()));
const work = fs.mkdtempSync(path.join(os.tmpdir(), "sealdrop-bench-powercut-"));
const started = performance.now();
const cpuAtStart = selfCpuMs() + reapedChildrenCpuMs();
try {
	const reports: PowercutReport[] = new Array(ALL_CONFIGS.length);
	const seconds: number[] = new Array(ALL_CONFIGS.length);
	let next = 0;
	const worker = async () => {
		for (let i = next++; i < ALL_CONFIGS.length; i = next++) {
			const config = ALL_CONFIGS[i];
			const t0 = performance.now();
			process.stderr.write(`bench:powercut: ${configName(config)}\n`);
			reports[i] = await runPowercut(config, path.join(work, String(i)), payload);
			seconds[i] = ms((performance.now() - t0) / 1000);
			process.stderr.write(`bench:powercut: ${configName(config)} done in ${seconds[i]} s\n`);
		}
	};
	await Promise.all(Array.from({ length: Math.min(parallel, ALL_CONFIGS.length) }, worker));
	const phases = ["install", "testSwap", "revert", "confirm"] as const;
	const wallSeconds = (performance.now() - started) / 1000;
	const results = {
		payloadBytes: payload,
		jobs: parallel,
		seconds: ms(wallSeconds),
		goalSeconds: 600,
		cpuSeconds: ms((selfCpuMs() + reapedChildrenCpuMs() - cpuAtStart) / 1000),
		totalPoints: reports.reduce((n, r) => n + phases.reduce((m, p) => m + r[p].points, 0), 0),
		totalFailures: reports.reduce((n, r) => n + phases.reduce((m, p) => m + r[p].failures.length, 0), 0),
		configs: reports.map((r, i) => ({
			config: r.config,
			seconds: seconds[i],
			...Object.fromEntries(phases.map((p) => [p, { points: r[p].points, failures: r[p].failures.length, outcomes: r[p].outcomes, ...(r[p].failures.length ? { firstFailures: r[p].failures.slice(0, 3) } : {}) }])),
			resumedMidBody: r.install.resumedMidBody,
		})),
	};
	process.stdout.write(JSON.stringify(results, null, 2) + "\n");
} finally {
	fs.rmSync(work, { recursive: true, force: true });
}
