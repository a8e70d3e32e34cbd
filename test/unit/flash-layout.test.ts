/**
 * The board layout reader of the Linux XS host (native/lin/layout-json-lin.c), seen through
 * Flash.open on the release build: every board's layout reads as JSON.parse reads it, and a
 * malformed or invalid layout is an E_FLASH error naming the place, never a crash.
 *
 * A layout is read at the first Flash.open that succeeds and kept for the process, and read
 * again after a failed one: so one XS process tries every bad layout in turn (the program writes
 * each over SEALDROP_LAYOUT), and each good one gets a process of its own.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { repoRoot } from "../helpers/cli.js";

const binary = path.join(repoRoot, "build", "xs", "release", "sealdrop-xs");
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "sealdrop-layout-"));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));
const layoutFile = path.join(scratch, "layout.json");

interface Outcome { ok?: true; code?: string; name?: string; message?: string; status?: Record<string, number>[] }

/** Opens `partitions` with each layout in turn (over layoutFile); one outcome per layout. */
function openWith(layouts: (string | Buffer)[], partitions: string[], flash: string): Outcome[] {
	const dir = fs.mkdtempSync(path.join(scratch, "cases-"));
	layouts.forEach((text, i) => fs.writeFileSync(path.join(dir, String(i)), text));
	const program = path.join(dir, "program.js");
	fs.writeFileSync(program, `import Flash from "sealdrop/native/flash";
import { argv, readFile, writeFile } from "sealdrop/xs-host";
const [, layout, dir, count, ...partitions] = argv;
for (let i = 0; i < Number(count); i++) {
	writeFile(layout, readFile(dir + "/" + i));
	try {
		const status = partitions.map((name) => { const f = Flash.open({ path: name }); const s = f.status(); f.close(); return s; });
		console.log(JSON.stringify({ ok: true, status }));
	} catch (e) {
		console.log(JSON.stringify({ code: e.code, name: e.name, message: e.message }));
	}
}
`);
	const r = spawnSync(binary, [program, layoutFile, dir, String(layouts.length), ...partitions], {
		env: { ...process.env, SEALDROP_LAYOUT: layoutFile, SEALDROP_FLASH: path.join(scratch, flash) }, encoding: "utf8", timeout: 120_000,
	});
	assert.equal(r.status, 0, `sealdrop-xs exited ${r.status ?? r.signal}: ${r.stderr}`);
	const lines = r.stdout.trimEnd().split("\n");
	assert.equal(lines.length, layouts.length, "one outcome per layout");
	return lines.map((line) => JSON.parse(line) as Outcome);
}

interface LayoutJson { flash: { size: number; blockLength: number; writeAlign: number; eraseValue?: number }; partitions: { name: string; offset: number; size: number; blockLength?: number }[] }

/** What status() must say of each partition, from JSON.parse's reading of the layout. */
function expectedStatus(layout: LayoutJson): Record<string, number>[] {
	return layout.partitions.map((p) => {
		const blockLength = p.blockLength ?? layout.flash.blockLength;
		return { blockLength, blocks: p.size / blockLength, writeAlign: layout.flash.writeAlign, eraseValue: layout.flash.eraseValue ?? 255 };
	});
}

function pick(status: Record<string, number>[]): Record<string, number>[] {
	return status.map((s) => ({ blockLength: s.blockLength, blocks: s.blocks, writeAlign: s.writeAlign, eraseValue: s.eraseValue }));
}

const boards = fs.readdirSync(path.join(repoRoot, "boards")).filter((b) => fs.existsSync(path.join(repoRoot, "boards", b, "layout.json")));
const sim = fs.readFileSync(path.join(repoRoot, "boards", "sim", "layout.json"), "utf8");

test("every board's layout reads as JSON.parse reads it", () => {
	assert.ok(boards.length >= 5, `board layouts found: ${boards.join(", ")}`);
	for (const board of boards) {
		const text = fs.readFileSync(path.join(repoRoot, "boards", board, "layout.json"), "utf8");
		const layout = JSON.parse(text) as LayoutJson;
		const [outcome] = openWith([text], layout.partitions.map((p) => p.name), `${board}.bin`);
		assert.equal(outcome.ok, true, `${board}: ${outcome.code} ${outcome.message}`);
		assert.deepEqual(pick(outcome.status!), expectedStatus(layout), board);
	}
});

test("any JSON around the layout's own keys is read and skipped: escapes, numbers of every form, literals, nesting, a byte order mark, CRLF", () => {
	const text = "\uFEFF" + JSON.stringify({
		description: "quote \" backslash \\ slash / \b\f\n\r\t \u00e9 \u2603 \u0000",
		"\u00e9t\u00e9": [-0, 1.5, -2.25e+3, 6E-2, 0, true, false, null, [], {}, [[{ a: [null] }]]],
		name: "odd",
		flash: { writeAlign: 4, extra: { size: "not this one" }, blockLength: 1024, size: 8192 },
		partitions: [{ size: 2048, note: [1, 2], name: "a.b_c-D9", offset: 0 }, { name: "big", offset: 4096, size: 4096, blockLength: 4096 }],
	}, null, "\t").replace(/\n/g, "\r\n");
	const layout = JSON.parse(text.slice(1)) as LayoutJson;
	const [outcome] = openWith([text], ["a.b_c-D9", "big"], "odd.bin");
	assert.equal(outcome.ok, true, `${outcome.code} ${outcome.message}`);
	assert.deepEqual(pick(outcome.status!), expectedStatus(layout));
	assert.equal(outcome.status![0].eraseValue, 255, "eraseValue defaults to 255");
});

const good = { flash: { size: 65536, blockLength: 4096, writeAlign: 8 }, partitions: [{ name: "a", offset: 0, size: 8192 }] };
const withFlash = (flash: Record<string, unknown>) => JSON.stringify({ ...good, flash: { ...good.flash, ...flash } });
const withPartition = (partition: Record<string, unknown>) => JSON.stringify({ ...good, partitions: [{ ...good.partitions[0], ...partition }] });
const goodText = JSON.stringify(good);

/** [what, layout text, line:column of the error or null for errors in the values, words of the message] */
const malformed: [string, string | Buffer, string | null, RegExp][] = [
	["empty file", "", "1:1", /expected '\{'/],
	["an array", "[]", "1:1", /expected '\{'/],
	["an object cut short", "{", "1:2", /expected a string/],
	["text after the layout", goodText + "}", `1:${goodText.length + 1}`, /unexpected text after the layout/],
	["an unterminated string", '{"name": "si', "1:13", /unterminated string/],
	["a bad escape", '{"d": "\\q", ' + goodText.slice(1), "1:9", /bad escape/],
	["a bad \\u escape", '{"d": "\\u12G4", ' + goodText.slice(1), "1:12", /bad \\u escape/],
	["a raw newline in a string", '{"d": "a\nb", ' + goodText.slice(1), "1:9", /control character/],
	["a NUL byte outside a string", Buffer.from(`{"d": 1,\0 ${goodText.slice(1)}`), "1:9", /expected a string/],
	["a trailing comma in an object", goodText.slice(0, -1) + ",}", `1:${goodText.length + 1}`, /expected a string/],
	["a trailing comma in an array", '{"d": [1,], ' + goodText.slice(1), "1:10", /unexpected character/],
	["a word that is no literal", '{"d": nul, ' + goodText.slice(1), "1:7", /unexpected character/],
	["a bad number", '{"d": -, ' + goodText.slice(1), "1:7", /bad number/],
	["a number with no exponent digits", '{"d": 1e+, ' + goodText.slice(1), "1:10", /bad number/],
	["nested 40 deep", `{"d": ${"[".repeat(40)}${"]".repeat(40)}, ` + goodText.slice(1), null, /nested too deeply/],
	["leading zeros", withFlash({ size: "@" }).replace('"@"', "065536"), null, /leading zeros are not JSON/],
	["a negative size", withFlash({ size: -4096 }), null, /flash\.size must be an integer from 0 to 4294967295/],
	["a fractional size", withFlash({ size: "@" }).replace('"@"', "4096.0"), null, /flash\.size must be an integer/],
	["an exponent", withFlash({ size: "@" }).replace('"@"', "64e3"), null, /flash\.size must be an integer/],
	["a size past 32 bits", withFlash({ size: 4294967296 }), null, /flash\.size must be an integer from 0 to 4294967295/],
	["a size as a string", withFlash({ size: "65536" }), null, /flash\.size must be an integer/],
	["flash.writeAlign missing", JSON.stringify({ ...good, flash: { size: 65536, blockLength: 4096 } }), null, /flash\.writeAlign is missing/],
	["flash.size twice", goodText.replace('"size":65536', '"size":65536,"size":65536'), null, /flash\.size appears twice/],
	["flash not an object", JSON.stringify({ ...good, flash: [65536] }), null, /expected '\{'/],
	["no flash", JSON.stringify({ partitions: good.partitions }), null, /"flash" is missing/],
	["no partitions", JSON.stringify({ flash: good.flash }), null, /"partitions" is missing or empty/],
	["partitions empty", JSON.stringify({ ...good, partitions: [] }), null, /"partitions" is missing or empty/],
	["partitions not an array", JSON.stringify({ ...good, partitions: good.partitions[0] }), null, /expected '\['/],
	["17 partitions", JSON.stringify({ ...good, partitions: Array.from({ length: 17 }, (_, i) => ({ name: `p${i}`, offset: i * 4096, size: 4096 })) }), null, /more than 16 partitions/],
	["a partition without an offset", JSON.stringify({ ...good, partitions: [{ name: "a", size: 4096 }] }), null, /partitions\[0\] needs name, offset and size/],
	["a partition name twice", withPartition({}).replace('"name":"a"', '"name":"a","name":"b"'), null, /partitions\[0\]\.name appears twice/],
	["an escape in a name", withPartition({ name: "@" }).replace('"@"', '"\\u0061"'), null, /escapes are not read in names/],
	["an escape in a key", goodText.replace('"flash"', '"fl\\u0061sh"'), null, /escapes are not read in keys/],
	["a name of 32 bytes", withPartition({ name: "n".repeat(32) }), null, /partitions\[0\]\.name is too long \(at most 31 bytes\)/],
	["a name as a number", withPartition({ name: 7 }), null, /partitions\[0\]\.name must be a string/],
	// the values
	["a name with a space", withPartition({ name: "a b" }), null, /partition name "a b" is not 1-31 of/],
	["blockLength not a power of two", withFlash({ blockLength: 3072, size: 61440 }), null, /flash\.blockLength 3072 is not a power of two/],
	["writeAlign above blockLength", withFlash({ writeAlign: 8192 }), null, /flash\.writeAlign 8192 is not a power of two up to blockLength/],
	["size not whole blocks", withFlash({ size: 65537 }), null, /flash\.size 65537 is not a non-zero multiple of blockLength/],
	["eraseValue not a byte", withFlash({ eraseValue: 256 }), null, /flash\.eraseValue 256 is not a byte/],
	["a partition off its blocks", withPartition({ offset: 100 }), null, /is not a non-empty run of whole 4096-byte blocks/],
	["a partition past the flash", withPartition({ offset: 61440 }), null, /ends at 69632, past the flash's 65536 bytes/],
	["a partition blockLength below the flash's", withPartition({ blockLength: 2048 }), null, /blockLength 2048 is not a power of two of at least flash\.blockLength/],
	["two partitions of one name", JSON.stringify({ ...good, partitions: [good.partitions[0], { name: "a", offset: 8192, size: 4096 }] }), null, /two partitions are named "a"/],
	["overlapping partitions", JSON.stringify({ ...good, partitions: [good.partitions[0], { name: "b", offset: 4096, size: 8192 }] }), null, /partitions "a" and "b" overlap/],
	["larger than 64 KiB", JSON.stringify({ description: "x".repeat(65536), ...good }), null, /larger than 65536 bytes/],
];

test("a malformed or invalid layout is E_FLASH naming the file (and the line and column in the JSON)", () => {
	// the last one is good: the program really reads each layout it is given
	const outcomes = openWith([...malformed.map(([, text]) => text), goodText], ["a"], "malformed.bin");
	malformed.forEach(([what, , place, words], i) => {
		const o = outcomes[i];
		assert.equal(o.code, "E_FLASH", `${what}: ${JSON.stringify(o)}`);
		assert.equal(o.name, "Error", what);
		assert.ok(o.message!.startsWith(`flash.open: ${place ? `${layoutFile}:${place}: ` : ""}`) && o.message!.includes(layoutFile), `${what}: ${o.message}`);
		assert.match(o.message!, words, what);
	});
	assert.equal(outcomes[malformed.length].ok, true, JSON.stringify(outcomes[malformed.length]));
});

test("boards/sim/layout.json cut short at every byte is E_FLASH, never a crash", () => {
	const bytes = Buffer.from(sim);
	// every prefix without the closing brace
	const cuts = Array.from({ length: bytes.lastIndexOf("}") + 1 }, (_, n) => bytes.subarray(0, n));
	const outcomes = openWith(cuts, ["primary"], "cut.bin");
	outcomes.forEach((o, n) => assert.equal(o.code, "E_FLASH", `cut to ${n} bytes: ${JSON.stringify(o)}`));
});
