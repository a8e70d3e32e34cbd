// Writes build/xs/modules.map, the Linux XS host's answer to "where is module X": one line
// "name<TAB>absolute path" per module. Names are what a Moddable build calls modules, since the
// host resolves imports the way xsl and a device do (host/xs/platform.c): by name, with ".js"
// dropped. Sources, as mcconfig would see them:
// - manifest.json "modules" (TypeScript compiled into build/js, native shims as they are);
// - the host's own modules (sealdrop/xs-host, embedded:io/serial);
// - npm packages that device code and device-side tests import (@noble/*), resolved as Node
//   resolves them, following their imports.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
/** A specifier as xsl looks it up: without a ".js" or ".mjs" ending (xs/tools/xsl.c, fxFindModule). */
const moduleName = (specifier) => specifier.replace(/\.m?js$/, "");
const js = join(root, "build", "js");
const map = new Map();

// A manifest path names a module without extension: our .js shim, else compiled TypeScript.
function locate(modulePath) {
	const source = resolve(root, modulePath);
	if (existsSync(source + ".js")) return source + ".js";
	const compiled = join(js, source.slice(root.length) + ".js");
	return existsSync(compiled) ? compiled : undefined;
}

const manifest = JSON.parse(readFileSync(join(root, "manifest.json"), "utf8"));
for (const [specifier, modulePath] of Object.entries(manifest.modules ?? {})) {
	if (specifier === "*" || typeof modulePath !== "string") continue;
	if (specifier.endsWith("/*")) {
		const dir = resolve(root, modulePath.slice(0, -2));
		for (const name of readdirSync(dir)) {
			const base = name.replace(/\.(ts|js)$/, "");
			if (name.endsWith(".d.ts") || base === name) continue;
			const file = locate(join(modulePath.slice(0, -2), base));
			if (file) map.set(specifier.slice(0, -1) + base, file);
		}
	} else {
		const file = locate(modulePath);
		if (file) map.set(specifier, file);
	}
}
map.set("sealdrop/xs-host", join(js, "host", "xs", "host.js"));
map.set("embedded:io/serial", join(js, "host", "xs", "serial.js"));

// Bare specifiers imported by code that runs on XS, resolved the way Node resolves them.
const roots = [join(js, "modules"), join(js, "host", "xs"), join(js, "test", "xs"), join(js, "test", "device"), join(js, "bench", "xs"), join(js, "host", "sim"), join(js, "test", "sim"), join(js, "test", "harness.js"), join(js, "test", "xs-runner.js"), join(root, "native")];
const IMPORT = /(?:^|[;\s])(?:import|export)\s*(?:[\w*{}\s,$]*\s*from\s*)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
const builtins = new Set(builtinModules);
const seen = new Set();

function walk(file) {
	if (seen.has(file) || !existsSync(file)) return;
	seen.add(file);
	if (statSync(file).isDirectory()) {
		for (const name of readdirSync(file)) if (name.endsWith(".js") || statSync(join(file, name)).isDirectory()) walk(join(file, name));
		return;
	}
	const text = readFileSync(file, "utf8");
	for (const match of text.matchAll(IMPORT)) {
		const specifier = match[1] ?? match[2];
		if (specifier.startsWith(".")) {
			const target = resolve(dirname(file), specifier);
			// inside a package, a module's name is the package's name and its path there (as a Moddable
			// manifest names @noble's modules), so the package's own relative imports resolve by name
			const packaged = /\/node_modules\/((?:@[^/]+\/)?[^/]+\/.+)$/.exec(target);
			if (packaged && !map.has(moduleName(packaged[1]))) map.set(moduleName(packaged[1]), target);
			walk(target);
		} else if (!specifier.startsWith("node:") && !builtins.has(specifier) && !map.has(moduleName(specifier)) && !specifier.includes(":")) {
			let resolved;
			try {
				resolved = fileURLToPath(import.meta.resolve(specifier));
			} catch {
				continue; // a package device code does not actually use on XS; the host reports it if it does
			}
			map.set(moduleName(specifier), resolved);
			walk(resolved);
		}
	}
}
roots.forEach(walk);

mkdirSync(join(root, "build", "xs"), { recursive: true });
// written aside then renamed, so a host starting meanwhile never reads half a map
const target = join(root, "build", "xs", "modules.map");
writeFileSync(`${target}.${process.pid}.tmp`, [...map].map(([s, f]) => `${s}\t${f}\n`).join(""));
renameSync(`${target}.${process.pid}.tmp`, target);
