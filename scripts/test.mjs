// `npm test`, after scripts/setup.mjs (npm dependencies; the TypeScript build, which type-checks
// the Node build as tsconfig.json says; the XS host): the device code type-checked per Moddable
// platform, the Cortex-M4 compile of the native C, lint, the Node tests, then the device-side tests
// on the Linux XS host (release build, and under ASan/UBSan). Steps that need nothing of each other
// run side by side (the machine's cores, two at least); each step's output is printed whole when
// it ends, with its wall and CPU time, and a table of every step's comes last.
//   node scripts/test.mjs          what `npm test` runs
//   node scripts/test.mjs --long   `npm run test:long`: the long sweeps whole (every power-cut
//                                  point, the large killed install: the test files that import
//                                  test/helpers/sweep.ts, with SEALDROP_TEST_LONG=1), then the SMP
//                                  and key rotation fuzzers with fresh seeds
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { xsSources } from "./xs-sources.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const node = process.execPath;
const built = (...path) => join(root, "build", "js", ...path);
const cores = Math.max(2, availableParallelism());

/**
 * A step: a command, the steps it waits for (`after`), and what runs it. Its CPU time is its
 * processes' user + system time as the shell's `times` reports it for its children.
 */
function step(title, cmd, args, { env = {}, after = [] } = {}) {
	return { title, cmd, args, env, after };
}

/**
 * The steps' environment: ours, without NODE_EXTRA_CA_CERTS. Where it is set (a CI machine that
 * reaches npm through a proxy sets it to the whole system bundle), every Node process parses
 * those certificates before running anything: ~50 ms of CPU, half of a bare `node -e 0`, and the
 * tests start hundreds of Node processes. No step opens a TLS connection (npm install ran before,
 * in setup.mjs; the package test installs offline).
 */
const stepEnv = { ...process.env };
delete stepEnv.NODE_EXTRA_CA_CERTS;

function run(s) {
	return new Promise((resolve) => {
		const started = Date.now();
		// sh runs the command and then `times`, whose second line is its children's user and system time, on fd 3
		const child = spawn("sh", ["-c", '"$@"; status=$?; times >&3; exit $status', "sh", s.cmd, ...s.args], {
			cwd: root, env: { ...stepEnv, ...s.env }, stdio: ["ignore", "pipe", "pipe", "pipe"],
		});
		let output = "";
		let times = "";
		for (const stream of [child.stdout, child.stderr, child.stdio[3]]) stream.setEncoding("utf8");
		child.stdout.on("data", (d) => (output += d));
		child.stderr.on("data", (d) => (output += d));
		child.stdio[3].on("data", (d) => (times += d));
		child.on("close", (status, signal) => {
			const seconds = (text) => { const m = /^(\d+)m([\d.]+)s$/.exec(text); return m ? Number(m[1]) * 60 + Number(m[2]) : NaN; };
			const [user, system] = (times.trim().split("\n")[1] ?? "").split(/\s+/).map(seconds);
			resolve({ ok: status === 0, status: status ?? signal, output, wall: (Date.now() - started) / 1000, cpu: user + system });
		});
	});
}

/**
 * Runs `steps`, at most `cores` at a time, in the order given among those whose `after` steps
 * have passed; a step after a failed one is skipped. Resolves to each step's result by title.
 */
async function runAll(steps) {
	const results = new Map();
	const waiting = [...steps];
	let running = 0;
	return new Promise((resolve) => {
		const next = () => {
			for (let i = 0; i < waiting.length && running < cores; i++) {
				const s = waiting[i];
				if (s.after.some((t) => results.get(t)?.ok === false)) {
					waiting.splice(i--, 1);
					results.set(s.title, { ok: false, skipped: true, wall: 0, cpu: 0 });
					console.error(`\n== ${s.title}: skipped (${s.after.filter((t) => !results.get(t)?.ok).join(", ")} failed)`);
					continue;
				}
				if (!s.after.every((t) => results.get(t)?.ok)) continue;
				waiting.splice(i--, 1);
				running++;
				console.error(`-- started: ${s.title}`);
				run(s).then((r) => {
					running--;
					results.set(s.title, r);
					console.error(`\n== ${s.title} (${r.wall.toFixed(1)} s, CPU ${r.cpu.toFixed(1)} s)\n${r.output.trimEnd()}${r.ok ? "" : `\n\n${s.title} failed (exit ${r.status})`}`);
					next();
				});
			}
			if (running === 0) {
				for (const s of waiting) results.set(s.title, { ok: false, skipped: true, wall: 0, cpu: 0 });
				resolve(results);
			}
		};
		next();
	});
}

// One test file more than the cores (node --test's default is one fewer): most files wait on
// XS or CLI subprocesses, and the third fills the gaps (on 2 cores the Node step took 301 s
// instead of 326 s, the same CPU time).
const [major, minor] = process.versions.node.split(".").map(Number);
const filesAtOnce = cores + 1;
const concurrency = major > 20 || (major === 20 && minor >= 10) ? [`--test-concurrency=${filesAtOnce}`] : []; // the flag is Node 20.10's
/** Where each Node test step writes its files' times (scripts/test-file-times.mjs) beside its spec output. */
const timesDir = mkdtempSync(join(tmpdir(), "sealdrop-test-times-"));
process.on("exit", () => rmSync(timesDir, { recursive: true, force: true }));
const timesFiles = new Map();
const nodeTests = (title, files, env = {}) => {
	const times = join(timesDir, `${timesFiles.size}.json`);
	timesFiles.set(title, times);
	return step(title, node, ["--test", ...concurrency, "--test-reporter=spec", "--test-reporter-destination=stdout",
		`--test-reporter=${join(root, "scripts", "test-file-times.mjs")}`, `--test-reporter-destination=${times}`, ...files], { env });
};

/** Test files by the seconds their tests took, slowest first (none if the step wrote no report). */
function fileTimes(report) {
	try {
		return Object.entries(JSON.parse(readFileSync(report, "utf8"))).map(([file, ms]) => ({ file: file.slice(root.length), seconds: ms / 1000 })).sort((a, b) => b.seconds - a.seconds);
	} catch {
		return [];
	}
}
const testFiles = (dir) => readdirSync(built("test", dir)).filter((f) => f.endsWith(".test.js")).map((f) => built("test", dir, f));
/**
 * The Node files that take longest (their tests' wall seconds in a fresh clone's run, the report
 * below), started first: node --test starts files in the order given, so a long file started
 * last keeps one core busy alone at the end. A name missing here only starts later.
 */
const LONGEST_FIRST = ["powercut", "cli-errors", "cli-behaviour", "boards", "pending-boots", "sim-mcuboot", "sim-cli", "smp-sim", "provision", "agent-powercut", "rotation", "install-kill"];
const longestFirst = (files) => {
	const rank = (f) => {
		const at = LONGEST_FIRST.findIndex((name) => f.endsWith(`/${name}.test.js`));
		return at < 0 ? LONGEST_FIRST.length : at;
	};
	return [...files].sort((a, b) => rank(a) - rank(b));
};

const steps = [];
const long = process.argv.includes("--long");
if (long) {
	// the files whose sweeps test/helpers/sweep.ts samples in npm test
	const sweeps = testFiles("unit").filter((f) => /from "\.\.\/helpers\/sweep\.js"/.test(readFileSync(f, "utf8")));
	steps.push(nodeTests("the long sweeps, whole (Node, SEALDROP_TEST_LONG=1)", sweeps, { SEALDROP_TEST_LONG: "1" }));
	steps.push(step("SMP fuzz (npm run fuzz:smp)", node, [built("test", "fuzz", "smp-fuzz.js")]));
	steps.push(step("key rotation fuzz (npm run fuzz:rotation)", node, [built("test", "fuzz", "rotation-fuzz.js")]));
} else {
	// Longest first: the Node tests, then the XS host's sanitizer build and what runs on it.
	steps.push(nodeTests("unit, interop and device-side tests (Node)", longestFirst([...testFiles("unit"), ...testFiles("device")])));
	steps.push(step("XS host with AddressSanitizer and UndefinedBehaviorSanitizer (build)", node, [join(root, "scripts", "xs-host.mjs"), "--flavor", "asan"]));

	// Device-side tests on XS. Some need a process of their own: the restart check reopens the
	// state folder of the first run, and a bad entropy source is chosen per process.
	const own = { restart: "device-key-restart.test.js", badEntropy: "entropy-bad.test.js", agent: "agent.test.js", smpFuzz: "smp-fuzz.test.js", rotation: "rotation-fuzz.test.js" };
	// The SMP fuzz's driver frames sit below the device code it drives: their room, and no more.
	const { FUZZ_STACK_EXTRA } = await import(built("test", "fuzz", "stack-allowance.js"));
	const shared = [...testFiles("device"), ...testFiles("xs").filter((f) => !Object.values(own).some((o) => f.endsWith(o)))];
	const runner = built("test", "xs-runner.js");
	for (const flavor of ["release", "asan"]) {
		const binary = join(root, "build", "xs", flavor, "sealdrop-xs");
		const state = mkdtempSync(join(tmpdir(), `sealdrop-xs-${flavor}-`));
		process.on("exit", () => rmSync(state, { recursive: true, force: true }));
		const env = { SEALDROP_FLASH: join(state, "flash.bin"), SEALDROP_LAYOUT: join(root, "boards", "sim", "layout.json"), ASAN_OPTIONS: "detect_leaks=1", UBSAN_OPTIONS: "print_stacktrace=1" };
		const host = flavor === "asan" ? ["XS host with AddressSanitizer and UndefinedBehaviorSanitizer (build)"] : [];
		const xs = (title, state, file, extra = {}, after = []) => step(`${title} on XS (${flavor})`, binary, ["--state", state, runner, ...(Array.isArray(file) ? file : [built("test", "xs", file)])], { env: { ...env, ...extra }, after: [...host, ...after] });
		// one device (state folder and flash) for these four, one after another
		const first = xs("device-side tests", state, shared);
		const restart = xs("device key survives a restart", state, own.restart, {}, [first.title]);
		const smpFuzz = xs("SMP fuzz on the real agent", state, own.smpFuzz, { SEALDROP_XS_STACK_EXTRA: String(FUZZ_STACK_EXTRA) }, [restart.title]);
		const badEntropy = xs("entropy health checks refuse a stuck source", state, own.badEntropy, { SEALDROP_ENTROPY: "zero" }, [smpFuzz.title]);
		// the agent's tests import device keys and lay out flash of their own, and the key rotation
		// tests wipe the key slots and the keys partition: a device of their own each
		const agent = xs("update agent", join(state, "agent-device"), own.agent, { SEALDROP_FLASH: join(state, "agent-device", "flash.bin") });
		const rotation = xs("key rotation requests, fuzzed", join(state, "rotation-device"), own.rotation, { SEALDROP_FLASH: join(state, "rotation-device", "flash.bin") });
		steps.push(first, agent, rotation, restart, smpFuzz, badEntropy);
	}

	// Short steps last, where they fill the cores while the long ones end.
	steps.push(step("lint", node, [join(root, "node_modules", "eslint", "bin", "eslint.js"), "."]));
	// The device code per Moddable platform, against @moddable/typings (tsconfig.<platform>.json);
	// platforms whose tsconfig resolves to the same options and files are checked once.
	const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
	const platforms = new Map();
	for (const platform of ["esp32", "zephyr", "lin"]) {
		const config = JSON.parse(await output(node, [tsc, "-p", `tsconfig.${platform}.json`, "--showConfig"]));
		const key = JSON.stringify(config);
		platforms.set(key, [...(platforms.get(key) ?? []), platform]);
	}
	for (const [, names] of platforms) steps.push(step(`type-check for ${names.join(" and ")} (@moddable/typings)`, node, [tsc, "-p", `tsconfig.${names[0]}.json`]));
	// The portable native C for a Cortex-M4 (arm-none-eabi-gcc from `setup.mjs --cortex-m4`).
	steps.push(step("native C compiles for Cortex-M4 (arm-none-eabi-gcc -Os -mcpu=cortex-m4 -mthumb)", "make", ["-s", "-C", join(root, "native", "cortex-m4"), `-j${cores}`, `XS=${join(xsSources(), "moddable", "xs")}`]));
}

/** A command's standard output (it must succeed). */
async function output(cmd, args) {
	const r = await run({ cmd, args, env: {} });
	if (!r.ok) throw new Error(`${cmd} ${args.join(" ")}: ${r.output}`);
	return r.output;
}

const started = Date.now();
const results = await runAll(steps);
const failed = steps.filter((s) => !results.get(s.title).ok);
const width = Math.max(...steps.map((s) => s.title.length));
console.error(`\n${"step".padEnd(width)}  wall s   CPU s`);
for (const s of steps) {
	const r = results.get(s.title);
	console.error(`${s.title.padEnd(width)}  ${r.skipped ? "skipped" : `${r.wall.toFixed(1).padStart(6)}  ${r.cpu.toFixed(1).padStart(6)}${r.ok ? "" : "  FAILED"}`}`);
}
for (const [title, report] of timesFiles) {
	const times = fileTimes(report);
	if (!times.length) continue;
	// files run side by side, so these overlap: they say where the time goes, not what it adds to
	console.error(`\nslowest files of "${title}" (wall s of their tests, ${concurrency.length ? filesAtOnce : "several"} files at a time):`);
	for (const t of times.slice(0, 12)) console.error(`${t.seconds.toFixed(1).padStart(7)}  ${t.file}`);
}
const cpu = steps.reduce((n, s) => n + results.get(s.title).cpu, 0);
console.error(`${"all".padEnd(width)}  ${((Date.now() - started) / 1000).toFixed(1).padStart(6)}  ${cpu.toFixed(1).padStart(6)}`);
if (failed.length) {
	console.error(`\nfailed: ${failed.map((s) => s.title).join("; ")}`);
	process.exit(1);
}
