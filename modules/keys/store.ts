/**
 * The device key's records in the board's `keys` partition (a RecordLog): the lock record that
 * names the device key, and the state of a key rotation in progress.
 *
 * - LOCK: the key slot, kind, mode, provisioning time and fingerprint of the device key, and the
 *   highest rotation counter accepted so far. The newest LOCK is the device key.
 * - ROTATION: a rotation in progress: its counter, the digest of the request that started it,
 *   and the new key's slot, kind and fingerprint. Gone once a LOCK names the new key.
 * - USED: the identity (image hash) of an image the new key opened and the agent verified; its
 *   confirmation commits the rotation.
 * Each record is written whole or not at all (RecordLog); the live ones move together when the
 * log changes blocks.
 */
import { equalBytes, putU32, u32 } from "sealdrop/image";
import { RecordLog } from "sealdrop/base/record-log";
import type { DeviceKeyKind } from "./encoding.js";

const LOCK = 0x20;
const ROTATION = 0x21;
const USED = 0x22;
const FORMAT = 1;
const KINDS: DeviceKeyKind[] = ["p256", "x25519"];
export type ProvisionMode = "generated" | "imported";
const MODES: ProvisionMode[] = ["generated", "imported"];

export interface Lock {
	slot: number;
	kind: DeviceKeyKind;
	mode: ProvisionMode;
	provisionedAt: number;
	fingerprint: Uint8Array;
	/** The highest rotation counter accepted (0 before any rotation). */
	rotationCounter: number;
}

export interface Rotation {
	counter: number;
	/** SHA-256 of the request that started it, so the same request gets the same answer again. */
	request: Uint8Array;
	slot: number;
	kind: DeviceKeyKind;
	fingerprint: Uint8Array;
	/** The identity of an image opened with the new key and verified, once there is one. */
	used?: Uint8Array;
}

function encodeLock(l: Lock): Uint8Array {
	const out = new Uint8Array(12 + 32);
	out.set([FORMAT, l.slot, KINDS.indexOf(l.kind), MODES.indexOf(l.mode)]);
	putU32(out, 4, l.provisionedAt);
	putU32(out, 8, l.rotationCounter);
	out.set(l.fingerprint, 12);
	return out;
}

function decodeLock(p: Uint8Array): Lock | undefined {
	if (p.length !== 44 || p[0] !== FORMAT || p[2] >= KINDS.length || p[3] >= MODES.length) return undefined;
	return { slot: p[1], kind: KINDS[p[2]], mode: MODES[p[3]], provisionedAt: u32(p, 4), rotationCounter: u32(p, 8), fingerprint: p.slice(12) };
}

function encodeRotation(r: Rotation): Uint8Array {
	const out = new Uint8Array(8 + 32 + 32);
	out.set([FORMAT, r.slot, KINDS.indexOf(r.kind), 0]);
	putU32(out, 4, r.counter);
	out.set(r.request, 8);
	out.set(r.fingerprint, 40);
	return out;
}

function decodeRotation(p: Uint8Array): Rotation | undefined {
	if (p.length !== 72 || p[0] !== FORMAT || p[2] >= KINDS.length) return undefined;
	return { slot: p[1], kind: KINDS[p[2]], counter: u32(p, 4), request: p.slice(8, 40), fingerprint: p.slice(40) };
}

export class KeyStore {
	readonly #log: RecordLog;
	#lock: Lock | undefined;
	#rotation: Rotation | undefined;
	/**
	 * The LOCK and ROTATION records as written, kept for the moves of the log to a fresh block:
	 * where the log shares a partition with an install's journal (STM32F4DISCOVERY), a move comes
	 * every hundred or so of its records, and encoding them again each time was garbage.
	 */
	#lockPayload: Uint8Array | undefined;
	#rotationPayload: Uint8Array | undefined;

	constructor(partition: string) {
		this.#log = new RecordLog(partition, { types: [LOCK, ROTATION, USED], snapshot: (keep) => this.#snapshot(keep) });
		for (const r of this.#log.takeRecords()) {
			if (r.type === LOCK) {
				const lock = decodeLock(r.payload);
				if (!lock) continue;
				this.#lock = lock;
				// a lock naming the rotation's new key ends the rotation
				if (this.#rotation && equalBytes(this.#rotation.fingerprint, lock.fingerprint)) this.#rotation = undefined;
			} else if (r.type === ROTATION) this.#rotation = decodeRotation(r.payload) ?? this.#rotation;
			else if (r.type === USED && this.#rotation && r.payload.length <= 64) this.#rotation.used = r.payload.slice();
		}
		this.#lockPayload = this.#lock && encodeLock(this.#lock);
		this.#rotationPayload = this.#rotation && encodeRotation(this.#rotation);
	}

	/** The device key's lock, once provisioned. */
	get lock(): Lock | undefined {
		return this.#lock;
	}

	/** The rotation in progress, if any. */
	get rotation(): Rotation | undefined {
		return this.#rotation;
	}

	/** Writes a lock (provisioning, or the commit of a rotation: then the rotation is over). */
	writeLock(lock: Lock): void {
		const payload = encodeLock(lock);
		this.#log.append(LOCK, payload);
		this.#lock = lock;
		this.#lockPayload = payload;
		this.#rotation = undefined;
		this.#rotationPayload = undefined;
	}

	writeRotation(rotation: Rotation): void {
		const payload = encodeRotation(rotation);
		this.#log.append(ROTATION, payload);
		this.#rotation = { ...rotation };
		this.#rotationPayload = payload;
		delete this.#rotation.used;
	}

	writeUsed(identity: Uint8Array): void {
		this.#log.append(USED, identity);
		this.#rotation!.used = identity.slice();
	}

	close(): void {
		this.#log.close();
	}

	/** The live records, the one being appended excluded (it supersedes what it replaces). */
	#snapshot(keep: (type: number, payload: Uint8Array) => void): void {
		if (this.#lockPayload) keep(LOCK, this.#lockPayload);
		if (this.#rotationPayload) {
			keep(ROTATION, this.#rotationPayload);
			if (this.#rotation!.used) keep(USED, this.#rotation!.used);
		}
	}
}
