/**
 * Install benchmark (`npm run bench:install`): a sealed image with a 1 MiB payload installed in
 * 4 KiB chunks by UpdateAgent on the Linux XS host (release build; mcuboot-encrypted installer:
 * stored as received, decrypted and hashed on the fly, read back and hashed again, then marked
 * pending), on a board of its own (4 MiB flash, 1.5 MiB slots, 4 KiB blocks). Prints JSON.
 *
 * - MB/s of whole installs (begin() to finish(), image bytes) against bench/c/install-loop.c,
 *   a C loop making the same PSA Crypto and flash calls with the same chunk size on a flash file
 *   costed as the host's (see its header for what it does and does not do); ratio = XS / C by
 *   each process's CPU time (user + system: the machine is shared), by wall beside it, and by
 *   instructions per install when valgrind is installed (cachegrind's I refs of K = 3 installs
 *   less those of K = 1, halved: start-up and the first install's costs cancel).
 * - XS heap, in bytes over the live heap after the first chunk (goal: flat from there): the
 *   live heap (collected) before begin(), after chunks and after finish(), its growth per body
 *   chunk, the peak with collection left to XS (the host's heap grows on demand), and the bytes
 *   allocated per body chunk with collection suspended (garbage included), at 1, 4 and 64 KiB
 *   chunks.
 * - Flash erases and writes of a first install on erased flash and of a second one over it,
 *   per partition, against the minimum: each erase block the image covers erased once and
 *   written once, the trailer blocks a previous install programmed erased, and bootutil's two
 *   pending writes (magic, swap_info); and against the minimum with the resume journal the
 *   design requires (a fresh journal block, the session record, one checkpoint per complete
 *   block, the DONE record, and what moving to a fresh journal block copies).
 * - On a device (deviceEstimate): the repeat install's flash work costed with the ESP32's and
 *   STM32F4's flash timings, the image's time over UART and BLE links, and the agent's CPU
 *   scaled from its instruction count; each assumption is a named field beside its figure.
 * JSON on stdout; a summary of the headline figures on stderr.
 */
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { alignUp, findEncTlv, findHashTlv, parseImage, parseVersion, TlvType, trailerLayout } from "sealdrop/image";
import { buildImage } from "../host/cli/build.js";
import { generateKey, publicKeyBytes, rawPublicKey, type Key } from "../host/cli/keys.js";
import { openRelease, SealRun } from "../host/cli/seal.js";

const MIN_MS = Number(process.env.BENCH_MIN_MS ?? 1000);
const CHUNK = 4096;
const ALLOCATION_CHUNKS = [1024, 4096, 65536];
const PAYLOAD = 1024 * 1024;
const BLOCK = 4096;
const WRITE_ALIGN = 8;
const MAX_ALIGN = 8;
const SLOT = 1536 * 1024;
const root = fileURLToPath(new URL("../../..", import.meta.url));

/** A board for a 1 MiB image: boards/sim/layout.json's shape, larger. */
function boardLayout() {
	const partitions: { name: string; offset: number; size: number }[] = [];
	let offset = 0;
	for (const [name, size] of [["bootloader", 64 * 1024], ["primary", SLOT], ["secondary", SLOT], ["scratch", 128 * 1024], ["journal", 64 * 1024], ["storage", 64 * 1024]] as const) {
		partitions.push({ name, offset, size });
		offset += size;
	}
	return {
		name: "bench-install",
		description: "bench/install.ts: 4 MiB of NOR flash, 1.5 MiB slots, swap-using-scratch, sealed images stored encrypted",
		sealdrop: {
			installer: "mcuboot-encrypted", swap: "scratch", maxAlign: MAX_ALIGN, images: [{ primary: "primary", secondary: "secondary" }],
			scratch: "scratch", journal: "journal", storage: "storage", deviceKeySlot: 0,
		},
		flash: { size: 4 * 1024 * 1024, blockLength: BLOCK, writeAlign: WRITE_ALIGN, eraseValue: 255 },
		partitions,
	};
}

function privateScalar(key: Key): string {
	return Buffer.from(key.privateKey!.export({ format: "jwk" }).d!, "base64url").toString("hex");
}

/** An ECDSA signature TLV (DER SEQUENCE of two INTEGERs) as PSA takes it: r‖s, 32 bytes each. */
function ecdsaRaw(der: Uint8Array): Buffer {
	const out = Buffer.alloc(64);
	let at = 2;
	for (let i = 0; i < 2; i++) {
		const length = der[at + 1];
		let value = der.subarray(at + 2, at + 2 + length);
		while (value.length > 32 && value[0] === 0) value = value.subarray(1);
		out.set(value, 32 * i + 32 - value.length);
		at += 2 + length;
	}
	return out;
}

/** The C loop, compiled into build/bench/ when missing or older than its sources. */
function cLoopBinary(): string {
	const source = path.join(root, "bench", "c", "install-loop.c");
	// the device key's unwrap, the device's own C (plain C over PSA), linked into the loop
	const native = path.join(root, "native");
	const inputs = [source, path.join(native, "device-key-unwrap.c"), path.join(native, "device-key-unwrap.h")];
	const binary = path.join(root, "build", "bench", "install-loop");
	if (fs.existsSync(binary) && inputs.every((f) => fs.statSync(binary).mtimeMs >= fs.statSync(f).mtimeMs)) return binary;
	fs.mkdirSync(path.dirname(binary), { recursive: true });
	const cc = process.env.CC ?? "cc";
	const build = spawnSync(cc, ["-O2", "-Wall", "-Wextra", `-I${native}`, "-o", binary, source, inputs[1], "-lmbedcrypto"], { encoding: "utf8" });
	if (build.error || build.status !== 0) {
		// the compiler's own words say what is missing; the usual cause is named, not guessed from them
		process.stderr.write(build.stderr ?? "");
		throw new Error(`${cc} could not build bench/c/install-loop.c${build.error ? `: ${build.error.message}` : ""} (it needs mbedTLS's PSA Crypto headers: sudo apt-get install libmbedtls-dev)`);
	}
	return binary;
}

/** Runs one half of the benchmark; its last line of output is its JSON. */
function run(what: string, command: string, args: string[], env: Record<string, string> = {}): string {
	const result = spawnSync(command, args, {
		encoding: "utf8", env: { ...process.env, SEALDROP_ENTROPY: "", SEALDROP_FLASH_FAIL_AT: "", SEALDROP_FLASH_CUT: "", ...env },
	});
	if (result.status !== 0) {
		process.stderr.write(result.stderr ?? "");
		throw new Error(`${what} exited with ${result.status}${result.error ? `: ${result.error.message}` : ""}`);
	}
	return result.stdout.trim().split("\n").pop()!;
}

/**
 * Instructions `command` executes (user space), from valgrind's cachegrind without its cache
 * simulation; undefined when valgrind is not installed.
 */
function instructions(what: string, command: string, args: string[], env: Record<string, string> = {}): number | undefined {
	const result = spawnSync("valgrind", ["--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", command, ...args], {
		encoding: "utf8", env: { ...process.env, SEALDROP_ENTROPY: "", SEALDROP_FLASH_FAIL_AT: "", SEALDROP_FLASH_CUT: "", ...env },
	});
	if ((result.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") return undefined;
	const refs = /I\s+refs:\s+([\d,]+)/.exec(result.stderr ?? "");
	if (result.status !== 0 || !refs) {
		process.stderr.write(result.stderr ?? "");
		throw new Error(`${what} under valgrind exited with ${result.status}`);
	}
	return Number(refs[1].replaceAll(",", ""));
}

/** Instructions per install: K = 3 installs less K = 1, halved (start-up and the first install cancel). */
function perInstall(count: (installs: number) => number | undefined): number | undefined {
	const one = count(1);
	const three = one === undefined ? undefined : count(3);
	return one === undefined || three === undefined ? undefined : Math.round((three - one) / 2);
}

interface Counts { erases: number; erasedBlocks: number; writes: number; writtenBytes: number; blocksErased: number[] }
interface XsSpeed {
	installsPerSecond: number;
	installsPerCpuSecond: number;
	trailerFirstBlock: number;
	chunks: number;
	heap: Record<string, unknown>;
	allocatedPerBodyChunk: { chunkBytes: number; bodyChunks: number; bytes: number; median: number; max: number; chunksAllocating: number }[];
}
interface XsCount { trailerFirstBlock: number; first: Record<string, Counts>; repeat: Record<string, Counts> }
interface CLoop {
	installsPerSecond: number;
	installsPerCpuSecond: number;
	imageBytes: number;
	flash: { first: { erases: number; writes: number }; repeat: { erases: number; writes: number } };
}

// The image: a sealable release signed once, sealed for this device's key.
const signer = generateKey("ecdsa-p256");
const device = generateKey("ecdsa-p256");
const built = buildImage(crypto.randomBytes(PAYLOAD), {
	key: signer, version: parseVersion("1.0.0"), headerSize: 0x200, padHeader: true, slotSize: SLOT, sealable: true,
});
if (!("image" in built)) throw new Error("unreachable");
const sealing = new SealRun(openRelease(built.image));
const sealed = sealing.sealFor(device);
sealing.close();
const image = parseImage(sealed);
const { hdrSize, imgSize, protectTlvSize } = image.header;
const signature = image.unprotectedTlvs.find((t) => t.type === TlvType.ECDSA_SIG)!.value;
const trailer = trailerLayout({ slotSize: SLOT, maxAlign: MAX_ALIGN });

const layout = boardLayout();
const partition = (name: string) => layout.partitions.find((p) => p.name === name)!;
const work = fs.mkdtempSync(path.join(os.tmpdir(), "sealdrop-bench-install-"));
let xs: XsSpeed, counted: XsCount, c: CLoop;
let xsInstructions: number | undefined, cInstructions: number | undefined;
try {
	const cLoop = cLoopBinary();
	const layoutPath = path.join(work, "layout.json");
	const imagePath = path.join(work, "sealed.bin");
	const inputsPath = path.join(work, "inputs.json");
	fs.writeFileSync(layoutPath, JSON.stringify(layout, null, "\t"));
	fs.writeFileSync(imagePath, sealed);
	fs.writeFileSync(inputsPath, JSON.stringify({
		image: imagePath, layout: layoutPath, deviceKey: privateScalar(device), trust: publicKeyBytes(signer).toString("hex"),
		chunkBytes: CHUNK, allocationChunkBytes: ALLOCATION_CHUNKS, minMilliseconds: MIN_MS,
	}));

	const binary = path.join(root, "build", "xs", "release", "sealdrop-xs");
	const entry = path.join(root, "build", "js", "bench", "xs", "install.js");
	const xsEnv = (name: string) => ({ SEALDROP_LAYOUT: layoutPath, SEALDROP_FLASH: path.join(work, `${name}.flash`) });

	// The counting run: the host's module map, with sealdrop/native/flash counting per partition.
	const countingMap = path.join(work, "counting.map");
	const map = fs.readFileSync(path.join(root, "build", "xs", "modules.map"), "utf8").split("\n").filter((line) => line && !line.startsWith("sealdrop/native/flash\t"));
	map.push(`sealdrop/native/flash\t${path.join(root, "build", "js", "bench", "xs", "counting-flash.js")}`);
	map.push(`sealdrop-bench/native-flash\t${path.join(root, "native", "flash.js")}`);
	fs.writeFileSync(countingMap, map.join("\n") + "\n");
	counted = JSON.parse(run("the counting run on XS", binary, ["--map", countingMap, "--state", path.join(work, "count"), entry, inputsPath, "count"], xsEnv("count")));

	xs = JSON.parse(run("the timed run on XS", binary, ["--state", path.join(work, "speed"), entry, inputsPath, "speed"], xsEnv("speed")));

	const secondary = partition("secondary"), journal = partition("journal");
	const cArgs = (name: string) => [
		`image=${imagePath}`, `flash=${path.join(work, `${name}.flash`)}`, `flashSize=${layout.flash.size}`, `blockLength=${BLOCK}`, `writeAlign=${WRITE_ALIGN}`,
		`slot=${secondary.offset}:${secondary.size}`, `journal=${journal.offset}:${journal.size}`, `trailerFirstBlock=${counted.trailerFirstBlock}`,
		`magicBlockOffset=${trailer.magicBlockOffset}`, `swapInfoOffset=${trailer.swapInfoOffset}`,
		`hdrSize=${hdrSize}`, `imgSize=${imgSize}`, `protectTlvSize=${protectTlvSize}`, `chunk=${CHUNK}`, `minMs=${MIN_MS}`,
		`deviceKey=${privateScalar(device)}`, `encTlv=${Buffer.from(findEncTlv(image)!.value).toString("hex")}`,
		`signer=${rawPublicKey(signer).toString("hex")}`, `signature=${ecdsaRaw(signature).toString("hex")}`,
		`hash=${Buffer.from(findHashTlv(image).tlv.value).toString("hex")}`,
	];
	c = JSON.parse(run("the C loop", cLoop, cArgs("c")));

	// Instructions per install, each side in a fresh state folder and flash file per count.
	xsInstructions = perInstall((k) => instructions("the XS installs", binary, ["--state", path.join(work, `instructions-${k}`), entry, inputsPath, "installs", String(k)], xsEnv(`instructions-${k}`)));
	cInstructions = perInstall((k) => instructions("the C loop", cLoop, [...cArgs(`c-instructions-${k}`), `installs=${k}`]));
} finally {
	fs.rmSync(work, { recursive: true, force: true });
}

// The minimum flash work of one install.
const imageBlocks = Math.ceil(sealed.length / BLOCK);
const pendingWrites = 2; // boot_set_pending: magic, then swap_info (image_ok too for a permanent one)
const trailerBlocks = new Set([trailer.magicBlockOffset, trailer.swapInfoOffset].map((o) => Math.floor(o / BLOCK))).size;

/**
 * The resume journal the design requires (modules/update/journal.ts, record-log.ts): a fresh
 * block (erase, header record) with the SESSION record (header and TLV areas), a BLOCK record
 * per complete image block, a DONE record; a journal block that fills is followed by a fresh one
 * holding its header, the session and the newest BLOCK record.
 */
function journalMinimum(): { erases: number; writes: number } {
	const record = (payload: number) => alignUp(6 + payload + 4, WRITE_ALIGN);
	const session = record(1 + 1 + 1 + 4 + 1 + 2 + hdrSize + 2 + (sealed.length - hdrSize - imgSize));
	let erases = 1, writes = 2, used = record(4) + session;
	const append = (size: number) => {
		if (used + size > BLOCK) {
			erases++;
			writes += 3;
			used = record(4) + session + record(20);
		}
		writes++;
		used += size;
	};
	for (let k = 0; k < Math.floor(sealed.length / BLOCK); k++) append(record(20));
	append(record(33));
	return { erases, writes };
}

const ratio = (a: number, b: number) => +(a / b).toFixed(3);
const round = (value: number, digits = 2) => +value.toFixed(digits);
function flashFigures(counts: Record<string, Counts>, previousPending: boolean) {
	const byPartition = Object.fromEntries(Object.entries(counts).map(([name, { blocksErased: _, ...c }]) => [name, c]));
	const sum = (f: (c: Counts) => number) => Object.values(counts).reduce((n, p) => n + f(p), 0);
	const actual = { erases: sum((p) => p.erases), erasedBlocks: sum((p) => p.erasedBlocks), writes: sum((p) => p.writes), writtenBytes: sum((p) => p.writtenBytes) };
	const minimum = { erases: imageBlocks + (previousPending ? trailerBlocks : 0), writes: imageBlocks + pendingWrites };
	const journal = journalMinimum();
	const withJournal = { erases: minimum.erases + journal.erases, writes: minimum.writes + journal.writes };
	return {
		...actual, byPartition,
		minimum, minimumWithJournal: withJournal,
		ratio: { erases: ratio(actual.erasedBlocks, minimum.erases), writes: ratio(actual.writes, minimum.writes) },
		ratioWithJournal: { erases: ratio(actual.erasedBlocks, withJournal.erases), writes: ratio(actual.writes, withJournal.writes) },
	};
}

/**
 * What the repeat install (an update over a previous one, the usual case) would cost on a device,
 * from its counted flash operations, the image's size and the agent's instruction count. Every
 * assumption is a field beside the figure it makes.
 */
function deviceEstimate(counts: Record<string, Counts>) {
	const erasedBlocks = Object.values(counts).reduce((n, p) => n + p.erasedBlocks, 0);
	const writtenBytes = Object.values(counts).reduce((n, p) => n + p.writtenBytes, 0);
	const esp32 = { sectorBytes: 4096, eraseBytesPerSecond: 45e3, writeBytesPerSecond: 754e3 };
	// STM32F405/407 datasheet, parallelism x32: 128 KiB sector erase 1 s typical, 2 s maximum;
	// a 32-bit word programmed in 16 µs typical
	const stm32f4 = { sectorBytes: 128 * 1024, sectorEraseSeconds: { typical: 1, maximum: 2 }, wordProgramSeconds: 16e-6, wordBytes: 4 };
	// the same erases on 128 KiB sectors: the 4 KiB blocks erased, grouped by the sector holding them
	const sectors = Object.values(counts).reduce((n, p) => n + new Set(p.blocksErased.map((b) => Math.floor((b * BLOCK) / stm32f4.sectorBytes))).size, 0);
	const uart = { bitsPerByte: 10, smpSerialBase64Expansion: 4 / 3 };
	const uartSeconds = (baud: number) => ({
		baud, raw: round((sealed.length * uart.bitsPerByte) / baud, 1),
		smpSerialAtLeast: round((sealed.length * uart.smpSerialBase64Expansion * uart.bitsPerByte) / baud, 1),
	});
	// BLE: SMP requests of up to 244 ATT payload bytes (247-byte MTU, 251-byte LE data length), on
	// LE 1M PHY, a 30 ms connection interval carrying 4 such packets (a phone's usual connection)
	const ble = { attPayloadBytes: 244, connectionIntervalSeconds: 0.03, packetsPerInterval: 4 };
	const bleBytesPerSecond = (ble.attPayloadBytes * ble.packetsPerInterval) / ble.connectionIntervalSeconds;
	const cpu = { esp32Hz: 240e6, stm32f4Hz: 168e6, instructionsPerCycle: 1, note: "x86-64 instructions taken as device instructions, one per cycle: an order of magnitude, not a prediction" };
	const cpuSeconds = (instructions: number | undefined, hz: number) => (instructions === undefined ? null : round(instructions / (hz * cpu.instructionsPerCycle), 3));
	return {
		install: "repeat",
		imageBytes: sealed.length,
		esp32: {
			assumptions: esp32,
			erases: erasedBlocks, eraseSeconds: round((erasedBlocks * esp32.sectorBytes) / esp32.eraseBytesPerSecond, 1),
			writtenBytes, writeSeconds: round(writtenBytes / esp32.writeBytesPerSecond, 2),
		},
		stm32f4: {
			assumptions: stm32f4,
			sectorErases: sectors,
			eraseSeconds: { typical: sectors * stm32f4.sectorEraseSeconds.typical, maximum: sectors * stm32f4.sectorEraseSeconds.maximum },
			writtenBytes, writeSeconds: round((writtenBytes / stm32f4.wordBytes) * stm32f4.wordProgramSeconds, 2),
		},
		link: {
			assumptions: { uart, ble },
			uart115200Seconds: uartSeconds(115200),
			uart921600Seconds: uartSeconds(921600),
			bleSeconds: round(sealed.length / bleBytesPerSecond, 1),
		},
		agentCpu: {
			assumptions: cpu,
			instructionsPerInstall: { xs: xsInstructions ?? null, cLoop: cInstructions ?? null },
			esp32Seconds: { xs: cpuSeconds(xsInstructions, cpu.esp32Hz), cLoop: cpuSeconds(cInstructions, cpu.esp32Hz) },
			stm32f4Seconds: { xs: cpuSeconds(xsInstructions, cpu.stm32f4Hz), cLoop: cpuSeconds(cInstructions, cpu.stm32f4Hz) },
		},
	};
}

const mbPerSecond = (installsPerSecond: number) => +((installsPerSecond * sealed.length) / 1e6).toFixed(2);
const xsMBps = mbPerSecond(xs.installsPerSecond);
const cLoopMBps = mbPerSecond(c.installsPerSecond);
const xsCpuMBps = mbPerSecond(xs.installsPerCpuSecond);
const cLoopCpuMBps = mbPerSecond(c.installsPerCpuSecond);
const estimate = deviceEstimate(counted.repeat);
const results = {
	cpu: os.cpus()[0]?.model,
	installer: "mcuboot-encrypted",
	chunkBytes: CHUNK,
	payloadBytes: PAYLOAD,
	imageBytes: sealed.length,
	chunksPerInstall: xs.chunks,
	mbPerCpuSecond: { xs: xsCpuMBps, cLoop: cLoopCpuMBps },
	mbPerWallSecond: { xs: xsMBps, cLoop: cLoopMBps },
	ratio: {
		byCpu: ratio(xsCpuMBps, cLoopCpuMBps),
		byWall: ratio(xsMBps, cLoopMBps),
		byInstructions: xsInstructions && cInstructions ? ratio(cInstructions, xsInstructions) : null,
	},
	installMs: {
		cpu: { xs: round(1000 / xs.installsPerCpuSecond), cLoop: round(1000 / c.installsPerCpuSecond) },
		wall: { xs: round(1000 / xs.installsPerSecond), cLoop: round(1000 / c.installsPerSecond) },
	},
	instructionsPerInstall: { xs: xsInstructions ?? null, cLoop: cInstructions ?? null, tool: xsInstructions ? "valgrind --tool=cachegrind, I refs, (K=3 − K=1) ÷ 2" : "valgrind not installed" },
	/** Mean XS heap bytes allocated per body chunk (collection suspended), and how they spread over the chunks. */
	allocatedBytesPerBodyChunk: Object.fromEntries(xs.allocatedPerBodyChunk.map(({ chunkBytes, ...a }) => [`${chunkBytes / 1024}KiB`, a])),
	heap: xs.heap,
	flash: {
		blockLength: BLOCK,
		writeAlign: WRITE_ALIGN,
		minimumRule: `each of the image's ${imageBlocks} blocks erased once and written once; the trailer blocks a previous install made pending erased; `
			+ "magic and swap_info written (boot_set_pending); withJournal adds the resume journal's erases and records as the design has them",
		first: flashFigures(counted.first, false),
		repeat: flashFigures(counted.repeat, true),
		cLoop: c.flash,
	},
	deviceEstimate: estimate,
};
process.stdout.write(JSON.stringify(results, null, 2) + "\n");

const allocation = xs.allocatedPerBodyChunk.map((a) => `${a.bytes} B at ${a.chunkBytes / 1024} KiB (median ${a.median}, ${a.chunksAllocating} of ${a.bodyChunks} chunks allocate, at most ${a.max} B)`).join(", ");
const s = (n: number | null) => (n === null ? "n/a" : `${n} s`);
process.stderr.write([
	`bench:install: ${(sealed.length / 1048576).toFixed(2)} MiB sealed image, ${CHUNK / 1024} KiB chunks, mcuboot-encrypted`,
	`  XS ÷ C loop: ${results.ratio.byCpu} by CPU (${xsCpuMBps} vs ${cLoopCpuMBps} MB per CPU second), ${results.ratio.byWall} by wall`
		+ (results.ratio.byInstructions ? `, ${results.ratio.byInstructions} by instructions (${xsInstructions} vs ${cInstructions} per install)` : ""),
	`  XS heap allocated per body chunk, mean: ${allocation}`,
	`  flash, repeat install: ${results.flash.repeat.erasedBlocks} block erases, ${results.flash.repeat.writes} writes, ${results.flash.repeat.writtenBytes} bytes`,
	`  ESP32 (4 KiB sectors, erase 45 KB/s, write 754 KB/s): erase ${estimate.esp32.eraseSeconds} s, write ${estimate.esp32.writeSeconds} s`,
	`  STM32F4 (128 KiB sectors, 1–2 s each, 16 µs a word): ${estimate.stm32f4.sectorErases} sector erases ${estimate.stm32f4.eraseSeconds.typical}–${estimate.stm32f4.eraseSeconds.maximum} s, write ${estimate.stm32f4.writeSeconds} s`,
	`  link: UART 115200 ${estimate.link.uart115200Seconds.raw} s raw (≥ ${estimate.link.uart115200Seconds.smpSerialAtLeast} s as SMP serial), `
		+ `921600 ${estimate.link.uart921600Seconds.raw} s (≥ ${estimate.link.uart921600Seconds.smpSerialAtLeast} s), BLE ${estimate.link.bleSeconds} s`,
	`  agent CPU at one instruction a cycle: ESP32 240 MHz ${s(estimate.agentCpu.esp32Seconds.xs)} (C loop ${s(estimate.agentCpu.esp32Seconds.cLoop)}), `
		+ `STM32F4 168 MHz ${s(estimate.agentCpu.stm32f4Seconds.xs)} (C loop ${s(estimate.agentCpu.stm32f4Seconds.cLoop)})`,
	"",
].join("\n"));
