/**
 * Calls per second of `step`, run until at least `minMilliseconds` have passed on `now` (a
 * monotonic millisecond clock: performance.now in Node, the host's clock on XS) and, when `cpu`
 * is given (this process's CPU milliseconds: bench/cpu.ts, bench/xs/cpu.ts), until at least
 * `minMilliseconds` of CPU time were spent too, so that a busy machine's scheduling does not cut
 * the CPU figure short. Shared by the Node and XS halves of the benchmarks so both measure the
 * same way.
 */
export function rate(step: () => void, minMilliseconds: number, now: () => number): number {
	return measure(step, minMilliseconds, now).perSecond;
}

export interface Measured {
	/** Calls per second of wall time. */
	perSecond: number;
	/** Calls per second of this process's CPU time (NaN without a CPU clock). */
	perCpuSecond: number;
	calls: number;
	wallMs: number;
	cpuMs: number;
}

export function measure(step: () => void, minMilliseconds: number, now: () => number, cpu?: () => number): Measured {
	step(); // warm up (first-call costs)
	let calls = 0;
	const start = now();
	const cpuStart = cpu ? cpu() : 0;
	let elapsed: number;
	let cpuElapsed = 0;
	for (;;) {
		for (let i = 0; i < 8; i++) step();
		calls += 8;
		elapsed = now() - start;
		if (elapsed < minMilliseconds) continue;
		// the CPU clock is read only once the wall clock has run its span: reading it costs a system call or two
		if (!cpu) break;
		cpuElapsed = cpu() - cpuStart;
		if (cpuElapsed >= minMilliseconds) break;
	}
	return { perSecond: calls / (elapsed / 1000), perCpuSecond: cpu ? calls / (cpuElapsed / 1000) : NaN, calls, wallMs: elapsed, cpuMs: cpu ? cpuElapsed : NaN };
}
