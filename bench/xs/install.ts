/**
 * The XS half of `npm run bench:install` (bench/install.ts prepares the image, the board and the
 * device key, runs this twice and the C loop once, and prints the figures):
 *   sealdrop-xs --state DIR build/js/bench/xs/install.js INPUTS.json speed
 *   sealdrop-xs --map COUNTING.map --state DIR build/js/bench/xs/install.js INPUTS.json count
 *   sealdrop-xs --state DIR build/js/bench/xs/install.js INPUTS.json installs K
 * `speed`: installs per second of the sealed image through UpdateAgent, by wall and by this
 * process's CPU time, then the XS heap during one install, and the bytes allocated per body chunk
 * at each of inputs.allocationChunkBytes. `count`: the flash writes and erases of a first install
 * on erased flash and of a second one over it, per partition (through
 * bench/xs/counting-flash.ts). `installs K`: K installs and nothing else, for an instruction count
 * under valgrind (bench/install.ts takes the difference of two K). Prints one JSON object.
 *
 * The image stands for the transport: it is read into the heap before anything is measured, and
 * the views of it the agent is handed (one per offset it asks for, per chunk size) are made during
 * the first install at that size and reused, so that the figures are the agent's own.
 */
import DeviceKey from "sealdrop/native/device-key";
import Flash from "sealdrop/native/flash";
import { fromHex } from "sealdrop/image";
import { parseBoardConfig, UpdateAgent } from "sealdrop/update";
import { trailerFirstBlock } from "sealdrop/update/bootutil";
import { argv, exit, gc, memory, now, readFile, resetPeaks } from "sealdrop/xs-host";
import { measure } from "../rate.js";
import { cpuMs } from "./cpu.js";

interface Inputs {
	image: string;
	layout: string;
	/** The device's P-256 private scalar, imported as its device key (factory injection). */
	deviceKey: string;
	/** `getpub -e raw` bytes of the release signing key. */
	trust: string;
	chunkBytes: number;
	/** The chunk sizes at which the bytes allocated per body chunk are measured. */
	allocationChunkBytes: number[];
	minMilliseconds: number;
}

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const inputs = JSON.parse(decode(readFile(argv[1]))) as Inputs;
const mode = argv[2];
const layout = JSON.parse(decode(readFile(inputs.layout))) as { name: string; sealdrop: unknown };
const board = parseBoardConfig(layout.name, layout.sealdrop);
const slot = board.deviceKeySlot ?? 0;
const image = readFile(inputs.image);
const CHUNK = inputs.chunkBytes;

if (DeviceKey.exists({ slot })) new DeviceKey({ slot }).destroy();
DeviceKey.import("p256", fromHex(inputs.deviceKey), { slot }).close();
const agent = new UpdateAgent({ board, trust: [{ publicKey: fromHex(inputs.trust) }] });

/** The views of the image a transport hands the agent, by chunk size and offset. */
const views = new Map<number, Map<number, Uint8Array>>();
function bytesAt(offset: number, chunk: number): Uint8Array {
	let sized = views.get(chunk);
	if (!sized) views.set(chunk, sized = new Map());
	let view = sized.get(offset);
	if (!view) sized.set(offset, view = image.subarray(offset, Math.min(image.length, offset + chunk)));
	return view;
}

/** One install, as a transport drives it, in chunks of `chunk` bytes; `afterChunk(k)` runs after the k-th write(). */
function install(afterChunk?: (k: number) => void, chunk = CHUNK): number {
	let next = agent.begin({ size: image.length }).nextOffset;
	let k = 0;
	while (next < image.length) {
		next = agent.write(next, bytesAt(next, chunk));
		afterChunk?.(k);
		k++;
	}
	const result = agent.finish();
	if (result.state !== "pending-test") throw new Error(`the install ended ${result.state}`);
	return k;
}

const inUse = () => {
	const m = memory();
	return m.chunksCurrent + m.slotsCurrent;
};

function secondaryTrailerFirstBlock(): number {
	const secondary = Flash.open({ path: board.images![0].secondary, mode: "r" });
	try {
		return trailerFirstBlock(board, secondary);
	} finally {
		secondary.close();
	}
}

if (mode === "count") {
	const { counts, resetCounts } = await import("./counting-flash.js");
	const run = () => {
		resetCounts();
		const before = Flash.operations;
		install();
		const byPartition = Object.fromEntries(counts);
		let total = 0;
		for (const c of counts.values()) total += c.erases + c.writes;
		if (total !== Flash.operations - before) throw new Error(`counted ${total} flash operations, the native module ${Flash.operations - before}`);
		return byPartition;
	};
	const first = run();
	const repeat = run();
	console.log(JSON.stringify({ trailerFirstBlock: secondaryTrailerFirstBlock(), first, repeat }));
	exit(0);
} else if (mode === "installs") {
	const count = Number(argv[3]);
	for (let i = 0; i < count; i++) install();
	console.log(JSON.stringify({ installs: count }));
	exit(0);
} else {
	// Speed: whole installs, begin() to finish(), one to warm up then until minMilliseconds of
	// wall and of CPU time have passed.
	const speed = measure(() => install(), inputs.minMilliseconds, now, cpuMs);

	// Live heap: collected after every chunk, so each figure is what the install holds then.
	const chunks = install();
	const live = new Float64Array(chunks);
	const sampleLive = (k: number) => {
		gc();
		live[k] = inUse();
	};
	gc();
	const beforeBegin = inUse();
	install(sampleLive);
	gc();
	const afterFinish = inUse();

	// Peak: one install with collection as XS does it by itself (the host's heap grows on demand).
	gc();
	resetPeaks();
	install();
	const peak = memory();

	// Allocation: collection suspended, so every byte allocated from the end of the first body
	// chunk to the end of the one before the last (the last one verifies and ends the install)
	// shows, chunk by chunk. The install before it, at the same chunk size, makes the transport's
	// views of the image.
	const FIRST_BODY = 2; // chunk 0 is the header area, chunk 1 the TLV areas
	interface Allocated { chunkBytes: number; bodyChunks: number; bytes: number; median: number; max: number; chunksAllocating: number }
	function allocatedPerBodyChunk(chunk: number): Allocated {
		const last = install(undefined, chunk) - 2;
		const marks = new Float64Array(last + 1);
		const mark = (k: number) => {
			if (k >= FIRST_BODY && k <= last) marks[k] = inUse();
		};
		gc();
		gc(false);
		const sampled = inUse();
		const sampling = inUse() - sampled; // what one inUse() allocates (its memory() object), taken off each figure
		install(mark, chunk);
		gc(true);
		const each = Array.from(marks.subarray(FIRST_BODY + 1), (v, i) => v - marks[FIRST_BODY + i] - sampling).sort((a, b) => a - b);
		return {
			chunkBytes: chunk, bodyChunks: each.length,
			bytes: +(each.reduce((sum, v) => sum + v, 0) / each.length).toFixed(1),
			median: each[each.length >> 1], max: each[each.length - 1], chunksAllocating: each.filter((v) => v > 0).length,
		};
	}
	const allocated = inputs.allocationChunkBytes.map(allocatedPerBodyChunk);
	const LAST_BODY = chunks - 2;
	const bodyChunks = LAST_BODY - FIRST_BODY;
	const first = live[0];
	const body = Array.from(live.subarray(FIRST_BODY, LAST_BODY + 1));
	const deltas = body.slice(1).map((v, i) => v - body[i]).sort((a, b) => a - b);
	console.log(JSON.stringify({
		installsPerSecond: speed.perSecond,
		installsPerCpuSecond: speed.perCpuSecond,
		trailerFirstBlock: secondaryTrailerFirstBlock(),
		chunks,
		heap: {
			inUseAfterFirstChunk: first,
			liveOverFirstChunk: {
				beforeBegin: beforeBegin - first,
				afterTlvChunk: live[1] - first,
				afterFirstBodyChunk: live[FIRST_BODY] - first,
				maxDuringBody: Math.max(...body) - first,
				afterLastBodyChunk: live[LAST_BODY] - first,
				afterFinish: afterFinish - first,
			},
			liveGrowthPerBodyChunk: +((live[LAST_BODY] - live[FIRST_BODY]) / bodyChunks).toFixed(1),
			medianLiveDeltaPerBodyChunk: deltas[deltas.length >> 1],
			peakOverFirstChunk: peak.chunksPeak + peak.slotsPeak - first,
			peak: { chunkBytes: peak.chunksPeak, slotBytes: peak.slotsPeak },
			allocatedPerBodyChunk: allocated.find((a) => a.chunkBytes === CHUNK)?.bytes,
		},
		allocatedPerBodyChunk: allocated,
	}));
	exit(0);
}
