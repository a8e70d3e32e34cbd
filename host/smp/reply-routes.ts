/** `sealdrop sim serve --udp`: which client asked what (./sim-serve.ts). */
import { decodeSmpHeader, SMP_HEADER_SIZE, SmpOp } from "../../modules/transport/smp/header.js";

/**
 * Which client asked what, so each answer goes back to the datagram's sender, as Zephyr's UDP
 * transport does (smp_udp.c smp_udp_receive_thread() keeps the sender's address in the request's
 * net_buf user data; smp_udp4_tx() sends the response there). The device answers the requests it
 * takes in the order it got them (one UART, one SMP server), so an answer belongs to the oldest
 * pending request with its group, sequence number and command; pending requests before that one
 * were dropped (a bad frame) or cut short (the device stops at the first error in a datagram)
 * and are forgotten. Requests nobody answered are forgotten after `maxAge` ms too.
 */
export class ReplyRoutes<A> {
	#pending: { key: string; to: A; at: number }[] = [];
	constructor(readonly maxAge = 60_000, readonly now: () => number = Date.now) {}

	/** The requests in one datagram (one or more SMP packets) from `to`. */
	add(datagram: Uint8Array, to: A): void {
		const at = this.now();
		this.#pending = this.#pending.filter((p) => at - p.at < this.maxAge);
		for (let offset = 0; datagram.length - offset >= SMP_HEADER_SIZE;) {
			const h = decodeSmpHeader(datagram, offset);
			if (h.op === SmpOp.READ || h.op === SmpOp.WRITE) this.#pending.push({ key: `${h.op}/${h.group}/${h.sequence}/${h.command}`, to, at });
			offset += SMP_HEADER_SIZE + h.length;
		}
	}

	/** Where the answer `packet` goes, or undefined when no pending request asked for it. */
	route(packet: Uint8Array): A | undefined {
		if (packet.length < SMP_HEADER_SIZE) return undefined;
		const h = decodeSmpHeader(packet);
		const key = `${h.op - 1}/${h.group}/${h.sequence}/${h.command}`;
		const i = this.#pending.findIndex((p) => p.key === key);
		if (i < 0) return undefined;
		const { to } = this.#pending[i];
		this.#pending.splice(0, i + 1);
		return to;
	}

	/** The device reset: nothing sent before will be answered. */
	clear(): void {
		this.#pending = [];
	}
}
