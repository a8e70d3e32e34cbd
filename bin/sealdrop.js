#!/usr/bin/env node
// Launcher for the `sealdrop` command: runs the compiled CLI. An installed package ships it
// (build/js); a clone builds it on first use with scripts/setup.mjs, which the package does not
// ship, so an installed package never installs dev dependencies or builds anything here.
import { existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const entry = new URL("../build/js/host/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
	const setup = `${root}/scripts/setup.mjs`;
	if (!existsSync(setup)) {
		console.error(`sealdrop: E_IO: ${fileURLToPath(entry)} is missing: this package was packed without its build (npm pack's prepack makes it); reinstall it`);
		process.exit(4);
	}
	execFileSync(process.execPath, [setup], { stdio: ["ignore", "inherit", "inherit"] });
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
