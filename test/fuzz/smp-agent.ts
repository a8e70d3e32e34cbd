/**
 * SMP fuzzing against the real device stack, on the Linux XS host: random and mutated SMP
 * packets, some whole, some through the serial framing (a byte stream, mutated too), to the
 * SmpServer with the OS, image and Sealdrop groups over the real UpdateAgent and native flash.
 * Valid upload chunks are mixed in, so uploads start, progress and complete while garbage arrives.
 *
 * The oracle, per call of SmpServer.process, on the native flash module's operation counter
 * (Flash.operations: every write and erase that reaches the flash): the counter may move only for
 *   - an image upload request (group 1, command 1) while an upload session is open: one was open
 *     before the request, or the request opened one (UpdateAgent.begin() succeeded);
 *   - an image state write (test/confirm, group 1, command 0) or erase (command 5) that succeeded.
 * Anything else that moves it (a refused state write or erase, an upload chunk with no session,
 * the OS or Sealdrop group, a malformed packet) is a violation. Also checked: process() never
 * throws, every response is one well-formed SMP packet with a CBOR map body, no more responses
 * than requests, and the running image's bytes in the primary slot never change.
 *
 * Used by test/xs/smp-fuzz.test.ts (short, in `npm test`) and test/fuzz/smp-fuzz-xs.ts (long,
 * `npm run fuzz:smp`). Needs the flash laid out as boards/sim/layout.json; it erases the
 * secondary slot, scratch, journal and storage, and writes the primary slot.
 */
import Flash from "sealdrop/native/flash";
import { concatBytes, equalBytes, findHashTlv, parseImage } from "sealdrop/image";
import { sha256, UpdateAgent, type BoardConfig, type TrustAnchor } from "sealdrop/update";
import { decodeCbor, encodeCbor, type CborMap } from "../../modules/transport/smp/cbor.js";
import { ImageGroup } from "../../modules/transport/smp/groups/image.js";
import { OsGroup } from "../../modules/transport/smp/groups/os.js";
import { SealdropGroup } from "../../modules/transport/smp/groups/sealdrop.js";
import { decodeSmpHeader, encodeSmpPacket, SMP_HEADER_SIZE, SmpGroupId, SmpOp } from "../../modules/transport/smp/header.js";
import { encodeSerialFrame, SerialFrameDecoder } from "../../modules/transport/smp/serial-framing.js";
import { isMap, SmpServer, type SmpGroup } from "../../modules/transport/smp/server.js";
import { fuzzer } from "./prng.js";

/** boards/sim/layout.json's board (no device key: the images are signed, not sealed). */
export const SIM_BOARD: BoardConfig = {
	name: "sim", installer: "mcuboot", swap: "scratch", maxAlign: 8, images: [{ primary: "primary", secondary: "secondary" }],
	scratch: "scratch", journal: "journal", storage: "storage",
};

export interface AgentFuzzOptions {
	/** A signed image (not the running one) the driver uploads, and the trusted keys that verify it. */
	image: Uint8Array;
	/** The image programmed into the primary slot as the running one (another hash). */
	running: Uint8Array;
	trust: TrustAnchor[];
	seed: number;
	/** Stop after this many inputs, or when `until()` says so (checked every 16 inputs). */
	inputs?: number;
	until?: () => boolean;
	/** Milliseconds clock, for the slowest input's figure. */
	now: () => number;
	/** JS stack slots in use (sealdrop/xs-host memory().stackSlots): must stay flat from input to input. */
	stackSlots?: () => number;
	/** Extra groups (a test's deliberately leaky one, to show that the oracle catches it). */
	extraGroups?: SmpGroup[];
}

export interface AgentFuzzReport {
	seed: number;
	inputs: number;
	/** Packets handed to SmpServer.process (whole, or decoded from the serial stream), and responses. */
	packets: number;
	responses: number;
	viaSerial: number;
	/** Flash operations made during upload requests, state writes and erases (all allowed by the oracle). */
	flashOperations: { upload: number; stateWrite: number; erase: number };
	/** process() calls while no upload session was open that left the flash untouched, as they must. */
	quietOutsideSession: number;
	sessionsStarted: number;
	/** Uploads the agent verified, and those it refused by error code (the fuzz spoils some on purpose). */
	uploadsCompleted: number;
	uploadsRefused: Record<string, number>;
	deviceResets: number;
	slowestMs: number;
	/** The first violations found (at most 8) and how many in all. */
	violations: string[];
	violationCount: number;
}

/** The agent with begin() counted: a session opened during a request allows that request's flash writes. */
class WatchedAgent extends UpdateAgent {
	began = 0;
	override begin(options: Parameters<UpdateAgent["begin"]>[0]): ReturnType<UpdateAgent["begin"]> {
		const started = super.begin(options);
		this.began++;
		return started;
	}
}

function wipe(...partitions: string[]): void {
	for (const path of partitions) {
		const flash = Flash.open({ path });
		try {
			flash.eraseBlock(0, flash.status().blocks);
		} finally {
			flash.close();
		}
	}
}

function readPrimary(length: number): Uint8Array {
	const flash = Flash.open({ path: "primary", mode: "r" });
	try {
		const bytes = new Uint8Array(length);
		flash.read(bytes, 0);
		return bytes;
	} finally {
		flash.close();
	}
}

function programPrimary(image: Uint8Array): void {
	wipe("primary");
	const flash = Flash.open({ path: "primary" });
	try {
		const padded = new Uint8Array(Math.ceil(image.length / 8) * 8).fill(0xff);
		padded.set(image);
		flash.write(padded, 0);
	} finally {
		flash.close();
	}
}

const hex = (bytes: Uint8Array) => Array.from(bytes.subarray(0, 48), (b) => b.toString(16).padStart(2, "0")).join("") + (bytes.length > 48 ? "…" : "");

export function fuzzSmpOnAgent(options: AgentFuzzOptions): AgentFuzzReport {
	const { random, int, bytes, mutate: mutateBytes } = fuzzer(options.seed);
	const mutate = (input: Uint8Array) => mutateBytes(input, SMP_HEADER_SIZE);
	const { image } = options;
	const sha = sha256(image);
	const imageHash = findHashTlv(parseImage(image)).tlv.value;
	const runningHash = findHashTlv(parseImage(options.running)).tlv.value;
	if (equalBytes(imageHash, runningHash)) throw new Error("the uploaded and the running image must differ (their hash TLVs are equal)");

	const report: AgentFuzzReport = {
		seed: options.seed, inputs: 0, packets: 0, responses: 0, viaSerial: 0, flashOperations: { upload: 0, stateWrite: 0, erase: 0 },
		quietOutsideSession: 0, sessionsStarted: 0, uploadsCompleted: 0, uploadsRefused: {}, deviceResets: 0, slowestMs: 0, violations: [], violationCount: 0,
	};
	const violation = (what: string) => {
		report.violationCount++;
		if (report.violations.length < 8) report.violations.push(what);
	};

	// the device: a running image in the primary slot, everything else erased
	wipe("secondary", "scratch", "journal", "storage");
	programPrimary(options.running);
	const primaryBefore = readPrimary(options.running.length);
	let agent!: WatchedAgent;
	let server!: SmpServer;
	let resetAsked = false;
	const boot = () => {
		agent = new WatchedAgent({ board: SIM_BOARD, trust: options.trust });
		server = new SmpServer({
			bufSize: 2048,
			groups: [
				new OsGroup({ bufSize: 2048, bufCount: 4, reset: () => (resetAsked = true) }),
				new ImageGroup({ agent, board: SIM_BOARD }),
				new SealdropGroup({
					agent, deviceKey: {
						info: () => ({ kind: "p256", publicKey: new Uint8Array(65), fingerprint: new Uint8Array(32), mode: "unknown", provisionedAt: 0 }),
						rotate: () => { throw new Error("no rotation in this fuzz"); },
					},
				}),
				...(options.extraGroups ?? []),
			],
		});
	};
	/** A reset: the device starts again on the same flash (no swap: the fuzz never runs the bootloader). */
	const reset = (clean: boolean) => {
		agent.close();
		if (clean) wipe("secondary", "scratch", "journal", "storage"); // a pending image or a full slot would stall the driver
		report.deviceResets++;
		boot();
	};
	boot();

	// the driver's upload: the next valid chunk, wherever the device's `off` points
	let driverOff = 0;
	const packet = (op: number, group: number, command: number, body: CborMap | Uint8Array, version = int(2)) =>
		encodeSmpPacket({ op, version, flags: 0, group, sequence: int(256), command }, body instanceof Uint8Array ? body : encodeCbor(body));
	const uploadChunk = (off: number) => {
		const size = off === 0 ? 256 + int(1024) : 1 + int(1900);
		const data = image.subarray(off, Math.min(image.length, off + size));
		return packet(SmpOp.WRITE, SmpGroupId.IMAGE, 1, off === 0 ? { image: 0, len: image.length, sha, off, data } : { off, data });
	};
	/** What mutations start from (a valid upload chunk at the wanted offset is mutated rarely, below: it spoils the upload). */
	const seeds = (idle: boolean): Uint8Array[] => [
		...(idle ? [] : [uploadChunk(0)]), uploadChunk(int(image.length)),
		packet(SmpOp.WRITE, SmpGroupId.IMAGE, 0, { hash: imageHash, confirm: random() < 0.5 }),
		packet(SmpOp.WRITE, SmpGroupId.IMAGE, 0, { hash: runningHash, confirm: true }),
		packet(SmpOp.WRITE, SmpGroupId.IMAGE, 0, { confirm: true }),
		packet(SmpOp.READ, SmpGroupId.IMAGE, 0, {}), packet(SmpOp.WRITE, SmpGroupId.IMAGE, 5, { slot: int(3) }), packet(SmpOp.READ, SmpGroupId.IMAGE, 6, {}),
		packet(SmpOp.WRITE, SmpGroupId.OS, 0, { d: "echo" }), packet(SmpOp.READ, SmpGroupId.OS, 6, {}),
		packet(SmpOp.READ, SmpGroupId.SEALDROP, 0, {}), packet(SmpOp.WRITE, SmpGroupId.SEALDROP, 1, { request: bytes(40) }), packet(SmpOp.READ, SmpGroupId.SEALDROP, 2, {}),
	];
	const randomPacket = () => packet([0, 1, 2, 3][int(4)], [0, 1, 64, int(256)][int(4)], int(8), random() < 0.5 ? bytes(int(48)) : encodeCbor({ off: int(image.length), data: bytes(int(64)), hash: bytes(32), confirm: random() < 0.5 }), int(4));

	/** One process() call, checked. */
	const serve = (buffer: Uint8Array) => {
		const operations = Flash.operations;
		const sessionBefore = agent.status().state === "receiving";
		const began = agent.began;
		const started = options.now();
		let responses: Uint8Array[];
		try {
			responses = server.process(buffer);
		} catch (e) {
			violation(`process() threw ${String(e)} on ${hex(buffer)}`);
			return;
		}
		report.slowestMs = Math.max(report.slowestMs, options.now() - started);
		report.packets++;
		report.responses += responses.length;
		if (agent.began !== began) report.sessionsStarted++;
		const moved = Flash.operations - operations;
		let allowed: keyof AgentFuzzReport["flashOperations"] | undefined;
		let requests = 0;
		for (let at = 0; buffer.length - at >= SMP_HEADER_SIZE; requests++) at += SMP_HEADER_SIZE + decodeSmpHeader(buffer, at).length;
		if (responses.length > requests) violation(`${responses.length} responses to ${requests} requests: ${hex(buffer)}`);
		for (const response of responses) {
			const h = decodeSmpHeader(response);
			let body: unknown;
			try {
				body = decodeCbor(response.subarray(SMP_HEADER_SIZE));
			} catch {
				body = undefined;
			}
			if (response.length !== SMP_HEADER_SIZE + h.length || (h.op !== SmpOp.READ_RSP && h.op !== SmpOp.WRITE_RSP) || h.version > 1 || !isMap(body as CborMap ?? null)) {
				violation(`a malformed response ${hex(response)} to ${hex(buffer)}`);
				continue;
			}
			const map = body as CborMap;
			const succeeded = map.rc === undefined && map.err === undefined;
			if (h.group === SmpGroupId.IMAGE && h.op === SmpOp.WRITE_RSP) {
				if (h.command === 1 && (sessionBefore || agent.began !== began)) allowed = "upload";
				else if (h.command === 0 && succeeded) allowed = "stateWrite";
				else if (h.command === 5 && succeeded) allowed = "erase";
			}
		}
		if (moved > 0) {
			if (allowed) report.flashOperations[allowed] += moved;
			else violation(`${moved} flash operation(s) outside an upload session, from ${hex(buffer)}`);
		} else if (!sessionBefore) report.quietOutsideSession++;
		const after = agent.status();
		if (sessionBefore && after.state !== "receiving" && allowed === "upload") {
			if (after.error) report.uploadsRefused[after.error.code] = (report.uploadsRefused[after.error.code] ?? 0) + 1;
			else report.uploadsCompleted++;
		}
	};

	const decoder = new SerialFrameDecoder({ maxLine: 128, maxPacket: 2048 });
	const deliver = (buffer: Uint8Array) => {
		if (random() < 0.5) return serve(buffer);
		// through the serial framing, as the device's UART reads it: a stream, cut anywhere, maybe damaged
		let stream = encodeSerialFrame(buffer);
		if (random() < 0.3) stream = mutate(stream);
		if (random() < 0.1) stream = concatBytes([bytes(int(20)), stream]); // console text before the frame (not spread: thousands of arguments overflow XS's stack)
		for (let at = 0; at < stream.length;) {
			const n = 1 + int(160);
			for (const decoded of decoder.push(stream.subarray(at, at + n))) {
				report.viaSerial++;
				serve(decoded);
			}
			at += n;
		}
	};

	let idleUntil = 0;
	const stackAtStart = options.stackSlots?.();
	for (let k = 0; options.inputs === undefined || k < options.inputs; k++) {
		if ((k & 15) === 0 && options.until?.()) break;
		if (stackAtStart !== undefined && (k & 15) === 0 && options.stackSlots!() !== stackAtStart)
			violation(`the JS stack holds ${options.stackSlots!() - stackAtStart} more slots at input ${k} than at the start`);
		report.inputs++;
		const choice = random();
		if (choice < 0.5 && k >= idleUntil) {
			deliver(uploadChunk(driverOff));
			// follow the device: where it wants the next chunk (a garbled or dropped frame leaves it where it was)
			const status = agent.status();
			driverOff = status.state === "receiving" ? status.nextOffset : 0;
			// once an upload is over (verified or refused), a stretch without one: requests outside any session
			if (status.state !== "receiving" && status.state !== "idle") idleUntil = k + 100 + int(200);
		} else if (k < idleUntil && agent.status().state === "receiving") deliver(packet(SmpOp.WRITE, SmpGroupId.IMAGE, 5, {})); // a mutated first chunk opened one: erase ends it
		else if (k < idleUntil && choice < 0.52) deliver(packet(SmpOp.WRITE, SmpGroupId.IMAGE, 0, { hash: imageHash, confirm: random() < 0.5 })); else if (choice < 0.505) deliver(mutate(uploadChunk(driverOff)));
		else if (choice < 0.515) deliver(random() < 0.5 ? packet(SmpOp.WRITE, SmpGroupId.OS, 5, {}) : mutate(packet(SmpOp.WRITE, SmpGroupId.OS, 5, { force: true })));
		else if (choice < 0.85) {
			const pool = seeds(k < idleUntil);
			deliver(mutate(pool[int(pool.length)]));
		} else deliver(random() < 0.5 ? randomPacket() : bytes(int(80)));
		if (resetAsked) {
			resetAsked = false;
			reset(false);
		}
		if (k % 1000 === 999 || agent.status().state.startsWith("pending")) reset(true);
	}
	agent.close();
	if (!equalBytes(readPrimary(options.running.length), primaryBefore)) violation("the running image's bytes in the primary slot changed");
	report.slowestMs = Number(report.slowestMs.toFixed(2));
	return report;
}
