/**
 * `sign --compression lzma2|lzma2armthumb`, as imgtool 2.4 compresses (main.py sign): a raw LZMA2
 * stream from liblzma with preset 9, dictionary 128 KiB, lc=3, lp=1 (pb=2 from the preset), behind
 * the ARM-Thumb BCJ filter for lzma2armthumb, prefixed with a two-byte header (dictionary-size
 * code, then (pb*5+lp)*9+lc) that MCUboot's boot/bootutil/src/image_validate.c reads back.
 *
 * No npm package Sealdrop may depend on implements LZMA2, so this runs xz(1) from xz-utils, which
 * is liblzma like Python's lzma module: the same filter chain gives the same bytes.
 */
import { spawnSync } from "node:child_process";
import { fail } from "sealdrop/image";

export type Compression = "lzma2" | "lzma2armthumb";

/** main.py comp_default_*. */
export const LZMA2_DICT_SIZE = 131072;
const LZMA2_PB = 2;
const LZMA2_LC = 3;
const LZMA2_LP = 1;

/** main.py create_lzma2_header: the smallest code i with dictsize <= (2 | (i & 1)) << (i / 2 + 11), then the lc/lp/pb byte. */
export function lzma2Header(dictSize = LZMA2_DICT_SIZE, pb = LZMA2_PB, lc = LZMA2_LC, lp = LZMA2_LP): Buffer {
	let code = 0;
	while (code < 40 && dictSize > (2 | (code & 1)) * 2 ** (Math.floor(code / 2) + 11)) code++;
	return Buffer.of(code, (pb * 5 + lp) * 9 + lc);
}

/** The xz program to run: $SEALDROP_XZ, else `xz` on PATH. */
function xzCommand(): string {
	return process.env.SEALDROP_XZ || "xz";
}

/** Raw LZMA2 (optionally ARM-Thumb filtered) compression of `data`, byte for byte as imgtool's lzma.compress. */
export function compressLzma2(data: Uint8Array, type: Compression): Buffer {
	const filters = [
		...(type === "lzma2armthumb" ? ["--armthumb"] : []),
		`--lzma2=preset=9,dict=${LZMA2_DICT_SIZE},lc=${LZMA2_LC},lp=${LZMA2_LP}`,
	];
	const r = spawnSync(xzCommand(), ["--format=raw", ...filters, "--stdout", "--compress", "--threads=1"], { input: data, maxBuffer: 1 << 30 });
	if (r.error) {
		const code = (r.error as NodeJS.ErrnoException).code;
		fail("E_TOOL", code === "ENOENT"
			? `--compression needs the xz program (xz-utils: apt-get install xz-utils, brew install xz), not found as "${xzCommand()}"`
			: `--compression: running ${xzCommand()} failed (${code ?? r.error.message})`);
	}
	if (r.status !== 0) fail("E_TOOL", `--compression: ${xzCommand()} exited with ${r.status ?? r.signal}: ${r.stderr.toString().trim()}`);
	return r.stdout;
}
