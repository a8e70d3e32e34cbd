/**
 * The XS half of `npm run bench:install` (bench/install.ts prepares the image, the board and the
 * device key, runs this twice and the C loop once, and prints the figures):
 *   sealdrop-xs --state DIR build/js/bench/xs/install.js INPUTS.json speed
 *   sealdrop-xs --map COUNTING.map --state DIR build/js/bench/xs/install.js INPUTS.json count
 * `speed`: installs per second of the sealed image through UpdateAgent, then the XS heap during
 * one install. `count`: the flash writes and erases of a first install on erased flash and of a
 * second one over it, per partition (through bench/xs/counting-flash.ts). Prints one JSON object.
 *
 * The image stands for the transport: it is read into the heap before anything is measured, and
 * the views of it the agent is handed (one per offset it asks for) are made during the first
 * install and reused, so that the figures are the agent's own.
 */
import DeviceKey from "sealdrop/native/device-key";
import Flash from "sealdrop/native/flash";
import { fromHex } from "sealdrop/image";
import { parseBoardConfig, UpdateAgent } from "sealdrop/update";
import { trailerFirstBlock } from "sealdrop/update/bootutil";
import { argv, exit, gc, memory, now, readFile, resetPeaks } from "sealdrop/xs-host";
import { rate } from "../rate.js";

interface Inputs {
	image: string;
	layout: string;
	/** The device's P-256 private scalar, imported as its device key (factory injection). */
	deviceKey: string;
	/** `getpub -e raw` bytes of the release signing key. */
	trust: string;
	chunkBytes: number;
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

const views = new Map<number, Uint8Array>();
function bytesAt(offset: number): Uint8Array {
	let view = views.get(offset);
	if (!view) views.set(offset, view = image.subarray(offset, Math.min(image.length, offset + CHUNK)));
	return view;
}

/** One install, as a transport drives it; `afterChunk(k)` runs after the k-th write(). */
function install(afterChunk?: (k: number) => void): number {
	let next = agent.begin({ size: image.length }).nextOffset;
	let k = 0;
	while (next < image.length) {
		next = agent.write(next, bytesAt(next));
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
} else {
	// Speed: whole installs, begin() to finish(), one to warm up then until minMilliseconds.
	const installsPerSecond = rate(() => install(), inputs.minMilliseconds, now);

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

	// Allocation: collection suspended, so every byte allocated between the first body chunk and
	// the one before the last (the last one verifies and ends the install) shows.
	const FIRST_BODY = 2; // chunk 0 is the header area, chunk 1 the TLV areas
	const LAST_BODY = chunks - 2;
	const marks = new Float64Array(2);
	const mark = (k: number) => {
		if (k === FIRST_BODY) marks[0] = inUse();
		else if (k === LAST_BODY) marks[1] = inUse();
	};
	gc();
	gc(false);
	const sampled = inUse();
	const sampling = inUse() - sampled; // what one inUse() allocates (its memory() object), counted once below
	install(mark);
	gc(true);

	const bodyChunks = LAST_BODY - FIRST_BODY;
	const first = live[0];
	const body = Array.from(live.subarray(FIRST_BODY, LAST_BODY + 1));
	const deltas = body.slice(1).map((v, i) => v - body[i]).sort((a, b) => a - b);
	console.log(JSON.stringify({
		installsPerSecond,
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
			allocatedPerBodyChunk: +((marks[1] - marks[0] - sampling) / bodyChunks).toFixed(1),
		},
	}));
	exit(0);
}
