// `npm test`: type-check (the Node build, then the device code per Moddable platform), the
// Cortex-M4 compile of the native C, build (scripts/setup.mjs ran just before), lint, the Node tests,
// then the device-side tests on the Linux XS host (release build, then under ASan/UBSan).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { xsSources } from "./xs-sources.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));

function step(title, cmd, args, env = {}) {
	console.error(`\n== ${title}`);
	const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env: { ...process.env, ...env } });
	if (r.status !== 0) {
		console.error(`\n${title} failed`);
		process.exit(r.status || 1);
	}
}

const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
step("type-check", process.execPath, [tsc, "-p", ".", "--noEmit"]);
// The device code per Moddable platform, against @moddable/typings (tsconfig.<platform>.json).
for (const platform of ["esp32", "zephyr", "lin"]) step(`type-check for ${platform} (@moddable/typings)`, process.execPath, [tsc, "-p", `tsconfig.${platform}.json`]);
// The portable native C for a Cortex-M4 (arm-none-eabi-gcc from `setup.mjs --cortex-m4`).
step("native C compiles for Cortex-M4 (arm-none-eabi-gcc -Os -mcpu=cortex-m4 -mthumb)", "make", ["-s", "-C", join(root, "native", "cortex-m4"), "-j2", `XS=${join(xsSources(), "moddable", "xs")}`]);
step("lint", process.execPath, [join(root, "node_modules", "eslint", "bin", "eslint.js"), "."]);
// Test files run two at a time even on 2 cores (node --test's default is one fewer than the cores):
// most of them wait on XS or CLI subprocesses, and this takes the run from ~15 to ~12 minutes.
const [major, minor] = process.versions.node.split(".").map(Number);
const concurrency = major > 20 || (major === 20 && minor >= 10) ? [`--test-concurrency=${Math.max(2, availableParallelism())}`] : []; // the flag is Node 20.10's
step("unit, interop and device-side tests (Node)", process.execPath, ["--test", ...concurrency, "--test-reporter=spec", "build/js/test/unit/", "build/js/test/device/"]);

// Device-side tests on XS. Some need a process of their own: the restart check reopens the
// state folder of the first run, and a bad entropy source is chosen per process.
const js = (dir) => readdirSync(join(root, "build", "js", "test", dir)).filter((f) => f.endsWith(".test.js")).map((f) => join(root, "build", "js", "test", dir, f));
const own = { restart: "device-key-restart.test.js", badEntropy: "entropy-bad.test.js", agent: "agent.test.js", smpFuzz: "smp-fuzz.test.js", rotation: "rotation-fuzz.test.js" };
// The SMP fuzz's driver frames sit below the device code it drives: their room, and no more.
const { FUZZ_STACK_EXTRA } = await import(join(root, "build", "js", "test", "fuzz", "stack-allowance.js"));
const shared = [...js("device"), ...js("xs").filter((f) => !Object.values(own).some((o) => f.endsWith(o)))];
const runner = join(root, "build", "js", "test", "xs-runner.js");

function xsSuite(flavor) {
	const binary = join(root, "build", "xs", flavor, "sealdrop-xs");
	const state = mkdtempSync(join(tmpdir(), `sealdrop-xs-${flavor}-`));
	const env = { SEALDROP_FLASH: join(state, "flash.bin"), SEALDROP_LAYOUT: join(root, "boards", "sim", "layout.json"), ASAN_OPTIONS: "detect_leaks=1", UBSAN_OPTIONS: "print_stacktrace=1" };
	try {
		step(`device-side tests on XS (${flavor})`, binary, ["--state", state, runner, ...shared], env);
		step(`device key survives a restart on XS (${flavor})`, binary, ["--state", state, runner, join(root, "build", "js", "test", "xs", own.restart)], env);
		step(`SMP fuzz on the real agent on XS (${flavor})`, binary, ["--state", state, runner, join(root, "build", "js", "test", "xs", own.smpFuzz)], { ...env, SEALDROP_XS_STACK_EXTRA: String(FUZZ_STACK_EXTRA) });
		step(`entropy health checks refuse a stuck source on XS (${flavor})`, binary, ["--state", state, runner, join(root, "build", "js", "test", "xs", own.badEntropy)], { ...env, SEALDROP_ENTROPY: "zero" });
		// the agent's tests import device keys and lay out flash of their own: a device of their own
		const device = join(state, "agent-device");
		step(`update agent on XS (${flavor})`, binary, ["--state", device, runner, join(root, "build", "js", "test", "xs", own.agent)], { ...env, SEALDROP_FLASH: join(device, "flash.bin") });
		// the key rotation tests wipe the key slots and the keys partition: a device of their own too
		const rotating = join(state, "rotation-device");
		step(`key rotation requests, fuzzed on XS (${flavor})`, binary, ["--state", rotating, runner, join(root, "build", "js", "test", "xs", own.rotation)], { ...env, SEALDROP_FLASH: join(rotating, "flash.bin") });
	} finally {
		rmSync(state, { recursive: true, force: true });
	}
}
xsSuite("release");
step("XS host with AddressSanitizer and UndefinedBehaviorSanitizer (build)", process.execPath, [join(root, "scripts", "setup.mjs"), "--flavor", "asan"]);
xsSuite("asan");
