/**
 * The simulator's HTTP bridge: the device program on XS asks a host-side HTTP client (Node,
 * host/sim/http-bridge.ts) to make its requests, over the XS process's console UART (stdin and
 * stdout). Simulator only; a device uses its own HTTP client (moddable.ts).
 *
 * Framing, both ways: frame = type (1 ASCII byte) | payload length (u32, big-endian) | payload.
 *   device → host  Q  request   JSON {id, method, url, headers}
 *                  C  cancel    JSON {id}
 *                  Z  done      empty: the device is done with the line; what follows on stdout is
 *                               the device program's own output (text)
 *   host → device  H  head      JSON {id, status, headers} (header names in lower case)
 *                  D  data      u32 id (big-endian) | body bytes
 *                  E  end       JSON {id}: the body is complete
 *                  X  error     JSON {id, message}: the request failed or the body was cut short
 */
import type { HttpClient, HttpHandlers, HttpRequest } from "./client.js";

export interface Frame {
	type: string;
	payload: Uint8Array;
}

const HEADER = 5;

export function encodeFrame(type: string, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
	const frame = new Uint8Array(HEADER + payload.length);
	frame[0] = type.charCodeAt(0);
	new DataView(frame.buffer).setUint32(1, payload.length);
	frame.set(payload, HEADER);
	return frame;
}

export function jsonFrame(type: string, value: unknown): Uint8Array {
	return encodeFrame(type, new TextEncoder().encode(JSON.stringify(value)));
}

export function dataFrame(id: number, bytes: Uint8Array): Uint8Array {
	const payload = new Uint8Array(4 + bytes.length);
	new DataView(payload.buffer).setUint32(0, id);
	payload.set(bytes, 4);
	return encodeFrame("D", payload);
}

export function frameJson<T>(frame: Frame): T {
	return JSON.parse(new TextDecoder().decode(frame.payload)) as T;
}

/** Cuts a byte stream into frames. */
export class FrameReader {
	#buffer: Uint8Array = new Uint8Array(0);

	push(bytes: Uint8Array): void {
		if (this.#buffer.length === 0) {
			this.#buffer = bytes;
			return;
		}
		const joined = new Uint8Array(this.#buffer.length + bytes.length);
		joined.set(this.#buffer);
		joined.set(bytes, this.#buffer.length);
		this.#buffer = joined;
	}

	/** The next complete frame, or undefined until more bytes come. */
	next(): Frame | undefined {
		if (this.#buffer.length < HEADER) return undefined;
		const length = new DataView(this.#buffer.buffer, this.#buffer.byteOffset).getUint32(1);
		if (this.#buffer.length < HEADER + length) return undefined;
		const frame = { type: String.fromCharCode(this.#buffer[0]), payload: this.#buffer.subarray(HEADER, HEADER + length) };
		this.#buffer = this.#buffer.subarray(HEADER + length);
		return frame;
	}

	/** The bytes not yet framed (what follows a Z frame). */
	rest(): Uint8Array {
		const rest = this.#buffer;
		this.#buffer = new Uint8Array(0);
		return rest;
	}
}

/** The device side: an HttpClient whose requests travel as frames over `send`; feed what comes back to receive(). */
export class BridgeClient implements HttpClient {
	readonly #send: (frame: Uint8Array) => void;
	readonly #reader = new FrameReader();
	readonly #open = new Map<number, HttpHandlers>();
	#nextId = 1;

	constructor(send: (frame: Uint8Array) => void) {
		this.#send = send;
	}

	request(request: HttpRequest, handlers: HttpHandlers): { cancel(): void } {
		const id = this.#nextId++;
		this.#open.set(id, handlers);
		this.#send(jsonFrame("Q", { id, ...request }));
		return {
			cancel: () => {
				if (this.#open.delete(id)) this.#send(jsonFrame("C", { id }));
			},
		};
	}

	receive(bytes: Uint8Array): void {
		this.#reader.push(bytes);
		for (let frame = this.#reader.next(); frame; frame = this.#reader.next()) {
			if (frame.type === "D") {
				const id = new DataView(frame.payload.buffer, frame.payload.byteOffset).getUint32(0);
				this.#open.get(id)?.onData(frame.payload.subarray(4));
				continue;
			}
			const message = frameJson<{ id: number; status: number; headers: Record<string, string>; message: string }>(frame);
			const handlers = this.#open.get(message.id);
			if (!handlers) continue; // cancelled meanwhile
			if (frame.type === "H") handlers.onHead({ status: message.status, headers: message.headers });
			else if (frame.type === "E" || frame.type === "X") {
				this.#open.delete(message.id);
				if (frame.type === "E") handlers.onEnd();
				else handlers.onError(message.message);
			}
		}
	}

	/** Tells the host the device is done with the line. */
	close(): void {
		for (const id of this.#open.keys()) this.#send(jsonFrame("C", { id }));
		this.#open.clear();
		this.#send(encodeFrame("Z"));
	}
}
