/**
 * CPU time for the benchmarks: on a machine shared with other work, wall time measures the
 * machine's load as much as the code, so ratios are taken from the CPU time each side used
 * (user + system, the figures getrusage(2) reports), with wall time printed beside them.
 */
import fs from "node:fs";

/** This process's CPU milliseconds so far (process.cpuUsage: getrusage RUSAGE_SELF). */
export function selfCpuMs(): number {
	const u = process.cpuUsage();
	return (u.user + u.system) / 1000;
}

/** The kernel's clock ticks per second for /proc/PID/stat (sysconf(_SC_CLK_TCK); 100 on Linux's ABI). */
const TICKS_PER_SECOND = 100;

/**
 * Another process's CPU milliseconds so far (utime + stime of /proc/PID/stat, proc(5): what
 * getrusage reports once it is reaped), at 10 ms resolution; undefined once it is gone.
 */
export function processCpuMs(pid: number): number | undefined {
	let fields: string[];
	try {
		fields = statFields(`/proc/${pid}/stat`);
	} catch {
		return undefined;
	}
	return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/**
 * The fields of a /proc/PID/stat after the command name (in parentheses, which may hold spaces):
 * index 0 is field 3 (state), so utime (14) is 11, stime 12, cutime 13, cstime 14.
 */
function statFields(path: string): string[] {
	const stat = fs.readFileSync(path, "utf8");
	return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/**
 * CPU milliseconds of this process's children that have ended and been waited for (cutime +
 * cstime of /proc/self/stat, proc(5): getrusage RUSAGE_CHILDREN), at 10 ms resolution.
 */
export function reapedChildrenCpuMs(): number {
	const fields = statFields("/proc/self/stat");
	return ((Number(fields[13]) + Number(fields[14])) * 1000) / TICKS_PER_SECOND;
}

/** `pid` and its descendants (/proc/PID/task/TID/children, proc(5)). */
export function processTree(pid: number): number[] {
	const out = [pid];
	for (let i = 0; i < out.length; i++) {
		let tasks: string[];
		try {
			tasks = fs.readdirSync(`/proc/${out[i]}/task`);
		} catch {
			continue;
		}
		for (const task of tasks) {
			try {
				for (const child of fs.readFileSync(`/proc/${out[i]}/task/${task}/children`, "utf8").trim().split(/\s+/)) if (child) out.push(Number(child));
			} catch {
				// the task ended meanwhile
			}
		}
	}
	return out;
}

/** Wall and CPU milliseconds of a span of work, and their ratio-friendly forms. */
export interface Spent {
	wallMs: number;
	cpuMs: number;
}

/** The ratio a / b rounded for printing. */
export const ratio = (a: number, b: number, digits = 3) => +(a / b).toFixed(digits);

/** Milliseconds rounded for printing. */
export const ms = (value: number, digits = 1) => +value.toFixed(digits);
