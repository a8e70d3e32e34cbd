/** File access and terminal output shared by the commands. */
import fs from "node:fs";
import { fail } from "sealdrop/image";

function reason(e: unknown): string {
	return (e as NodeJS.ErrnoException).code ?? String(e);
}

export function readInput(path: string, what = "file"): Buffer {
	try {
		return fs.readFileSync(path);
	} catch (e) {
		fail("E_IO", `${path}: cannot read ${what} (${reason(e)})`);
	}
}

export function writeOutput(path: string, data: Uint8Array | string, mode?: number): void {
	try {
		fs.writeFileSync(path, data, mode === undefined ? undefined : { mode });
	} catch (e) {
		fail("E_IO", `${path}: cannot write (${reason(e)})`);
	}
}

/** Writes to the file an -o option names, or to standard output. */
export function writeResult(outputPath: string | undefined, data: Uint8Array | string): void {
	if (outputPath) writeOutput(outputPath, data);
	else process.stdout.write(data);
}

export function printJson(value: unknown): void {
	process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/** Bytes as people read them: 950 B, 12.3 KB, 4.1 MB (powers of 1000, as rates are quoted). */
function humanBytes(n: number): string {
	return n < 1000 ? `${Math.round(n)} B` : n < 1e6 ? `${(n / 1e3).toFixed(1)} KB` : `${(n / 1e6).toFixed(1)} MB`;
}

function humanSeconds(s: number): string {
	if (!Number.isFinite(s)) return "--:--";
	const t = Math.round(s);
	return t >= 3600 ? `${Math.floor(t / 3600)}:${String(Math.floor(t / 60) % 60).padStart(2, "0")}:${String(t % 60).padStart(2, "0")}` : `${Math.floor(t / 60)}:${String(t % 60).padStart(2, "0")}`;
}

export interface ProgressOutput {
	write(text: string): unknown;
}

/**
 * A progress bar on stderr, redrawn at most ten times a second, only when stderr is a terminal
 * (so pipes and CI logs stay clean): percentage, bytes, rate since the first update, and time
 * left at that rate. The 100 % line is drawn once, however often the caller reports the end.
 */
export class ProgressBar {
	readonly #label: string;
	readonly #total: number;
	readonly #enabled: boolean;
	readonly #out: ProgressOutput;
	readonly #now: () => number;
	#last = -Infinity;
	#done = false;
	/** The first report: the rate counts from there (a resumed transfer starts past zero). */
	#start: { at: number; bytes: number } | undefined;
	/** Whether the cursor sits at the end of a drawn bar (a notice must start a new line). */
	#drawn = false;

	constructor(label: string, total: number, enabled = process.stderr.isTTY === true, out: ProgressOutput = process.stderr, now: () => number = Date.now) {
		this.#label = label;
		this.#total = total;
		this.#enabled = enabled;
		this.#out = out;
		this.#now = now;
	}

	update(done: number): void {
		if (!this.#enabled || this.#done) return;
		const now = this.#now();
		if (!this.#start) this.#start = { at: now, bytes: done };
		const finished = done >= this.#total;
		if (!finished && now - this.#last < 100) return;
		this.#last = now;
		const width = 30;
		const filled = Math.min(width, Math.round((done / this.#total) * width));
		const pct = Math.min(100, Math.floor((done / this.#total) * 100));
		const elapsed = (now - this.#start.at) / 1000;
		const rate = elapsed > 0 ? (done - this.#start.bytes) / elapsed : NaN;
		const tail = finished ? `${humanBytes(Number.isFinite(rate) ? rate : 0)}/s in ${humanSeconds(elapsed)}` : `${Number.isFinite(rate) ? humanBytes(rate) : "--"}/s, ${humanSeconds(rate > 0 ? (this.#total - done) / rate : NaN)} left`;
		this.#out.write(`\r${this.#label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(pct).padStart(3)}% ${done}/${this.#total} ${tail}\x1b[K`);
		this.#drawn = true;
		if (finished) {
			this.#out.write("\n");
			this.#done = true;
			this.#drawn = false;
		}
	}

	/** Ends the bar's line so a message can be printed; the next update draws it again below. */
	interrupt(): void {
		if (!this.#drawn) return;
		this.#out.write("\n");
		this.#drawn = false;
	}
}
