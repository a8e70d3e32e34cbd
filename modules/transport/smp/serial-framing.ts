/**
 * SMP over a serial console (smp-protocol.md §6): each packet as `len_be16 || packet || crc16_be`
 * in base64, split into lines of at most 127 bytes: the first marked 0x06 0x09, the rest
 * 0x04 0x14, each ended by `\n`. The CRC is CRC-16/XMODEM over the packet. Lines without a
 * marker are console text and ignored; a bad CRC or length drops the packet silently (§11.7).
 */

/** Zephyr's MCUMGR_SERIAL_MAX_FRAME: a line with its marker and newline. */
export const SERIAL_MAX_LINE = 127;
/** Base64 characters per line: 127 − 2 (marker) − 1 (newline), rounded down to whole groups. */
const BASE64_PER_LINE = 124;
const FIRST = [0x06, 0x09];
const NEXT = [0x04, 0x14];

/** CRC-16/XMODEM: poly 0x1021, init 0, no reflection, no final XOR; crc("123456789") = 0x31c3. */
export function crc16Xmodem(bytes: Uint8Array, crc = 0): number {
	for (const byte of bytes) {
		crc ^= byte << 8;
		for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
	}
	return crc;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const VALUES = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) VALUES[ALPHABET.charCodeAt(i)] = i;

/** Standard base64 with padding, as ASCII bytes. */
export function base64Encode(bytes: Uint8Array): Uint8Array {
	const out = new Uint8Array(Math.ceil(bytes.length / 3) * 4);
	let o = 0;
	for (let i = 0; i < bytes.length; i += 3) {
		const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
		out[o++] = ALPHABET.charCodeAt(n >> 18);
		out[o++] = ALPHABET.charCodeAt((n >> 12) & 63);
		out[o++] = i + 1 < bytes.length ? ALPHABET.charCodeAt((n >> 6) & 63) : 0x3d;
		out[o++] = i + 2 < bytes.length ? ALPHABET.charCodeAt(n & 63) : 0x3d;
	}
	return out;
}

/** Decodes base64 (padding optional); undefined for anything else. */
export function base64Decode(text: Uint8Array): Uint8Array | undefined {
	let end = text.length;
	while (end > 0 && text[end - 1] === 0x3d) end--;
	if (text.length - end > 2 || end % 4 === 1) return undefined;
	const out = new Uint8Array(Math.floor((end * 3) / 4));
	let bits = 0;
	let acc = 0;
	let o = 0;
	for (let i = 0; i < end; i++) {
		const v = text[i] < 128 ? VALUES[text[i]] : -1;
		if (v < 0) return undefined;
		acc = ((acc << 6) | v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (acc >> bits) & 0xff;
		}
	}
	return out;
}

/** One SMP packet as console lines (each ≤ 127 bytes, as Zephyr sends them). */
export function encodeSerialFrame(packet: Uint8Array): Uint8Array {
	if (packet.length + 2 > 0xffff) throw new RangeError(`a ${packet.length}-byte packet does not fit a serial frame`);
	const body = new Uint8Array(packet.length + 4);
	const length = packet.length + 2;
	body[0] = length >> 8;
	body[1] = length & 0xff;
	body.set(packet, 2);
	const crc = crc16Xmodem(packet);
	body[body.length - 2] = crc >> 8;
	body[body.length - 1] = crc & 0xff;
	const text = base64Encode(body);
	const lines = Math.ceil(text.length / BASE64_PER_LINE);
	const out = new Uint8Array(text.length + lines * 3);
	let o = 0;
	for (let i = 0; i < lines; i++) {
		out.set(i === 0 ? FIRST : NEXT, o);
		const part = text.subarray(i * BASE64_PER_LINE, (i + 1) * BASE64_PER_LINE);
		out.set(part, o + 2);
		o += 2 + part.length;
		out[o++] = 0x0a;
	}
	return out;
}

export interface SerialDecoderOptions {
	/** Longest line kept (marker and newline included); longer lines are dropped, as a device's RX buffer would. Default 128. */
	maxLine?: number;
	/** Largest SMP packet reassembled. Default 2048, or what `bufSize` leaves. */
	maxPacket?: number;
	/**
	 * The receive buffer as Zephyr has it: the decoded frame — 2-byte length, packet, CRC-16 —
	 * must fit in it, so the largest packet is bufSize − 4 (zephyr
	 * subsys/mgmt/mcumgr/transport/src/serial_util.c: mcumgr_serial_decode_frag() base64-decodes
	 * each line into net_buf_tailroom() of a CONFIG_MCUMGR_TRANSPORT_NETBUF_SIZE buffer and drops
	 * the frame when it does not fit). A real Zephyr 4.4 app with buf_size 1024 answers 1020-byte
	 * packets and drops 1021-byte ones.
	 */
	bufSize?: number;
}

/** Bytes of a serial frame's decoded form beyond the packet: its length field and CRC. */
export const SERIAL_FRAME_OVERHEAD = 4;

/**
 * Reassembles SMP packets from console bytes arriving in any pieces. `push` returns the packets
 * completed; console text, overlong lines, bad base64, bad lengths and bad CRCs are dropped.
 */
export class SerialFrameDecoder {
	readonly #maxLine: number;
	readonly #maxPacket: number;
	#line: Uint8Array;
	#lineLength = 0;
	#overlong = false;
	/** Decoded bytes of the frame in progress (length prefix included), or undefined between frames. */
	#frame: Uint8Array | undefined;
	#frameLength = 0;
	/** Counts of what was dropped, for diagnostics and tests. */
	readonly dropped = { lines: 0, frames: 0 };

	constructor(options: SerialDecoderOptions = {}) {
		this.#maxLine = options.maxLine ?? 128;
		this.#maxPacket = Math.min(options.maxPacket ?? (options.bufSize === undefined ? 2048 : Infinity), options.bufSize === undefined ? Infinity : options.bufSize - SERIAL_FRAME_OVERHEAD);
		this.#line = new Uint8Array(this.#maxLine);
	}

	push(bytes: Uint8Array): Uint8Array[] {
		const packets: Uint8Array[] = [];
		for (const byte of bytes) {
			if (byte === 0x0a) {
				if (this.#overlong) this.dropped.lines++;
				else {
					const packet = this.#lineIn(this.#line.subarray(0, this.#lineLength));
					if (packet) packets.push(packet);
				}
				this.#lineLength = 0;
				this.#overlong = false;
			} else if (this.#lineLength < this.#maxLine - 1) this.#line[this.#lineLength++] = byte;
			else this.#overlong = true;
		}
		return packets;
	}

	#lineIn(line: Uint8Array): Uint8Array | undefined {
		const first = line[0] === FIRST[0] && line[1] === FIRST[1];
		if (!first && !(line[0] === NEXT[0] && line[1] === NEXT[1])) return undefined; // console text
		if (!first && !this.#frame) {
			this.dropped.lines++;
			return undefined;
		}
		const data = base64Decode(line.subarray(2));
		if (!data) return this.#drop();
		if (first) {
			this.#frame = new Uint8Array(this.#maxPacket + 4);
			this.#frameLength = 0;
		}
		const frame = this.#frame!;
		if (this.#frameLength + data.length > frame.length) return this.#drop();
		frame.set(data, this.#frameLength);
		this.#frameLength += data.length;
		if (this.#frameLength < 2) return undefined;
		const length = (frame[0] << 8) | frame[1];
		if (length < 2 || length > this.#maxPacket + 2) return this.#drop();
		if (this.#frameLength < length + 2) return undefined;
		if (this.#frameLength > length + 2) return this.#drop();
		this.#frame = undefined;
		if (crc16Xmodem(frame.subarray(2, length + 2)) !== 0) {
			this.dropped.frames++;
			return undefined;
		}
		return frame.slice(2, length);
	}

	#drop(): undefined {
		this.#frame = undefined;
		this.dropped.frames++;
		return undefined;
	}
}
