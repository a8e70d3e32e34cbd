#!/usr/bin/env node
// XS's C sources, for the Linux XS host (host/xs/Makefile's XSNAP) and the Cortex-M4 compile check
// (native/cortex-m4/Makefile's XS): the @agoric/xsnap npm package's tarball, which ships XS 13.3.
// Fetched once with `npm pack` (npm's cache first, the registry otherwise), checked against the
// integrity pinned here, and unpacked into build/xsnap-<version>/, only the folders the Makefiles
// read. The package is never installed: its dependencies (@endo/bundle-source → amaro, which
// wants Node 22, so npm warned EBADENGINE on Node 20) and its install script (an xsnap build) were
// of no use to us, and an installed `sealdrop` package would have pulled them all into an
// integrator's project.
//   node scripts/xs-sources.mjs        prints the folder (fetching it first if needed)
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const XSNAP = "@agoric/xsnap@0.15.0";
// package-lock.json's integrity for it when it was a dependency; npm also checks its own.
const INTEGRITY = "sha512-ZBm4DZxbtfacxMHVVdJjZi0Y8zOxN77vpu1WwI5RWfPkaRh0aHkz/dVdTGKXalDNzWfz183lljKxlxl3/h0n+A==";
const PARTS = ["LICENSE", "moddable/xs/sources", "moddable/xs/includes", "moddable/xs/platforms", "moddable/modules/data/text"];

const root = fileURLToPath(new URL("..", import.meta.url));

/** The folder holding XS's sources (its moddable/xs and moddable/modules); fetches them if missing. */
export function xsSources(log = (line) => console.error(line)) {
	const dir = join(root, "build", `xsnap-${XSNAP.split("@").pop()}`);
	if (existsSync(join(dir, ".complete"))) return dir;
	log(`fetching XS's sources (${XSNAP}, npm pack: from npm's cache, else the registry)`);
	mkdirSync(join(root, "build"), { recursive: true });
	const scratch = mkdtempSync(join(root, "build", ".xsnap-"));
	try {
		const npm = process.platform === "win32" ? "npm.cmd" : "npm";
		try {
			execFileSync(npm, ["pack", XSNAP, "--prefer-offline", "--silent", "--pack-destination", scratch], { cwd: scratch, stdio: ["ignore", "ignore", "inherit"] });
		} catch {
			throw new Error(`\`npm pack ${XSNAP}\` failed (is the registry reachable, or the package in npm's cache?)`);
		}
		const tarball = join(scratch, `agoric-xsnap-${XSNAP.split("@").pop()}.tgz`);
		const integrity = `sha512-${createHash("sha512").update(readFileSync(tarball)).digest("base64")}`;
		if (integrity !== INTEGRITY) throw new Error(`${XSNAP}'s tarball is not the one pinned in scripts/xs-sources.mjs (${integrity})`);
		const unpacked = join(scratch, "package");
		mkdirSync(unpacked);
		execFileSync("tar", ["-xzf", tarball, "-C", unpacked, "--strip-components=1", ...PARTS.map((p) => `package/${p}`)], { stdio: ["ignore", "ignore", "inherit"] });
		writeFileSync(join(unpacked, ".complete"), `${XSNAP} ${INTEGRITY}\n`);
		// renamed into place whole, so a folder with .complete in it is always complete; a run that
		// finished first (another setup at the same time) keeps its copy
		if (!existsSync(join(dir, ".complete"))) {
			rmSync(dir, { recursive: true, force: true });
			renameSync(unpacked, dir);
		}
	} finally {
		rmSync(scratch, { recursive: true, force: true });
	}
	return dir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	try {
		console.log(xsSources());
	} catch (e) {
		console.error(`xs-sources: ${e.message}`);
		process.exit(1);
	}
}
