/**
 * CPU time of the XS host's own process for the XS halves of the benchmarks (bench/cpu.ts is
 * Node's): utime + stime of /proc/self/stat (proc(5): the figures getrusage(2) reports for the
 * process), read into a buffer made once. 10 ms resolution, so spans to compare run ≥ 1 s.
 */
import { readFileInto } from "sealdrop/xs-host";

const stat = new Uint8Array(1024);
const TICKS_PER_SECOND = 100;

/** This XS process's CPU milliseconds so far. */
export function cpuMs(): number {
	const length = readFileInto("/proc/self/stat", 0, stat);
	let at = stat.lastIndexOf(0x29, length) + 2; // past ") "
	// skip fields 3 to 13 (state … cmajflt) to reach utime (14) and stime (15)
	for (let field = 3; field < 14; field++) at = stat.indexOf(0x20, at) + 1;
	let utime = 0, stime = 0;
	for (; stat[at] !== 0x20; at++) utime = utime * 10 + stat[at] - 0x30;
	for (at++; stat[at] !== 0x20; at++) stime = stime * 10 + stat[at] - 0x30;
	return ((utime + stime) * 1000) / TICKS_PER_SECOND;
}
