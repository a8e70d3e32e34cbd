/**
 * DEVICE ONLY — not run by the tests: the HttpClient over Moddable's HTTP client (the `http`
 * module's Request class, Moddable SDK documentation/network/network.md). The app passes the
 * class in, so this file compiles without Moddable's typings:
 *
 *   import { Request } from "http";
 *   import SecureSocket from "securesocket";          // https, where the board has TLS
 *   const client = new ModdableHttpClient(Request, { Socket: SecureSocket, secure: { protocolVersion: 0x303 } });
 *   await pull({ url: "https://updates.example.com/devices/dev-0001/image", client, agent });
 *
 * Request's callback gets (message, value, etc): 1 status (value = status code), 2 one header
 * (value = name in lower case, etc = value), 3 headers complete, 4 a piece of the response body
 * (value = bytes available, read with this.read(ArrayBuffer, count)), 5 the response is complete,
 * a negative message an error. `response: undefined` keeps the body from being buffered whole.
 */
import type { HttpClient, HttpHandlers, HttpRequest } from "./client.js";

/** The part of Moddable's Request this adapter uses. */
export interface ModdableRequest {
	callback: (message: number, value?: unknown, etc?: unknown) => void;
	read(type: ArrayBufferConstructor, count: number): ArrayBuffer;
	close(): void;
}

export type ModdableRequestClass = new (options: Record<string, unknown>) => ModdableRequest;

const STATUS = 1;
const HEADER = 2;
const HEADERS_COMPLETE = 3;
const RESPONSE_FRAGMENT = 4;
const RESPONSE_COMPLETE = 5;

export class ModdableHttpClient implements HttpClient {
	readonly #Request: ModdableRequestClass;
	readonly #extra: Record<string, unknown>;

	/** `extra`: more Request options for every request (Socket and secure for TLS, a port...). */
	constructor(Request: ModdableRequestClass, extra: Record<string, unknown> = {}) {
		this.#Request = Request;
		this.#extra = extra;
	}

	request(request: HttpRequest, handlers: HttpHandlers): { cancel(): void } {
		const m = /^(https?):\/\/([^/:]+)(?::(\d+))?(\/.*)?$/.exec(request.url);
		if (!m) {
			handlers.onError(`not an http(s) URL: ${request.url}`);
			return { cancel() {} };
		}
		const headers: string[] = [];
		for (const name in request.headers) headers.push(name, request.headers[name]);
		const options: Record<string, unknown> = {
			host: m[2], path: m[4] ?? "/", method: request.method, headers, response: undefined, ...this.#extra,
		};
		if (m[3]) options.port = Number(m[3]);
		let status = 0;
		let live = true;
		const received: Record<string, string> = {};
		const r = new this.#Request(options);
		r.callback = function (message, value, etc) {
			if (!live) return;
			if (message === STATUS) status = value as number;
			else if (message === HEADER) {
				const name = String(value).toLowerCase();
				received[name] = name in received ? `${received[name]}, ${etc}` : String(etc);
			} else if (message === HEADERS_COMPLETE) handlers.onHead({ status, headers: received });
			else if (message === RESPONSE_FRAGMENT) handlers.onData(new Uint8Array(this.read(ArrayBuffer, value as number)));
			else if (message === RESPONSE_COMPLETE) {
				live = false;
				handlers.onEnd();
			} else if (message < 0) {
				live = false;
				handlers.onError(`connection failed (${message})`);
			}
		};
		return {
			cancel() {
				if (!live) return;
				live = false;
				r.close();
			},
		};
	}
}
