/**
 * `npm run fuzz:smp [SECONDS] [SEED]`, in two halves of SECONDS each (default 10), printing one
 * JSON object {node, xs} with the counts; exit 1 when the XS half finds a violation (the Node
 * half throws on its first).
 * - node: random and mutated inputs to the CBOR decoder, the serial frame decoder and the SMP
 *   server's dispatch (OS group and a recording stand-in for the image group). Checks: nothing
 *   throws out of a parser other than CborError, the server answers every request with a
 *   well-formed SMP packet whose body is a CBOR map, and no input takes long.
 * - xs: ./smp-fuzz-xs.ts on the Linux XS host, on a flash file of its own: SMP frames, whole and
 *   through the serial framing, against the real SmpServer, UpdateAgent and native flash, with no
 *   flash write or erase allowed outside an upload session (./smp-agent.ts has the oracle).
 *   test/xs/smp-fuzz.test.ts runs a short, fixed-seed version of it in `npm test`.
 */
import { CborError, decodeCbor, encodeCbor, type CborMap } from "../../modules/transport/smp/cbor.js";
import { OsGroup } from "../../modules/transport/smp/groups/os.js";
import { decodeSmpHeader, encodeSmpPacket } from "../../modules/transport/smp/header.js";
import { encodeSerialFrame, SerialFrameDecoder } from "../../modules/transport/smp/serial-framing.js";
import { isMap, SmpServer, type SmpGroup } from "../../modules/transport/smp/server.js";
import { fuzzer } from "./prng.js";
import { runXsFuzz } from "./xs-half.js";
import { FUZZ_STACK_EXTRA } from "./stack-allowance.js";

const seconds = Number(process.argv[2] ?? 10);
const startSeed = Number(process.argv[3] ?? Date.now() % 1e9) >>> 0;
const { random, int, bytes, mutate } = fuzzer(startSeed);

const seeds: Uint8Array[] = [
	encodeCbor({ off: 0, len: 1000, sha: bytes(32), data: bytes(64), image: 0, upgrade: true }),
	encodeCbor({ d: "hello" }), encodeCbor({ hash: bytes(32), confirm: false }), encodeCbor({ images: [{ slot: 0, version: "1.2.3", hash: bytes(32), active: true }] }),
	Uint8Array.from(Buffer.from("bf61610161629f0203ffff", "hex")), Uint8Array.from(Buffer.from("5f42010243030405ff", "hex")),
];

const recorded: string[] = [];
const stub: SmpGroup = {
	id: 1,
	handle({ header, body }) {
		recorded.push(`${header.command}:${Object.keys(body).length}`);
		return { off: typeof body.off === "number" ? body.off : 0 };
	},
};
const server = new SmpServer({ bufSize: 1472, groups: [new OsGroup({ bufSize: 1472, bufCount: 4, reset: () => false }), stub] });
const counts = { cbor: 0, cborRefused: 0, frames: 0, framesDecoded: 0, requests: 0, responses: 0, slowest_ms: 0 };

function timed(fn: () => void): void {
	const t = performance.now();
	fn();
	counts.slowest_ms = Math.max(counts.slowest_ms, performance.now() - t);
}

const deadline = Date.now() + seconds * 1000;
while (Date.now() < deadline) {
	const input = random() < 0.3 ? bytes(int(64)) : mutate(seeds[int(seeds.length)]);
	timed(() => {
		counts.cbor++;
		try {
			decodeCbor(input);
		} catch (e) {
			if (!(e instanceof CborError)) throw new Error(`decodeCbor threw ${String(e)} on ${Buffer.from(input).toString("hex")}`, { cause: e });
			counts.cborRefused++;
		}
	});
	const packet = encodeSmpPacket({ op: [0, 2, 1, 3, 5][int(5)], version: int(4), flags: int(2), group: [0, 1, 64, 9][int(4)], sequence: int(256), command: int(8) }, input);
	const buffer = random() < 0.3 ? mutate(packet) : packet;
	timed(() => {
		counts.requests++;
		for (const response of server.process(buffer)) {
			counts.responses++;
			const h = decodeSmpHeader(response);
			if (response.length !== 8 + h.length || h.op % 2 !== 1 || h.version > 1) throw new Error(`malformed response to ${Buffer.from(buffer).toString("hex")}`);
			if (!isMap(decodeCbor(response.subarray(8)) as CborMap)) throw new Error("a response body that is not a map");
		}
	});
	const decoder = new SerialFrameDecoder({ maxPacket: 1472 });
	let stream = encodeSerialFrame(buffer);
	if (random() < 0.5) stream = mutate(stream);
	timed(() => {
		counts.frames++;
		for (let at = 0; at < stream.length; at += 1 + int(40)) counts.framesDecoded += decoder.push(stream.subarray(at, at + 1 + int(40))).length;
	});
}
const node = { seed: startSeed, seconds, ...counts, slowest_ms: Number(counts.slowest_ms.toFixed(2)), stubCalls: recorded.length };

const xs = runXsFuzz("smp-fuzz-xs.js", seconds, startSeed, { SEALDROP_XS_STACK_EXTRA: String(FUZZ_STACK_EXTRA) });
console.log(JSON.stringify({ node, xs }));
if (xs.violationCount) process.exitCode = 1;
