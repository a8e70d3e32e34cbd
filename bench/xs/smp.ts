/**
 * The XS half of `npm run bench:smp` (bench/smp.ts runs it once the simulator has stopped):
 *   SEALDROP_LAYOUT=D/layout.json SEALDROP_FLASH=D/flash.bin \
 *   sealdrop-xs --state D/state build/js/bench/xs/smp.js D/device.json IMAGE SHA-HEX MIN-MS CHUNK...
 * The simulated device D's own agent (its board, trusted keys and device key ring, as
 * host/sim/device.ts opens it for `sim serve`), fed IMAGE through the agent API in CHUNK-byte
 * pieces, the way the SMP image group drives it: begin() with the upload's sha as session id and
 * nothing marked pending, write() wherever the returned offset points, finish(). For each chunk
 * size, installs per second of wall and of CPU time (one to warm up, then until MIN-MS of each). Prints one JSON object.
 *
 * The image stands for the transport: it is read into the heap first; each write() gets a fresh
 * view of it, as each SMP request gets a fresh byte string from the CBOR decoder.
 */
import { fromHex } from "sealdrop/image";
import { DeviceKeyRing } from "sealdrop/keys";
import { parseBoardConfig, UpdateAgent } from "sealdrop/update";
import { argv, exit, now, readFile } from "sealdrop/xs-host";
import { measure } from "../rate.js";
import { cpuMs } from "./cpu.js";

const [, configPath, imagePath, shaHex, minText, ...chunkTexts] = argv;
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const config = JSON.parse(text(readFile(configPath))) as { layout: string; trust: string[]; newerOnly?: boolean };
const layoutPath = config.layout.startsWith("/") ? config.layout : configPath.slice(0, configPath.lastIndexOf("/") + 1) + config.layout;
const layout = JSON.parse(text(readFile(layoutPath))) as { name: string; sealdrop: unknown };
const board = parseBoardConfig(layout.name, layout.sealdrop);
const agent = new UpdateAgent({
	board, trust: config.trust.map((hex) => ({ publicKey: fromHex(hex) })), newerOnly: config.newerOnly ?? false,
	...(board.keys ? { deviceKeys: new DeviceKeyRing(board.keys) } : {}),
});
const image = readFile(imagePath);
const sessionId = fromHex(shaHex);

/** One install in `chunk`-byte pieces; returns the write() calls it took. */
function install(chunk: number): number {
	let next = agent.begin({ size: image.length, sessionId, pending: "none" }).nextOffset;
	let writes = 0;
	while (next < image.length) {
		next = agent.write(next, image.subarray(next, Math.min(image.length, next + chunk)));
		writes++;
	}
	const result = agent.finish();
	if (result.state !== "ready") throw new Error(`the install ended ${result.state}`);
	return writes;
}

const results = chunkTexts.map(Number).map((chunk) => {
	const writes = install(chunk);
	const m = measure(() => install(chunk), Number(minText), now, cpuMs);
	return { chunk, writes, installsPerSecond: m.perSecond, installsPerCpuSecond: m.perCpuSecond };
});
agent.close();
console.log(JSON.stringify({ imageBytes: image.length, results }));
exit(0);
