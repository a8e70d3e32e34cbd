/**
 * Image versions (reference §A.2 "Version string"; imgtool version.py): parse, format, compare,
 * and the 8-byte struct image_version.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { compareVersions, decodeVersion, encodeVersion, formatVersion, parseVersion, type ImageVersion } from "sealdrop/image";
import { expectCode, hex, unhex, vectorCases } from "../helpers/vectors.js";

const v = (major: number, minor: number, revision: number, build: number): ImageVersion => ({ major, minor, revision, build });

test("parseVersion reads maj.min.rev+build, later parts defaulting to 0", () => {
	const cases: [string, ImageVersion][] = [
		["1.2.3+4", v(1, 2, 3, 4)],
		["1.2.3", v(1, 2, 3, 0)],
		["1.2", v(1, 2, 0, 0)],
		["1", v(1, 0, 0, 0)],
		["0", v(0, 0, 0, 0)],
		["0.0.0+0", v(0, 0, 0, 0)],
		["10.20.300+4000", v(10, 20, 300, 4000)],
		["255.255.65535+4294967295", v(255, 255, 65535, 4294967295)],
	];
	for (const [text, expected] of cases) assert.deepEqual(parseVersion(text), expected, text);
});

test("parseVersion rejects malformed and out-of-range versions with E_VERSION", () => {
	const bad = [
		"", " ", "1.", "1.2.", "1.2.3+", "1..3", ".1", "+4", "v1.2.3", "1.2.3-rc1", "a.b.c", "1,2,3",
		"01", "01.2.3", "1.02.3", "1.2.03", "1.2.3+04", "00.0.0", // leading zeros (imgtool's regex refuses them)
		"1.2.3.4", "1.2.3+4+5", "1.2+3", "1+2", // too many parts / build without revision
		"256.0.0", "1.256.0", "1.2.65536", "1.2.3+4294967296", "99999999999999999999", // field limits
		"-1", "-1.2.3", "1.-2.3", "1.2.-3", "1.2.3+-4", // negative
		"1e2", "0x10", "1.2.3 +4",
	];
	for (const text of bad) expectCode(() => parseVersion(text), "E_VERSION", JSON.stringify(text));
});

test("the sidecars' versions parse to their version tuples", () => {
	for (const c of vectorCases()) {
		const e = c.sidecar.expected;
		const [major, minor, revision, build] = e.version_tuple;
		assert.deepEqual(parseVersion(e.version), { major, minor, revision, build }, c.name);
	}
});

test("formatVersion writes all four parts; parse(format(v)) is the identity", () => {
	assert.equal(formatVersion(v(1, 2, 3, 4)), "1.2.3+4");
	assert.equal(formatVersion(v(1, 0, 0, 0)), "1.0.0+0");
	assert.equal(formatVersion(v(255, 255, 65535, 4294967295)), "255.255.65535+4294967295");
	for (const version of [v(0, 0, 0, 0), v(1, 2, 3, 4), v(9, 10, 256, 65536), v(255, 255, 65535, 4294967295)])
		assert.deepEqual(parseVersion(formatVersion(version)), version);
	for (const text of ["1.2.3+4", "0.0.0+0", "255.255.65535+4294967295"]) assert.equal(formatVersion(parseVersion(text)), text);
});

test("compareVersions orders by major, minor, revision; build only when asked", () => {
	const cases: [string, string, number, number][] = [
		// a, b, without build, with build
		["1.2.3", "1.2.3", 0, 0],
		["1.2.3", "1.2.4", -1, -1],
		["1.2.4", "1.2.3", 1, 1],
		["1.3.0", "1.2.9", 1, 1],
		["1.2.9", "1.3.0", -1, -1],
		["2.0.0", "1.255.65535+4294967295", 1, 1],
		["1.2.256", "1.2.255", 1, 1], // revision is a u16, compared numerically
		["1.2.3+4", "1.2.3+5", 0, -1],
		["1.2.3+5", "1.2.3+4", 0, 1],
		["1.2.3+4294967295", "1.2.3+0", 0, 1],
		["0.0.0+1", "0.0.1+0", -1, -1],
	];
	for (const [a, b, plain, withBuild] of cases) {
		assert.equal(compareVersions(parseVersion(a), parseVersion(b)), plain, `${a} vs ${b}`);
		assert.equal(compareVersions(parseVersion(a), parseVersion(b), true), withBuild, `${a} vs ${b} with build`);
	}
});

test("encodeVersion lays out struct image_version little-endian (1.2.3+4 → 01 02 03 00 04 00 00 00)", () => {
	const cases: [ImageVersion, string][] = [
		[v(1, 2, 3, 4), "01 02 03 00 04 00 00 00"],
		[v(0, 0, 0, 0), "00 00 00 00 00 00 00 00"],
		[v(0, 1, 0x1234, 0x89abcdef), "00 01 34 12 ef cd ab 89"],
		[v(2, 3, 4, 5), "02 03 04 00 05 00 00 00"],
		[v(255, 255, 65535, 4294967295), "ff ff ff ff ff ff ff ff"],
	];
	for (const [version, bytes] of cases) {
		assert.equal(hex(encodeVersion(version)), hex(unhex(bytes)), formatVersion(version));
		assert.deepEqual(decodeVersion(unhex(bytes)), version, bytes);
	}
});

test("encodeVersion writes at an offset into a given buffer and leaves the rest alone", () => {
	const out = new Uint8Array(16).fill(0xee);
	const returned = encodeVersion(v(1, 2, 3, 4), out, 5);
	assert.equal(returned, out);
	assert.equal(hex(out), "eeeeeeeeee" + "0102030004000000" + "eeeeee");
	assert.deepEqual(decodeVersion(out, 5), v(1, 2, 3, 4));
});

test("encode/decode round trip", () => {
	let x = 0x2545f491;
	const next = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
	for (let i = 0; i < 500; i++) {
		const version = v(next() & 0xff, next() & 0xff, next() & 0xffff, next());
		assert.deepEqual(decodeVersion(encodeVersion(version)), version);
	}
});

test("encodeVersion refuses fields beyond 255.255.65535+4294967295", () => {
	for (const version of [v(256, 0, 0, 0), v(0, 256, 0, 0), v(0, 0, 65536, 0), v(0, 0, 0, 4294967296), v(NaN, 0, 0, 0)])
		expectCode(() => encodeVersion(version), "E_VERSION", JSON.stringify(version));
});

test("encodeVersion refuses negative and fractional fields", () => {
	for (const version of [v(-1, 0, 0, 0), v(0, -1, 0, 0), v(0, 0, -1, 0), v(0, 0, 0, -1), v(1.5, 0, 0, 0)])
		expectCode(() => encodeVersion(version), "E_VERSION", JSON.stringify(version));
});
