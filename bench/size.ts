/**
 * Code size per module (`npm run bench:size`). Prints JSON:
 *
 * - native: each portable native module (native/*.c) compiled for a Cortex-M4 by
 *   native/cortex-m4/Makefile (arm-none-eabi-gcc -Os -mcpu=cortex-m4 -mthumb), its text, data and
 *   bss in bytes as arm-none-eabi-size reports them. Objects, not linked: PSA Crypto (mbedTLS), XS
 *   and libc are not counted, and the per-platform backends (native/esp32, native/zephyr) are
 *   not compiled here.
 * - js: each device TypeScript module (modules/**, as tsconfig.esp32.json selects them) compiled
 *   to JavaScript with the device options (ES2022, module preserve, as mcconfig runs tsc), in
 *   bytes, without source maps.
 * - moddable (when MODDABLE names a Moddable SDK with built tools): XS bytecode as the real xsc
 *   writes it and xsl's preload counts, for the ESP32 and Linux builds, and the Linux app's
 *   memory at boot and after an upload (scripts/check-moddable.mjs --figures). Without MODDABLE:
 *   null, and one line on stderr says so.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const objects = path.join(root, "build", "cortex-m4");

// XS's headers: the folder scripts/xs-sources.mjs unpacks them into (setup fetched them)
const xsnap = execFileSync(process.execPath, [path.join(root, "scripts", "xs-sources.mjs")], { encoding: "utf8" }).trim();
execFileSync("make", ["-s", "-C", path.join(root, "native", "cortex-m4"), "-j2", `XS=${path.join(xsnap, "moddable", "xs")}`], { stdio: ["ignore", "ignore", "inherit"] });

interface Sizes { text: number; data: number; bss: number }
const native: Record<string, Sizes> = {};
const files = fs.readdirSync(objects).filter((f) => f.endsWith(".o")).sort().map((f) => path.join(objects, f));
// Berkeley format: "text data bss dec hex filename", one line per object after the header
for (const line of execFileSync("arm-none-eabi-size", files, { encoding: "utf8" }).trim().split("\n").slice(1)) {
	const [text, data, bss, , , file] = line.trim().split(/\s+/);
	native[path.basename(file, ".o")] = { text: Number(text), data: Number(data), bss: Number(bss) };
}
const sum = (key: keyof Sizes) => Object.values(native).reduce((n, s) => n + s[key], 0);

const parsed = ts.getParsedCommandLineOfConfigFile(path.join(root, "tsconfig.esp32.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n")); } });
if (!parsed) throw new Error("tsconfig.esp32.json: cannot be read");
const options = { ...parsed.options, noEmit: false, sourceMap: false, inlineSourceMap: false };
const js: Record<string, number> = {};
for (const file of parsed.fileNames.filter((f) => f.startsWith(path.join(root, "modules")) && !f.endsWith(".d.ts")).sort()) {
	const output = ts.transpileModule(fs.readFileSync(file, "utf8"), { compilerOptions: options, fileName: file }).outputText;
	js[path.relative(root, file).replace(/\.ts$/, "")] = Buffer.byteLength(output);
}

// The real toolchain's figures, when there is one (minutes: it builds for esp32 and lin, and runs lin)
let moddable: unknown = null;
if (process.env.MODDABLE) {
	const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sealdrop-size-")), "figures.json");
	// the XS heap's own figures need the SDK's xsbug-log with its npm dependency installed
	const memory = fs.existsSync(path.join(process.env.MODDABLE, "tools", "xsbug-log", "node_modules")) ? ["--memory"] : [];
	for (const only of ["esp32", "lin"]) {
		const r = spawnSync(process.execPath, [path.join(root, "scripts", "check-moddable.mjs"), "--only", only, "--figures", `${file}.${only}`, ...(only === "lin" ? memory : [])], { stdio: ["ignore", "ignore", "inherit"] });
		if (r.status !== 0) console.error(`bench:size: check:moddable --only ${only} did not pass every step (exit ${r.status}): its figures may be partial`);
	}
	const parts = ["esp32", "lin"].filter((only) => fs.existsSync(`${file}.${only}`)).map((only) => JSON.parse(fs.readFileSync(`${file}.${only}`, "utf8")) as { sdk: string; builds: Record<string, unknown> });
	moddable = { sdk: parts[0]?.sdk, builds: Object.assign({}, ...parts.map((p) => p.builds)) };
} else console.error("bench:size: MODDABLE is not set: no XS bytecode or preload figures from the real Moddable toolchain");

console.log(JSON.stringify({
	native: {
		target: "Cortex-M4, arm-none-eabi-gcc -Os -mcpu=cortex-m4 -mthumb, objects (PSA/mbedTLS, XS and libc not included)",
		modules: native,
		total: { text: sum("text"), data: sum("data"), bss: sum("bss") },
	},
	js: {
		target: "ES2022 JavaScript as mcconfig's tsc emits it (bytes, no source maps)",
		modules: js,
		total: Object.values(js).reduce((n, b) => n + b, 0),
	},
	moddable,
}, null, 2));
