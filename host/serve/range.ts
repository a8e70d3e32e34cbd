/**
 * Range requests, server side (RFC 9110 §14): which part of a representation a GET asks for, and
 * whether its validators let the Range apply.
 */

/** What to answer: the whole representation, bytes [start, end] (inclusive), or 416. */
export type RangeAnswer = { status: 200 } | { status: 206; start: number; end: number } | { status: 416 };

const DIGITS = /^\d{1,15}$/;

/**
 * Evaluates a Range header field for a representation of `size` bytes (RFC 9110 §14.2). One
 * byte range is served as 206; what this server does not serve as a range it ignores, as the
 * RFC allows ("a server MAY ignore the Range header field"): other units, invalid syntax
 * (§14.1.1), and requests for several ranges (no multipart/byteranges here). A valid range
 * that starts at or past the end is unsatisfiable (§14.1.1, §15.5.17).
 */
export function selectRange(range: string | undefined, size: number): RangeAnswer {
	if (range === undefined) return { status: 200 };
	const m = /^bytes=(.*)$/i.exec(range.trim());
	if (!m) return { status: 200 };
	const specs = m[1].split(",").map((s) => s.trim()).filter((s) => s !== "");
	if (specs.length !== 1) return { status: 200 };
	const [first, last] = specs[0].split("-");
	if (last === undefined || specs[0].split("-").length !== 2) return { status: 200 };
	if (first === "") {
		// suffix-range: the last N bytes (§14.1.2)
		if (!DIGITS.test(last)) return { status: 200 };
		const suffix = Number(last);
		if (suffix === 0 || size === 0) return { status: 416 };
		return { status: 206, start: Math.max(0, size - suffix), end: size - 1 };
	}
	if (!DIGITS.test(first) || (last !== "" && !DIGITS.test(last))) return { status: 200 };
	const start = Number(first);
	if (last !== "" && Number(last) < start) return { status: 200 }; // invalid (§14.1.1)
	if (start >= size) return { status: 416 };
	return { status: 206, start, end: last === "" ? size - 1 : Math.min(Number(last), size - 1) };
}

/**
 * If-Range (RFC 9110 §13.1.5): the Range applies only when the validator still matches — an
 * entity tag by strong comparison (§8.8.3.2: a weak tag never matches), or an HTTP-date equal to
 * Last-Modified. Absent, it holds.
 */
export function ifRangeHolds(ifRange: string | undefined, etag: string, lastModified: string): boolean {
	if (ifRange === undefined) return true;
	const value = ifRange.trim();
	if (value.startsWith("W/")) return false;
	if (value.startsWith("\"")) return value === etag;
	return value === lastModified;
}

/** Content-Range for a 206 (RFC 9110 §14.4): `bytes first-last/complete`. */
export function contentRange(start: number, end: number, size: number): string {
	return `bytes ${start}-${end}/${size}`;
}
