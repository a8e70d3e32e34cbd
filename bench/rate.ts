/**
 * Calls per second of `step`, run until at least `minMilliseconds` have passed on `now` (a
 * monotonic millisecond clock: performance.now in Node, the host's clock on XS). Shared by the
 * Node and XS halves of the benchmarks so both measure the same way.
 */
export function rate(step: () => void, minMilliseconds: number, now: () => number): number {
	step(); // warm up (first-call costs)
	let calls = 0;
	const start = now();
	let elapsed = 0;
	while (elapsed < minMilliseconds) {
		for (let i = 0; i < 8; i++) step();
		calls += 8;
		elapsed = now() - start;
	}
	return calls / (elapsed / 1000);
}
