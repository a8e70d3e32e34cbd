/**
 * Each Moddable build of the device app, checked the way the real SDK checks it, without the SDK
 * (test/helpers/moddable-build.ts models mcconfig and xsl from their sources; what the SDK's own
 * manifests add to each build was recorded from Moddable SDK 8.2.3 in
 * test/vectors/moddable-sdk/builds.json). `npm run check:moddable` runs the real thing.
 * - every import of every module of ours resolves as xsl resolves it, to a module of that build
 *   (SDK 8.2.3 refused `./errors.js` from the module named "sealdrop/image", and BLE code in builds
 *   without Moddable's BLE);
 * - preloaded modules import only preloaded modules or the SDK's;
 * - tsc passes on each of our TypeScript modules with the tsconfig mcconfig generates: one file,
 *   the manifests' compilerOptions, paths for the build's modules and the SDK's typings only when
 *   the build includes manifest_base.json (SDK 8.2.3 said TS2304 for TextDecoder and `native`).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import ts from "typescript";
import { repoRoot } from "../helpers/cli.js";
import { MANIFEST_BASE, mcconfigCompilerOptions, moddableBuild, xslResolve, type Build } from "../helpers/moddable-build.js";

interface Recorded { sdk: string[]; ours: string[] }
const vectors = JSON.parse(fs.readFileSync(path.join(repoRoot, "test", "vectors", "moddable-sdk", "builds.json"), "utf8")) as { sdk: string; builds: Record<string, Recorded> };
const typings = path.join(repoRoot, "node_modules", "@moddable", "typings");

const zephyrBoards = fs.readdirSync(path.join(repoRoot, "boards")).filter((b) => {
	const file = path.join(repoRoot, "boards", b, "manifest.json");
	return fs.existsSync(file) && (JSON.parse(fs.readFileSync(file, "utf8")) as { build?: { ZEPHYR_BOARD?: string } }).build?.ZEPHYR_BOARD;
});
const builds: [key: string, manifest: string, platform: string][] = [
	["lin boards/lin", "boards/lin/manifest.json", "lin"],
	["esp32 boards/esp32", "boards/esp32/manifest.json", "esp32"],
	["esp32/esp32s3 boards/esp32s3", "boards/esp32s3/manifest.json", "esp32/esp32s3"],
	...zephyrBoards.map((b): [string, string, string] => [`zephyr/${b} modules/app`, "modules/app/manifest.json", `zephyr/${b}`]),
];

/** The imports that survive tsc (type-only ones are erased) as xsl sees them. */
function runtimeImports(file: string): string[] {
	const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, false);
	const out: string[] = [];
	for (const s of source.statements) {
		if (ts.isImportDeclaration(s) && !s.importClause?.isTypeOnly) {
			const named = s.importClause?.namedBindings;
			const allTypes = !s.importClause?.name && named && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
			if (!allTypes) out.push((s.moduleSpecifier as ts.StringLiteral).text);
		} else if (ts.isExportDeclaration(s) && s.moduleSpecifier && !s.isTypeOnly) out.push((s.moduleSpecifier as ts.StringLiteral).text);
	}
	return out;
}

/** Parsed source files, shared by every build's programs (a parse depends only on the file and the ES target, the same in all). */
const parsed = new Map<string, ts.SourceFile | undefined>();

/** Each build's model, made once for all the tests that read it. */
const models = new Map<string, Build>();

function buildOf(key: string, manifest: string, platform: string): { build: Build; recorded: Recorded } {
	const recorded = vectors.builds[key];
	assert.ok(recorded, `${key}: no recorded SDK build; run \`npm run check:moddable -- --record\` with MODDABLE set`);
	if (!models.has(key)) models.set(key, moddableBuild(path.join(repoRoot, manifest), platform));
	return { build: models.get(key)!, recorded };
}

test("xslResolve follows xsl: .js dropped, relative to the module's name", () => {
	assert.equal(xslResolve("./errors.js", "sealdrop/image/header"), "sealdrop/image/errors");
	assert.equal(xslResolve("./errors.js", "sealdrop/image"), "sealdrop/errors");
	assert.equal(xslResolve("./image/errors.js", "sealdrop/image"), "sealdrop/image/errors");
	assert.equal(xslResolve("../header.js", "sealdrop/transport/smp/ble/server"), "sealdrop/transport/smp/header");
	assert.equal(xslResolve("./app.js", "main"), "app");
	assert.equal(xslResolve("../x.js", "main"), undefined);
	assert.equal(xslResolve("@noble/hashes/sha2.js", "sealdrop/image/signature"), "@noble/hashes/sha2");
	assert.equal(xslResolve("text/decoder", "sealdrop/app/web-globals"), "text/decoder");
});

/** tsc's failures by the options and files it was given (see the tsc test below). */
const checked = new Map<string, string[]>();

for (const [key, manifest, platform] of builds) {
	test(`${key}: the module names real mcconfig compiled are the ones the model finds`, () => {
		const { build, recorded } = buildOf(key, manifest, platform);
		assert.deepEqual(build.errors, []);
		const missing = recorded.ours.filter((n) => !build.modules.has(n));
		assert.deepEqual(missing, [], "names mcconfig built that the model does not find");
	});

	test(`${key}: every import resolves, as xsl resolves it, to a module of the build`, () => {
		const { build, recorded } = buildOf(key, manifest, platform);
		const names = new Set([...build.modules.keys(), ...recorded.sdk, "mc/config"]);
		const unresolved: string[] = [];
		for (const [name, file] of build.modules) {
			if (file.endsWith(".d.ts")) continue;
			for (const specifier of runtimeImports(file)) {
				const target = xslResolve(specifier, name);
				if (!target || !names.has(target)) unresolved.push(`${name} imports "${specifier}" → ${target ?? "(outside)"}`);
			}
		}
		assert.deepEqual(unresolved, []);
	});

	test(`${key}: preloaded modules import only preloaded modules or the SDK's`, () => {
		const { build, recorded } = buildOf(key, manifest, platform);
		const preload = new Set(build.preload);
		const sdk = new Set(recorded.sdk);
		for (const name of preload) assert.ok(build.modules.has(name) || sdk.has(name), `preload ${name} is no module of the build`);
		for (const name of preload) {
			const file = build.modules.get(name);
			if (!file || file.endsWith(".d.ts")) continue;
			for (const specifier of runtimeImports(file)) {
				const target = xslResolve(specifier, name)!;
				assert.ok(preload.has(target) || sdk.has(target), `preloaded ${name} imports ${target}, which is not preloaded`);
			}
		}
	});

	test(`${key}: tsc passes on each TypeScript module with mcconfig's generated tsconfig`, () => {
		const { build } = buildOf(key, manifest, platform);
		const withTypings = build.sdkIncludes.includes(MANIFEST_BASE);
		const json = mcconfigCompilerOptions(build, withTypings ? typings : undefined);
		const { options, errors } = ts.convertCompilerOptionsFromJson({ ...json, noEmit: true, sourceMap: false }, repoRoot);
		assert.deepEqual(errors.map((e) => ts.flattenDiagnosticMessageText(e.messageText, "\n")), []);
		const host = ts.createCompilerHost(options);
		const getSourceFile = host.getSourceFile.bind(host);
		host.getSourceFile = (file, language) => {
			if (!parsed.has(file)) parsed.set(file, getSourceFile(file, language));
			return parsed.get(file);
		};
		const sources = [...build.modules.values()].filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
		// builds that give tsc the same options and the same files (the Zephyr boards; esp32 and
		// esp32s3) get the same answer: checked once
		const same = JSON.stringify({ json, sources: [...sources].sort() });
		const earlier = checked.get(same);
		if (earlier) {
			assert.deepEqual(earlier, []);
			return;
		}
		const failures: string[] = [];
		let program: ts.Program | undefined;
		for (const file of sources) {
			// one program per file, as mcconfig runs tsc once per module (TSConfigFile: files: [source])
			program = ts.createProgram({ rootNames: [file], options, host, oldProgram: program });
			for (const d of ts.getPreEmitDiagnostics(program)) {
				// @moddable/typings 5.6.0 itself fails strict (embedded_io/serial.d.ts, smbus.d.ts); the SDK's own typings do not
				if (d.file?.fileName.includes("/node_modules/@moddable/typings/")) continue;
				const where = d.file ? `${path.relative(repoRoot, d.file.fileName)}(${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1})` : "";
				failures.push(`${path.relative(repoRoot, file)}: ${where} TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`);
			}
		}
		checked.set(same, [...new Set(failures)]);
		assert.deepEqual([...new Set(failures)], []);
	});
}

test("errors can be made with the built-ins frozen, as xsl freezes them when it preloads", () => {
	// xs/tools/xsl.c fxFreezeBuiltIns freezes Error.prototype among others: assigning `this.name` on an
	// error then throws (the override mistake). SDK 8.2.3's Linux build answered an upload with
	// "set name: not writable" whenever the agent refused something.
	const errors = path.join(repoRoot, "build", "js", "modules", "base", "errors.js");
	const program = `for (const p of [Error.prototype, Object.prototype, Function.prototype, Array.prototype]) Object.freeze(p);
const { SealdropError } = await import(${JSON.stringify(errors)});
const e = new SealdropError("E_RANGE", "x");
if (e.name !== "SealdropError" || e.code !== "E_RANGE" || !(e instanceof Error)) throw new Error("wrong error");`;
	const r = spawnSync(process.execPath, ["--input-type=module", "-e", program], { encoding: "utf8" });
	assert.equal(r.status, 0, r.stderr);
});

for (const [key, manifest, platform] of builds) {
	test(`${key}: preloaded modules keep no RegExp at module level`, () => {
		// A preloaded module's objects are made by xsl at build time and live in ROM; XS's
		// RegExp.prototype.exec keeps its match state in the RegExp (xsRegExp.c), so a shared one
		// crashed the real Linux build (SIGSEGV in fx_RegExp_prototype_exec). Literals inside functions are made per call.
		const { build } = buildOf(key, manifest, platform);
		const found: string[] = [];
		for (const name of build.preload) {
			const file = build.modules.get(name);
			if (!file || file.endsWith(".d.ts")) continue;
			const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
			const visit = (node: ts.Node, inFunction: boolean): void => {
				if (node.kind === ts.SyntaxKind.RegularExpressionLiteral && !inFunction) found.push(`${name}: ${node.getText(source)}`);
				const fn = ts.isFunctionLike(node) || ts.isClassStaticBlockDeclaration(node);
				ts.forEachChild(node, (child) => visit(child, inFunction || (fn && !ts.isPropertyDeclaration(node))));
			};
			visit(source, false);
		}
		assert.deepEqual(found, []);
	});
}
