/**
 * Key rotation requests against the real device code on the Linux XS host
 * (modules/keys/rotation.ts rotateDeviceKey: the parser, the signature check, the key store, PSA):
 * requests with each field out of range, signed by a trusted key so that they get past the
 * signature (`fieldCases`), and a fuzz of mutated requests (`fuzzRotationRequests`).
 *
 * The fuzz's oracle, per request:
 *   - a refusal is a SealdropError with one of the codes rotateDeviceKey documents (anything
 *     else, or a plain Error, is a violation), and it leaves the flash and the key slots as they
 *     were (no flash operation, no key made);
 *   - an acceptance is a violation unless the request is still valid: its signed body is one this
 *     driver signed as valid (a mutation may touch only what the signature does not cover), its
 *     counter is above every counter accepted before (or it is byte for byte the pending request,
 *     which gets the same answer again); the answer's proof is checked with @noble (ECDH with
 *     the ephemeral private key, HKDF, HMAC), independently of the device's PSA.
 *
 * Used by test/xs/rotation-fuzz.test.ts (short, fixed seed, in `npm test`) and
 * test/fuzz/rotation-fuzz-xs.ts (long, `npm run fuzz:rotation`). Needs a state folder and a flash
 * of its own (boards/sim/layout.json's "keys" partition): it erases that partition and the key
 * slots, then imports a device key.
 */
import DeviceKey from "sealdrop/native/device-key";
import Flash from "sealdrop/native/flash";
import { concatBytes, encodeTlvArea, equalBytes, fromHex, SealdropError, TlvType, toHex, u16, type ErrorCode } from "sealdrop/image";
import { encodeRotationRequestBody, parseRotationAnswer, provision, rotateDeviceKey, ROTATION_INFO, type DeviceKeyKind } from "sealdrop/keys";
import { sha256, type TrustAnchor } from "sealdrop/update";
import { x25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { fuzzer, type Fuzzer } from "./prng.js";

/** The codes rotateDeviceKey refuses a request with (E_STATE and E_ENTROPY cannot happen here). */
export const REFUSALS: readonly ErrorCode[] = ["E_ROTATION", "E_NO_SIGNATURE", "E_SIGNATURE", "E_WRONG_SIGNER", "E_UNSUPPORTED", "E_DEVICE_KEY", "E_REPLAY"];
const PARTITION = "keys";
const SLOTS = [0, 1, 2, 3];
const P256_SPKI_PREFIX = Uint8Array.of(0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00);

/** A trusted signing key (ECDSA P-256: verified in C, so thousands of checks stay fast). */
export interface Signer {
	scalar: Uint8Array;
	/** SubjectPublicKeyInfo DER: the trust anchor, and what the KEYHASH TLV hashes. */
	spki: Uint8Array;
}

export function p256Signer(scalar: Uint8Array): Signer {
	return { scalar, spki: concatBytes([P256_SPKI_PREFIX, p256.getPublicKey(scalar, false)]) };
}

/** The TLV area `sealdrop rotate request` writes: KEYHASH, then the ECDSA signature over SHA-256 of the body. */
export function signatureArea(body: Uint8Array, signer: Signer, digest = sha256(body)): Uint8Array {
	return encodeTlvArea([
		{ type: TlvType.KEYHASH, value: sha256(signer.spki) },
		{ type: TlvType.ECDSA_SIG, value: p256.sign(digest, signer.scalar, { prehash: false, format: "der" }) },
	], false);
}

/** The device: its keys partition and key slots wiped, then `kind`'s key imported and locked in slot 0. */
export function freshDevice(kind: DeviceKeyKind, privateKey: Uint8Array): { kind: DeviceKeyKind; publicKey: Uint8Array; fingerprint: Uint8Array } {
	const flash = Flash.open({ path: PARTITION });
	try {
		flash.eraseBlock(0, flash.status().blocks);
	} finally {
		flash.close();
	}
	for (const slot of SLOTS) if (DeviceKey.exists({ slot })) new DeviceKey({ slot }).destroy();
	const { info } = provision({ partition: PARTITION, mode: "import", kind, privateKey, slot: 0 });
	return { kind, publicKey: info.publicKey, fingerprint: info.fingerprint };
}

/** An ephemeral key pair of `kind` from the fuzzer's bytes. */
export function ephemeralKey(kind: DeviceKeyKind, f: Fuzzer): { scalar: Uint8Array; point: Uint8Array } {
	for (;;) {
		const scalar = f.bytes(32);
		try {
			return { scalar, point: kind === "p256" ? p256.getPublicKey(scalar, false) : x25519.getPublicKey(scalar) };
		} catch {
			// a P-256 scalar of 0 or above the order: draw again
		}
	}
}

/** A request this driver signed, and whether its body (what the signature covers) is valid for the device. */
export interface Signed {
	request: Uint8Array;
	body: Uint8Array;
	counter: number;
	/** The ephemeral private key, for checking the answer's proof. */
	ephemeral: Uint8Array;
	bodyValid: boolean;
}

/** One request with a field out of range, and the code it must get. */
export interface FieldCase extends Signed {
	name: string;
	code: ErrorCode;
}

/**
 * A request signed by `signer` for the device: `edit` changes the body before it is signed (so the
 * signature covers the bad field), `after` the whole request once signed.
 */
export function signedRequest(device: { kind: DeviceKeyKind; fingerprint: Uint8Array }, signer: Signer, f: Fuzzer, counter: number, edit?: (body: Uint8Array) => Uint8Array, after?: (request: Uint8Array) => Uint8Array, kind = device.kind): Signed {
	const ephemeral = ephemeralKey(device.kind, f);
	const valid = encodeRotationRequestBody(kind, counter, device.fingerprint, ephemeral.point);
	const body = edit ? edit(valid) : valid;
	const request = concatBytes([body, signatureArea(body, signer)]);
	return { request: after ? after(request) : request, body, counter, ephemeral: ephemeral.scalar, bodyValid: !edit && counter > 0 };
}

const withByte = (at: number, value: number) => (b: Uint8Array) => {
	const out = b.slice();
	out[at] = value;
	return out;
};

/** The ephemeral key replaced by `point` (its length byte too). */
export const withEphemeral = (point: Uint8Array) => (b: Uint8Array) => concatBytes([b.subarray(0, 42), Uint8Array.of(point.length & 0xff), point]);

/** The body, then another signature area. */
const withArea = (area: (body: Uint8Array) => Uint8Array) => (r: Uint8Array) => {
	const body = r.subarray(0, 43 + r[42]);
	return concatBytes([body, area(body)]);
};

/**
 * Requests for a P-256 device whose last accepted counter is `last`, each with one field
 * malformed or out of range (counter last + 1 unless the counter is the field), and the code each
 * must get. None of them may change the device.
 */
export function fieldCases(device: { kind: DeviceKeyKind; fingerprint: Uint8Array }, signer: Signer, stranger: Signer, last: number, f: Fuzzer): FieldCase[] {
	const make = (edit?: (b: Uint8Array) => Uint8Array, after?: (r: Uint8Array) => Uint8Array, counter = last + 1) => signedRequest(device, signer, f, counter, edit, after);
	const offCurve = ephemeralKey("p256", f).point;
	offCurve[64] ^= 1;
	const onCurve = ephemeralKey("p256", f).point;
	const xAtPrime = concatBytes([Uint8Array.of(4), fromHex("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff"), onCurve.subarray(33)]);
	const compressed = concatBytes([p256.getPublicKey(ephemeralKey("p256", f).scalar, true), new Uint8Array(32)]);
	const cases: [string, ErrorCode, Signed][] = [
		["empty", "E_ROTATION", { request: new Uint8Array(0), body: new Uint8Array(0), counter: 0, ephemeral: new Uint8Array(0), bodyValid: false }],
		["magic SDKX", "E_ROTATION", make(withByte(3, 0x58))],
		["format 0", "E_ROTATION", make(withByte(4, 0))],
		["format 2", "E_ROTATION", make(withByte(4, 2))],
		["new key kind 0", "E_ROTATION", make(withByte(5, 0))],
		["new key kind 3", "E_ROTATION", make(withByte(5, 3))],
		["new key kind 255", "E_ROTATION", make(withByte(5, 255))],
		...[0, 31, 33, 64, 66, 255].map((n): [string, ErrorCode, Signed] => [`an ephemeral key of ${n} bytes`, "E_ROTATION", make(withEphemeral(f.bytes(n)))]),
		["an X25519 ephemeral key for a P-256 device key", "E_ROTATION", make(withEphemeral(x25519.getPublicKey(f.bytes(32))))],
		["an ephemeral point off the curve", "E_ROTATION", make(withEphemeral(offCurve))],
		["an ephemeral point whose x is the field prime", "E_ROTATION", make(withEphemeral(xAtPrime))],
		["a compressed ephemeral point padded to 65 bytes", "E_ROTATION", make(withEphemeral(compressed))],
		["an all-zero ephemeral point", "E_ROTATION", make(withEphemeral(new Uint8Array(65)))],
		["counter 0", "E_REPLAY", make(undefined, undefined, 0)],
		...(last > 0 ? [["a counter not above the last one accepted", "E_REPLAY", make(undefined, undefined, last)] as [string, ErrorCode, Signed]] : []),
		["the fingerprint of another key", "E_DEVICE_KEY", make((b) => concatBytes([b.subarray(0, 10), sha256(b.subarray(10, 42)), b.subarray(42)]))],
		["the body alone (no signature area)", "E_ROTATION", make(undefined, (r) => r.subarray(0, 43 + r[42]))],
		["a signature area cut short", "E_ROTATION", make(undefined, (r) => r.subarray(0, r.length - 1))],
		["a byte after the signature area", "E_ROTATION", make(undefined, (r) => concatBytes([r, Uint8Array.of(0)]))],
		["a signature area with the protected TLV magic", "E_ROTATION", make(undefined, (r) => withByte(43 + r[42], 0x08)(r))],
		["a KEYHASH TLV of 31 bytes", "E_ROTATION", make(undefined, withArea(() => encodeTlvArea([{ type: TlvType.KEYHASH, value: new Uint8Array(31) }], false)))],
		["a key but no signature", "E_NO_SIGNATURE", make(undefined, withArea(() => encodeTlvArea([{ type: TlvType.KEYHASH, value: sha256(signer.spki) }], false)))],
		["a pure Ed25519 signature", "E_UNSUPPORTED", make(undefined, withArea(() => encodeTlvArea([{ type: TlvType.SIG_PURE, value: Uint8Array.of(1) }], false)))],
		["signed by a key the device does not trust", "E_WRONG_SIGNER", make(undefined, withArea((body) => signatureArea(body, stranger)))],
		["a signature over another body", "E_SIGNATURE", make(undefined, withArea((body) => signatureArea(body, signer, sha256(concatBytes([body, Uint8Array.of(0)])))))],
	];
	return cases.map(([name, code, signed]) => ({ name, code, ...signed }));
}

/** A valid request for the device at `counter` (the new key's kind chosen at random). */
export function validRequest(device: { kind: DeviceKeyKind; fingerprint: Uint8Array }, signer: Signer, counter: number, f: Fuzzer): Signed {
	return signedRequest(device, signer, f, counter, undefined, undefined, f.int(4) ? device.kind : device.kind === "p256" ? "x25519" : "p256");
}

/** Checks an answer with @noble: its counter, and its proof made with the device's key (rotation-format.ts). */
export function answerProblem(answer: Uint8Array, request: Signed, device: { kind: DeviceKeyKind; publicKey: Uint8Array }): string | undefined {
	let a;
	try {
		a = parseRotationAnswer(answer);
	} catch (e) {
		return `an answer that does not parse: ${String(e)}`;
	}
	if (a.counter !== request.counter) return `an answer for counter ${a.counter}, the request has ${request.counter}`;
	const shared = device.kind === "p256" ? p256.getSharedSecret(request.ephemeral, device.publicKey, true).subarray(1) : x25519.getSharedSecret(request.ephemeral, device.publicKey);
	const proof = hmac(nobleSha256, hkdf(nobleSha256, shared, undefined, new TextEncoder().encode(ROTATION_INFO), 32), a.body);
	return equalBytes(proof, a.proof) ? undefined : "an answer whose proof does not check";
}

/**
 * 1 to 4 edits of a request: a byte changed (often one of the body's fields, the first 43
 * bytes), bytes inserted or deleted, a run of it copied elsewhere. prng.ts's mutate() does the
 * same on an Array, whose splice() XS does on the JS stack: that overflows a board-sized stack
 * (manifest.json's creation) on a request of a few hundred bytes, so this works on bytes.
 */
function mutateRequest(f: Fuzzer, input: Uint8Array): Uint8Array {
	let out: Uint8Array = input.slice();
	for (let k = 1 + f.int(4); k > 0; k--) {
		const at = f.int(out.length + 1);
		switch (f.int(5)) {
			case 0:
				if (at < out.length) out[at] = f.int(256);
				break;
			case 1:
				out = concatBytes([out.subarray(0, at), f.bytes(1 + f.int(8)), out.subarray(at)]);
				break;
			case 2:
				out = concatBytes([out.subarray(0, at), out.subarray(at + 1 + f.int(8))]);
				break;
			case 3: {
				const from = f.int(out.length + 1);
				out = concatBytes([out.subarray(0, at), out.subarray(from, from + 1 + f.int(24)), out.subarray(at)]);
				break;
			}
			default:
				if (out.length > 0) out[f.int(Math.min(43, out.length))] = f.int(256);
		}
	}
	return out;
}

export interface RotationFuzzOptions {
	seed: number;
	signer: Signer;
	/** The device key imported for the run (a P-256 scalar). */
	deviceKey: Uint8Array;
	/** Stop after this many requests, or when `until()` says so (checked every 16). */
	inputs?: number;
	until?: () => boolean;
	now: () => number;
}

export interface RotationFuzzReport {
	seed: number;
	inputs: number;
	/** Refusals by code, and requests accepted (new rotations, and a pending one sent again). */
	refused: Record<string, number>;
	accepted: number;
	rotations: number;
	slowestMs: number;
	violations: string[];
	violationCount: number;
}

export function fuzzRotationRequests(options: RotationFuzzOptions): RotationFuzzReport {
	const f = fuzzer(options.seed);
	const device = freshDevice("p256", options.deviceKey);
	const trust: TrustAnchor[] = [{ publicKey: options.signer.spki }];
	const stranger = p256Signer(Uint8Array.of(1, ...f.bytes(31)));
	const report: RotationFuzzReport = { seed: options.seed, inputs: 0, refused: {}, accepted: 0, rotations: 0, slowestMs: 0, violations: [], violationCount: 0 };
	const violation = (message: string, input: Uint8Array) => {
		report.violationCount++;
		if (report.violations.length < 8) report.violations.push(`input ${report.inputs}: ${message}: ${toHex(input)}`);
	};

	// what the mutations start from: signed requests with a bad field in the body, at the highest
	// counter (so that a replay never hides the field); with a good body and a bad signature area, at
	// counter 1 (a mutation may repair the area: then a valid request); valid ones, signed as needed
	const pool = [
		...fieldCases(device, options.signer, stranger, 0xffff_fffe, f).filter((c) => !c.bodyValid && c.request.length > 0),
		...fieldCases(device, options.signer, stranger, 0, f).filter((c) => c.bodyValid),
	];
	const valid: Signed[] = [];
	const signedBodies = new Map<string, Signed>();
	for (const s of pool) if (s.bodyValid) signedBodies.set(toHex(s.body), s);
	let highest = 0;
	let pending: Uint8Array | undefined;

	const slotsInUse = () => SLOTS.filter((slot) => DeviceKey.exists({ slot })).join(",");
	const limit = options.inputs ?? Infinity;
	while (report.inputs < limit && !(report.inputs % 16 === 0 && options.until?.())) {
		const choice = f.random();
		let input: Uint8Array;
		if (choice < 0.02 || valid.length === 0) {
			const next = validRequest(device, options.signer, highest + 1 + f.int(3), f);
			valid.push(next);
			signedBodies.set(toHex(next.body), next);
			input = next.request;
		} else if (choice < 0.06) input = valid[f.int(valid.length)].request; // a replay, or the pending request again
		else if (choice < 0.08) input = pool[f.int(pool.length)].request; // a bad field under a good signature
		else if (choice < 0.1) input = concatBytes([Uint8Array.of(0x53, 0x44, 0x4b, 0x52), f.bytes(f.int(200))]);
		else if (choice < 0.4) input = mutateRequest(f, pool[f.int(pool.length)].request);
		else input = mutateRequest(f, valid[f.int(valid.length)].request);
		report.inputs++;

		const flashBefore = Flash.operations;
		const slotsBefore = slotsInUse();
		const started = options.now();
		let answer: Uint8Array | undefined;
		try {
			answer = rotateDeviceKey(input, { partition: PARTITION, trust });
		} catch (e) {
			const code = e instanceof SealdropError ? e.code : undefined;
			if (!code) violation(`threw ${String(e)}`, input);
			else if (!REFUSALS.includes(code)) violation(`refused with ${code} (${(e as Error).message})`, input);
			else report.refused[code] = (report.refused[code] ?? 0) + 1;
			if (Flash.operations !== flashBefore) violation(`a refusal (${code}) wrote the flash`, input);
			if (slotsInUse() !== slotsBefore) violation(`a refusal (${code}) changed the key slots in use from ${slotsBefore} to ${slotsInUse()}`, input);
		}
		report.slowestMs = Math.max(report.slowestMs, options.now() - started);
		if (!answer) continue;

		// accepted: only a request that is still valid may be
		report.accepted++;
		const end = 43 + input[42];
		const signed = signedBodies.get(toHex(input.subarray(0, end)));
		if (!signed) {
			violation("accepted, but its body was never signed as valid", input);
			continue;
		}
		if (u16(input, end + 2) !== input.length - end) violation("accepted with bytes after its signature area", input);
		const again = pending !== undefined && equalBytes(input, pending);
		if (!again && signed.counter <= highest) violation(`counter ${signed.counter} accepted after ${highest}`, input);
		if (!again) {
			highest = signed.counter;
			pending = input.slice();
			report.rotations++;
		}
		const problem = answerProblem(answer, signed, device);
		if (problem) violation(problem, input);
	}
	return report;
}
