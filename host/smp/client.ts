/**
 * An SMP client (smp-protocol.md §1-§5, §10): requests with sequence numbers, responses matched
 * by sequence, both error shapes (§2), timeouts with resends (a lost datagram; the upload's `off`
 * rule makes a resent chunk harmless, §7), and the image upload loop that follows the device's `off`.
 */
import { createHash } from "node:crypto";
import { decodeCbor, encodeCbor, type CborMap } from "../../modules/transport/smp/cbor.js";
import { decodeSmpHeader, encodeSmpPacket, SMP_HEADER_SIZE, SmpGroupId, SmpOp, SmpVersion } from "../../modules/transport/smp/header.js";
import { isMap } from "../../modules/transport/smp/server.js";
import type { SmpLink } from "./links.js";

/** The device answered with an error: `rc` (SMP level or v1) or `err` (a v2 group error). */
export class SmpResponseError extends Error {
	override name = "SmpResponseError";
	constructor(readonly rc: number, readonly group: number | undefined, readonly reason: string | undefined) {
		super(group === undefined ? `SMP error rc ${rc}${reason ? `: ${reason}` : ""}` : `SMP group ${group} error ${rc}`);
	}
}

export class SmpTimeoutError extends Error {
	override name = "SmpTimeoutError";
}

/** The packet size asked for leaves no room for data. */
export class SmpSizeError extends Error {
	override name = "SmpSizeError";
}

export interface RequestOptions {
	/** Milliseconds to wait for each try (default 2500). */
	timeout?: number;
	/** Tries in all (default 4). */
	tries?: number;
	/** Called each time a try goes unanswered (before the next, or before giving up). */
	onTimeout?: () => void;
}

export interface UploadOptions {
	image?: number;
	upgrade?: boolean;
	/** The largest SMP packet to send (default: what the device takes, packetLimit()). Never more than the device's buf_size allows on this link. */
	mtu?: number;
	/** The most image bytes per request (default: as many as the packet has room for). */
	chunkSize?: number;
	/** Milliseconds to wait for the first chunk's answer (default 40 s: a device may erase the slot first) and for the others' (default 2500, 4 tries). */
	firstTimeout?: number;
	timeout?: number;
	onProgress?: (offset: number, total: number) => void;
	/** What the client changed on its own, one line for the user (a smaller packet after a timeout). */
	onNotice?: (message: string) => void;
	/**
	 * Upload requests in flight at once (default: what the device's OS params allow, window()); 1
	 * sends each chunk after the previous answer.
	 */
	window?: number;
}

export interface UploadResult {
	/** Bytes the device already held when the upload started (a resumed upload), else 0. */
	resumedFrom: number;
	chunks: number;
	/** The SMP packet size the upload started with, and the one it ended with (smaller after a timeout). */
	packetSize: number;
	finalPacketSize: number;
	/** The most requests that were in flight at once. */
	window: number;
}

/** The most upload requests kept in flight, whatever buf_count a device reports. */
export const MAX_WINDOW = 4;

/**
 * Upload requests in flight for a device reporting `bufCount` (OS params' buf_count, Zephyr's
 * CONFIG_MCUMGR_TRANSPORT_NETBUF_COUNT): all but one of its buffers, which its response needs
 * (requests and responses share that pool, zephyr subsys/mgmt/mcumgr/transport/src/smp.c
 * smp_packet_alloc()), at most MAX_WINDOW; one when the device does not say (MCUboot's recovery).
 * nRF Connect Device Manager pipelines its uploads the same way (its window from buf_count).
 */
export function uploadWindow(bufCount: number | undefined): number {
	return bufCount === undefined ? 1 : Math.max(1, Math.min(MAX_WINDOW, bufCount - 1));
}

/**
 * Zephyr's default buf_size (Kconfig MCUMGR_TRANSPORT_NETBUF_SIZE, default 384 unless the
 * application sets it: zephyr subsys/mgmt/mcumgr/transport/Kconfig): the buffer an upload steps
 * down to when a larger packet went unanswered.
 */
export const ZEPHYR_DEFAULT_BUF_SIZE = 384;
/** The smallest packet an upload steps down to: a first chunk (header, len, sha, off) and some data fit. */
const MIN_PACKET = 128;

/**
 * The largest SMP packet a device takes on `link`: its buf_size less what the link's framing
 * puts in the same buffer (SmpLink.framing: 4 on a serial line, so 1020 for the 1024 of a
 * Zephyr app with CONFIG_MCUMGR_TRANSPORT_NETBUF_SIZE=1024, measured on a real one: 1020 answered,
 * 1021 dropped). A device without OS params (MCUboot's serial recovery) gets the link's default,
 * `link.mtu`: on a serial line MCUboot's default receive size less the framing, 1020. An explicit
 * `mtu` is capped by the device's own figure, else only by what the link can carry.
 */
export function packetLimit(link: Pick<SmpLink, "framing" | "mtu" | "maxMtu">, bufSize: number | undefined, mtu?: number): number {
	const device = bufSize === undefined ? undefined : bufSize - link.framing;
	return Math.min(mtu ?? device ?? link.mtu, device ?? Infinity, link.maxMtu);
}

/** The packet size to try after `size` went unanswered: Zephyr's default buffer if below it, else half, never below MIN_PACKET. */
export function smallerPacket(size: number, framing: number): number {
	const zephyrDefault = ZEPHYR_DEFAULT_BUF_SIZE - framing;
	return Math.max(MIN_PACKET, size > zephyrDefault ? zephyrDefault : Math.floor(size / 2));
}

export class SmpClient {
	readonly #link: SmpLink;
	readonly #version: number;
	#sequence = Math.floor(Math.random() * 256);
	readonly #waiting = new Map<number, (packet: Uint8Array) => void>();

	constructor(link: SmpLink, version: number = SmpVersion.V2) {
		this.#link = link;
		this.#version = version;
		link.onPacket = (packet) => {
			if (packet.length < SMP_HEADER_SIZE) return;
			this.#waiting.get(decodeSmpHeader(packet).sequence)?.(packet);
		};
	}

	/** One request; resolves with the response map, rejects with SmpResponseError or SmpTimeoutError. */
	async request(op: number, group: number, command: number, body: CborMap, options: RequestOptions = {}): Promise<CborMap> {
		const sequence = this.#sequence = (this.#sequence + 1) & 0xff;
		const packet = encodeSmpPacket({ op, version: this.#version, flags: 0, group, sequence, command }, encodeCbor(body));
		const timeout = options.timeout ?? 2500;
		const tries = options.tries ?? 4;
		try {
			for (let attempt = 0; attempt < tries; attempt++) {
				const response = await new Promise<Uint8Array | undefined>((resolve) => {
					const timer = setTimeout(() => resolve(undefined), timeout);
					this.#waiting.set(sequence, (p) => {
						const h = decodeSmpHeader(p);
						if (h.group !== group || h.command !== command || h.op !== op + 1) return; // not ours (an old reply)
						clearTimeout(timer);
						resolve(p);
					});
					this.#link.send(packet);
				});
				if (response) return parseResponse(response);
				options.onTimeout?.();
			}
		} finally {
			this.#waiting.delete(sequence);
		}
		throw new SmpTimeoutError(`no answer from the device (${this.#link.name}) after ${tries} ${tries === 1 ? "try" : "tries"} of ${timeout} ms (group ${group}, command ${command})`);
	}

	read(group: number, command: number, body: CborMap = {}, options?: RequestOptions): Promise<CborMap> {
		return this.request(SmpOp.READ, group, command, body, options);
	}

	write(group: number, command: number, body: CborMap = {}, options?: RequestOptions): Promise<CborMap> {
		return this.request(SmpOp.WRITE, group, command, body, options);
	}

	/** OS params (cmd 6), or undefined when the device lacks it (§4). */
	async params(): Promise<{ bufSize: number; bufCount: number } | undefined> {
		try {
			const r = await this.read(SmpGroupId.OS, 6, {}, { tries: 2 });
			return typeof r.buf_size === "number" ? { bufSize: r.buf_size, bufCount: Number(r.buf_count ?? 1) } : undefined;
		} catch (e) {
			if (e instanceof SmpResponseError) return undefined;
			throw e;
		}
	}

	/**
	 * Uploads an image (§5.3, §10): chunks as large as the device takes (packetLimit()),
	 * `len`/`sha`/`image`/`upgrade` on the chunk at offset 0, then wherever each response's `off`
	 * points. Resumes a session the device already holds (same `sha`). A chunk that goes
	 * unanswered is sent once more in a smaller packet (smallerPacket(), said through
	 * `onNotice`) before the upload gives up: a device whose buffer is smaller than it said, or
	 * than the default assumed, drops a packet too large for it without a word.
	 */
	async upload(bytes: Uint8Array, options: UploadOptions = {}): Promise<UploadResult> {
		const sha = new Uint8Array(createHash("sha256").update(bytes).digest());
		const params = await this.params();
		const packetSize = packetLimit(this.#link, params?.bufSize, options.mtu);
		let window = Math.max(1, options.window ?? uploadWindow(params?.bufCount));
		let widest = 1;
		let mtu = packetSize;
		let shrunk = false;
		let off = 0;
		let chunks = 0;
		/** Bytes the device holds (by its account after the first chunk, then the chunks it took): the progress figure. */
		let held = 0;
		let resumedFrom = 0;
		/** Bytes from `limit` on are held by the device or asked for later (#pipelined). */
		let limit = bytes.length;
		/** The request for the chunk at `at` (`first`: the chunk at 0, with len and sha) and its data, which stops short of `end`. */
		const chunkAt = (at: number, end = bytes.length) => {
			const first: CborMap = at === 0 ? { image: options.image ?? 0, len: bytes.length, sha, ...(options.upgrade ? { upgrade: true } : {}) } : {};
			const fields: CborMap = { ...first, off: at };
			// what the request costs without data, plus the byte string's own head (at most 3 bytes below 65536)
			const overhead = SMP_HEADER_SIZE + encodeCbor({ ...fields, data: new Uint8Array(0) }).length + 2;
			const room = mtu - overhead;
			if (room < (at === 0 ? 32 : 1)) throw new SmpSizeError(`an SMP packet of ${mtu} bytes leaves no room for image data (the first chunk needs ${overhead + 32})`);
			const data = bytes.subarray(at, Math.min(end, at + room, at + (options.chunkSize ?? Infinity)));
			return { fields, data };
		};
		const timing = (at: number) => at === 0 ? { timeout: options.firstTimeout ?? 40_000, tries: 1 } : { timeout: options.timeout ?? 2500, tries: 4 };
		while (off < bytes.length) {
			if (off !== 0 && window > 1) {
				const step = await this.#pipelined(bytes, off, window, limit, chunkAt, timing(off));
				limit = step.limit;
				chunks += step.chunks;
				held += step.taken;
				widest = Math.max(widest, step.widest);
				off = step.off;
				options.onProgress?.(Math.min(held, bytes.length), bytes.length);
				if (step.timedOut && step.off !== 0) {
					// a request went unanswered with others in flight: one at a time from here, as a device that
					// pipelines nothing would want, and the one-at-a-time loop's smaller packets if that fails too.
					// (A device that then answers off 0 lost the upload: it restarted, which explains the silence,
					// and the first chunk resumes the session with the window as it was.)
					window = 1;
					options.onNotice?.(`no answer to an upload request with ${step.widest} in flight: sending one at a time from offset ${off}`);
				}
				continue;
			}
			const { fields, data } = chunkAt(off);
			let response: CborMap;
			try {
				response = await this.write(SmpGroupId.IMAGE, 1, { ...fields, data }, timing(off));
			} catch (e) {
				const smaller = smallerPacket(mtu, this.#link.framing);
				if (!(e instanceof SmpTimeoutError) || shrunk || smaller >= mtu) throw e;
				shrunk = true;
				options.onNotice?.(`no answer to a ${SMP_HEADER_SIZE + encodeCbor({ ...fields, data }).length}-byte upload packet at offset ${off}: sending ${smaller}-byte packets from here (--mtu ${smaller} skips this)`);
				mtu = smaller;
				continue;
			}
			chunks++;
			checkUploadResponse(response);
			if (off === 0) {
				// the device's offsets need not be in order (Sealdrop's agent wants the TLVs before the body), so ask
				// how much it holds; a device without the Sealdrop group (Zephyr's img_mgmt) takes bytes in order, and
				// the first answer's off is where it resumes an upload of the same len and sha
				const received = (await this.#received()) ?? response.off as number;
				resumedFrom = received > data.length ? received : 0;
				held = Math.max(received, data.length);
			} else if (response.off !== off) held += data.length;
			off = response.off as number;
			options.onProgress?.(Math.min(held, bytes.length), bytes.length);
		}
		return { resumedFrom, chunks, packetSize, finalPacketSize: mtu, window: widest };
	}

	/**
	 * Sends chunks from `off` with up to `window` requests in flight, each at the offset that
	 * follows the one before (smp-protocol.md §5.3: the device answers each with the offset it
	 * wants next, and ignores a chunk at any other offset). Answers come in order: while each
	 * says the next offset sent, the window slides; when one says another (the agent jumps from the
	 * TLV areas back to the body, or a chunk was lost), what is in flight is let through, since every
	 * request carries the image's own bytes for its offset and the device ignores misplaced ones,
	 * and this returns with the device's last word. A try that goes unanswered returns too, with
	 * `timedOut`, once what is in flight has been answered (resent as request() does) or has timed out.
	 *
	 * Two things keep the window from running past what the device wants. `limit`: when the device
	 * takes the chunks from `off` on and then asks for earlier bytes (Sealdrop's agent takes the TLV
	 * areas first), the bytes from `off` on are ones it holds or will ask for, so no chunk is sent there
	 * until the device asks for an offset there (returned, for the next call). And once an answer
	 * says the image is whole (off = its length), the answers to chunks sent before it are not news:
	 * a device that has closed the upload may answer them with off 0 or an error.
	 */
	async #pipelined(bytes: Uint8Array, off: number, window: number, limit: number, chunkAt: (at: number, end: number) => { fields: CborMap; data: Uint8Array }, timing: RequestOptions): Promise<{ off: number; limit: number; chunks: number; taken: number; widest: number; timedOut: boolean }> {
		const inFlight: { at: number; length: number; answer: Promise<CborMap> }[] = [];
		const end = off < limit ? limit : bytes.length;
		let next = off;
		let wanted = off;
		let chunks = 0, taken = 0, widest = 0;
		let timedOut = false;
		let inOrder = true;
		let whole = false;
		let nextLimit = end;
		// the first try that goes unanswered stops the window growing: the device may not take so many at once
		const timed = { ...timing, onTimeout: () => { timedOut = true; } };
		while (!whole && wanted < bytes.length || inFlight.length) {
			while (!whole && inOrder && !timedOut && inFlight.length < window && next < end) {
				const { fields, data } = chunkAt(next, end);
				const answer = this.write(SmpGroupId.IMAGE, 1, { ...fields, data }, timed);
				answer.catch(() => {}); // awaited below, in order
				inFlight.push({ at: next, length: data.length, answer });
				next += data.length;
				widest = Math.max(widest, inFlight.length);
			}
			const request = inFlight.shift();
			if (!request) break;
			let response: CborMap;
			try {
				response = await request.answer;
			} catch (e) {
				if (whole) continue;
				if (!(e instanceof SmpTimeoutError)) throw e;
				timedOut = true;
				continue;
			}
			chunks++;
			if (whole) continue;
			checkUploadResponse(response);
			const said = response.off as number;
			if (request.at === wanted) {
				taken += request.length;
				// it took the run of chunks from `off` to here and wants bytes before them: it holds that run
				if (said < off) nextLimit = Math.min(nextLimit, off);
			}
			wanted = said;
			if (wanted >= bytes.length) whole = true;
			else if (wanted !== request.at + request.length) inOrder = false;
			if (!inOrder && !inFlight.length) break;
		}
		return { off: wanted, limit: nextLimit, chunks, taken, widest, timedOut };
	}

	/** The bytes of the upload the device holds (Sealdrop group, cmd 2), or undefined from a device without it. */
	async #received(): Promise<number | undefined> {
		try {
			const status = await this.read(SmpGroupId.SEALDROP, 2, {}, { tries: 2 });
			return typeof status.received === "number" ? status.received : undefined;
		} catch (e) {
			if (e instanceof SmpResponseError) return undefined;
			throw e;
		}
	}

	close(): void {
		this.#link.close();
	}
}

/** What every upload answer must say: where to continue, and no sha mismatch. */
function checkUploadResponse(response: CborMap): void {
	if (typeof response.off !== "number") throw new Error("the device's upload response has no \"off\"");
	if (response.match === false) throw new Error("the device reports that the uploaded image does not match its sha");
}

function parseResponse(packet: Uint8Array): CborMap {
	const h = decodeSmpHeader(packet);
	const payload = packet.subarray(SMP_HEADER_SIZE, SMP_HEADER_SIZE + h.length);
	const body = payload.length ? decodeCbor(payload) : {};
	if (!isMap(body)) throw new Error("the device's response is not a CBOR map");
	const err = body.err;
	if (isMap(err ?? null) && typeof (err as CborMap).rc === "number" && (err as CborMap).rc !== 0)
		throw new SmpResponseError((err as CborMap).rc as number, Number((err as CborMap).group), undefined);
	if (typeof body.rc === "number" && body.rc !== 0) throw new SmpResponseError(body.rc, undefined, typeof body.rsn === "string" ? body.rsn : undefined);
	return body;
}
