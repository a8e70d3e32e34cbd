// `npm run check:moddable`: the device app built by the real Moddable SDK (MODDABLE), as users
// deploy it. Without MODDABLE it prints one line and exits 0 (`npm test` has the checks that need
// no SDK: test/unit/moddable-build.test.ts).
//
// 1. lin: `mcconfig -m -p lin` of boards/lin (Moddable's Linux simulator: the app in mc.so, our
//    native C compiled by mcconfig, linked against the system's mbedTLS), then run under mcsim
//    (Xvfb when there is no DISPLAY) on a pty pair: it provisions its own key, serves SMP on its
//    console, takes an upload sealed for that key, resets; MCUboot's model (`sealdrop sim reboot`)
//    swaps; the app boots again on the new image and confirms it.
// 2. esp32 (boards/esp32, boards/esp32s3): mcconfig writes the build; its makefile's own
//    TypeScript, xsc and xsl steps run (goal files beside it, no ESP-IDF needed), then the whole
//    build, which stops where ESP-IDF is needed unless IDF_PATH names one.
// 3. zephyr (each boards/<board> with a ZEPHYR_BOARD): mcconfig writes the Zephyr project; tsc runs
//    each per-file tsconfig mcconfig generated and xsc each result, as its CMake rules would;
//    `west build` (Zephyr) does the rest, unless ZEPHYR_BASE names a workspace.
// Options: --keep (leave the scratch folder), --only lin|esp32|zephyr, --board NAME (one folder of boards/), --record (write what the
// SDK's own manifests contribute to each build to test/vectors/moddable-sdk/builds.json),
// --figures FILE (bytecode sizes, xsl's counts and the lin app's memory as JSON; bench:size),
// --memory (also a debug lin build run under the SDK's xsbug-log: the XS heap's own figures).
// Exit: 0 every step as expected, 1 a step failed, 2 MODDABLE is not a usable SDK.
import { Buffer } from "node:buffer";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, relative } from "node:path";
import { clearTimeout, setTimeout } from "node:timers";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "bin", "sealdrop.js");
const args = process.argv.slice(2);
const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
const boardArg = args.includes("--board") ? args[args.indexOf("--board") + 1] : undefined;
/** The board folders check:moddable builds, by the platform each is for. */
const boards = readdirSync(join(root, "boards")).filter((b) => existsSync(join(root, "boards", b, "manifest.json"))).map((name) => {
	const build = JSON.parse(readFileSync(join(root, "boards", name, "manifest.json"), "utf8")).build ?? {};
	return { name, kind: name === "lin" ? "lin" : build.ZEPHYR_BOARD ? "zephyr" : build.ESP32_SUBCLASS ? "esp32" : undefined };
}).filter((b) => b.kind);
if (only !== undefined && !["lin", "esp32", "zephyr"].includes(only)) usage(`--only takes lin, esp32 or zephyr, not "${only ?? ""}"`);
if (args.includes("--board") && !boards.some((b) => b.name === boardArg)) usage(`no board "${boardArg ?? ""}" in boards/ (there are: ${boards.map((b) => b.name).join(", ")})`);
const wanted = (kind, name) => (!only || only === kind) && (!boardArg || boardArg === name);

function usage(message) {
	console.error(`check:moddable: ${message}`);
	process.exit(2);
}
const MODDABLE = process.env.MODDABLE;

if (!MODDABLE) {
	console.log("check:moddable: skipped (MODDABLE is not set; point it at a Moddable SDK with built tools to run the real mcconfig builds)");
	process.exit(0);
}
const tools = join(MODDABLE, "build", "bin", "lin", "release");
if (!existsSync(join(MODDABLE, "tools", "mcconfig.js"))) stop(`MODDABLE=${MODDABLE} is not a Moddable SDK (no tools/mcconfig.js)`);
if (!existsSync(join(tools, "mcconfig"))) stop(`${join(tools, "mcconfig")} is missing: build the SDK's tools first (cd $MODDABLE/build/makefiles/lin && make)`);
if (!existsSync(join(root, "node_modules", ".bin", "tsc")) || !existsSync(join(root, "build", "js", "host", "cli", "main.js"))) stop("run `npm run setup` first (the project's tsc and CLI)");

const sdkVersion = readFileSync(join(MODDABLE, "tools", "VERSION"), "utf8").trim();
const env = { ...process.env, PATH: [tools, join(root, "node_modules", ".bin"), process.env.PATH].join(delimiter) };
const scratch = mkdtempSync(join(tmpdir(), "sealdrop-moddable-"));
const results = [];
const recorded = {};
/** Sizes and memory from the real toolchain (printed; --figures FILE writes them as JSON for bench:size). */
const figures = { sdk: "", builds: {} };
console.log(`check:moddable: Moddable SDK ${sdkVersion} at ${MODDABLE}; scratch ${scratch}`);

function stop(message) {
	console.error(`check:moddable: ${message}`);
	process.exit(2);
}

/** Runs a command, its output into a log file; returns { status, log, tail }. */
function run(name, command, commandArgs, options = {}) {
	const log = join(scratch, `${name}.log`);
	const started = process.hrtime.bigint();
	const result = spawnSync(command, commandArgs, { cwd: options.cwd ?? root, env: { ...env, ...options.env }, encoding: "utf8", maxBuffer: 256 << 20, timeout: options.timeout ?? 30 * 60_000 });
	const text = `$ ${[command, ...commandArgs].join(" ")}\n${result.stdout ?? ""}${result.stderr ?? ""}`;
	writeFileSync(log, text);
	const lines = text.split("\n").filter((l) => l.trim() && !/^# (xsc|tsc|cc|xsid|xsl|mcrez)\b|warning:|^\s*cannot optimize native/.test(l));
	const seconds = Number(process.hrtime.bigint() - started) / 1e9;
	return { status: result.status ?? 1, log, tail: lines.slice(-3).join(" | "), seconds, text };
}

function report(step, ok, detail) {
	results.push({ step, ok });
	console.log(`${ok ? "ok  " : "FAIL"} ${step}: ${detail}`);
}

function sealdrop(...cliArgs) {
	const result = spawnSync(process.execPath, [cli, ...cliArgs], { cwd: scratch, encoding: "utf8", timeout: 180_000 });
	if (result.status !== 0) throw new Error(`sealdrop ${cliArgs.join(" ")}: exit ${result.status}: ${(result.stderr || result.stdout).trim().split("\n").pop()}`);
	return result.stdout;
}

/** The JavaScript module names mcconfig put in a build, from its modules folder or build files, split by origin. */
function recordBuild(key, names) {
	recorded[key] = { sdk: [...new Set(names.sdk)].sort(), ours: [...new Set(names.ours)].sort() };
}

/** Bytes of XS bytecode xsc wrote for our modules and for the SDK's, in a build's modules folder. */
function bytecodeSizes(key, modulesDir) {
	const sizes = { ours: 0, oursModules: 0, sdk: 0, sdkModules: 0 };
	const walk = (dir, prefix) => {
		for (const name of readdirSync(dir)) {
			const full = join(dir, name);
			if (statSync(full).isDirectory()) walk(full, `${prefix}${name}/`);
			else if (name.endsWith(".xsb")) {
				const ours = /^(sealdrop\/|@noble\/|main$)/.test(prefix + name.slice(0, -4));
				sizes[ours ? "ours" : "sdk"] += statSync(full).size;
				sizes[ours ? "oursModules" : "sdkModules"]++;
			}
		}
	};
	walk(modulesDir, "");
	(figures.builds[key] ??= {}).xsb = sizes;
	return sizes;
}

/** Resident memory of a process (Linux /proc): now and its peak, in KiB. */
function processMemory(pid) {
	try {
		const status = readFileSync(`/proc/${pid}/status`, "utf8");
		const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
		return { rssKiB: kib("VmRSS"), peakKiB: kib("VmHWM") };
	} catch {
		return undefined;
	}
}

// ---- 1. lin: build, run, update ---------------------------------------------------------------

async function lin() {
	const out = join(scratch, "lin");
	mkdirSync(out);
	sealdrop("keygen", "-k", "sign.pem", "-t", "ecdsa-p256");
	sealdrop("getpub", "-k", "sign.pem", "-e", "raw", "-o", "sign.pub.raw");
	const product = join(scratch, "product.json");
	writeFileSync(product, JSON.stringify({
		include: [join(root, "boards", "lin", "manifest.json")],
		config: { sealdrop: { trust: [readFileSync(join(scratch, "sign.pub.raw")).toString("hex")] } },
	}, null, "\t"));
	const build = run("mcconfig-lin", join(tools, "mcconfig"), ["-m", "-p", "lin", "-o", out, product]);
	const so = findFile(out, "mc.so");
	const built = build.status === 0 && !!so;
	report("mcconfig -m -p lin boards/lin (product manifest with a trusted key)", built, built ? `mc.so ${statSync(so).size} bytes in ${build.seconds.toFixed(0)} s` : `exit ${build.status}: ${build.tail} (log ${build.log})`);
	if (!built) return;
	const modulesDir = findDir(out, "modules");
	if (modulesDir) recordBuild("lin boards/lin", splitNames(listXsb(modulesDir)));
	const linked = /### (\d+) instances, (\d+) keys/.exec(build.text);
	const lin = (figures.builds["lin boards/lin"] ??= {});
	lin.xsl = linked ? { instances: Number(linked[1]), keys: Number(linked[2]) } : undefined;
	lin.mcSoBytes = statSync(so).size;
	const xsObject = findFile(out, "mc.xs.c.o");
	if (xsObject) lin.preloadObjectBytes = statSync(xsObject).size;
	if (modulesDir) {
		const sizes = bytecodeSizes("lin boards/lin", modulesDir);
		console.log(`     figures: xsb ours ${sizes.ours} B in ${sizes.oursModules} modules, SDK ${sizes.sdk} B in ${sizes.sdkModules}; xsl ${linked?.[1]} instances, ${linked?.[2]} keys; mc.xs.c.o (preloaded heap, 64-bit) ${lin.preloadObjectBytes} B`);
	}
	await runLin(so);
}

function listXsb(dir, prefix = "") {
	const names = [];
	for (const name of readdirSync(dir)) {
		const full = join(dir, name);
		if (statSync(full).isDirectory()) names.push(...listXsb(full, `${prefix}${name}/`));
		else if (name.endsWith(".xsb")) names.push(prefix + name.slice(0, -4));
	}
	return names.map((n) => n.startsWith("~.") ? n.slice(2).replace("/", ":") : n);
}

/** Splits module names into ours (sealdrop/*, the @noble modules our manifest names, the app's main) and the SDK's. */
function splitNames(names) {
	const ours = new Set();
	for (const name of names) if (name.startsWith("sealdrop/") || name.startsWith("@noble/") || name === "main") ours.add(name);
	return { sdk: names.filter((n) => !ours.has(n)), ours: [...ours] };
}

/**
 * Two ptys joined by socat (Debian's socat): the app opens one end as its console UART, `sealdrop smp
 * --serial` the other. socat -d -d names each pty it makes on stderr ("PTY is /dev/pts/N").
 */
function ptyPair() {
	if (spawnSync("sh", ["-c", "command -v socat"]).status !== 0) return Promise.reject(new Error("the pty pair needs socat (apt-get install socat)"));
	const socat = spawn("socat", ["-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"], { stdio: ["ignore", "ignore", "pipe"] });
	return new Promise((resolve, reject) => {
		let text = "";
		socat.stderr.on("data", (d) => {
			text += d;
			const ptys = [...text.matchAll(/PTY is (\S+)/g)].map((m) => m[1]);
			if (ptys.length === 2 && /starting data transfer loop/.test(text)) resolve({ device: ptys[0], host: ptys[1], close: () => socat.kill() });
		});
		socat.on("exit", (status) => reject(new Error(`socat stopped (exit ${status}): ${text.trim().split("\n").pop()}`)));
	});
}

/** A display and a pty pair for mcsim: the display is not left running when the pair cannot start (no socat). */
async function displayAndPty() {
	const screen = await display();
	try {
		return { screen, pty: await ptyPair() };
	} catch (e) {
		screen.close();
		throw e;
	}
}

async function display() {
	if (process.env.DISPLAY) return { DISPLAY: process.env.DISPLAY, close() {} };
	if (spawnSync("sh", ["-c", "command -v Xvfb"]).status !== 0) throw new Error("mcsim needs a display: set DISPLAY or install Xvfb (apt-get install xvfb)");
	const number = 90 + (process.pid % 9);
	const xvfb = spawn("Xvfb", [`:${number}`, "-screen", "0", "640x480x24"], { stdio: "ignore" });
	await sleep(1000);
	return { DISPLAY: `:${number}`, close: () => xvfb.kill() };
}

async function runLin(so) {
	try {
		await runLinSteps(so);
	} catch (e) {
		report("run", false, e.message);
	}
}

/** `sealdrop smp SUBCOMMAND --serial <the pty's host end> ...`, with a generous answer timeout: the check proves function, and shared machines are slow at times. */
function smpOver(pty) {
	return (subcommand, ...rest) => sealdrop("smp", subcommand, "--serial", pty.host, "--timeout", "15000", ...rest);
}

/** A factory's flash for boards/sim/layout.json: erased, factory.bin (1.0.0) in the primary slot, nothing else. */
function writeFactoryFlash(file) {
	const layout = JSON.parse(readFileSync(join(root, "boards", "sim", "layout.json"), "utf8"));
	const flash = Buffer.alloc(layout.flash.size, layout.flash.eraseValue);
	readFileSync(join(scratch, "factory.bin")).copy(flash, layout.partitions.find((p) => p.name === "primary").offset);
	writeFileSync(file, flash);
}

async function runLinSteps(so) {
	const device = join(scratch, "device");
	writeFileSync(join(scratch, "app-1.0.bin"), Buffer.alloc(96 * 1024, 0x5a));
	writeFileSync(join(scratch, "app-1.1.bin"), Buffer.alloc(128 * 1024, 0xa5));
	sealdrop("sign", "-k", "sign.pem", "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", "app-1.0.bin", "factory.bin");
	// The simulator's folder (device.json, layout.json) so `sealdrop sim reboot` can run MCUboot's model on
	// the same flash; then a factory's flash: erased, 1.0.0 in the primary slot, no device key yet, which
	// the Moddable app makes at its first boot (its PSA key store in state/, its records in flash).
	sealdrop("sim", "init", "--dir", device, "--board", "sim", "--trust", "sign.pem");
	writeFactoryFlash(join(device, "flash.bin"));
	const state = join(device, "state");
	for (const f of readdirSync(state)) rmSync(join(state, f), { recursive: true });
	const { screen, pty } = await displayAndPty();
	const appEnv = { ...env, DISPLAY: screen.DISPLAY, SEALDROP_LAYOUT: join(device, "layout.json"), SEALDROP_FLASH: join(device, "flash.bin"), SEALDROP_CONSOLE: pty.device };
	let app;
	const boot = async () => {
		app = spawn(join(tools, "mcsim"), [so], { cwd: state, env: appEnv, stdio: "ignore" });
		await sleep(2000);
	};
	const smp = smpOver(pty);
	try {
		await boot();
		const echo = smp("echo", "hello from check:moddable").trim();
		const booted = processMemory(app.pid);
		report("run: mcsim boots the app; SMP echo on its console", echo === "hello from check:moddable", JSON.stringify(echo));
		smp("pubkey", "-e", "pem", "-o", join(scratch, "device.pub.pem"));
		const keyFiles = readdirSync(state);
		report("run: the app provisioned its own device key (PSA store beside it)", keyFiles.length > 0, `${keyFiles.join(", ")}; public key read over SMP`);
		sealdrop("sign", "-k", "sign.pem", "-v", "1.1.0", "-H", "0x200", "--pad-header", "-S", "0x60000", "app-1.1.bin", "firmware.bin");
		sealdrop("wrap", "-k", "sign.pem", "-S", "0x61000", "firmware.bin", "release.bin");
		sealdrop("seal", "--device-pub", "device.pub.pem", "-o", "sealed.bin", "release.bin");
		const started = process.hrtime.bigint();
		smp("upload", "sealed.bin");
		const uploadSeconds = Number(process.hrtime.bigint() - started) / 1e9;
		const before = JSON.parse(smp("state", "-f", "json"));
		const secondary = before.images.find((i) => i.slot === 1);
		report("run: smp upload of a sealed 1.1.0; the agent decrypts, verifies and installs it", secondary?.version?.startsWith("1.1.0"), `${(statSync(join(scratch, "sealed.bin")).size / 1024).toFixed(0)} KiB in ${uploadSeconds.toFixed(1)} s; slot 1 holds ${secondary?.version}`);
		const uploaded = processMemory(app.pid);
		figures.builds["lin boards/lin"].memory = { boot: booted, afterUpload: uploaded };
		console.log(`     figures: mcsim resident ${booted?.rssKiB} KiB after boot, ${uploaded?.rssKiB} KiB after the upload (peak ${uploaded?.peakKiB} KiB; the process, GTK included, not the XS heap)`);
		smp("test", secondary.hash);
		const marked = JSON.parse(smp("state", "-f", "json")).images.find((i) => i.slot === 1);
		report("run: smp test marks it pending", marked?.pending === true, `slot 1 ${marked?.version} pending=${marked?.pending}`);
		smp("reset");
		const exited = await new Promise((resolve) => { const t = setTimeout(() => resolve(false), 10_000); app.once("exit", () => { clearTimeout(t); resolve(true); }); });
		sealdrop("sim", "reboot", "--dir", device);
		await boot();
		const after = JSON.parse(smp("state", "-f", "json"));
		const primary = after.images.find((i) => i.slot === 0);
		report("run: reset, MCUboot's model swaps, the app boots 1.1.0", exited && primary?.version?.startsWith("1.1.0"), `app exited on reset: ${exited}; slot 0 ${primary?.version} active=${primary?.active} confirmed=${primary?.confirmed}`);
		if (!primary?.confirmed) smp("confirm");
		const confirmed = JSON.parse(smp("state", "-f", "json")).images.find((i) => i.slot === 0);
		report("run: 1.1.0 confirmed", confirmed?.version?.startsWith("1.1.0") && confirmed.confirmed === true, `slot 0 ${confirmed?.version} confirmed=${confirmed?.confirmed}`);
	} catch (e) {
		report("run", false, e.message);
	} finally {
		app?.kill();
		pty.close();
		screen.close();
	}
}

// ---- 1b. lin, memory (--memory): the XS machine's own instruments through the SDK's xsbug-log -----

/**
 * A debug build (mcconfig -d; its makefile's `build` goal, so no simulator is started or killed)
 * run under the SDK's xsbug-log with scripts/xsbug-instruments.cjs as its log machine: XS sends its
 * instruments once a second. Figures after boot (the first sample once the app says it is ready)
 * and the peak during a sealed upload, against the manifest's creation.
 */
async function linMemory() {
	const xsbugLog = join(MODDABLE, "tools", "xsbug-log");
	if (!existsSync(join(xsbugLog, "node_modules"))) return report("memory: the app's XS heap at boot and in an upload", false, `xsbug-log has no node_modules: cd ${xsbugLog} && npm install`);
	const out = join(scratch, "lin-debug");
	mkdirSync(out);
	const generate = run("mcconfig-lin-debug", join(tools, "mcconfig"), ["-d", "-p", "lin", "-o", out, join(scratch, "product.json")]);
	const makefile = generate.status === 0 ? findFile(out, "makefile") : undefined;
	const build = makefile ? run("make-lin-debug", "make", ["-f", makefile, "build"], { cwd: dirname(makefile) }) : generate;
	const so = makefile && build.status === 0 ? findFile(out, "mc.so") : undefined;
	if (!so) return report("memory: debug build (mcconfig -d -p lin)", false, `exit ${build.status}: ${build.tail}`);
	const device = join(scratch, "device-memory");
	mkdirSync(join(device, "state"), { recursive: true });
	writeFactoryFlash(join(device, "flash.bin"));
	const { screen, pty } = await displayAndPty();
	const lines = [];
	const logger = spawn(process.execPath, [join(xsbugLog, "xsbug-log.js"), join(tools, "mcsim"), so], {
		cwd: join(device, "state"),
		env: { ...env, DISPLAY: screen.DISPLAY, XSBUG_LOGMACHINE: join(root, "scripts", "xsbug-instruments.cjs"), SEALDROP_LAYOUT: join(root, "boards", "sim", "layout.json"), SEALDROP_FLASH: join(device, "flash.bin"), SEALDROP_CONSOLE: pty.device },
		stdio: ["pipe", "pipe", "ignore"], // xsbug-log draws an interactive prompt on stderr
	});
	let buffer = "";
	logger.stdout.on("data", (d) => {
		buffer += d;
		for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
			lines.push(buffer.slice(0, nl));
			buffer = buffer.slice(nl + 1);
		}
	});
	const samples = () => lines.filter((l) => l.includes("#instruments ")).map((l) => JSON.parse(l.slice(l.indexOf("#instruments ") + 13)));
	const smp = smpOver(pty);
	try {
		for (let i = 0; i < 60 && !lines.some((l) => /sealdrop: (device key (made|locked)|no device key)/.test(l)); i++) await sleep(500);
		await sleep(1500); // a sample after the app settled
		const boot = samples().at(-1);
		smp("pubkey", "-e", "pem", "-o", join(scratch, "device-memory.pub.pem"));
		sealdrop("seal", "--device-pub", "device-memory.pub.pem", "-o", "sealed-memory.bin", "release.bin");
		const before = samples().length;
		smp("upload", "sealed-memory.bin");
		await sleep(1500);
		const during = samples().slice(before);
		const number = (text) => Number(/\d+/.exec(text ?? "")?.[0]);
		const peak = (name) => Math.max(...during.map((s) => number(s[name])));
		const creation = JSON.parse(readFileSync(join(root, "manifest.json"), "utf8")).creation;
		const memory = {
			slotBytes: 32, // 64-bit Linux; a 32-bit board's slots are 16 bytes, counts are the same
			boot: { chunkBytes: number(boot?.["Chunk used"]), slots: number(boot?.["Slot used"]) / 32, stackSlots: number(boot?.["Stack used"]) / 32, keys: number(boot?.["Keys used"]) },
			upload: { samples: during.length, chunkBytes: peak("Chunk used"), slots: peak("Slot used") / 32, stackSlots: peak("Stack used") / 32, keys: peak("Keys used") },
			creation: { chunkInitial: creation.chunk.initial, heapInitialSlots: creation.heap.initial, heapIncrementalSlots: creation.heap.incremental, stackSlots: creation.stack, keysInitial: creation.keys.initial },
		};
		(figures.builds["lin boards/lin"] ??= {}).xsMemory = memory;
		report("memory: the app's XS heap at boot and in an upload (debug build, xsbug-log instruments)", !!boot && during.length > 0,
			`boot: ${memory.boot.chunkBytes} B of chunks, ${memory.boot.slots} slots, stack ${memory.boot.stackSlots} slots; upload peak: ${memory.upload.chunkBytes} B, ${memory.upload.slots} slots, stack ${memory.upload.stackSlots} slots; creation: ${creation.chunk.initial} B chunks, ${creation.heap.initial} slots (+${creation.heap.incremental}), stack ${creation.stack}`);
	} catch (e) {
		report("memory", false, e.message);
	} finally {
		logger.kill();
		pty.close();
		screen.close();
	}
}

// ---- 2. esp32 ------------------------------------------------------------------------------------

const GOALS = `# Goals over mcconfig's generated makefile: its own TypeScript, xsc and xsl steps, nothing of ESP-IDF.
sealdrop-xsl: $(MODULES)
\t@mkdir -p $(TMP_DIR)/sealdrop-xsl
\txsl -b $(MODULES_DIR) -o $(TMP_DIR)/sealdrop-xsl $(PRELOADS) $(STRIPS) $(CREATION) $(MODULES)
`;

function esp32(board, platform) {
	const out = join(scratch, board);
	mkdirSync(out);
	const manifest = join(root, "boards", board, "manifest.json");
	const generate = run(`mcconfig-${board}`, join(tools, "mcconfig"), ["-p", platform, "-o", out, manifest]);
	const makefile = findFile(out, "makefile");
	report(`mcconfig -p ${platform} boards/${board}: manifests resolve, build files written`, generate.status === 0 && !!makefile, generate.status === 0 ? relative(scratch, makefile ?? "?") : `exit ${generate.status}: ${generate.tail}`);
	if (!makefile) return;
	const goals = join(dirname(makefile), "sealdrop-goals.mk");
	writeFileSync(goals, GOALS);
	// the makefile reads ESP-IDF's version when it is parsed; these goals need none of ESP-IDF
	const idf = process.env.IDF_PATH ? [] : ["IDF_PATH=/nonexistent", "IDF_VERSION=none"];
	const js = run(`make-${board}-js`, "make", ["-f", makefile, "-f", goals, ...idf, "sealdrop-xsl"], { cwd: dirname(makefile) });
	const linked = /### (\d+) instances, (\d+) keys/.exec(js.text);
	(figures.builds[`${platform} boards/${board}`] ??= {}).xsl = linked ? { instances: Number(linked[1]), keys: Number(linked[2]) } : undefined;
	const xsc = findFile(dirname(makefile), "mc.xs.c");
	if (xsc) figures.builds[`${platform} boards/${board}`].mcXsCBytes = statSync(xsc).size;
	report(`  ${platform}: mcconfig's tsc, xsc and xsl steps (its makefile's rules)`, js.status === 0 && !!linked, js.status === 0 ? `xsl linked: ${linked?.[1]} instances, ${linked?.[2]} keys` : `exit ${js.status}: ${js.tail} (log ${js.log})`);
	const modulesDir = findDir(out, "modules");
	if (modulesDir) {
		recordBuild(`${platform} boards/${board}`, splitNames(listXsb(modulesDir)));
		const sizes = bytecodeSizes(`${platform} boards/${board}`, modulesDir);
		console.log(`     figures: xsb ours ${sizes.ours} B in ${sizes.oursModules} modules, SDK ${sizes.sdk} B in ${sizes.sdkModules}; xsl ${linked?.[1]} instances, ${linked?.[2]} keys`);
	}
	const whole = run(`make-${board}`, "make", ["-f", makefile], { cwd: dirname(makefile), env: process.env.IDF_PATH ? {} : { IDF_PATH: "" } });
	const idfStop = /IDF_PATH not set|ESP-IDF|idf\.py/.test(whole.tail);
	report(`  ${platform}: the whole build`, whole.status === 0 || (!process.env.IDF_PATH && idfStop), whole.status === 0 ? "built" : `stops where ESP-IDF is needed: ${whole.tail}`);
}

function findFile(dir, name) {
	for (const entry of readdirSync(dir)) {
		const full = join(dir, entry);
		if (entry === name && statSync(full).isFile()) return full;
		if (statSync(full).isDirectory() && entry !== "modules") {
			const found = findFile(full, name);
			if (found) return found;
		}
	}
	return undefined;
}

function findDir(dir, name) {
	for (const entry of readdirSync(dir)) {
		const full = join(dir, entry);
		if (!statSync(full).isDirectory()) continue;
		if (entry === name) return full;
		const found = findDir(full, name);
		if (found) return found;
	}
	return undefined;
}

// ---- 3. zephyr -----------------------------------------------------------------------------------

function zephyr(board) {
	const out = join(scratch, board);
	mkdirSync(out);
	const zephyrEnv = process.env.ZEPHYR_BASE ? {} : { ZEPHYR_BASE: join(scratch, "no-zephyr") };
	const generate = run(`mcconfig-${board}`, join(tools, "mcconfig"), ["-p", `zephyr:./boards/${board}`, "-o", out, join(root, "modules", "app", "manifest.json")], { env: zephyrEnv });
	const cmake = findFile(out, "CMakeLists.txt");
	report(`mcconfig -p zephyr:./boards/${board}: manifests resolve, Zephyr project written`, generate.status === 0 && !!cmake, generate.status === 0 ? relative(scratch, cmake ?? "?") : `exit ${generate.status}: ${generate.tail}`);
	if (!cmake) return;
	const text = readFileSync(cmake, "utf8");
	const modulesDir = join(dirname(cmake), "modules");
	// what mcconfig's CMake rules run for each of our TypeScript modules: tsc -p <per-file tsconfig>, then xsc
	const rules = [...text.matchAll(/list\(APPEND TYPESCRIPT_SOURCE_FILES\s+(\S+)\s+\)\s+list\(APPEND TYPESCRIPT_CONVERTED_FILES\s+(\S+)\s+\)\s+list\(APPEND TYPESCRIPT_TSCONFIG_FILES\s+"(\S+)"\s+\)[\s\S]*?COMMAND xsc \$\{the_source\}\s+(.*?) -o \$\{the_output\} -r (\S+)/g)]
		.filter((m) => m[1].startsWith(root));
	const vars = { "${MODULES_DIR}": modulesDir, "${TMP_DIR}": dirname(cmake) };
	const expand = (s) => s.replace(/\$\{(MODULES_DIR|TMP_DIR)\}/g, (v) => vars[v]);
	// tsc resolves embedded:provider/builtin (the SDK's typings/global.d.ts imports it too) to
	// mc.devicetree.d.ts, which the Zephyr build generates from the board's devicetree; without
	// Zephyr, the SDK's generic provider typing stands in for it (said in the report)
	const devicetree = join(dirname(cmake), "mc.devicetree.d.ts");
	const standIn = !existsSync(devicetree);
	if (standIn) writeFileSync(devicetree, readFileSync(join(MODDABLE, "typings", "embedded_provider", "builtin.d.ts"), "utf8"));
	const failed = [];
	let compiled = 0;
	for (const [, source, converted, tsconfig, xscFlags, moduleName] of rules) {
		const tsc = run(`tsc-${board}-${relative(root, source).replaceAll("/", "_")}`, "tsc", ["-p", expand(tsconfig)], { cwd: modulesDir });
		if (tsc.status !== 0) { failed.push(`${relative(root, source)}: ${tsc.tail}`); continue; }
		const js = expand(converted);
		const xsbDir = join(scratch, board, "xsb");
		mkdirSync(xsbDir, { recursive: true });
		const xsb = run(`xsc-${board}-${relative(root, source).replaceAll("/", "_")}`, "xsc", [js, ...xscFlags.trim().split(/\s+/), "-o", xsbDir, "-r", moduleName], { cwd: modulesDir });
		if (xsb.status !== 0) failed.push(`${relative(root, source)} (xsc): ${xsb.tail}`);
		else compiled++;
	}
	report(`  zephyr/${board}: mcconfig's tsc and xsc on our ${rules.length} TypeScript modules`, rules.length > 0 && failed.length === 0,
		`${compiled} compiled${standIn ? " (the SDK's generic embedded:provider/builtin typing standing in for the board's generated mc.devicetree.d.ts)" : ""}${failed.length ? `; ${failed.join("; ")}` : ""}`);
	const names = [...text.matchAll(/list\(APPEND mMODULES \$\{MODULES_DIR\}\/(\S+)\.xsb\)/g)].map((m) => m[1]).map((n) => n.startsWith("~.") ? n.slice(2).replace("/", ":") : n);
	recordBuild(`zephyr/${board} modules/app`, splitNames(names));
	report(`  zephyr/${board}: the rest (Zephyr's devicetree, the C, the link)`, true, process.env.ZEPHYR_BASE ? "run `west build` in the generated project" : "stops at `west build`: needs a Zephyr workspace (ZEPHYR_BASE)");
}

// ---- run ----------------------------------------------------------------------------------------

try {
	if (wanted("lin", "lin")) {
		await lin();
		if (args.includes("--memory")) await linMemory();
	}
	for (const board of boards) {
		if (board.kind === "esp32" && wanted("esp32", board.name)) {
			const subclass = JSON.parse(readFileSync(join(root, "boards", board.name, "manifest.json"), "utf8")).build.ESP32_SUBCLASS;
			esp32(board.name, subclass === "esp32" ? "esp32" : `esp32/${subclass}`);
		}
		if (board.kind === "zephyr" && wanted("zephyr", board.name)) zephyr(board.name);
	}
} finally {
	if (args.includes("--record")) {
		const file = join(root, "test", "vectors", "moddable-sdk", "builds.json");
		mkdirSync(dirname(file), { recursive: true });
		writeFileSync(file, JSON.stringify({ sdk: `Moddable SDK ${sdkVersion}`, recordedBy: "npm run check:moddable -- --record", builds: recorded }, null, "\t") + "\n");
		console.log(`recorded ${Object.keys(recorded).length} builds' module names in ${relative(root, file)}`);
	}
	if (args.includes("--figures")) {
		figures.sdk = `Moddable SDK ${sdkVersion}`;
		writeFileSync(args[args.indexOf("--figures") + 1], JSON.stringify(figures, null, "\t") + "\n");
	}
	if (!args.includes("--keep")) rmSync(scratch, { recursive: true, force: true });
}
const failures = results.filter((r) => !r.ok).length;
console.log(`check:moddable: ${results.length - failures} of ${results.length} steps as expected${failures ? `; ${failures} failed` : ""}`);
process.exit(failures ? 1 : 0);
