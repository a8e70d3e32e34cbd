/**
 * Install benchmark (`npm run bench:install`): a sealed image with a 1 MiB payload installed in
 * 4 KiB chunks by UpdateAgent on the Linux XS host (release build; mcuboot-encrypted installer:
 * stored as received, decrypted and hashed on the fly, read back and hashed again, then marked
 * pending), on a board of its own (4 MiB flash, 1.5 MiB slots, 4 KiB blocks). Prints JSON.
 *
 * - MB/s of whole installs (begin() to finish(), image bytes) against bench/c/install-loop.c,
 *   a C loop making the same PSA Crypto and flash calls with the same chunk size on a flash file
 *   costed as the host's (see its header for what it does and does not do); ratio = XS / C.
 * - XS heap, in bytes over the live heap after the first chunk (goal: flat from there): the
 *   live heap (collected) before begin(), after chunks and after finish(), its growth per body
 *   chunk, the peak with collection left to XS (the host's heap grows on demand), and the bytes
 *   allocated per body chunk with collection suspended (garbage included).
 * - Flash erases and writes of a first install on erased flash and of a second one over it,
 *   per partition, against the minimum: each erase block the image covers erased once and
 *   written once, the trailer blocks a previous install programmed erased, and bootutil's two
 *   pending writes (magic, swap_info); and against the minimum with the resume journal the
 *   design requires (a fresh journal block, the session record, one checkpoint per complete
 *   block, the DONE record, and what moving to a fresh journal block copies).
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

interface Counts { erases: number; erasedBlocks: number; writes: number; writtenBytes: number }
interface XsSpeed {
	installsPerSecond: number;
	trailerFirstBlock: number;
	chunks: number;
	heap: Record<string, unknown>;
}
interface XsCount { trailerFirstBlock: number; first: Record<string, Counts>; repeat: Record<string, Counts> }
interface CLoop { installsPerSecond: number; imageBytes: number; flash: { first: { erases: number; writes: number }; repeat: { erases: number; writes: number } } }

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
try {
	const cLoop = cLoopBinary();
	const layoutPath = path.join(work, "layout.json");
	const imagePath = path.join(work, "sealed.bin");
	const inputsPath = path.join(work, "inputs.json");
	fs.writeFileSync(layoutPath, JSON.stringify(layout, null, "\t"));
	fs.writeFileSync(imagePath, sealed);
	fs.writeFileSync(inputsPath, JSON.stringify({
		image: imagePath, layout: layoutPath, deviceKey: privateScalar(device), trust: publicKeyBytes(signer).toString("hex"),
		chunkBytes: CHUNK, minMilliseconds: MIN_MS,
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
	c = JSON.parse(run("the C loop", cLoop, [
		`image=${imagePath}`, `flash=${path.join(work, "c.flash")}`, `flashSize=${layout.flash.size}`, `blockLength=${BLOCK}`, `writeAlign=${WRITE_ALIGN}`,
		`slot=${secondary.offset}:${secondary.size}`, `journal=${journal.offset}:${journal.size}`, `trailerFirstBlock=${counted.trailerFirstBlock}`,
		`magicBlockOffset=${trailer.magicBlockOffset}`, `swapInfoOffset=${trailer.swapInfoOffset}`,
		`hdrSize=${hdrSize}`, `imgSize=${imgSize}`, `protectTlvSize=${protectTlvSize}`, `chunk=${CHUNK}`, `minMs=${MIN_MS}`,
		`deviceKey=${privateScalar(device)}`, `encTlv=${Buffer.from(findEncTlv(image)!.value).toString("hex")}`,
		`signer=${rawPublicKey(signer).toString("hex")}`, `signature=${ecdsaRaw(signature).toString("hex")}`,
		`hash=${Buffer.from(findHashTlv(image).tlv.value).toString("hex")}`,
	]));
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
function flashFigures(byPartition: Record<string, Counts>, previousPending: boolean) {
	const sum = (f: (c: Counts) => number) => Object.values(byPartition).reduce((n, p) => n + f(p), 0);
	const actual = { erases: sum((p) => p.erases), erasedBlocks: sum((p) => p.erasedBlocks), writes: sum((p) => p.writes) };
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

const mbPerSecond = (installsPerSecond: number) => +((installsPerSecond * sealed.length) / 1e6).toFixed(2);
const xsMBps = mbPerSecond(xs.installsPerSecond);
const cLoopMBps = mbPerSecond(c.installsPerSecond);
const results = {
	cpu: os.cpus()[0]?.model,
	installer: "mcuboot-encrypted",
	chunkBytes: CHUNK,
	payloadBytes: PAYLOAD,
	imageBytes: sealed.length,
	chunksPerInstall: xs.chunks,
	xsMBps,
	cLoopMBps,
	ratio: ratio(xsMBps, cLoopMBps),
	installMs: { xs: +(1000 / xs.installsPerSecond).toFixed(2), cLoop: +(1000 / c.installsPerSecond).toFixed(2) },
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
};
process.stdout.write(JSON.stringify(results, null, 2) + "\n");
