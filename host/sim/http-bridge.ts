/**
 * The host half of the simulator's HTTP bridge (framing: modules/transport/http/bridge.ts): runs in
 * Node beside the XS device program, makes the requests the device frames on its stdout with
 * node:http, and frames the answers back onto its stdin. After the device's Z frame, what it
 * writes on stdout is its own text output, kept for text().
 */
import http from "node:http";
import type { Writable } from "node:stream";
import { dataFrame, FrameReader, frameJson, jsonFrame } from "../../modules/transport/http/bridge.js";
import type { HttpRequest } from "../../modules/transport/http/client.js";

export class HttpBridgeHost {
	readonly #reader = new FrameReader();
	readonly #requests = new Map<number, http.ClientRequest>();
	readonly #text: Buffer[] = [];
	#toDevice?: Writable;
	#done = false;

	start(toDevice: Writable): void {
		this.#toDevice = toDevice;
		toDevice.on("error", () => {}); // the device may exit with answers still in flight
	}

	/** Bytes from the device's stdout. */
	receive(chunk: Buffer): void {
		if (this.#done) return void this.#text.push(chunk);
		this.#reader.push(chunk);
		for (let frame = this.#reader.next(); frame; frame = this.#reader.next()) {
			if (frame.type === "Z") {
				this.#done = true;
				this.#text.push(Buffer.from(this.#reader.rest()));
				this.stop();
				return;
			}
			const message = frameJson<HttpRequest & { id: number }>(frame);
			if (frame.type === "Q") this.#request(message);
			else if (frame.type === "C") this.#cancel(message.id);
		}
	}

	/** The device program's text output (after its Z frame). */
	text(): string {
		return Buffer.concat(this.#text).toString("utf8");
	}

	stop(): void {
		for (const id of [...this.#requests.keys()]) this.#cancel(id);
	}

	#send(frame: Uint8Array): void {
		if (!this.#done && this.#toDevice?.writable) this.#toDevice.write(frame);
	}

	#cancel(id: number): void {
		this.#requests.get(id)?.destroy();
		this.#requests.delete(id);
	}

	#request({ id, method, url, headers }: HttpRequest & { id: number }): void {
		let settled = false;
		const settle = (frame: Uint8Array) => {
			if (settled || !this.#requests.has(id)) return;
			settled = true;
			this.#requests.delete(id);
			this.#send(frame);
		};
		const request = http.request(url, { method, headers, agent: false }, (response) => {
			const fields: Record<string, string> = {};
			for (const [name, value] of Object.entries(response.headers)) if (value !== undefined) fields[name] = Array.isArray(value) ? value.join(", ") : value;
			this.#send(jsonFrame("H", { id, status: response.statusCode, headers: fields }));
			response.on("data", (bytes: Buffer) => { if (!settled) this.#send(dataFrame(id, bytes)); });
			response.on("error", () => {});
			response.on("close", () => settle(response.complete ? jsonFrame("E", { id }) : jsonFrame("X", { id, message: "the connection closed before the body was complete" })));
		});
		request.on("error", (e) => settle(jsonFrame("X", { id, message: e.message })));
		this.#requests.set(id, request);
		request.end();
	}
}
