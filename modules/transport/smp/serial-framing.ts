/**
 * SMP over a serial console (smp-protocol.md §6): each packet as `len_be16 || packet || crc16_be`
 * in base64, split into lines of at most 127 bytes: the first marked 0x06 0x09, the rest
 * 0x04 0x14, each ended by `\n`. The CRC is CRC-16/XMODEM over the packet. Lines without a
 * marker are console text and ignored; a bad CRC or length drops the packet silently (§11.7).
 *
 * The bulk work (base64 and the CRC) runs in C on XS (sealdrop/native/serial-framing,
 * native/serial-framing.c), on (buffer, offset, length) ranges so the decoder reads each line
 * where it arrived and decodes it straight into its one frame buffer; elsewhere (Node: the host's
 * links, the simulator's relay, tests) the same functions run in JavaScript (jsFraming).
 */
import { bindSerialFraming } from "sealdrop/native/serial-framing";

/** Zephyr's MCUMGR_SERIAL_MAX_FRAME: a line with its marker and newline. */
export const SERIAL_MAX_LINE = 127;
/** Base64 characters per line: 127 − 2 (marker) − 1 (newline), rounded down to whole groups. */
const BASE64_PER_LINE = 124;
/** The bytes those characters hold: lines split the frame's bytes at whole base64 groups. */
const BYTES_PER_LINE = (BASE64_PER_LINE / 4) * 3;
const FIRST_0 = 0x06, FIRST_1 = 0x09;
const NEXT_0 = 0x04, NEXT_1 = 0x14;
const NEWLINE = 0x0a;

/** The framing's bulk work on ranges of the caller's buffers, as native/serial-framing.d.ts has it. */
export interface FramingCodec {
	/** The index of the first `byte` in the range, or -1. */
	find(bytes: Uint8Array, offset: number, length: number, byte: number): number;
	crc16(bytes: Uint8Array, offset: number, length: number, crc: number): number;
	base64Encode(bytes: Uint8Array, offset: number, length: number, output: Uint8Array, outputOffset: number): number;
	/** Bytes written; -1 when the text is not base64, -2 when they do not fit. */
	base64Decode(text: Uint8Array, offset: number, length: number, output: Uint8Array, outputOffset: number): number;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const CODES = new Uint8Array(64).map((_, i) => ALPHABET.charCodeAt(i));
const VALUES = new Int16Array(256).fill(-1);
for (let i = 0; i < 64; i++) VALUES[CODES[i]] = i;
const PAD = 0x3d;
/** CRC-16/XMODEM a byte at a time: the polynomial's bit loop run once on each byte value. */
const CRC16_TABLE = new Uint16Array(256);
for (let n = 0; n < 256; n++) {
	let crc = n << 8;
	for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
	CRC16_TABLE[n] = crc;
}

/** The codec in JavaScript: what runs where the native module does not (Node). */
export const jsFraming: FramingCodec = {
	find(bytes, offset, length, byte) {
		for (let i = offset; i < offset + length; i++) if (bytes[i] === byte) return i;
		return -1;
	},
	/** CRC-16/XMODEM: poly 0x1021, init 0, no reflection, no final XOR; crc("123456789") = 0x31c3. */
	crc16(bytes, offset, length, crc) {
		for (let i = offset, end = offset + length; i < end; i++) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[(crc >> 8) ^ bytes[i]];
		return crc;
	},
	base64Encode(bytes, offset, length, output, outputOffset) {
		let o = outputOffset;
		const end = offset + length;
		for (let i = offset; i < end; i += 3) {
			const n = (bytes[i] << 16) | (i + 1 < end ? bytes[i + 1] << 8 : 0) | (i + 2 < end ? bytes[i + 2] : 0);
			output[o++] = CODES[n >> 18];
			output[o++] = CODES[(n >> 12) & 63];
			output[o++] = i + 1 < end ? CODES[(n >> 6) & 63] : PAD;
			output[o++] = i + 2 < end ? CODES[n & 63] : PAD;
		}
		return o - outputOffset;
	},
	base64Decode(text, offset, length, output, outputOffset) {
		let end = offset + length;
		while (end > offset && offset + length - end < 3 && text[end - 1] === PAD) end--;
		const chars = end - offset;
		if (offset + length - end > 2 || chars % 4 === 1) return -1;
		for (let i = offset; i < end; i++) if (VALUES[text[i]] < 0) return -1;
		if (Math.floor((chars * 3) / 4) > output.length - outputOffset) return -2;
		let bits = 0;
		let acc = 0;
		let o = outputOffset;
		for (let i = offset; i < end; i++) {
			acc = ((acc << 6) | VALUES[text[i]]) & 0xffffff;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				output[o++] = (acc >> bits) & 0xff;
			}
		}
		return o - outputOffset;
	},
};

/** CRC-16/XMODEM's check value (the CRC of "123456789"), which the native module must give. */
const CHECK = new Uint8Array([0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39]);
let chosen: FramingCodec | undefined;

/**
 * The native codec on XS, else jsFraming. Chosen at the first use, not when the module loads: a
 * board preloads this module at build time, where no native code runs. In Node the native
 * module's functions throw (XS's `native` does not exist there).
 */
export function framingCodec(): FramingCodec {
	if (!chosen) {
		try {
			const bound = bindSerialFraming();
			chosen = bound.crc16(CHECK, 0, CHECK.length, 0) === 0x31c3 ? bound as FramingCodec : jsFraming;
		} catch {
			chosen = jsFraming;
		}
	}
	return chosen;
}

/** CRC-16/XMODEM: poly 0x1021, init 0, no reflection, no final XOR; crc("123456789") = 0x31c3. */
export function crc16Xmodem(bytes: Uint8Array, crc = 0): number {
	return framingCodec().crc16(bytes, 0, bytes.length, crc);
}

/** Standard base64 with padding, as ASCII bytes. */
export function base64Encode(bytes: Uint8Array): Uint8Array {
	const out = new Uint8Array(Math.ceil(bytes.length / 3) * 4);
	framingCodec().base64Encode(bytes, 0, bytes.length, out, 0);
	return out;
}

/** Decodes base64 (padding optional); undefined for anything else. */
export function base64Decode(text: Uint8Array): Uint8Array | undefined {
	const out = new Uint8Array(Math.floor((text.length * 3) / 4));
	const length = framingCodec().base64Decode(text, 0, text.length, out, 0);
	return length < 0 ? undefined : out.slice(0, length);
}

/** One SMP packet as console lines (each ≤ 127 bytes, as Zephyr sends them). */
export function encodeSerialFrame(packet: Uint8Array): Uint8Array {
	if (packet.length + 2 > 0xffff) throw new RangeError(`a ${packet.length}-byte packet does not fit a serial frame`);
	const codec = framingCodec();
	const body = new Uint8Array(packet.length + 4);
	const length = packet.length + 2;
	body[0] = length >> 8;
	body[1] = length & 0xff;
	body.set(packet, 2);
	const crc = codec.crc16(packet, 0, packet.length, 0);
	body[body.length - 2] = crc >> 8;
	body[body.length - 1] = crc & 0xff;
	const lines = Math.ceil(body.length / BYTES_PER_LINE);
	const out = new Uint8Array(Math.ceil(body.length / 3) * 4 + lines * 3);
	let o = 0;
	for (let i = 0; i < lines; i++) {
		out[o++] = i === 0 ? FIRST_0 : NEXT_0;
		out[o++] = i === 0 ? FIRST_1 : NEXT_1;
		const from = i * BYTES_PER_LINE;
		o += codec.base64Encode(body, from, Math.min(BYTES_PER_LINE, body.length - from), out, o);
		out[o++] = NEWLINE;
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
 * A line that arrives whole in one piece is decoded where it lies; only a line split across
 * pieces is gathered first. Each packet returned is a copy of its own (the frame buffer is reused).
 */
export class SerialFrameDecoder {
	readonly #maxLine: number;
	readonly #maxPacket: number;
	readonly #codec = framingCodec();
	/** The start of a line split across pieces. */
	readonly #line: Uint8Array;
	#lineLength = 0;
	#overlong = false;
	/** Decoded bytes of the frame in progress (length prefix included), valid while #inFrame. */
	#frame: Uint8Array | undefined;
	#inFrame = false;
	#frameLength = 0;
	/** Counts of what was dropped, for diagnostics and tests. */
	readonly dropped = { lines: 0, frames: 0 };

	constructor(options: SerialDecoderOptions = {}) {
		this.#maxLine = options.maxLine ?? 128;
		this.#maxPacket = Math.min(options.maxPacket ?? (options.bufSize === undefined ? 2048 : Infinity), options.bufSize === undefined ? Infinity : options.bufSize - SERIAL_FRAME_OVERHEAD);
		this.#line = new Uint8Array(this.#maxLine);
	}

	/** The packets `bytes` completes, each a copy of its own. */
	push(bytes: Uint8Array): Uint8Array[] {
		const packets: Uint8Array[] = [];
		this.decode(bytes, 0, bytes.length, (frame, offset, length) => {
			packets.push(frame.slice(offset, offset + length));
		});
		return packets;
	}

	/**
	 * Takes `length` bytes of `bytes` from `offset`; calls `onPacket` with each packet they
	 * complete, as a range of the decoder's frame buffer, valid until it returns (a device's UART
	 * loop: no copy and no list per packet).
	 */
	decode(bytes: Uint8Array, offset: number, length: number, onPacket: (frame: Uint8Array, offset: number, length: number) => void): void {
		const longest = this.#maxLine - 1; // the newline takes the last byte of a line
		const stop = offset + length;
		let at = offset;
		while (at < stop) {
			const newline = this.#codec.find(bytes, at, stop - at, NEWLINE);
			const end = newline < 0 ? stop : newline;
			let packet = -1;
			if (!this.#overlong) {
				if (this.#lineLength + end - at > longest) this.#overlong = true;
				else if (newline >= 0 && this.#lineLength === 0) {
					// the whole line is here: decode it in place
					packet = this.#lineIn(bytes, at, end - at);
					at = newline + 1;
					if (packet >= 0) onPacket(this.#frame!, 2, packet);
					continue;
				} else {
					// a line split across reads: gathered (a view for the copy; a device reads whole lines mostly)
					this.#line.set(bytes.subarray(at, end), this.#lineLength);
					this.#lineLength += end - at;
				}
			}
			if (newline < 0) break;
			if (this.#overlong) this.dropped.lines++;
			else packet = this.#lineIn(this.#line, 0, this.#lineLength);
			this.#lineLength = 0;
			this.#overlong = false;
			at = newline + 1;
			if (packet >= 0) onPacket(this.#frame!, 2, packet);
		}
	}

	/** Decodes one line into the frame; the length of the packet it completes (at frame[2]), else -1. */
	#lineIn(line: Uint8Array, start: number, length: number): number {
		if (length < 2) return -1; // console text
		const first = line[start] === FIRST_0 && line[start + 1] === FIRST_1;
		if (!first && !(line[start] === NEXT_0 && line[start + 1] === NEXT_1)) return -1; // console text
		if (!first && !this.#inFrame) {
			this.dropped.lines++;
			return -1;
		}
		const frame = this.#frame ??= new Uint8Array(this.#maxPacket + 4);
		const at = first ? 0 : this.#frameLength;
		const decoded = this.#codec.base64Decode(line, start + 2, length - 2, frame, at);
		if (decoded < 0) return this.#drop(); // not base64 (-1), or more than the frame holds (-2)
		this.#inFrame = true;
		this.#frameLength = at + decoded;
		if (this.#frameLength < 2) return -1;
		const size = (frame[0] << 8) | frame[1];
		if (size < 2 || size > this.#maxPacket + 2) return this.#drop();
		if (this.#frameLength < size + 2) return -1;
		if (this.#frameLength > size + 2) return this.#drop();
		this.#inFrame = false;
		if (this.#codec.crc16(frame, 2, size, 0) !== 0) {
			this.dropped.frames++;
			return -1;
		}
		return size - 2;
	}

	#drop(): number {
		this.#inFrame = false;
		this.dropped.frames++;
		return -1;
	}
}
