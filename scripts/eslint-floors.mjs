// ESLint rules that keep the layers of ARCHITECTURE.md ("Layers") as they are drawn:
// - `floors`: a module under modules/ imports only from its own domain or from a floor below it
//   (native ← base ← image ← update ← keys, transport ← app), and nothing under modules/ imports
//   host/, test/ or bench/; host/ imports no test/ or bench/.
// - `no-cycle`: no file reaches itself through its imports (relative and sealdrop/… specifiers).
// - `xsc-native`: a call of `native(…)` or `Native(…)` has one string literal argument, as the
//   Moddable SDK's xsc requires (xs/sources/xsSyntaxical.c: it binds such a call to the C function
//   at build time, and fails the build otherwise). The Linux XS host resolves them at run time and
//   so takes anything: a variable named `native` called with arguments ran there and broke mcconfig.
// Specifiers resolve as tsconfig.json's "paths" and manifest.json's "modules" name them.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Floors of the device code, lowest first; domains on one floor may not import each other. */
const FLOOR = { native: 0, base: 1, image: 2, update: 3, keys: 4, transport: 4, app: 5 };

/** The repository file a specifier names, or undefined for packages and built-ins. */
function resolveSpecifier(specifier, fromFile) {
	let path;
	if (specifier.startsWith(".")) path = resolve(dirname(fromFile), specifier);
	else if (specifier === "sealdrop/xs-host") path = join(root, "host/xs/host");
	else if (specifier.startsWith("sealdrop/native/")) path = join(root, "native", specifier.slice("sealdrop/native/".length));
	else if (specifier.startsWith("sealdrop/")) path = join(root, "modules", specifier.slice("sealdrop/".length));
	else return undefined;
	path = path.replace(/\.m?js$/, "");
	for (const candidate of [`${path}.ts`, `${path}.d.ts`, `${path}.mjs`, `${path}.js`]) if (existsSync(candidate)) return candidate;
	return undefined;
}

/** "modules:<domain>", "native", "host", "test", "bench", or undefined (scripts, boards…). */
function area(file) {
	const parts = relative(root, file).split(/[\\/]/);
	if (parts[0] === "modules") return `modules:${parts.length === 1 ? "" : parts.length === 2 ? parts[1].replace(/\.ts$/, "") : parts[1]}`;
	if (["native", "host", "test", "bench"].includes(parts[0])) return parts[0];
	return undefined;
}

function floorOf(a) {
	if (a === "native") return FLOOR.native;
	return a?.startsWith("modules:") ? FLOOR[a.slice("modules:".length)] : undefined;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
const imports = new Map();
/** A file's imports that resolve to repository files (cached per lint run). */
function importsOf(file) {
	let out = imports.get(file);
	if (!out) {
		out = [];
		const text = readFileSync(file, "utf8");
		for (const m of text.matchAll(IMPORT)) {
			const target = resolveSpecifier(m[1] ?? m[2], file);
			if (target && !target.endsWith(".d.ts")) out.push(target);
		}
		imports.set(file, out);
	}
	return out;
}

/** A path of imports from `start` back to `file`, if there is one. */
function cycleThrough(file) {
	const seen = new Set();
	const stack = importsOf(file).map((next) => [next, [file, next]]);
	while (stack.length) {
		const [at, path] = stack.pop();
		if (at === file) return path;
		if (seen.has(at)) continue;
		seen.add(at);
		for (const next of importsOf(at)) stack.push([next, [...path, next]]);
	}
	return undefined;
}

function checkSource(context, node, check) {
	const specifier = node.source?.value;
	if (typeof specifier === "string") check(specifier, node.source);
}

const floors = {
	meta: { type: "problem", schema: [], messages: { floor: "{{from}} may not import {{to}} ({{specifier}}): imports run down the floors of ARCHITECTURE.md" } },
	create(context) {
		const file = context.filename;
		const from = area(file);
		if (!from || from === "test" || from === "bench") return {};
		const check = (specifier, node) => {
			const target = resolveSpecifier(specifier, file);
			if (!target) return;
			const to = area(target);
			if (!to || to === from) return;
			let allowed;
			if (from === "host") allowed = to !== "test" && to !== "bench";
			else if (from === "native") allowed = false;
			else {
				const [a, b] = [floorOf(from), floorOf(to)];
				allowed = a !== undefined && b !== undefined && b < a;
			}
			if (!allowed) context.report({ node, messageId: "floor", data: { from, to, specifier } });
		};
		const visit = (node) => checkSource(context, node, check);
		return { ImportDeclaration: visit, ExportNamedDeclaration: visit, ExportAllDeclaration: visit, ImportExpression: visit };
	},
};

const noCycle = {
	meta: { type: "problem", schema: [], messages: { cycle: "import cycle: {{path}}" } },
	create(context) {
		return {
			Program(node) {
				const path = cycleThrough(context.filename);
				if (path) context.report({ node, messageId: "cycle", data: { path: path.map((p) => relative(root, p)).join(" → ") } });
			},
		};
	},
};

const xscNative = {
	meta: { type: "problem", schema: [], messages: { literal: "xsc binds {{name}}(…) to a C function at build time: it takes one string literal (\"xs_…\"); name this something else" } },
	create(context) {
		return {
			CallExpression(node) {
				const callee = node.callee;
				if (callee.type !== "Identifier" || (callee.name !== "native" && callee.name !== "Native")) return;
				const [arg] = node.arguments;
				if (node.arguments.length !== 1 || arg.type !== "Literal" || typeof arg.value !== "string") context.report({ node, messageId: "literal", data: { name: callee.name } });
			},
		};
	},
};

export default { rules: { floors, "no-cycle": noCycle, "xsc-native": xscNative } };
