/**
 * `sealdrop/xs-host`: services of the Linux XS host itself (host/xs/main.c) for tests and
 * benchmarks. Device code never imports it; it does not exist on a board.
 */

/** Memory figures of the XS machine, in bytes (slots are XS's fixed-size values). */
export interface XsMemory {
	chunksCurrent: number;
	chunksPeak: number;
	slotsCurrent: number;
	slotsPeak: number;
	slotSize: number;
	/** JS stack slots held by the calling frames: flat across iterations of a loop, or something leaks them. */
	stackSlots: number;
	/**
	 * The deepest the JS stack went since start or resetPeaks(), in a board's terms: the slots of
	 * manifest.json's creation.stack a board would have used (the host's own intrinsics left out).
	 */
	stackPeak: number;
}

/** The entry module's path followed by its arguments. */
export const argv = native("xs_host_argv").call(undefined) as string[];

/** The working directory the host started in (--state then changes it), for resolving paths given as arguments. */
export const startDirectory = native("xs_host_startDirectory").call(undefined) as string;

/** Ends the program with this exit code once the current job returns. */
export function exit(code: number): void {
	native("xs_host_exit").call(undefined, code);
}

export function memory(): XsMemory {
	return native("xs_host_memory").call(undefined) as XsMemory;
}

/** Restarts the peak figures from the current use. */
export function resetPeaks(): void {
	native("xs_host_resetPeaks").call(undefined);
}

/** Collects garbage now; gc(false) suspends collection (allocation then shows in the figures), gc(true) resumes it. */
export function gc(enable?: boolean): void {
	if (enable === undefined) native("xs_host_gc").call(undefined);
	else native("xs_host_gc").call(undefined, enable);
}

/** Monotonic milliseconds. */
export function now(): number {
	return native("xs_host_now").call(undefined) as number;
}

/* The file calls below throw an Error with `code` "E_IO" when the file cannot be read or written. */

export function readFile(path: string): Uint8Array {
	return new Uint8Array(native("xs_host_readFile").call(undefined, path) as ArrayBuffer);
}

/** Reads bytes of a file at `position` into `target` without allocating; returns how many (fewer at its end). */
export function readFileInto(path: string, position: number, target: Uint8Array): number {
	return native("xs_host_readFileInto").call(undefined, path, position, target.buffer, target.byteOffset, target.byteLength) as number;
}

export function fileSize(path: string): number {
	return native("xs_host_fileSize").call(undefined, path) as number;
}

export function writeFile(path: string, data: Uint8Array): void {
	native("xs_host_writeFile").call(undefined, path, data.slice().buffer);
}
