/**
 * The SMP server (smp-protocol.md §1-§3, checklist §11): takes a buffer holding one or more SMP
 * requests, hands each to its group, and answers each in order with the request's group,
 * sequence number and command, op + 1 and Ver = min(request Ver, 1). Errors take the shape the
 * request's version asks for (§2); nothing a client sends makes it throw.
 */
import { CborError, decodeCbor, encodeCbor, type CborMap, type CborValue } from "./cbor.js";
import { SmpError } from "./errors.js";
import { decodeSmpHeader, encodeSmpPacket, SMP_HEADER_SIZE, SmpOp, SmpRc, SmpVersion, type SmpHeader } from "./header.js";
import type { Transport } from "../transport.js";

export interface SmpRequest {
	header: SmpHeader;
	/** The request's CBOR map ({} when the payload is empty). */
	body: CborMap;
}

/** One SMP group: a command handler that returns the response map or throws SmpError. */
export interface SmpGroup {
	readonly id: number;
	/** Throws SmpError with SmpRc.NOTSUP for a command (or op) it does not have. */
	handle(request: SmpRequest): CborMap;
}

export interface SmpServerOptions {
	groups: SmpGroup[];
	/** Largest response the server sends (and request it takes), as OS params (cmd 6) report: buf_size. */
	bufSize: number;
}

export class SmpServer {
	readonly bufSize: number;
	readonly #groups = new Map<number, SmpGroup>();

	constructor(options: SmpServerOptions) {
		this.bufSize = options.bufSize;
		for (const group of options.groups) this.#groups.set(group.id, group);
	}

	/**
	 * Answers the requests in `length` bytes of `buffer` from `offset` (all of it by default), one
	 * response per request, in order. As Zephyr does, it
	 * stops after the first error and after a header whose length runs past the buffer
	 * (ECORRUPT). Responses (op 1, 3) sent to the server are ignored.
	 */
	process(buffer: Uint8Array, offset = 0, length = buffer.length - offset): Uint8Array[] {
		const responses: Uint8Array[] = [];
		const stop = offset + length;
		let at = offset;
		while (stop - at >= SMP_HEADER_SIZE) {
			const header = decodeSmpHeader(buffer, at);
			const end = at + SMP_HEADER_SIZE + header.length;
			const request = header.op === SmpOp.READ || header.op === SmpOp.WRITE;
			if (end > stop) {
				if (!request) break;
				responses.push(this.#error(header, new SmpError(SmpRc.CORRUPT, `the header announces ${header.length} bytes, ${stop - at - SMP_HEADER_SIZE} follow`)));
				break;
			}
			const payload = buffer.subarray(at + SMP_HEADER_SIZE, end);
			at = end;
			if (!request) continue;
			const { response, failed } = this.#answer(header, payload);
			responses.push(response);
			if (failed) break;
		}
		return responses;
	}

	#answer(header: SmpHeader, payload: Uint8Array): { response: Uint8Array; failed: boolean } {
		try {
			if (header.version > SmpVersion.V2) throw new SmpError(SmpRc.UNSUPPORTED_TOO_NEW, `SMP header version ${header.version} is newer than this server`);
			const group = this.#groups.get(header.group);
			if (!group) throw new SmpError(SmpRc.NOTSUP, `no group ${header.group}`);
			const response = this.#packet(header, group.handle({ header, body: decodeBody(payload) }));
			if (response.length > this.bufSize) throw new SmpError(SmpRc.MSGSIZE, `a ${response.length}-byte response exceeds buf_size ${this.bufSize}`);
			return { response, failed: false };
		} catch (e) {
			return { response: this.#error(header, e), failed: true };
		}
	}

	#packet(request: SmpHeader, body: CborMap): Uint8Array {
		return encodeSmpPacket({
			op: request.op + 1, version: Math.min(request.version, SmpVersion.V2), flags: 0,
			group: request.group, sequence: request.sequence, command: request.command,
		}, encodeCbor(body));
	}

	/** §2: SMP-level errors as `rc` always; group errors as `err` in v2 and translated `rc` (with `rsn`) in v1. */
	#error(request: SmpHeader, e: unknown): Uint8Array {
		const error = e instanceof SmpError ? e
			: e instanceof CborError ? new SmpError(SmpRc.INVAL, `malformed CBOR: ${e.message}`)
			: new SmpError(SmpRc.UNKNOWN, e instanceof Error ? e.message : String(e));
		let body: CborMap;
		if (error.group && request.version === SmpVersion.V2) body = { err: { group: error.group.id, rc: error.group.rc } };
		else body = { rc: error.rc, rsn: truncate(error.message, 96) };
		return this.#packet(request, body);
	}
}

/**
 * How deep a request body may nest: its map and one level of containers inside it. No request of
 * the groups served here nests at all. Zephyr bounds this too (CONFIG_MCUMGR_SMP_CBOR_MAX_DECODING_LEVELS
 * sizes struct cbor_nb_reader's zcbor states, zephyr/mgmt/mcumgr/smp/smp.h); here it bounds the JS
 * stack: the decoder recurses, and a board's XS stack is a few hundred slots (manifest.json's creation;
 * 512 then), which a 25-byte body nested 8 deep used to exhaust, aborting the engine.
 */
export const SMP_REQUEST_DEPTH = 2;

/**
 * A request's payload: a CBOR map, or {} when empty. Its byte strings are views of the request
 * (an upload's `data` reaches the agent without a copy): valid while the group handles it, so a
 * group copies what it keeps.
 */
function decodeBody(payload: Uint8Array): CborMap {
	if (payload.length === 0) return {};
	const value = decodeCbor(payload, { maxDepth: SMP_REQUEST_DEPTH, byteStringViews: true });
	if (!isMap(value)) throw new SmpError(SmpRc.INVAL, "the request body is not a CBOR map");
	return value;
}

export function isMap(value: CborValue): value is CborMap {
	return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function truncate(text: string, max: number): string {
	return text.length <= max ? text : text.slice(0, max - 1) + "…";
}

/** Serves SMP on a transport: each message is processed and each response sent back on it. */
export function serveSmp(server: SmpServer, transport: Transport): void {
	transport.onMessage = (message) => {
		for (const response of server.process(message)) transport.send(response);
	};
}
