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

/**
 * A progress bar on stderr, redrawn at most ten times a second, only when stderr is a terminal
 * (so pipes and CI logs stay clean).
 */
export class ProgressBar {
	readonly #label: string;
	readonly #total: number;
	readonly #enabled: boolean;
	#last = 0;

	constructor(label: string, total: number, enabled = process.stderr.isTTY === true) {
		this.#label = label;
		this.#total = total;
		this.#enabled = enabled;
	}

	update(done: number): void {
		if (!this.#enabled) return;
		const now = Date.now();
		if (done < this.#total && now - this.#last < 100) return;
		this.#last = now;
		const width = 30;
		const filled = Math.round((done / this.#total) * width);
		const pct = Math.floor((done / this.#total) * 100);
		process.stderr.write(`\r${this.#label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(pct).padStart(3)}% ${done}/${this.#total}`);
		if (done >= this.#total) process.stderr.write("\n");
	}
}
