/**
 * The Linux XS host's own behaviour (host/xs/main.c, uart.c, platform.c), seen from outside:
 * exit codes, errors and their stacks, timers, the UART on stdin/stdout, module resolution.
 * Programs are small ES modules written to a scratch folder and run by the release build
 * (the debug build for .ts line numbers). npm test builds both before this runs.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../..", import.meta.url));
const binary = (flavor = "release") => path.join(root, "build", "xs", flavor, "sealdrop-xs");
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "sealdrop-xs-host-"));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

let programs = 0;
function run(source: string, options: { args?: string[]; input?: Buffer; flavor?: string } = {}) {
	const file = path.join(scratch, `program-${programs++}.js`);
	fs.writeFileSync(file, source);
	return runFile(file, options);
}
function runFile(file: string, options: { args?: string[]; input?: Buffer; flavor?: string; hostArgs?: string[]; env?: Record<string, string> } = {}) {
	const r = spawnSync(binary(options.flavor), [...(options.hostArgs ?? []), file, ...(options.args ?? [])], { input: options.input ?? Buffer.alloc(0), timeout: 30_000, env: { ...process.env, ...options.env } });
	return { status: r.status, stdout: r.stdout, out: r.stdout.toString("latin1"), err: r.stderr.toString() };
}

test("xs-host: --version names the XS release, --help prints the usage, both exit 0", () => {
	const version = spawnSync(binary(), ["--version"], { encoding: "utf8" });
	assert.equal(version.status, 0);
	assert.match(version.stdout, /^XS \d+\.\d+\.\d+\n$/);
	const help = spawnSync(binary(), ["--help"], { encoding: "utf8" });
	assert.equal(help.status, 0);
	assert.match(help.stdout, /^usage: sealdrop-xs /);
});

test("xs-host: usage errors exit 64, a missing entry file 66", () => {
	const none = spawnSync(binary(), [], { encoding: "utf8" });
	assert.equal(none.status, 64);
	assert.match(none.stderr, /usage:/);
	const unknown = spawnSync(binary(), ["--frobnicate", "x.js"], { encoding: "utf8" });
	assert.equal(unknown.status, 64);
	assert.match(unknown.stderr, /unknown option --frobnicate/);
	const missing = spawnSync(binary(), [path.join(scratch, "nowhere.js")], { encoding: "utf8" });
	assert.equal(missing.status, 66);
	assert.match(missing.stderr, /nowhere\.js: No such file or directory/);
	const badMap = spawnSync(binary(), ["--map", path.join(scratch, "no.map"), fileURLToPath(import.meta.url)], { encoding: "utf8" });
	assert.equal(badMap.status, 66);
	assert.match(badMap.stderr, /cannot read module map/);
});

test("xs-host: a program that finishes exits 0; exit(n) exits n; arguments reach argv", () => {
	const r = run(`import { argv, exit } from "sealdrop/xs-host";\nconsole.log(JSON.stringify(argv.slice(1)));\n`, { args: ["a b", "--x", "ü"] });
	assert.equal(r.status, 0, r.err);
	assert.equal(r.out, Buffer.from(`["a b","--x","ü"]\n`).toString("latin1"));
	assert.equal(run(`import { exit } from "sealdrop/xs-host";\nexit(7);\n`).status, 7);
	const later = run(`import { exit } from "sealdrop/xs-host";\nsetTimeout(() => exit(3), 5);\n`);
	assert.equal(later.status, 3);
});

test("xs-host: an uncaught exception exits 1 with its message and stack on stderr", () => {
	const r = run(`function inner() { throw new TypeError("bad thing"); }\nfunction outer() { inner(); }\nconsole.log("before");\nouter();\n`);
	assert.equal(r.status, 1);
	assert.equal(r.out, "before\n");
	assert.match(r.err, /uncaught exception: TypeError: bad thing/);
	assert.match(r.err, /at inner/);
	assert.match(r.err, /at outer/);
	const inTimer = run(`setTimeout(() => { throw new RangeError("in a timer"); }, 1);\nsetTimeout(() => console.log("still running"), 50);\n`);
	assert.equal(inTimer.status, 1);
	assert.match(inTimer.err, /RangeError: in a timer/);
	assert.equal(inTimer.out, "", "the program stops at the first uncaught exception, as Node does");
});

test("xs-host: an unhandled rejection exits 1; a rejection handled in time does not", () => {
	const r = run(`async function fails() { throw new Error("rejected late"); }\nfails();\n`);
	assert.equal(r.status, 1);
	assert.match(r.err, /unhandled rejection: Error: rejected late/);
	const tla = run(`await new Promise((_, reject) => setTimeout(() => reject(new Error("top-level await")), 1));\n`);
	assert.equal(tla.status, 1);
	assert.match(tla.err, /top-level await/);
	const handled = run(`const p = Promise.reject(new Error("x"));\np.catch(() => console.log("caught"));\n`);
	assert.equal(handled.status, 0, handled.err);
	assert.equal(handled.out, "caught\n");
});

test("xs-host: the debug build maps stacks to .ts lines", () => {
	const file = path.join(root, "build", "js", "test", "fixtures", "xs-host", "throws.js");
	const r = runFile(file, { flavor: "debug" });
	assert.equal(r.status, 1);
	assert.match(r.err, /at nested \(.*test\/fixtures\/xs-host\/throws\.ts:5\)/);
});

test("xs-host: timers fire in time order; clearTimeout and clearInterval stop them", () => {
	const r = run(`const seen = [];
setTimeout(() => seen.push("30"), 30);
setTimeout(() => seen.push("10"), 10);
const cancelled = setTimeout(() => seen.push("never"), 20);
clearTimeout(cancelled);
let ticks = 0;
const every = setInterval(() => { if (++ticks === 3) clearInterval(every); seen.push("tick" + ticks); }, 5);
setTimeout(() => console.log(seen.join(",")), 60);
`);
	assert.equal(r.status, 0, r.err);
	const seen = r.out.trim().split(",");
	assert.deepEqual(seen.filter((s) => !s.startsWith("tick")), ["10", "30"]);
	assert.deepEqual(seen.filter((s) => s.startsWith("tick")), ["tick1", "tick2", "tick3"]);
	assert.ok(!seen.includes("never"));
});

test("xs-host: the UART on stdin/stdout is binary-safe (an echo of every byte value and 256 KiB of random bytes)", () => {
	const input = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from("\r\n\0\x1a\x04"), randomBytes(256 * 1024)]);
	const r = run(`import Serial from "embedded:io/serial";
let count = 0;
new Serial({ onReadable(n) { const bytes = this.read(); count += bytes.byteLength; this.write(bytes); } });
`, { input });
	assert.equal(r.status, 0, r.err);
	assert.equal(r.stdout.length, input.length);
	assert.ok(r.stdout.equals(input), "stdout is stdin, byte for byte");
});

test("xs-host: a missing module or a bad native name is an error with the name in it", () => {
	const module = run(`import "sealdrop/no-such-module";\n`);
	assert.equal(module.status, 1);
	assert.match(module.err, /sealdrop\/no-such-module/);
	const relative = run(`import "./not-here.js";\n`);
	assert.equal(relative.status, 1);
	assert.match(relative.err, /not-here\.js/);
	const nativeName = run(`native("xs_no_such_function");\n`);
	assert.equal(nativeName.status, 1);
	assert.match(nativeName.err, /no function xs_no_such_function/);
	const notXs = run(`native("system");\n`);
	assert.equal(notXs.status, 1);
	assert.match(notXs.err, /not an xs_ function/);
});

test("xs-host: modules resolve by name as xsl and a device resolve them, not by file", () => {
	// What Moddable's xsl does (xs/tools/xsl.c, fxFindModule; xsHosts.c on a device): ".js" dropped,
	// a relative specifier joined to the importing module's NAME, the result looked up among the
	// build's names. A barrel named "lib" whose file is lib/index.js cannot import "./helper.js"
	// (that is "helper", not "lib/helper") — SDK 8.2.3's xsl refused our old modules/image/index.ts
	// so: `ReferenceError: module "./errors.js" not found`. A barrel beside its folder can.
	const dir = path.join(scratch, "names");
	fs.mkdirSync(path.join(dir, "lib"), { recursive: true });
	fs.writeFileSync(path.join(dir, "lib", "helper.js"), `export const helper = "helper";\n`);
	fs.writeFileSync(path.join(dir, "lib", "index.js"), `export { helper } from "./helper.js";\n`);
	fs.writeFileSync(path.join(dir, "lib.js"), `export { helper } from "./lib/helper.js";\n`);
	fs.writeFileSync(path.join(dir, "lib", "deep.js"), `export { helper } from "../../outside.js";\n`);
	const map = path.join(dir, "modules.map");
	const entry = (name: string, body: string) => {
		const file = path.join(dir, `${name}.js`);
		fs.writeFileSync(file, body);
		return runFile(file, { hostArgs: ["--map", map] });
	};
	const importLib = `import { helper } from "lib";\nif (helper !== "helper") throw new Error(helper);\n`;

	fs.writeFileSync(map, `lib\t${path.join(dir, "lib", "index.js")}\nlib/helper\t${path.join(dir, "lib", "helper.js")}\n`);
	const fromFolder = entry("from-folder", importLib);
	assert.equal(fromFolder.status, 1, "a file-relative resolver would accept this; xsl does not");
	assert.match(fromFolder.err, /helper/);

	fs.writeFileSync(map, `lib\t${path.join(dir, "lib.js")}\nlib/helper\t${path.join(dir, "lib", "helper.js")}\n`);
	assert.equal(entry("beside", importLib).status, 0);
	// "lib/helper.js" and "lib/helper" name one module; reached by path from a test file, it is still that one
	const same = entry("same", `import * as a from "lib/helper.js";\nimport * as b from "lib/helper";\nimport * as c from "${path.join(dir, "lib", "helper.js")}";\nif (a !== b || a !== c) throw new Error("two instances");\n`);
	assert.equal(same.status, 0, same.err);
	// "../" past the first segment of a name is an error, as in xsl
	fs.writeFileSync(map, `lib/deep\t${path.join(dir, "lib", "deep.js")}\n`);
	assert.equal(entry("too-far", `import "lib/deep";\n`).status, 1);
});

test("xs-host: compiled modules are kept between runs and used only while they match their file", () => {
	const dir = path.join(scratch, "cache-test");
	const cache = path.join(dir, "cache");
	fs.mkdirSync(dir, { recursive: true });
	const lib = path.join(dir, "lib.js");
	const main = path.join(dir, "main.js");
	fs.writeFileSync(main, `import { word } from "./lib.js";\nconsole.log(word);\n`);
	const say = (word: string) => fs.writeFileSync(lib, `export const word = "${word}";\n`);
	const runMain = (env: Record<string, string> = { SEALDROP_XS_MODULE_CACHE: cache }) => {
		const r = runFile(main, { env });
		assert.equal(r.status, 0, r.err);
		return r.out.trim();
	};
	const entries = () => fs.existsSync(cache) ? fs.readdirSync(cache).sort() : [];

	// whole seconds, which utimes sets exactly (a Date from stat would drop the nanoseconds)
	const then = 1_700_000_000;
	say("alpha");
	fs.utimesSync(lib, then, then);
	assert.equal(runMain(), "alpha");
	const written = entries();
	assert.equal(written.length, 2, "an entry per module, nothing else (no temporary file left)");
	// the second run reads the entries: a marked entry's code runs instead of the file's...
	assert.equal(runMain(), "alpha");
	// ...but only while the file is the one it was compiled from: same length, same mtime, new text
	say("omega");
	fs.utimesSync(lib, then, then);
	assert.equal(fs.statSync(lib, { bigint: true }).mtimeNs, BigInt(then) * 1_000_000_000n);
	assert.equal(runMain(), "omega", "a file changed in place (size and mtime kept) is compiled again");
	assert.equal(runMain(), "omega");

	// a damaged entry (a flipped byte at the end, in the code) is a miss, compiled again and rewritten
	for (const name of entries()) {
		const file = path.join(cache, name);
		const bytes = fs.readFileSync(file);
		bytes[bytes.length - 8] ^= 0xff;
		fs.writeFileSync(file, bytes);
	}
	assert.equal(runMain(), "omega");
	// a truncated one too
	for (const name of entries()) fs.truncateSync(path.join(cache, name), 40);
	assert.equal(runMain(), "omega");
	assert.ok(entries().every((name) => fs.statSync(path.join(cache, name)).size > 40), "the entries are written again");

	// a module that does not compile is never kept: its error comes every time
	fs.writeFileSync(lib, `export const word = ;\n`);
	for (let i = 0; i < 2; i++) {
		const r = runFile(main, { env: { SEALDROP_XS_MODULE_CACHE: cache } });
		assert.equal(r.status, 1);
		assert.match(r.err, /SyntaxError|syntax/i);
	}

	// the default cache, beside the binary, keeps the modules of the tree it was built in only: a
	// program in a scratch folder would leave an entry at every run
	const scratchProgram = path.join(dir, "scratch-program.js");
	fs.writeFileSync(scratchProgram, `console.log("scratch");\n`);
	const byDefault = runFile(scratchProgram, { env: { SEALDROP_XS_MODULE_CACHE: "" } });
	assert.equal(byDefault.out.trim(), "scratch", byDefault.err);
	const defaultCache = path.join(root, "build", "xs", "release", "module-cache");
	for (const name of fs.existsSync(defaultCache) ? fs.readdirSync(defaultCache) : [])
		assert.ok(!fs.readFileSync(path.join(defaultCache, name)).includes(scratchProgram), `${name} keeps ${scratchProgram}`);

	// "off", or a relative folder (the host works in its state folder), keeps nothing
	say("gamma");
	fs.rmSync(cache, { recursive: true });
	assert.equal(runMain({ SEALDROP_XS_MODULE_CACHE: "off" }), "gamma");
	assert.equal(runMain({ SEALDROP_XS_MODULE_CACHE: "relative-cache" }), "gamma");
	assert.deepEqual(entries(), []);
	assert.ok(!fs.existsSync(path.join(dir, "relative-cache")));
});

test("xs-host: a file that cannot be read or written is an error with code E_IO", () => {
	const missing = path.join(scratch, "no-such-file");
	const calls = [`readFile(${JSON.stringify(missing)})`, `fileSize(${JSON.stringify(missing)})`, `readFileInto(${JSON.stringify(missing)}, 0, new Uint8Array(4))`,
		`writeFile(${JSON.stringify(path.join(missing, "below"))}, new Uint8Array(4))`];
	const r = run(`import { fileSize, readFile, readFileInto, writeFile } from "sealdrop/xs-host";\n${calls.map((c) => `try { ${c}; console.log("no error"); } catch (e) { console.log(e.code); }\n`).join("")}`);
	assert.equal(r.status, 0, r.err);
	assert.equal(r.out, "E_IO\n".repeat(calls.length));
});

test("xs-host: memory() reports current and peak use, and gc(false) lets allocation show", () => {
	const r = run(`import { gc, memory } from "sealdrop/xs-host";
gc(); gc(false);
const before = memory();
const kept = [];
for (let i = 0; i < 1000; i++) kept.push({ i });
const after = memory();
gc(true);
console.log(JSON.stringify({ before, after, kept: kept.length }));
`);
	assert.equal(r.status, 0, r.err);
	const { before, after } = JSON.parse(r.out);
	assert.ok(after.slotsCurrent - before.slotsCurrent >= 1000 * 2 * before.slotSize, "1,000 objects of one property each: at least two slots apiece");
	assert.ok(after.slotsPeak >= after.slotsCurrent);
	assert.ok(after.chunksPeak >= after.chunksCurrent);
});
