#!/usr/bin/env node
// Builds the Linux XS host (host/xs: build/xs/<flavor>/sealdrop-xs), the engine the simulator and
// the device-side tests run device code on, and its module map (build/xs/modules.map). In a clone
// setup.mjs runs it; in an installed package, `sealdrop build-xs`. Needs cc, make and mbedTLS's
// PSA Crypto headers (Debian's libmbedtls-dev); XS's sources come from scripts/xs-sources.mjs.
//   node scripts/xs-host.mjs [--flavor release|debug|asan]... [--force]    (default: release)
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { XSNAP, xsSources } from "./xs-sources.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Whether `cmd` is on the PATH. */
export function has(cmd) {
	try {
		execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
		return true;
	} catch {
		return false;
	}
}

/** What the build lacks from the system, each with the Debian/Ubuntu package that brings it. */
export function missingTools() {
	const missing = [];
	for (const tool of ["cc", "make"]) if (!has(tool)) missing.push({ why: `the XS host needs \`${tool}\``, packages: ["build-essential"] });
	if (!existsSync("/usr/include/psa/crypto.h")) missing.push({ why: "the native modules need mbedTLS's PSA Crypto headers", packages: ["libmbedtls-dev"] });
	return missing;
}

/** Builds the flavours that are stale (make decides), then the module map. Throws an Error that says what to do. */
export function buildXsHost({ flavors = ["release"], force = false, log = (line) => console.error(line) } = {}) {
	const missing = missingTools();
	if (missing.length) throw new Error(`${missing.map((m) => m.why).join("; ")}: run \`sudo apt-get install -y ${[...new Set(missing.flatMap((m) => m.packages))].join(" ")}\`, then this again`);
	const xsnap = xsSources(log);
	const build = join(root, "build", "xs");
	// objects compiled from other XS sources are stale whatever their dates (tar keeps the
	// tarball's): a different XSNAP starts the objects over
	const record = join(build, "xs-sources");
	if (force || (existsSync(record) && readFileSync(record, "utf8").trim() !== XSNAP)) rmSync(build, { recursive: true, force: true });
	mkdirSync(build, { recursive: true });
	writeFileSync(record, `${XSNAP}\n`);
	for (const flavor of flavors) {
		if (!existsSync(join(build, flavor, "sealdrop-xs"))) log(`building the XS host (${flavor}): compiling XS and the native modules, a minute or two`);
		try {
			execFileSync("make", ["-s", "-C", join(root, "host", "xs"), `-j${availableParallelism()}`, `FLAVOR=${flavor}`, `XSNAP=${xsnap}`], { stdio: ["ignore", "ignore", "inherit"] });
		} catch {
			throw new Error(`building the XS host (${flavor}) failed; the compiler's messages are above`);
		}
	}
	execFileSync(process.execPath, [join(root, "scripts", "xs-module-map.mjs")], { stdio: ["ignore", "inherit", "inherit"] });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const flavors = process.argv.flatMap((a, i) => (process.argv[i - 1] === "--flavor" ? [a] : []));
	try {
		buildXsHost({ flavors: flavors.length ? flavors : ["release"], force: process.argv.includes("--force") });
	} catch (e) {
		console.error(`xs-host: ${e.message}`);
		process.exit(1);
	}
}
