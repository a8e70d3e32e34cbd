/**
 * The bytes of a device key rotation (modules/keys/rotation.ts), shared by the device and the
 * CLI's server half. All integers little-endian.
 *
 * Request ("SDKR"): magic "SDKR" | format 1 | new key kind (1 P-256, 2 X25519) | counter u32 |
 *   fingerprint of the current device key (32) | ephemeral public key length (1) and key (65 or
 *   32 bytes, the current key's kind) — the body — then an MCUboot TLV area (TLV info 0x6907,
 *   KEYHASH or PUBKEY, a signature TLV) whose signature covers SHA-256 of the body, as an image's
 *   signature covers its digest, so any key the device trusts for firmware can sign it.
 * Answer ("SDKA"): magic "SDKA" | format 1 | new key kind | counter u32 | new public key length (1)
 *   and key | proof (32) = HMAC-SHA256 over everything before it, keyed by
 *   HKDF-SHA256(ECDH(old device key, ephemeral key), info ROTATION_INFO).
 */
import { fail, putU32, u32 } from "sealdrop/image";
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
	return { kind, counter: u32(bytes, 6), fingerprint: bytes.slice(10, 42), ephemeral: bytes.slice(43, end), body: bytes.subarray(0, end), signature: bytes.subarray(end) };
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
