// Sets up what a fresh clone lacks, and only that: npm dependencies, the TypeScript build
// (build/js, redone when a source is newer than the last build), mbedTLS's headers (apt-get when
// root), the Linux XS host in its release and debug flavours (make decides what is stale), and
// its module map. `npm test` and `npm start` run it first. `--force` rebuilds regardless;
// `--flavor asan` also builds the sanitizer flavour; `--cortex-m4` also installs the
// arm-none-eabi toolchain (apt-get when root).
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
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
const sources = Math.max(...["modules", "native", "host", "test", "bench", "tsconfig.json", "package.json"].map((p) => newest(join(root, p))));
if (force || newest(stamp) < sources) {
	console.error("setup: compiling TypeScript");
	run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "."]);
	writeFileSync(stamp, new Date().toISOString() + "\n");
}

// The Linux XS host: a C compiler, make, and mbedTLS 2.28's PSA Crypto headers (Debian's libmbedtls-dev).
function has(cmd) {
	try {
		execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
		return true;
	} catch {
		return false;
	}
}
for (const tool of ["cc", "make"]) {
	if (!has(tool)) fail(`the XS host needs \`${tool}\`: run \`sudo apt-get install -y build-essential\` (Debian/Ubuntu)`);
}
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
aptPackages(existsSync("/usr/include/psa/crypto.h"), ["libmbedtls-dev"], "the native modules need mbedTLS's PSA Crypto headers");
// --cortex-m4 (npm test, bench:size): the bare-metal ARM compiler and newlib's headers for the
// Cortex-M4 compile check of the portable native C (native/cortex-m4/Makefile).
if (process.argv.includes("--cortex-m4")) {
	aptPackages(has("arm-none-eabi-gcc") && has("arm-none-eabi-size") && existsSync("/usr/lib/arm-none-eabi/include/string.h"), ["gcc-arm-none-eabi", "libnewlib-arm-none-eabi"], "the Cortex-M4 compile check needs arm-none-eabi-gcc and newlib");
}
const flavors = ["release", "debug"];
const flavorArg = process.argv.indexOf("--flavor");
if (flavorArg > 0) flavors.push(process.argv[flavorArg + 1]);
if (force) rmSync(join(root, "build", "xs"), { recursive: true, force: true });
for (const flavor of flavors) {
	const binary = join(root, "build", "xs", flavor, "sealdrop-xs");
	if (!existsSync(binary)) console.error(`setup: building the XS host (${flavor})`);
	try {
		execFileSync("make", ["-s", "-C", join(root, "host", "xs"), `-j${availableParallelism()}`, `FLAVOR=${flavor}`], { stdio: ["ignore", "ignore", "inherit"] });
	} catch {
		fail(`building the XS host (${flavor}) failed; the compiler's messages are above`);
	}
}
run(process.execPath, [join(root, "scripts", "xs-module-map.mjs")]);
