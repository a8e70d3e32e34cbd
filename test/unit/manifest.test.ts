/**
 * manifest.json's structure rules (Moddable's mcconfig, moddable-sdk.md §1), so the manifest for
 * real builds cannot rot while nothing here runs mcconfig:
 * - C files have unique basenames across the manifest and its platform blocks, and none reuses a
 *   basename of the Moddable SDK modules an app pulls in (mcconfig silently folds a second .c of
 *   the same name into the first);
 * - every module path exists (a file with an extension mcconfig picks up, or a folder for "/*");
 * - one block per platform, with no more specific key ("esp32/*", "zephyr/...") that would shadow
 *   it, since only the most specific matching block is merged; esp32 dependencies and zephyrConfig
 *   entries well-formed;
 * - preloaded modules exist and import only preloaded modules (a preload runs at build time);
 * - creation sizes and the typescript section are there;
 * - each per-platform native folder implements the whole porting layer (native/flash.h and the
 *   platform entropy hook), and the board and app manifests include files that exist.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { repoRoot } from "../helpers/cli.js";

type Modules = Record<string, string | string[]>;
interface Block { modules?: Modules; include?: string | string[]; dependency?: unknown[]; zephyrConfig?: Record<string, unknown>; error?: string; preload?: string[] }
interface Manifest extends Block {
	preload?: string[];
	creation?: Record<string, unknown>;
	typescript?: { tsconfig?: { compilerOptions?: Record<string, unknown> } };
	platforms?: Record<string, Block>;
}

const read = (file: string) => JSON.parse(fs.readFileSync(file, "utf8")) as Manifest;
const manifestPath = path.join(repoRoot, "manifest.json");
const manifest = read(manifestPath);
const EXTENSIONS = [".c", ".h", ".js", ".ts", ".d.ts", ".json"];
/** Basenames of C files in the Moddable SDK modules an app of ours includes (modules/io, crypt). */
const SDK_C = ["flash-esp32", "flash-zephyr", "flash-mac", "update-esp32", "update-mac", "storage-esp32", "storage-zephyr", "serial", "system", "builtinCommon", "modCrypt", "xsBigIntEx"];

/** Every path a block's modules name, with the files it stands for. */
function files(modules: Modules | undefined): { spec: string; path: string; found: string[] }[] {
	const out: { spec: string; path: string; found: string[] }[] = [];
	for (const [spec, value] of Object.entries(modules ?? {})) {
		for (const p of Array.isArray(value) ? value : [value]) {
			if (p.startsWith("$(")) continue; // the SDK's
			const full = path.resolve(repoRoot, p);
			if (p.endsWith("/*")) {
				const dir = full.slice(0, -2);
				out.push({ spec, path: p, found: fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => EXTENSIONS.some((e) => f.endsWith(e))).map((f) => path.join(dir, f)) : [] });
			} else out.push({ spec, path: p, found: EXTENSIONS.map((e) => full + e).filter((f) => fs.existsSync(f)) });
		}
	}
	return out;
}

const blocks: [string, Block][] = [["(top)", manifest], ...Object.entries(manifest.platforms ?? {})];

test("every module path exists", () => {
	for (const [where, block] of blocks) for (const f of files(block.modules)) assert.ok(f.found.length > 0, `${where}: ${f.spec} → ${f.path} names no file`);
});

test("C files have unique basenames, also against the Moddable SDK's", () => {
	// every platform block is merged with the top level: check each combination
	for (const [platform, block] of Object.entries(manifest.platforms ?? {})) {
		const seen = new Map<string, string>();
		for (const file of [...files(manifest.modules), ...files(block.modules)].flatMap((f) => f.found).filter((f) => f.endsWith(".c"))) {
			const base = path.basename(file, ".c");
			assert.ok(!seen.has(base) || seen.get(base) === file, `${platform}: ${file} and ${seen.get(base)} share the basename ${base}.c`);
			assert.ok(!SDK_C.includes(base), `${platform}: ${file} reuses the Moddable SDK's ${base}.c`);
			seen.set(base, file);
		}
	}
});

test("one block per platform, none shadowed, each well-formed", () => {
	const keys = Object.keys(manifest.platforms ?? {});
	for (const p of ["esp32", "zephyr"]) assert.ok(keys.includes(p), `no ${p} block`);
	for (const key of keys) {
		assert.ok(!key.includes("/"), `${key}: a sub-platform key would be merged instead of the platform's block (only the most specific is)`);
		const block = manifest.platforms![key];
		for (const k of Object.keys(block)) assert.ok(["modules", "include", "dependency", "zephyrConfig", "error", "preload", "build", "config", "defines"].includes(k), `${key}: unknown member ${k}`);
	}
	assert.ok(manifest.platforms!["..."]?.error, "other platforms get an error, not a build without native parts");
	for (const d of manifest.platforms!.esp32.dependency ?? []) {
		const dep = d as Record<string, unknown>;
		assert.ok(typeof dep.idf === "string" || (typeof dep.name === "string" && typeof dep.version === "string"), `esp32 dependency ${JSON.stringify(d)}`);
	}
	for (const [name, value] of Object.entries(manifest.platforms!.zephyr.zephyrConfig ?? {})) {
		assert.match(name, /^CONFIG_[A-Z0-9_]+$/);
		assert.equal(typeof value, "string", `${name}: Kconfig values are strings ("y", "n", a number, or a quoted string)`);
	}
	for (const [where, block] of [...blocks, ["modules/app", read(path.join(repoRoot, "modules", "app", "manifest.json"))] as [string, Block]]) {
		const base = where === "modules/app" ? path.join(repoRoot, "modules", "app") : repoRoot;
		for (const inc of [block.include ?? []].flat()) if (!inc.startsWith("$(")) assert.ok(fs.existsSync(path.resolve(base, inc)), `${where}: include ${inc} is missing`);
	}
});

test("board manifests include the app manifest and overlays that exist", () => {
	for (const board of fs.readdirSync(path.join(repoRoot, "boards"))) {
		const file = path.join(repoRoot, "boards", board, "manifest.json");
		if (!fs.existsSync(file)) continue;
		const m = JSON.parse(fs.readFileSync(file, "utf8")) as { include?: string[]; zephyrOverlay?: string[]; build?: Record<string, string> };
		for (const inc of m.include ?? []) assert.ok(fs.existsSync(path.resolve(path.dirname(file), inc)), `${board}: include ${inc}`);
		for (const o of m.zephyrOverlay ?? []) assert.ok(fs.existsSync(path.resolve(path.dirname(file), o)), `${board}: overlay ${o}`);
		for (const key of ["SDKCONFIGPATH", "PARTITIONS_FILE"]) if (m.build?.[key]) assert.ok(fs.existsSync(path.resolve(path.dirname(file), m.build[key])), `${board}: ${key}`);
		if (m.build?.ZEPHYR_BOARD) assert.ok(fs.existsSync(path.join(path.dirname(file), "host", "provider.js")), `${board}: an out-of-tree Zephyr board needs host/provider.js`);
	}
});

test("preloaded modules exist and import only preloaded modules", () => {
	const map = new Map<string, string>();
	for (const line of fs.readFileSync(path.join(repoRoot, "build", "xs", "modules.map"), "utf8").split("\n")) {
		const [spec, file] = line.split("\t");
		if (file) map.set(spec, file);
	}
	const preload = new Set(manifest.preload ?? []);
	assert.ok(preload.size > 0);
	const byFile = new Map([...map].map(([s, f]) => [f, s]));
	for (const spec of preload) {
		const file = map.get(spec);
		assert.ok(file, `preload ${spec} is no module`);
		const text = fs.readFileSync(file, "utf8");
		for (const m of text.matchAll(/(?:^|[;\s])(?:import|export)\s*(?:[\w*{}\s,$]*\s*from\s*)?["']([^"']+)["']/g)) {
			const target = m[1].startsWith(".") ? byFile.get(path.resolve(path.dirname(file), m[1])) : m[1];
			assert.ok(target && preload.has(target), `preloaded ${spec} imports ${m[1]}, which is not preloaded`);
		}
	}
});

test("creation sizes and the typescript section", () => {
	const c = manifest.creation as { chunk: { initial: number }; heap: { initial: number }; stack: number; keys: { initial: number }; main: string };
	for (const n of [c.chunk.initial, c.heap.initial, c.stack, c.keys.initial]) assert.ok(Number.isInteger(n) && n > 0);
	assert.equal(c.main, "main");
	assert.equal(manifest.typescript?.tsconfig?.compilerOptions?.strict, true);
});

test("each per-platform native folder implements the whole porting layer", () => {
	const header = fs.readFileSync(path.join(repoRoot, "native", "flash.h"), "utf8");
	const needed = [...header.matchAll(/^[a-z][\w ]*\*?\s*(sealdrop\w+)\(/gm)].map((m) => m[1]).concat("sealdropEntropyPlatformFill");
	assert.ok(needed.length >= 8, needed.join());
	for (const platform of ["lin", "esp32", "zephyr"]) {
		const dir = path.join(repoRoot, "native", platform);
		const source = fs.readdirSync(dir).filter((f) => f.endsWith(".c")).map((f) => fs.readFileSync(path.join(dir, f), "utf8")).join("\n");
		for (const fn of needed) assert.match(source, new RegExp(`^[\\w ]+\\*?\\s*${fn}\\(`, "m"), `native/${platform} lacks ${fn}`);
		for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".c"))) assert.ok(f.endsWith(`-${platform}.c`), `native/${platform}/${f}: <area>-<platform>.c`);
	}
});
