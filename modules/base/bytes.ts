/** Small byte helpers shared by the image code. Little-endian, as the MCUboot format is. */

export function u16(bytes: Uint8Array, offset: number): number {
	return bytes[offset] | (bytes[offset + 1] << 8);
}

export function u32(bytes: Uint8Array, offset: number): number {
	return (bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16) | (bytes[offset + 3] << 24)) >>> 0;
}

export function putU16(bytes: Uint8Array, offset: number, value: number): void {
	bytes[offset] = value & 0xff;
	bytes[offset + 1] = (value >>> 8) & 0xff;
}

export function putU32(bytes: Uint8Array, offset: number, value: number): void {
	bytes[offset] = value & 0xff;
	bytes[offset + 1] = (value >>> 8) & 0xff;
	bytes[offset + 2] = (value >>> 16) & 0xff;
	bytes[offset + 3] = (value >>> 24) & 0xff;
}

/**
 * The parts one after the other. Takes an array, not rest arguments: spreading a count that outside
 * input decides (CBOR string chunks, stream pieces) puts one JS stack slot per part, and a device's
 * XS stack holds a few hundred (manifest.json's creation.stack).
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
	let length = 0;
	for (const part of parts) length += part.length;
	const out = new Uint8Array(length);
	let offset = 0;
	for (const part of parts) {
		out.set(part, offset);
		offset += part.length;
	}
	return out;
}

/** Each byte as the character of that code (ISO 8859-1), built without spreading the bytes as arguments. */
export function latin1(bytes: Uint8Array): string {
	let out = "";
	for (let i = 0; i < bytes.length; i++) out += String.fromCharCode(bytes[i]);
	return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
	if (a.length !== b.length) return false;
	for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
	return true;
}

/** Comparison whose time does not depend on where the inputs differ (for MAC tags). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
	if (a.length !== b.length) return false;
	let diff = 0;
	for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
	return diff === 0;
}

/** The two hex digits of each byte value, made once: converting each byte was several strings of garbage. */
const HEX_DIGITS: readonly string[] = Array.from({ length: 256 }, (_, b) => (b < 16 ? "0" : "") + b.toString(16));

export function toHex(bytes: Uint8Array): string {
	let s = "";
	for (let i = 0; i < bytes.length; i++) s += HEX_DIGITS[bytes[i]];
	return s;
}

export function fromHex(hex: string): Uint8Array {
	if (hex.length % 2 || /[^0-9a-fA-F]/.test(hex)) throw new RangeError("not a hex string");
	const out = new Uint8Array(hex.length / 2);
	for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
	return out;
}

export function alignUp(value: number, align: number): number {
	return Math.ceil(value / align) * align;
}

export function alignDown(value: number, align: number): number {
	return Math.floor(value / align) * align;
}
