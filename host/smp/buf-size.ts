/**
 * The simulated device's SMP buffer (`buf_size`, smp-protocol.md §4, §11.8), shared by the device
 * program (./device-serve.ts, on XS) and `sealdrop sim serve` (./sim-serve.ts, in Node).
 */

/** The default: one unfragmented IPv4 UDP datagram (§11.8); the serial framing carries it too. */
export const SIM_BUF_SIZE = 1472;
export const SIM_BUF_COUNT = 4;

/** What `--buf-size` may set: a first upload chunk (header and fields) must fit; a serial frame's length field is 16 bits, CRC included. */
export const MIN_BUF_SIZE = 128;
export const MAX_BUF_SIZE = 65533;

/** A `--buf-size` value, checked; undefined when none was given. */
export function parseBufSize(text: string | undefined): number | undefined {
	if (text === undefined) return undefined;
	const n = Number(text);
	if (!/^\d+$/.test(text) || n < MIN_BUF_SIZE || n > MAX_BUF_SIZE) throw new RangeError(`--buf-size takes ${MIN_BUF_SIZE} to ${MAX_BUF_SIZE}, not "${text}"`);
	return n;
}
