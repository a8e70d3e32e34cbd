/**
 * The bytes of a device key rotation (modules/keys/rotation.ts), shared by the device and the
 * CLI's server half. All integers little-endian.
 *
 * Request ("SDKR"): magic "SDKR" | format 1 | new key kind (1 P-256, 2 X25519) | counter u32 |
 *   fingerprint of the current device key (32) | ephemeral public key length (1) and key (65 or
 *   32 bytes, the current key's kind) — the body — then an MCUboot TLV area (TLV info 0x6907,
 *   KEYHASH or PUBKEY, a signature TLV) whose signature covers SHA-256 of the body, as an image's
 *   signature covers its digest, so any key the device trusts for firmware can sign it. Nothing
 *   follows the TLV area; a P-256 ephemeral key is a point on the curve, an X25519 one is not of
 *   low order.
 * Answer ("SDKA"): magic "SDKA" | format 1 | new key kind | counter u32 | new public key length (1)
 *   and key | proof (32) = HMAC-SHA256 over everything before it, keyed by
 *   HKDF-SHA256(ECDH(old device key, ephemeral key), info ROTATION_INFO).
 */
import { fail, putU32, u16, u32 } from "sealdrop/image";
import type { DeviceKeyKind } from "./encoding.js";

export const ROTATION_INFO = "Sealdrop_rotation_v1";
const REQUEST_MAGIC = [0x53, 0x44, 0x4b, 0x52]; // "SDKR"
const ANSWER_MAGIC = [0x53, 0x44, 0x4b, 0x41]; // "SDKA"
const FORMAT = 1;
const KIND_CODES: Record<DeviceKeyKind, number> = { p256: 1, x25519: 2 };
export const POINT_LENGTH: Record<DeviceKeyKind, number> = { p256: 65, x25519: 32 };

export interface RotationRequest {
	kind: DeviceKeyKind;
	counter: number;
	fingerprint: Uint8Array;
	ephemeral: Uint8Array;
	/** The signed bytes. */
	body: Uint8Array;
	/** The TLV area that signs them. */
	signature: Uint8Array;
}

function kindOf(code: number): DeviceKeyKind | undefined {
	return code === 1 ? "p256" : code === 2 ? "x25519" : undefined;
}

/** P-256's field prime and the b of y² = x³ − 3x + b (SEC 2 §2.4.2). */
const P256_P = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n;
const P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
/** Curve25519's prime, and the u-coordinates of its points of order 1, 2, 4 and 8 (the list libsodium and mbedTLS refuse). */
const X25519_P = 2n ** 255n - 19n;
const X25519_LOW_ORDER = [0n, 1n, X25519_P - 1n, 325606250916557431795983626356110631294008115727848805560023387167927233504n, 39382357235489614581723060781553021112529911719440698176882885853963445705823n];

function bigEndian(bytes: Uint8Array): bigint {
	let n = 0n;
	for (const b of bytes) n = (n << 8n) | BigInt(b);
	return n;
}

/**
 * Why an ephemeral key cannot carry the proof, or undefined: a P-256 key must be a point on the
 * curve (04‖X‖Y); an X25519 key must not be a low-order point, whose shared secret anyone can
 * compute, so the proof would prove nothing. Checked while parsing, so the device refuses such a
 * request before it makes a key.
 */
function unusableEphemeral(point: Uint8Array): string | undefined {
	if (point.length === 65) {
		const [x, y] = [bigEndian(point.subarray(1, 33)), bigEndian(point.subarray(33))];
		if (point[0] !== 4 || x >= P256_P || y >= P256_P || (y * y - (x * x * x - 3n * x + P256_B)) % P256_P !== 0n) return "its ephemeral key is not a P-256 point (04‖X‖Y on the curve)";
		return undefined;
	}
	// RFC 7748 §5: little-endian, the top bit ignored, taken modulo p
	const u = (bigEndian(point.slice().reverse()) & ((1n << 255n) - 1n)) % X25519_P;
	return X25519_LOW_ORDER.includes(u) ? "its ephemeral key is a low-order X25519 point" : undefined;
}

/** Parses a rotation request; E_ROTATION for anything malformed. */
export function parseRotationRequest(bytes: Uint8Array): RotationRequest {
	const bad = (why: string): never => fail("E_ROTATION", `malformed key rotation request: ${why}`);
	if (bytes.length < 43 || !REQUEST_MAGIC.every((b, i) => bytes[i] === b)) bad("no SDKR magic");
	if (bytes[4] !== FORMAT) bad(`format ${bytes[4]} is not 1`);
	const kind = kindOf(bytes[5]) ?? bad(`key kind ${bytes[5]} is neither 1 (P-256) nor 2 (X25519)`);
	const pointLength = bytes[42];
	if (pointLength !== 65 && pointLength !== 32) bad(`an ephemeral key of ${pointLength} bytes`);
	const end = 43 + pointLength;
	if (bytes.length < end + 4) bad("it ends before its signature");
	// the signature area's header says its length: nothing may follow it
	const areaLength = u16(bytes, end + 2);
	if (bytes.length !== end + areaLength) bad(`its signature area claims ${areaLength} bytes, ${bytes.length - end} follow the body`);
	const ephemeral = bytes.slice(43, end);
	const unusable = unusableEphemeral(ephemeral);
	if (unusable) bad(unusable);
	return { kind, counter: u32(bytes, 6), fingerprint: bytes.slice(10, 42), ephemeral, body: bytes.subarray(0, end), signature: bytes.subarray(end) };
}

export function encodeRotationAnswer(kind: DeviceKeyKind, counter: number, publicKey: Uint8Array): Uint8Array {
	const out = new Uint8Array(11 + publicKey.length);
	out.set([...ANSWER_MAGIC, FORMAT, KIND_CODES[kind]]);
	putU32(out, 6, counter);
	out[10] = publicKey.length;
	out.set(publicKey, 11);
	return out;
}

/** The request's signed body. */
export function encodeRotationRequestBody(kind: DeviceKeyKind, counter: number, fingerprint: Uint8Array, ephemeral: Uint8Array): Uint8Array {
	const out = new Uint8Array(43 + ephemeral.length);
	out.set([...REQUEST_MAGIC, FORMAT, KIND_CODES[kind]]);
	putU32(out, 6, counter);
	out.set(fingerprint, 10);
	out[42] = ephemeral.length;
	out.set(ephemeral, 43);
	return out;
}

export interface RotationAnswer {
	kind: DeviceKeyKind;
	counter: number;
	publicKey: Uint8Array;
	/** The bytes the proof covers. */
	body: Uint8Array;
	proof: Uint8Array;
}

/** Parses a rotation answer; E_ROTATION for anything malformed. */
export function parseRotationAnswer(bytes: Uint8Array): RotationAnswer {
	const bad = (why: string): never => fail("E_ROTATION", `malformed key rotation answer: ${why}`);
	if (bytes.length < 11 || !ANSWER_MAGIC.every((b, i) => bytes[i] === b)) bad("no SDKA magic");
	if (bytes[4] !== FORMAT) bad(`format ${bytes[4]} is not 1`);
	const kind = kindOf(bytes[5]) ?? bad(`key kind ${bytes[5]}`);
	const length = bytes[10];
	if (length !== POINT_LENGTH[kind]) bad(`a ${kind} key of ${length} bytes`);
	if (bytes.length !== 11 + length + 32) bad(`${bytes.length} bytes, expected ${11 + length + 32}`);
	return { kind, counter: u32(bytes, 6), publicKey: bytes.slice(11, 11 + length), body: bytes.subarray(0, 11 + length), proof: bytes.slice(11 + length) };
}
