#!/usr/bin/env node
// Launcher for the `sealdrop` command: builds the TypeScript on first use (a fresh clone), then
// runs the compiled CLI.
import { existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const entry = new URL("../build/js/host/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(entry))) execFileSync(process.execPath, [`${root}/scripts/setup.mjs`], { stdio: ["ignore", "inherit", "inherit"] });
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
