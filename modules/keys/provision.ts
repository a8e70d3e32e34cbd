/**
 * First-boot provisioning of the device key (ARCHITECTURE.md "The life of an update" step 1, "Security
 * invariants"): once per device, a key pair made from the health-checked TRNG (or injected at the
 * factory) into persistent, non-exportable PSA storage, then a lock record that makes every later
 * boot a no-op.
 *
 * Power-fail argument, step by step (the key store and the lock record's log are each atomic:
 * PSA ITS replaces a key file whole, RecordLog records are whole or absent):
 * 1. No lock, no key: nothing was exported; the next boot starts again.
 * 2. A cut after the key is stored but before its lock record is complete: the next boot finds the
 *    key without a lock and adopts it (never makes a second one), then writes the lock. A factory
 *    import replaces it instead (destroy, then import: a cut between leaves step 1).
 * 3. Lock written: the key it names (by fingerprint) is the device key for good.
 * The public key is exported only once the lock is written, so the key ever exported is always
 * the stored one.
 */
import DeviceKey from "sealdrop/native/device-key";
import { fill as fillEntropy } from "sealdrop/native/entropy";
import { equalBytes, fail, nativeError } from "sealdrop/image";
import { sha256 } from "sealdrop/base/hash";
import { spkiDer, type DeviceKeyKind } from "./encoding.js";
import { KeyStore, type Lock, type ProvisionMode } from "./store.js";

export type { ProvisionMode } from "./store.js";

/** What the production interface reports about the device key. */
export interface DeviceKeyInfo {
	kind: DeviceKeyKind;
	/** DeviceKey.publicKey(): 04‖X‖Y for P-256, 32 bytes for X25519. */
	publicKey: Uint8Array;
	/** SHA-256 of the SubjectPublicKeyInfo DER. */
	fingerprint: Uint8Array;
	mode: ProvisionMode;
	/** The device clock when the lock was written, in seconds since 1970 (0 when the clock was not set). */
	provisionedAt: number;
	/** The DeviceKey slot that holds the key. */
	slot: number;
	/** Whether PSA would hand out the private key: false for every key provisioned here. */
	exportable: boolean;
	/** A rotation in progress: the new key's fingerprint, in use once an image sealed for it is confirmed. */
	rotating?: { counter: number; fingerprint: Uint8Array };
}

export interface ProvisionOptions {
	/** The flash partition of the lock record (the board's `keys`). */
	partition: string;
	/** "generate" (the default) on first boot; "import" at the factory, with `privateKey`. */
	mode?: "generate" | "import";
	/** The key kind to make or import (default p256). */
	kind?: DeviceKeyKind;
	/** import: the raw 32-byte private key (P-256 scalar or X25519 key). */
	privateKey?: Uint8Array;
	/** The DeviceKey slot (default 0). */
	slot?: number;
	/** Seconds since 1970 for provisionedAt (default: the device clock, 0 if before 2020, i.e. not set). */
	now?: () => number;
}

/** SHA-256 of the key's SubjectPublicKeyInfo DER. */
export function keyFingerprint(kind: DeviceKeyKind, raw: Uint8Array): Uint8Array {
	return sha256(spkiDer(kind, raw));
}

/** The device clock in seconds, 0 when it was never set (before 2020). */
export function clock(): number {
	const seconds = Math.floor(Date.now() / 1000);
	return seconds >= 1577836800 ? seconds : 0;
}

/** The stored key of a locked device, checked against its lock record. */
export function lockedKey(store: KeyStore): DeviceKeyInfo {
	const lock = store.lock ?? fail("E_STATE", "the device key is not provisioned yet (it is made at first boot)");
	if (!DeviceKey.exists({ slot: lock.slot })) fail("E_KEY_STORE", `the device key is locked but slot ${lock.slot} holds no key: it was erased, and a new one would not be the key the factory read`);
	const key = new DeviceKey({ slot: lock.slot });
	try {
		const publicKey = new Uint8Array(key.publicKey());
		const fingerprint = keyFingerprint(key.kind, publicKey);
		if (key.kind !== lock.kind || !equalBytes(fingerprint, lock.fingerprint)) fail("E_KEY_STORE", `the key in slot ${lock.slot} is not the one its lock record names`);
		const rotation = store.rotation;
		return {
			kind: key.kind, publicKey, fingerprint, mode: lock.mode, provisionedAt: lock.provisionedAt, slot: lock.slot, exportable: key.isExportable(),
			...(rotation ? { rotating: { counter: rotation.counter, fingerprint: rotation.fingerprint } } : {}),
		};
	} finally {
		key.close();
	}
}

/**
 * Runs at every boot: provisions the device key if it was never locked, else checks the stored
 * key against its lock. Returns the key's information and whether this call made it.
 * Throws E_ENTROPY when the entropy source fails its health checks (no key is made; the next boot
 * tries again), E_KEY_FORMAT for an import of a weak or malformed key, E_KEY_STORE when the store
 * and its lock disagree.
 */
export function provision(options: ProvisionOptions): { info: DeviceKeyInfo; created: boolean } {
	const store = new KeyStore(options.partition);
	try {
		if (store.lock) {
			removeStrayKeys(store);
			return { info: lockedKey(store), created: false };
		}
		const slot = options.slot ?? 0;
		const kind = options.kind ?? "p256";
		const mode: ProvisionMode = options.mode === "import" ? "imported" : "generated";
		// an unlocked key was never exported: an import replaces it, so the locked key is the one the factory gave
		if (options.mode === "import" && DeviceKey.exists({ slot })) new DeviceKey({ slot }).destroy();
		if (!DeviceKey.exists({ slot })) {
			if (options.mode === "import") importKey(kind, options.privateKey ?? fail("E_USAGE", "an import needs the private key"), slot);
			else generateKey(kind, slot);
		}
		// step 2 lands here after a cut: the key stored by the interrupted boot is adopted
		const key = new DeviceKey({ slot });
		let lock: Lock;
		try {
			lock = { slot, kind: key.kind, mode, provisionedAt: (options.now ?? clock)() >>> 0, fingerprint: keyFingerprint(key.kind, new Uint8Array(key.publicKey())), rotationCounter: 0 };
		} finally {
			key.close();
		}
		store.writeLock(lock);
		return { info: lockedKey(store), created: true };
	} finally {
		store.close();
	}
}

function importKey(kind: DeviceKeyKind, privateKey: Uint8Array, slot: number): void {
	try {
		DeviceKey.import(kind, privateKey, { slot }).close();
	} catch (e) {
		throw nativeError(e, "E_KEY_STORE", `the imported ${kind} key is refused`);
	}
}

/** Makes a key in `slot` from the TRNG, after the entropy health checks. */
export function generateKey(kind: DeviceKeyKind, slot: number): void {
	// the health checks first, on bytes of their own, so a broken source is reported before PSA is asked for anything
	try {
		fillEntropy(new Uint8Array(64));
	} catch (e) {
		fail("E_ENTROPY", `no device key made: ${(e as Error).message}`);
	}
	try {
		DeviceKey.generate(kind, { slot }).close();
	} catch (e) {
		throw nativeError(e, "E_KEY_STORE", "no device key made");
	}
}

/** DeviceKey slots (device-key.c DEVICE_KEY_SLOTS). */
const SLOTS = 4;

/** Destroys keys no record names (a cut during a rotation or its commit); returns how many. */
function removeStrayKeys(store: KeyStore): number {
	const lock = store.lock;
	if (!lock) return 0;
	let removed = 0;
	for (let slot = 0; slot < SLOTS; slot++) {
		if (slot === lock.slot || slot === store.rotation?.slot || !DeviceKey.exists({ slot })) continue;
		new DeviceKey({ slot }).destroy();
		removed++;
	}
	return removed;
}

/** The production interface: the locked device key's information; E_STATE before provisioning. */
export function deviceKeyInfo(partition: string): DeviceKeyInfo {
	const store = new KeyStore(partition);
	try {
		return lockedKey(store);
	} finally {
		store.close();
	}
}
