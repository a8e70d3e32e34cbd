/**
 * The one interface a transport implements to carry updates: messages in, messages out.
 * A message is whatever the link delivers whole: a UDP datagram, a decoded serial frame, a BLE
 * write, a LoRa packet, a gateway's relayed chunk. Sealdrop's SMP server runs on any Transport
 * (`serveSmp` in ./smp/server.js); an integrator with a protocol of their own can instead drive
 * the UpdateAgent directly (README, "Your own transport").
 */
export interface Transport {
	/** The largest message the link carries in one piece, in bytes (a datagram's payload, ATT_MTU − 3...). */
	readonly mtu: number;
	/** Set by the user of the transport; called once per message received. */
	onMessage?: (message: Uint8Array) => void;
	/** Sends one message of at most `mtu` bytes. */
	send(message: Uint8Array): void;
	close(): void;
}
