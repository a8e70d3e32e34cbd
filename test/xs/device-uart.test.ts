/**
 * The device app's SMP loop (modules/app DeviceSmp.listen) on the UARTs Moddable's platforms
 * give: ECMA-419's read(buffer), which ESP32, Zephyr, nRF52 and Pico have, and the Linux and
 * Windows serial, whose read() takes only a count (given a buffer, they read nothing and return
 * an empty ArrayBuffer), and one that answers "nothing waits" with an empty ArrayBuffer rather
 * than undefined. Each way, echo requests split across reads are answered, each once and in order,
 * and the loop ends when nothing waits.
 */
import { concatBytes } from "sealdrop/image";
import { parseBoardConfig, UpdateAgent } from "sealdrop/update";
import { DeviceSmp, type UartPort } from "../../modules/app/app.js";
import { decodeCbor, encodeCbor } from "../../modules/transport/smp/cbor.js";
import { encodeSmpPacket } from "../../modules/transport/smp/header.js";
import { encodeSerialFrame, SerialFrameDecoder } from "../../modules/transport/smp/serial-framing.js";
import { equal, test } from "../harness.js";

const board = parseBoardConfig("sim", {
	installer: "mcuboot", swap: "scratch", maxAlign: 8, images: [{ primary: "primary", secondary: "secondary" }],
	scratch: "scratch", journal: "journal", storage: "storage",
});

/** A UART holding `bytes`, handing them out `step` bytes per read at most, in one platform's manner. */
class FakeUart implements UartPort {
	readonly written: Uint8Array[] = [];
	#at = 0;
	constructor(readonly bytes: Uint8Array, readonly step: number, readonly readsInto: boolean, readonly emptyWhenNothing = false) {}
	get waiting(): number {
		return Math.min(this.step, this.bytes.length - this.#at);
	}
	read(buffer?: ArrayBuffer | ArrayBufferView): number | ArrayBuffer | undefined {
		const available = this.waiting;
		if (available === 0) return this.emptyWhenNothing ? new ArrayBuffer(0) : undefined;
		if (buffer !== undefined && this.readsInto) {
			const into = ArrayBuffer.isView(buffer) ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength) : new Uint8Array(buffer);
			const n = Math.min(available, into.length);
			into.set(this.bytes.subarray(this.#at, this.#at + n));
			this.#at += n;
			return n;
		}
		// Moddable's lin serial: the argument is a count (a buffer counts as 0)
		const count = buffer === undefined ? available : Math.min(available, Number(buffer) || 0);
		const out = this.bytes.slice(this.#at, this.#at + count);
		this.#at += count;
		return out.buffer;
	}
	write(data: ArrayBuffer): void {
		this.written.push(new Uint8Array(data.slice(0)));
	}
	close(): void {}
}

function echoFrames(texts: string[]): Uint8Array {
	return concatBytes(texts.map((d, i) => encodeSerialFrame(encodeSmpPacket({ op: 2, version: 1, flags: 0, group: 0, sequence: i, command: 0 }, encodeCbor({ d })))));
}

function answers(uart: FakeUart): string[] {
	const decoder = new SerialFrameDecoder({ bufSize: 4096 });
	const out: string[] = [];
	for (const w of uart.written) for (const packet of decoder.push(w)) out.push(String((decodeCbor(packet.subarray(8)) as { r: unknown }).r));
	return out;
}

for (const [readsInto, emptyWhenNothing] of [[true, false], [false, false], [false, true]]) {
	const kind = readsInto ? "read(buffer) (ESP32, Zephyr)" : `read() only (Moddable's lin serial)${emptyWhenNothing ? ", nothing read as an empty ArrayBuffer" : ""}`;
	test(`device UART loop: echoes answered in order, split at every read size, ${kind}`, () => {
		const agent = new UpdateAgent({ board, trust: [] });
		try {
			const smp = new DeviceSmp({ agent, board, trust: [], bufSize: 1024, bufCount: 2 });
			const texts = ["one", "two " + "x".repeat(300), "three"];
			const bytes = echoFrames(texts);
			for (const step of [1, 7, 127, 128, 600, bytes.length]) {
				const uart = new FakeUart(bytes, step, readsInto, emptyWhenNothing);
				let onReadable: () => void = () => {};
				smp.listen((callback) => {
					onReadable = callback;
					return uart;
				}, () => {});
				// a UART calls back while bytes wait; each callback here drains what one read gives and more
				for (let calls = 0; uart.waiting > 0 && calls < bytes.length; calls++) onReadable();
				equal(uart.waiting, 0, `${step}-byte reads: all read`);
				equal(answers(uart).join("|"), texts.join("|"), `${step}-byte reads`);
			}
		} finally {
			agent.close();
		}
	});
}
