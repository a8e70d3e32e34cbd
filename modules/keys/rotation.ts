/**
 * Device key rotation: a request signed by a trusted release key, bound to this device's key by
 * its fingerprint and numbered so a replay fails, makes the device generate a new key beside the
 * old one and answer with the new public key and a proof of continuity; the old key keeps opening
 * images until an image sealed for the new key has been installed and confirmed, then it is
 * destroyed.
 *
 * The request and answer bytes: rotation-format.ts.
 *
 * Power-fail argument: the new key is generated, then the ROTATION record is written; a cut
 * between leaves an unrecorded key that the next rotation destroys before generating. The answer
 * is sent only after the record, and the same request gets the same answer again (its digest is
 * recorded), so a server that lost the answer retries safely. The commit writes the new LOCK
 * first and only then destroys the old key; a cut between leaves a stray old key that the next
 * boot's check removes.
 */
import DeviceKey from "sealdrop/native/device-key";
import { equalBytes, fail, parseTlvArea } from "sealdrop/image";
import { sha256 } from "sealdrop/base/hash";
import { checkSignature, type TrustAnchor } from "sealdrop/image/signature";
import type { DeviceKeys } from "sealdrop/update";
import type { DeviceKeyKind } from "./encoding.js";
import { clock, generateKey, keyFingerprint } from "./provision.js";
import { encodeRotationAnswer, parseRotationRequest, POINT_LENGTH } from "./rotation-format.js";
import { KeyStore } from "./store.js";

export interface RotateOptions {
	/** The board's `keys` partition. */
	partition: string;
	/** The keys trusted to sign firmware: they sign rotation requests too. */
	trust: readonly TrustAnchor[];
}

/**
 * Handles a rotation request: checks it, makes the new key (or finds the one this same request
 * made), and returns the answer. Refusals: E_ROTATION (malformed), E_NO_SIGNATURE, E_SIGNATURE or
 * E_WRONG_SIGNER (not signed by a trusted key), E_UNSUPPORTED (a pure Ed25519 signature),
 * E_DEVICE_KEY (made for another device's key), E_REPLAY (a counter not above the last one
 * accepted, 0 included), E_STATE (not provisioned), E_ENTROPY.
 */
export function rotateDeviceKey(request: Uint8Array, options: RotateOptions): Uint8Array {
	const r = parseRotationRequest(request);
	let tlvs;
	try {
		tlvs = parseTlvArea(r.signature, 0, false);
	} catch (e) {
		fail("E_ROTATION", `malformed key rotation request: its signature area: ${(e as Error).message}`);
	}
	checkSignature(tlvs, sha256(r.body), options.trust);
	const store = new KeyStore(options.partition);
	try {
		const lock = store.lock ?? fail("E_STATE", "the device key is not provisioned yet");
		if (!equalBytes(r.fingerprint, lock.fingerprint)) fail("E_DEVICE_KEY", "the rotation request was made for another device key");
		if (r.ephemeral.length !== POINT_LENGTH[lock.kind]) fail("E_ROTATION", `malformed key rotation request: the ephemeral key must be a ${lock.kind} key like the device key`);
		const digest = sha256(request);
		const pending = store.rotation;
		let newKey: { kind: DeviceKeyKind; publicKey: Uint8Array };
		if (pending && pending.counter === r.counter && equalBytes(pending.request, digest)) {
			newKey = publicKeyOf(pending.slot); // the same request again: the same answer
		} else {
			const highest = Math.max(lock.rotationCounter, pending?.counter ?? 0);
			if (r.counter <= highest) fail("E_REPLAY", `rotation counter ${r.counter} is not above ${highest}, the last one accepted`);
			const slot = freeSlot(lock.slot);
			generateKey(r.kind, slot);
			newKey = publicKeyOf(slot);
			store.writeRotation({ counter: r.counter, request: digest, slot, kind: newKey.kind, fingerprint: keyFingerprint(newKey.kind, newKey.publicKey) });
		}
		const answer = encodeRotationAnswer(newKey.kind, r.counter, newKey.publicKey);
		const old = new DeviceKey({ slot: lock.slot });
		try {
			const proof = new Uint8Array(old.prove(r.ephemeral, answer));
			const out = new Uint8Array(answer.length + proof.length);
			out.set(answer);
			out.set(proof, answer.length);
			return out;
		} finally {
			old.close();
		}
	} finally {
		store.close();
	}
}

function publicKeyOf(slot: number): { kind: DeviceKeyKind; publicKey: Uint8Array } {
	const key = new DeviceKey({ slot });
	try {
		return { kind: key.kind, publicKey: new Uint8Array(key.publicKey()) };
	} finally {
		key.close();
	}
}

/** A slot for the new key: not the device key's; whatever an earlier, unfinished rotation left there is destroyed. */
function freeSlot(current: number): number {
	const slot = current === 0 ? 1 : 0;
	if (DeviceKey.exists({ slot })) new DeviceKey({ slot }).destroy();
	return slot;
}

/**
 * The agent's view of the device keys (DeviceKeys): the locked key, then a rotation's new key;
 * an image opened with the new key and then confirmed commits the rotation.
 */
export class DeviceKeyRing implements DeviceKeys {
	readonly #partition: string;

	constructor(partition: string) {
		this.#partition = partition;
	}

	slots(): number[] {
		return this.#with((store) => {
			const lock = store.lock ?? fail("E_DEVICE_KEY", "this device has no device key yet");
			return store.rotation ? [lock.slot, store.rotation.slot] : [lock.slot];
		});
	}

	installed(slot: number, identity: Uint8Array): void {
		this.#with((store) => {
			if (store.rotation?.slot === slot) store.writeUsed(identity);
		});
	}

	confirmed(identity: Uint8Array): void {
		this.#with((store) => {
			const rotation = store.rotation;
			const lock = store.lock;
			if (!lock || !rotation?.used || !equalBytes(rotation.used, identity)) return;
			store.writeLock({ slot: rotation.slot, kind: rotation.kind, mode: "generated", provisionedAt: clock() >>> 0, fingerprint: rotation.fingerprint, rotationCounter: rotation.counter });
			new DeviceKey({ slot: lock.slot }).destroy();
		});
	}

	lastRotation(): number {
		return this.#with((store) => store.lock?.rotationCounter ?? 0);
	}

	#with<T>(use: (store: KeyStore) => T): T {
		const store = new KeyStore(this.#partition);
		try {
			return use(store);
		} finally {
			store.close();
		}
	}
}
