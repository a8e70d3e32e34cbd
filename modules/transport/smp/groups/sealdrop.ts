/**
 * The Sealdrop SMP group, group 64 (the first id of MCUmgr's user range, `MGMT_GROUP_ID_PERUSER`):
 * the device key's production interface and the update agent's own account of the last update.
 *
 * | cmd | op    | request            | response |
 * |-----|-------|--------------------|----------|
 * | 0   | read  | {}                 | {kind: tstr, public_key: bstr, fingerprint: bstr(32), mode: tstr, provisioned_at: uint} |
 * | 1   | write | {request: bstr}    | {response: bstr} |
 * | 2   | read  | {}                 | {state, image, size, received, next_off, version?, error_code?, error_message?} |
 *
 * `fingerprint` is the SHA-256 of the public key's SubjectPublicKeyInfo DER, as `sealdrop sim
 * init` prints it. Cmd 1 is a device key rotation (modules/keys/rotation.ts): `request` is what
 * `sealdrop rotate request` builds, `response` the answer `sealdrop rotate check` checks; the same
 * request sent again gets the same answer (a lost answer is safe to ask for again). A device
 * without rotation answers ENOTSUP.
 *
 * Errors are SMP-level `rc` with `rsn` = "E_CODE: message", the agent's stable code first, so a
 * client can report it as is (`sealdrop smp` does): ENOTSUP (E_UNSUPPORTED), EBADSTATE (E_STATE),
 * EINVAL (E_ROTATION: a malformed request), EACCESSDENIED (a request the device must not obey:
 * E_REPLAY, E_SIGNATURE, E_NO_SIGNATURE, E_WRONG_SIGNER, E_DEVICE_KEY), EUNKNOWN otherwise.
 */
import { SealdropError, type ErrorCode } from "sealdrop/image";
import type { UpdateAgent } from "sealdrop/update";
import type { CborMap } from "../cbor.js";
import { smpFail, SmpRc } from "../errors.js";
import { optionalBytes } from "../fields.js";
import { SmpGroupId, SmpOp } from "../header.js";
import type { SmpGroup, SmpRequest } from "../server.js";

/** What the device's key module offers the production interface (modules/keys implements it). */
export interface DeviceKeyService {
	info(): {
		/** "p256" or "x25519". */
		kind: string;
		/** The raw public key (uncompressed point, or the 32 X25519 bytes). */
		publicKey: Uint8Array;
		/** SHA-256 of the SubjectPublicKeyInfo DER. */
		fingerprint: Uint8Array;
		/** How the key came to be: "generated", "imported", or "unknown". */
		mode: string;
		/** Seconds since the epoch when it was provisioned, 0 when unknown. */
		provisionedAt: number;
	};
	/** A key-rotation request in, its answer out; throws SealdropError E_UNSUPPORTED where rotation is not available. */
	rotate(request: Uint8Array): Uint8Array;
}

export interface SealdropGroupOptions {
	deviceKey: DeviceKeyService;
	agent: UpdateAgent;
}

/** The SMP-level code for an agent's refusal (the code itself travels in `rsn`). */
const RC_OF: Partial<Record<ErrorCode, number>> = {
	E_UNSUPPORTED: SmpRc.NOTSUP, E_STATE: SmpRc.BADSTATE, E_ROTATION: SmpRc.INVAL,
	E_REPLAY: SmpRc.ACCESSDENIED, E_SIGNATURE: SmpRc.ACCESSDENIED, E_NO_SIGNATURE: SmpRc.ACCESSDENIED,
	E_WRONG_SIGNER: SmpRc.ACCESSDENIED, E_DEVICE_KEY: SmpRc.ACCESSDENIED,
};

function sealdropCall<T>(call: () => T): T {
	try {
		return call();
	} catch (e) {
		if (!(e instanceof SealdropError)) throw e;
		return smpFail(RC_OF[e.code] ?? SmpRc.UNKNOWN, `${e.code}: ${e.message}`);
	}
}

export class SealdropGroup implements SmpGroup {
	readonly id = SmpGroupId.SEALDROP;
	readonly #options: SealdropGroupOptions;

	constructor(options: SealdropGroupOptions) {
		this.#options = options;
	}

	handle({ header, body }: SmpRequest): CborMap {
		const read = header.op === SmpOp.READ;
		if (header.command === 0 && read) {
			const k = sealdropCall(() => this.#options.deviceKey.info());
			return { kind: k.kind, public_key: k.publicKey, fingerprint: k.fingerprint, mode: k.mode, provisioned_at: k.provisionedAt };
		}
		if (header.command === 1 && !read) {
			const request = optionalBytes(body, "request");
			if (!request) smpFail(SmpRc.INVAL, "a rotation needs \"request\" (a byte string)");
			// a copy: the request is a view of the SMP packet (server.ts decodeBody), and rotation may keep it
			return { response: sealdropCall(() => this.#options.deviceKey.rotate(request.slice())) };
		}
		if (header.command === 2 && read) {
			const s = this.#options.agent.status();
			return {
				state: s.state, image: s.image, size: s.size, received: s.received, next_off: s.nextOffset,
				...(s.version ? { version: s.version } : {}), ...(s.error ? { error_code: s.error.code, error_message: s.error.message } : {}),
			};
		}
		return smpFail(SmpRc.NOTSUP, `Sealdrop group: no command ${header.command} for op ${header.op}`);
	}
}
