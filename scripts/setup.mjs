// Sets up what a fresh clone lacks, and only that: npm dependencies, the TypeScript build
// (build/js with its type declarations, redone when a source is newer than the last build),
// mbedTLS's headers (apt-get when root), the Linux XS host in its release and debug flavours
// (scripts/xs-host.mjs; make decides what is stale) and its module map. `npm test` and
// `npm start` run it first. The TypeScript build runs beside the XS host's (of the XS host only
// its module map reads build/js, and it is made again once both are done). `--force` rebuilds
// regardless; `--flavor asan` also builds the sanitizer flavour; `--cortex-m4` also installs the
// arm-none-eabi toolchain (apt-get when root); `--js-only` stops after the TypeScript build (npm
// pack's prepack: what the package ships).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { buildXsHost, has, missingTools } from "./xs-host.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const force = process.argv.includes("--force");

let compiling; // the TypeScript build's process while it runs

function fail(message) {
	compiling?.kill();
	console.error(`setup: ${message}`);
	process.exit(1);
}

const [major] = process.versions.node.split(".").map(Number);
if (major < 20) fail(`Node.js 20 or newer is needed, this is ${process.versions.node}`);

function newest(path) {
	if (!existsSync(path)) return 0;
	const stat = statSync(path);
	if (!stat.isDirectory()) return stat.mtimeMs;
	let t = 0;
	for (const name of readdirSync(path)) {
		if (name === "vectors") continue;
		t = Math.max(t, newest(join(path, name)));
	}
	return t;
}

function run(cmd, args) {
	try {
		execFileSync(cmd, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
	} catch {
		fail(`\`${[cmd, ...args].join(" ")}\` failed`);
	}
}

// npm dependencies: installed when missing or older than package-lock.json
const installed = join(root, "node_modules", ".package-lock.json");
if (!existsSync(installed) || newest(join(root, "package-lock.json")) > newest(installed)) {
	console.error("setup: installing npm dependencies");
	const npm = process.platform === "win32" ? "npm.cmd" : "npm";
	run(npm, existsSync(join(root, "package-lock.json")) ? ["ci", "--no-audit", "--no-fund"] : ["install", "--no-audit", "--no-fund"]);
}

// TypeScript → build/js, started here and finished by typescriptBuilt()
const js = join(root, "build", "js");
const stamp = join(js, ".stamp");
const sources = Math.max(...["modules", "native", "host", "test", "bench", "tsconfig.json", "package.json"].map((p) => newest(join(root, p))));
let typescript;
if (force || newest(stamp) < sources) {
	console.error("setup: compiling TypeScript");
	const args = [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "."];
	compiling = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
	typescript = new Promise((resolve) => compiling.on("close", (status) => resolve(status === 0 ? undefined : `\`${["tsc", ...args.slice(1)].join(" ")}\` failed`)));
}

/** Waits for the TypeScript build, then tidies build/js and stamps it; whether it compiled anything. */
async function typescriptBuilt() {
	if (!typescript) return false;
	const failure = await typescript;
	compiling = undefined;
	if (failure) fail(failure);
	pruneOrphans();
	nativeTypes();
	writeFileSync(stamp, new Date().toISOString() + "\n");
	return true;
}

// Output whose source is gone (a module renamed or removed): tsc leaves it, npm pack would ship it
// and node --test would run it.
function pruneOrphans() {
	const walk = (dir) => {
		if (!existsSync(dir)) return;
		for (const entry of readdirSync(dir, { withFileTypes: true })) {
			const path = join(dir, entry.name);
			if (entry.isDirectory()) walk(path);
			else if (/\.(js|d\.ts|js\.map)$/.test(entry.name) && !existsSync(join(root, relative(js, path).replace(/\.(js|d\.ts|js\.map)$/, ".ts")))) rmSync(path);
		}
	};
	for (const dir of ["modules", "host", "test", "bench"]) walk(join(js, dir));
}

// Types for "sealdrop/native/*" (package.json exports): native/*.d.ts declare ambient modules under
// the names mcconfig gives them, which TypeScript sees only once it has loaded the file; an
// integrator's compiler resolves these module files, each of which loads the declarations.
function nativeTypes() {
	const out = join(js, "native");
	mkdirSync(out, { recursive: true });
	const declared = readdirSync(join(root, "native")).filter((f) => f.endsWith(".d.ts") && /^declare module "sealdrop\/native\//m.test(readFileSync(join(root, "native", f), "utf8")));
	// every file, since one native module's types may name another's (device-key takes an AesCtr)
	const references = declared.map((f) => `/// <reference path="../../../native/${f}" />`).join("\n");
	for (const file of declared) {
		const name = file.slice(0, -".d.ts".length);
		const text = readFileSync(join(root, "native", file), "utf8");
		const reexport = `export * from "sealdrop/native/${name}";\n` + (/^\s*export default /m.test(text) ? `export { default } from "sealdrop/native/${name}";\n` : "");
		writeFileSync(join(out, `${name}.d.ts`), `// Generated by scripts/setup.mjs: the module ${name} as native/${file} declares it.\n${references}\n${reexport}`);
	}
}

if (process.argv.includes("--js-only")) {
	await typescriptBuilt();
	process.exit(0);
}

// The Linux XS host (scripts/xs-host.mjs): a C compiler, make, and mbedTLS 2.28's PSA Crypto
// headers (Debian's libmbedtls-dev).

// A Debian package the build needs: apt-get installs it when we are root, otherwise the exact
// command is printed and setup stops.
function aptPackages(present, packages, why) {
	if (present) return;
	const command = `apt-get install -y ${packages.join(" ")}`;
	if (process.getuid?.() !== 0 || !has("apt-get")) fail(`${why}: run \`sudo ${command}\`, then this again`);
	console.error(`setup: installing ${packages.join(" ")} (${why})`);
	const apt = (args) => execFileSync("apt-get", args, { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
	try {
		apt(["install", "-y", "-q", ...packages]);
	} catch {
		try {
			apt(["update", "-q"]);
			apt(["install", "-y", "-q", ...packages]);
		} catch {
			fail(`\`${command}\` failed; install it, then run this again`);
		}
	}
}
for (const { packages, why } of missingTools()) aptPackages(false, packages, why);
// --cortex-m4 (npm test, bench:size): the bare-metal ARM compiler and newlib's headers for the
// Cortex-M4 compile check of the portable native C (native/cortex-m4/Makefile).
if (process.argv.includes("--cortex-m4")) {
	aptPackages(has("arm-none-eabi-gcc") && has("arm-none-eabi-size") && existsSync("/usr/lib/arm-none-eabi/include/string.h"), ["gcc-arm-none-eabi", "libnewlib-arm-none-eabi"], "the Cortex-M4 compile check needs arm-none-eabi-gcc and newlib");
}
const flavors = ["release", "debug"];
const flavorArg = process.argv.indexOf("--flavor");
if (flavorArg > 0) flavors.push(process.argv[flavorArg + 1]);
try {
	buildXsHost({ flavors, force, log: (line) => console.error(`setup: ${line}`) });
} catch (e) {
	fail(e.message);
}
// the module map names build/js's files: made again if the TypeScript build ended after it
if (await typescriptBuilt()) run(process.execPath, [join(root, "scripts", "xs-module-map.mjs")]);
