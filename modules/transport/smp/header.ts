/**
 * The 8-byte SMP frame header (smp-protocol.md §1), SMP versions (§2) and the SMP-level error
 * codes (§3.1).
 */

export const SMP_HEADER_SIZE = 8;

export const SmpOp = { READ: 0, READ_RSP: 1, WRITE: 2, WRITE_RSP: 3 } as const;

/** Header `Ver` values: the SMP version minus one (§2). */
export const SmpVersion = { V1: 0, V2: 1 } as const;

export const SmpGroupId = { OS: 0, IMAGE: 1, SEALDROP: 64 } as const;

/** `mcumgr_err_t`, the SMP-level `rc` (§3.1). */
export const SmpRc = {
	OK: 0, UNKNOWN: 1, NOMEM: 2, INVAL: 3, TIMEOUT: 4, NOENT: 5, BADSTATE: 6, MSGSIZE: 7, NOTSUP: 8,
	CORRUPT: 9, BUSY: 10, ACCESSDENIED: 11, UNSUPPORTED_TOO_OLD: 12, UNSUPPORTED_TOO_NEW: 13,
} as const;

export interface SmpHeader {
	/** 0 READ, 1 READ_RSP, 2 WRITE, 3 WRITE_RSP. */
	op: number;
	/** The header's Ver bits: 0 = SMP version 1, 1 = SMP version 2. */
	version: number;
	flags: number;
	/** Length of the CBOR payload after the header. */
	length: number;
	group: number;
	sequence: number;
	command: number;
}

/** Reads the header at `offset`; `bytes` must hold 8 bytes there. */
export function decodeSmpHeader(bytes: Uint8Array, offset = 0): SmpHeader {
	if (bytes.length - offset < SMP_HEADER_SIZE) throw new RangeError(`an SMP header needs 8 bytes, ${bytes.length - offset} given`);
	const b = bytes, o = offset;
	return {
		op: b[o] & 7, version: (b[o] >> 3) & 3, flags: b[o + 1], length: (b[o + 2] << 8) | b[o + 3],
		group: (b[o + 4] << 8) | b[o + 5], sequence: b[o + 6], command: b[o + 7],
	};
}

export function encodeSmpHeader(h: SmpHeader): Uint8Array {
	const bytes = new Uint8Array(SMP_HEADER_SIZE);
	putSmpHeader(bytes, h, h.length);
	return bytes;
}

function putSmpHeader(b: Uint8Array, h: Omit<SmpHeader, "length">, length: number): void {
	b[0] = ((h.version & 3) << 3) | (h.op & 7);
	b[1] = h.flags & 0xff;
	b[2] = (length >> 8) & 0xff;
	b[3] = length & 0xff;
	b[4] = (h.group >> 8) & 0xff;
	b[5] = h.group & 0xff;
	b[6] = h.sequence & 0xff;
	b[7] = h.command & 0xff;
}

/** Header and payload, one SMP packet (the header's length is set from the payload). */
export function encodeSmpPacket(h: Omit<SmpHeader, "length">, payload: Uint8Array): Uint8Array {
	if (payload.length > 0xffff) throw new RangeError(`an SMP payload of ${payload.length} bytes (at most 65535)`);
	const packet = new Uint8Array(SMP_HEADER_SIZE + payload.length);
	putSmpHeader(packet, h, payload.length); // in place: a packet per request
	packet.set(payload, SMP_HEADER_SIZE);
	return packet;
}

/** The length of the first complete SMP packet at the start of `bytes`, or 0 when more bytes are needed. */
export function completeSmpPacketLength(bytes: Uint8Array): number {
	if (bytes.length < SMP_HEADER_SIZE) return 0;
	const total = SMP_HEADER_SIZE + ((bytes[2] << 8) | bytes[3]);
	return bytes.length >= total ? total : 0;
}
