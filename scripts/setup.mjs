// Sets up what a fresh clone lacks, and only that: npm dependencies, then the TypeScript build
// (build/js), redone when a source is newer than the last build. `npm test` and `npm start` run
// it first. `--force` rebuilds regardless.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const force = process.argv.includes("--force");

function fail(message) {
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

// TypeScript → build/js
const stamp = join(root, "build", "js", ".stamp");
const sources = Math.max(...["modules", "host", "test", "bench", "tsconfig.json", "package.json"].map((p) => newest(join(root, p))));
if (force || newest(stamp) < sources) {
	console.error("setup: compiling TypeScript");
	run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "."]);
	writeFileSync(stamp, new Date().toISOString() + "\n");
}
