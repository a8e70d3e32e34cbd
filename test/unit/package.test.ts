/**
 * The npm package as an integrator gets it (issue 19): `npm pack` of this checkout (its prepack
 * build included), the tarball installed into an empty project OFFLINE (`npm install --offline`:
 * the tarball and npm's cache only; the package bundles what it imports), a TypeScript consumer
 * compiled against the installed types with --strict --module nodenext by the repository's own
 * tsc, that consumer run in Node, and the installed CLI run the way users run it. Nothing here
 * needs the XS host: the package ships none, and `sim` must say how to build it.
 *
 * SEALDROP_TEST_TARBALL=path tests that tarball instead of packing this checkout (an older
 * package, say: the one before issue 19 fails here).
 */
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { repoRoot } from "../helpers/cli.js";

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "sealdrop-package-"));
const project = path.join(scratch, "project");
const installed = path.join(project, "node_modules", "sealdrop");
const cli = path.join(project, "node_modules", ".bin", "sealdrop");
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

// npm run from npm test would hand its own settings to these npm runs through npm_* variables
const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
delete env.SEALDROP_DEBUG;

function run(file: string, args: string[], cwd: string, timeout = 120_000): SpawnSyncReturns<string> {
	const r = spawnSync(file, args, { cwd, env, encoding: "utf8", timeout, stdio: ["ignore", "pipe", "pipe"] });
	if (r.error) throw r.error;
	return r;
}
const show = (r: SpawnSyncReturns<string>) => `exit ${r.status}\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-2000)}`;

let files: string[] = [];
let tarball = "";
let install: SpawnSyncReturns<string> | undefined;

before(() => {
	if (process.env.SEALDROP_TEST_TARBALL) tarball = path.resolve(process.env.SEALDROP_TEST_TARBALL);
	else {
		const packed = run("npm", ["pack", "--json", "--pack-destination", scratch], repoRoot);
		assert.equal(packed.status, 0, `npm pack: ${show(packed)}`);
		// prepack's own output may come before npm's JSON
		tarball = path.join(scratch, (JSON.parse(packed.stdout.slice(packed.stdout.indexOf("\n[") + 1)) as [{ filename: string }])[0].filename);
	}
	const listed = run("tar", ["-tzf", tarball], scratch);
	assert.equal(listed.status, 0, show(listed));
	files = listed.stdout.trim().split("\n").map((f) => f.replace(/^package\//, ""));
});

/** The tests after the install use the installed package; they stop here if it is not there. */
function requireInstalled(): void {
	assert.ok(install?.status === 0, "the package did not install (see the install test)");
}

test("the tarball holds the built JS and types, device sources and manifests, native C, boards, and nothing else", () => {
	const allowed = [
		/^(package\.json|README\.md|manifest\.json|bin\/sealdrop\.js)$/,
		/^build\/js\/(modules|host)\/.+\.(js|d\.ts)$/,
		/^build\/js\/native\/[\w-]+\.d\.ts$/,
		/^(modules|native|boards)\//,
		/^host\/xs\/(Makefile|[\w-]+\.[ch]|patch-xscode\.mjs)$/,
		/^scripts\/xs-(creation|host|module-map|sources)\.mjs$/,
		/^node_modules\/@noble\/(curves|hashes)\//,
	];
	const stray = files.filter((f) => !allowed.some((re) => re.test(f)));
	assert.deepEqual(stray, [], "files outside the package's contents");
	for (const f of [
		"build/js/host/cli/main.js", "build/js/host/cli/main.d.ts", "build/js/modules/image.js", "build/js/modules/image.d.ts",
		"build/js/modules/update.d.ts", "build/js/modules/keys.d.ts", "build/js/modules/transport/transport.d.ts",
		"build/js/modules/transport/smp/server.d.ts", "build/js/modules/transport/http.d.ts", "build/js/native/flash.d.ts",
		"build/js/host/sim/device.js", "modules/update/agent.ts", "modules/app/manifest.json", "native/flash.c", "native/flash.d.ts",
		"native/lin/flash-lin.c", "boards/sim/layout.json", "host/xs/Makefile", "node_modules/@noble/curves/package.json",
	]) assert.ok(files.includes(f), `${f} is in the tarball`);
});

test("installed offline into an empty project with no warning, it fetched nothing and built nothing", () => {
	fs.mkdirSync(project);
	fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
	install = run("npm", ["install", "--offline", "--no-audit", "--no-fund", tarball], project);
	assert.equal(install.status, 0, `npm install --offline: ${show(install)}`);
	assert.doesNotMatch(install.stdout + install.stderr, /warn/i);
	// only what the tarball bundles: no dev dependencies, no @agoric/xsnap, no build tools
	assert.deepEqual(fs.readdirSync(path.join(project, "node_modules")).filter((d) => !d.startsWith(".")), ["sealdrop"]);
	assert.deepEqual(fs.readdirSync(path.join(installed, "node_modules", "@noble")).sort(), ["curves", "hashes"]);
	assert.equal(fs.existsSync(path.join(installed, "build", "xs")), false);
});

test("every module and include path of its manifest.json exists in the installed package (a Moddable app includes it)", () => {
	requireInstalled();
	interface Block { modules?: Record<string, string | string[]>; include?: string | string[]; platforms?: Record<string, Block> }
	const manifest = JSON.parse(fs.readFileSync(path.join(installed, "manifest.json"), "utf8")) as Block;
	const paths: string[] = [];
	const collect = (block: Block) => {
		for (const value of Object.values(block.modules ?? {})) paths.push(...[value].flat());
		paths.push(...[block.include ?? []].flat().filter((p) => !p.startsWith("$(")));
		for (const platform of Object.values(block.platforms ?? {})) collect(platform);
	};
	collect(manifest);
	assert.ok(paths.length > 20);
	for (const p of paths) {
		const file = path.join(installed, p);
		const found = p.endsWith("/*") ? fs.existsSync(file.slice(0, -2)) : [".c", ".h", ".js", ".ts", ".json", ""].some((ext) => fs.existsSync(file + ext) && fs.statSync(file + ext).isFile());
		assert.ok(found, `${p} (manifest.json) is in the installed package`);
	}
});

test("sealdrop --help answers at once, with no build and no install", () => {
	requireInstalled();
	const started = Date.now();
	const r = run(cli, ["--help"], project, 20_000);
	assert.equal(r.status, 0, show(r));
	assert.match(r.stdout, /^Usage: sealdrop COMMAND/);
	assert.match(r.stdout, /^ {2}build-xs /m);
	assert.equal(r.stderr, "");
	assert.ok(Date.now() - started < 10_000, `--help took ${Date.now() - started} ms`);
	assert.equal(fs.existsSync(path.join(installed, "node_modules", "typescript")), false, "no dev dependency was installed");
});

test("the installed CLI: keygen, sign and verify need no XS host; sim says how to build it and touches nothing", () => {
	requireInstalled();
	const ok = (...args: string[]) => {
		const r = run(cli, args, project, 60_000);
		assert.equal(r.status, 0, `sealdrop ${args.join(" ")}: ${show(r)}`);
		return r.stdout;
	};
	fs.writeFileSync(path.join(project, "app.bin"), Buffer.alloc(5000, 0x5a));
	ok("keygen", "-k", "sign.pem", "-t", "ecdsa-p256");
	ok("sign", "-k", "sign.pem", "-v", "1.2.3", "-H", "0x200", "--pad-header", "-S", "0x20000", "app.bin", "signed.bin");
	assert.match(ok("verify", "-k", "sign.pem", "signed.bin"), /Signature: verified/);
	const bytes = fs.readFileSync(path.join(project, "signed.bin"));
	bytes[0x300] ^= 1;
	fs.writeFileSync(path.join(project, "tampered.bin"), bytes);
	const tampered = run(cli, ["verify", "-k", "sign.pem", "tampered.bin"], project);
	assert.equal(tampered.status, 1, show(tampered));
	assert.match(tampered.stderr, /^sealdrop: E_HASH: /);

	const sim = run(cli, ["sim", "init", "--dir", "dev1"], project);
	assert.equal(sim.status, 4, show(sim));
	assert.match(sim.stderr, /^sealdrop: E_IO: the simulated device runs on the Linux XS host, which is not built yet \(.+\): run `npx sealdrop build-xs` once/);
	assert.equal(sim.stderr.trim().split("\n").length, 1);
	assert.equal(fs.existsSync(path.join(project, "dev1")), false, "sim init made nothing");
});

test("a --strict --module nodenext TypeScript consumer compiles against the installed types, and runs in Node", () => {
	requireInstalled();
	// every entry point; device code (update, keys, transports, native) for its types, the rest run
	fs.writeFileSync(path.join(project, "index.ts"), `
import { formatVersion, parseImage, SealdropError, type ErrorCode } from "sealdrop/image";
import type { UpdateAgent, BoardConfig } from "sealdrop/update";
import type { parseBoardConfig } from "sealdrop/update/board";
import type { DeviceKeyRing, provision } from "sealdrop/keys";
import { parseRotationRequest } from "sealdrop/keys/rotation-format";
import type { Transport } from "sealdrop/transport";
import { serveSmp, SmpServer } from "sealdrop/transport/smp/server";
import { OsGroup } from "sealdrop/transport/smp/groups/os";
import type { ImageGroup } from "sealdrop/transport/smp/groups/image";
import type { HttpPull } from "sealdrop/transport/http";
import type { FlashStatus } from "sealdrop/native/flash";
import type DeviceKey from "sealdrop/native/device-key";
import { main } from "sealdrop/cli";
import { readFileSync } from "node:fs";

export type DeviceSide = [UpdateAgent, BoardConfig, typeof parseBoardConfig, DeviceKeyRing, typeof provision, ImageGroup, HttpPull, FlashStatus, DeviceKey];
const link: Transport = { mtu: 64, send() {}, close() {} };
export const smp: [typeof serveSmp, typeof SmpServer, typeof OsGroup, typeof parseRotationRequest, Transport] = [serveSmp, SmpServer, OsGroup, parseRotationRequest, link];

const code: number = await main(["verify", "-k", "sign.pem", "signed.bin"]);
const image = parseImage(new Uint8Array(readFileSync("signed.bin")));
let refused: ErrorCode | undefined;
try {
	parseImage(new Uint8Array(8));
} catch (e) {
	if (e instanceof SealdropError) refused = e.code;
}
console.log(JSON.stringify({ code, version: formatVersion(image.header.version), refused }));
`);
	// wrong uses the types must catch: proof they are the package's types, not any
	fs.writeFileSync(path.join(project, "wrong.ts"), `
import type { ErrorCode } from "sealdrop/image";
import type { FlashStatus } from "sealdrop/native/flash";
export const code: ErrorCode = "E_NOT_A_CODE";
export const status: FlashStatus = { size: "big", blockLength: 4096, blocks: 1, writeAlign: 4, eraseValue: 255 };
`);
	fs.writeFileSync(path.join(project, "tsconfig.json"), JSON.stringify({
		compilerOptions: { strict: true, module: "nodenext", target: "es2022", lib: ["es2022"], types: [], outDir: "out", skipLibCheck: false },
		files: ["index.ts", "wrong.ts", "node.d.ts"],
	}));
	// the consumer's own Node needs: without @types/node here, only what index.ts uses
	fs.writeFileSync(path.join(project, "node.d.ts"), `declare module "node:fs" { export function readFileSync(path: string): Uint8Array; }\ndeclare const console: { log(...values: unknown[]): void };\n`);
	const tsc = run(process.execPath, [path.join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-p", "."], project);
	const diagnostics = tsc.stdout.trim().split("\n").filter((l) => /error TS\d+/.test(l));
	assert.deepEqual(diagnostics.map((l) => l.replace(/^(\S+)\(\d+,\d+\): error (TS\d+):.*/, "$1 $2")), ["wrong.ts TS2322", "wrong.ts TS2322"], show(tsc));
	const ran = run(process.execPath, [path.join("out", "index.js")], project, 30_000);
	assert.equal(ran.status, 0, show(ran));
	assert.deepEqual(JSON.parse(ran.stdout.trim().split("\n").pop()!), { code: 0, version: "1.2.3+0", refused: "E_TRUNCATED" });
});
