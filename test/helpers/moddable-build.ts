/**
 * What Moddable's mcconfig makes of our manifests for one build, without the SDK: a second
 * implementation, written from the SDK 8.2.3 sources (tools/mcmanifest.js: parseManifest,
 * matchPlatform, the modules iteration and TSConfigFile; xs/tools/xsl.c: fxFindModule), so that
 * `npm test` meets the rules the real toolchain enforces:
 * - the module names a build holds (manifest "modules", wildcards, the most specific platform
 *   block, includes once each), and which are preloaded;
 * - how xsl and a device resolve an import: ".js" dropped, relative to the importing module's
 *   NAME, and only names the build holds;
 * - the tsconfig mcconfig writes for its tsc (module preserve, the manifest's compilerOptions,
 *   `paths` for the build's modules and, from examples/manifest_typings.json, the SDK's typings).
 * The SDK's own manifests are not read here (no SDK in CI): what they add to each build was
 * recorded from real mcconfig runs in test/vectors/moddable-sdk/builds.json
 * (`npm run check:moddable -- --record`).
 */
import fs from "node:fs";
import path from "node:path";

export interface Build {
	/** mcconfig's full platform: "lin", "esp32", "esp32/esp32s3", "zephyr/nucleo_f413zh". */
	platform: string;
	/** Our modules: name → source file (.ts, .js, or .d.ts for a native module's types). */
	modules: Map<string, string>;
	preload: string[];
	/** The SDK manifests included, as written ("$(MODDABLE)/…"). */
	sdkIncludes: string[];
	/** compilerOptions from the manifests' typescript sections, arrays concatenated as mcconfig does. */
	compilerOptions: Record<string, unknown>;
	errors: string[];
}

type Modules = Record<string, string | string[]>;
interface Block { modules?: Modules; include?: string | string[]; preload?: string | string[]; error?: string; typescript?: { tsconfig?: { compilerOptions?: Record<string, unknown> } } }
interface Manifest extends Block { platforms?: Record<string, Block> }

const SOURCE = [".ts", ".js"];
export const MANIFEST_BASE = "$(MODDABLE)/examples/manifest_base.json";

/** mcmanifest.js matchPlatform: the most specific key of "a/b/c", "a/b/*", "*\/c", …, then "...". */
export function matchPlatform(platforms: Record<string, Block>, name: string): Block | undefined {
	const parts = name.split("/");
	while (parts.length) {
		const partial = parts.join("/");
		for (const [key, block] of Object.entries(platforms)) {
			if (key.endsWith("/*") ? partial.startsWith(key.slice(0, -1)) : key.startsWith("*/") ? partial.endsWith(key.slice(1)) : partial === key) return block;
		}
		parts.length -= 1;
	}
	return platforms["..."];
}

const list = <T>(value: T | T[] | undefined): T[] => value === undefined ? [] : Array.isArray(value) ? value : [value];

/** A module path without extension as mcconfig finds it: the .ts, else the .js, else a .d.ts alone. */
function sourceOf(base: string): string | undefined {
	for (const ext of SOURCE) if (fs.existsSync(base + ext)) return base + ext;
	return fs.existsSync(base + ".d.ts") ? base + ".d.ts" : undefined;
}

export function moddableBuild(manifest: string, platform: string): Build {
	const build: Build = { platform, modules: new Map(), preload: [], sdkIncludes: [], compilerOptions: {}, errors: [] };
	const seen = new Set<string>();
	const parse = (file: string) => {
		if (seen.has(file)) return;
		seen.add(file);
		const dir = path.dirname(file);
		const m = JSON.parse(fs.readFileSync(file, "utf8")) as Manifest;
		const block = m.platforms ? matchPlatform(m.platforms, platform) : undefined;
		if (block?.error) build.errors.push(block.error);
		// includes first (parseManifest pushes a manifest after those it includes)
		for (const include of [...list(m.include), ...list(block?.include)]) {
			if (include.startsWith("$(")) {
				build.sdkIncludes.push(include);
				if (include === MANIFEST_BASE) {
					// its typescript section (SDK 8.2.3): the XS globals and Moddable's global typings
					const types = (build.compilerOptions.types as string[] | undefined) ?? [];
					build.compilerOptions.types = [...types, "$(MODDABLE)/xs/includes/xs", "$(MODDABLE)/typings/global"];
					// the SDK's zephyr device manifest includes the board's own ("zephyr/*": $(SUBPLATFORMMANIFEST))
					if (platform.startsWith("zephyr/")) parse(path.join(root(file), "boards", platform.slice(7), "manifest.json"));
				}
			} else parse(path.resolve(dir, include));
		}
		for (const b of [m, block]) {
			if (!b) continue;
			for (const [spec, value] of Object.entries(b.modules ?? {})) for (const p of list(value)) addModules(build, spec, p, dir);
			build.preload.push(...list(b.preload));
			for (const [name, value] of Object.entries(b.typescript?.tsconfig?.compilerOptions ?? {})) {
				const resolved = name === "types" ? (value as string[]).map((t) => t.startsWith("$(") ? t : path.resolve(dir, t)) : value;
				const had = build.compilerOptions[name];
				build.compilerOptions[name] = Array.isArray(resolved) && Array.isArray(had) ? [...resolved, ...had] : resolved;
			}
		}
	};
	parse(path.resolve(manifest));
	return build;
}

/** The repository holding a manifest: the nearest folder above it with a package.json. */
function root(file: string): string {
	let dir = path.dirname(file);
	while (!fs.existsSync(path.join(dir, "package.json"))) dir = path.dirname(dir);
	return dir;
}

/** One "modules" entry (mcmanifest.js iterate): "*" names files by basename; "a/*" by "a/" + basename. */
function addModules(build: Build, spec: string, modulePath: string, dir: string) {
	if (modulePath.startsWith("$(")) return; // the SDK's: recorded, not read
	const full = path.resolve(dir, modulePath);
	if (modulePath.endsWith("/*")) {
		const folder = full.slice(0, -2);
		for (const name of fs.existsSync(folder) ? fs.readdirSync(folder).sort() : []) {
			const ext = SOURCE.find((e) => name.endsWith(e) && !name.endsWith(".d.ts"));
			if (!ext) continue;
			const base = name.slice(0, -ext.length);
			const target = spec === "*" ? base : spec.slice(0, -1) + base;
			if (!build.modules.has(target)) build.modules.set(target, path.join(folder, name));
		}
		return;
	}
	const source = sourceOf(full);
	if (!source) return; // C or headers only
	build.modules.set(spec === "*" ? path.basename(full) : spec, source);
}

/**
 * xsl's fxFindModule (xs/tools/xsl.c; the device's in xs/platforms/mc/xsHosts.c is the same):
 * the module name an import names, or undefined when "../" climbs out of the name.
 */
export function xslResolve(specifier: string, referrer: string): string | undefined {
	let name = specifier.startsWith("moddable:") ? specifier.slice(9) : specifier;
	const last = name.slice(name.lastIndexOf("/") + 1);
	const dot = last.lastIndexOf(".");
	if (dot >= 0 && [".js", ".mjs", ".xsb"].includes(last.slice(dot))) name = name.slice(0, name.length - (last.length - dot));
	let ups = 0;
	let rest = name;
	if (name.startsWith("./")) rest = name.slice(2);
	else if (name.startsWith("../")) {
		while (rest.startsWith("../")) { ups++; rest = rest.slice(3); }
	} else return name;
	const segments = ("/" + referrer).split("/");
	segments.pop(); // the referrer's own last segment
	for (let i = 0; i < ups; i++) {
		if (segments.length <= 1) return undefined;
		segments.pop();
	}
	return [...segments, rest].join("/").slice(1);
}

/** mcconfig's TSConfigFile: the tsconfig its tsc gets, for a program of one file. */
export function mcconfigCompilerOptions(build: Build, typings: string | undefined): Record<string, unknown> {
	const paths: Record<string, string[]> = {};
	if (typings) Object.assign(paths, typingPaths(typings));
	// declarations, then TypeScript sources override; a JavaScript module only fills a gap
	for (const [name, source] of build.modules) {
		if (!source.endsWith(".js") || !(name in paths)) paths[name] = [source.replace(/(\.d)?\.[jt]s$/, "")];
	}
	const options: Record<string, unknown> = { forceConsistentCasingInFileNames: true, module: "preserve", resolveJsonModule: true, paths, lib: ["es2025"], sourceMap: true, target: "es2025" };
	Object.assign(options, build.compilerOptions);
	// The SDK's xs/includes/xs.d.ts declares Native() and native() (8.2.3, lines 100-101); the typings
	// package's copy (5.6.0) does not, so our native/xs-native.d.ts stands in for those two.
	const xs = [path.join(typings ?? "", "xs"), path.join(root(path.join(typings ?? "", "..")), "native", "xs-native.d.ts")];
	if (typings) options.types = (options.types as string[] | undefined ?? []).flatMap((t) => t === "$(MODDABLE)/xs/includes/xs" ? xs : [t.replace("$(MODDABLE)/typings", typings)]);
	return options;
}

/** examples/manifest_typings.json (SDK 8.2.3), its "modules" for platforms other than pebble, over the typings package. */
const TYPINGS: [string, string][] = [
	["*", ""], ["*", "ble/"], ["commodetto/*", "commodetto/"], ["dns/*", "dns/"], ["mc/*", "mc/"], ["mod/*", "mod/"], ["pins/*", "pins/"],
	["piu/*", "piu/"], ["text/*", "text/"], ["embedded:io/*", "embedded_io/"], ["embedded:io/audio/*", "embedded_io/audio/"],
	["embedded:io/bluetoothle/*", "embedded_io/ble/"], ["embedded:io/socket/*", "embedded_io/socket/"], ["embedded:network/http/*", "embedded_network/http/"],
	["embedded:network/*", "embedded_network/"], ["embedded:*", "embedded/"], ["embedded:provider/*", "embedded_provider/"],
];

function typingPaths(typings: string): Record<string, string[]> {
	const paths: Record<string, string[]> = {};
	for (const [spec, folder] of TYPINGS) {
		const dir = path.join(typings, folder);
		if (!fs.existsSync(dir)) continue;
		for (const name of fs.readdirSync(dir)) {
			if (!name.endsWith(".d.ts")) continue;
			const base = name.slice(0, -5);
			paths[spec === "*" ? base : spec.slice(0, -1) + base] = [path.join(dir, base)];
		}
	}
	return paths;
}
