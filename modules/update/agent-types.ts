/**
 * The update agent's public types: what it is given (AgentOptions, BeginOptions, DeviceKeys) and
 * what it reports (status, progress, the running image, MCUmgr's slot states, an install's result).
 */
import type { ErrorCode } from "sealdrop/base/errors";
import type { TrustAnchor } from "sealdrop/image/signature";
import type { BoardConfig } from "./board.js";
import type { PendingMode } from "./journal.js";

export type { PendingMode } from "./journal.js";
export type { TrustAnchor } from "sealdrop/image/signature";

/** Where an update stands (in the spirit of PSA Firmware Update's states). */
export type UpdateState = "idle" | "receiving" | "verifying" | "ready" | "pending-test" | "pending-permanent" | "failed";

export interface AgentOptions {
	board: BoardConfig;
	/** Keys (or key hashes) trusted to sign firmware. */
	trust: TrustAnchor[];
	/** Refuse images whose version is not above the running one (build numbers ignored, as bootutil). */
	newerOnly?: boolean;
	onProgress?: (progress: Progress) => void;
	/**
	 * esp-idf boards: the OTA app partition running (index into board.ota.apps), as
	 * esp_ota_get_running_partition() knows it. Default: the one otadata selects.
	 */
	runningApp?: number;
	/** The device keys that open sealed images (default: the board's deviceKeySlot alone). */
	deviceKeys?: DeviceKeys;
}

/**
 * The device key slots a sealed image may be opened with, and what the agent tells their owner
 * (modules/keys, during a key rotation: the old key and the new one both open images until an
 * image sealed for the new key is confirmed).
 */
export interface DeviceKeys {
	/** Key slots to try, in order. */
	slots(): number[];
	/** An image opened with the key in `slot` was verified; `identity` is the hash of what will run. */
	installed(slot: number, identity: Uint8Array): void;
	/** The running image whose hash is `identity` was confirmed. */
	confirmed(identity: Uint8Array): void;
	/** The counter of the rotation that retired this device's earlier key, 0 if it never rotated. */
	lastRotation?(): number;
}

export interface Progress {
	phase: "header" | "tlvs" | "body" | "verifying" | "done";
	/** Bytes of the image received so far (in any order). */
	bytes: number;
	total: number;
}

export interface BeginOptions {
	/** The image's size in bytes, as the transport announces it. */
	size: number;
	/** Identifies the image across resets (SMP `sha`, an HTTP ETag...); without it nothing resumes. */
	sessionId?: Uint8Array;
	/** Image number (multi-image boards): selects the slot pair. */
	image?: number;
	/** What to do once verified: mark pending for a test boot (default), permanently, or not yet. */
	pending?: PendingMode;
}

export interface UpdateStatus {
	state: UpdateState;
	image: number;
	size: number;
	/** Bytes received so far. */
	received: number;
	/** The offset the agent wants next (size when it wants nothing more). */
	nextOffset: number;
	/** Why the last update failed. */
	error?: { code: ErrorCode; message: string };
	/** The new image, once its header is in. */
	version?: string;
}

export interface RunningImage {
	image: number;
	version: string;
	/** The image hash TLV (hex); on esp-idf boards the app image's SHA-256 (esp_image_verify's). */
	hash: string;
	/** "trial": booted for a test and reverted at the next reset unless confirmed. */
	state: "trial" | "confirmed";
	securityCounter: number | null;
}

/**
 * One slot holding an image, with the flags MCUmgr's image state read reports (Zephyr's
 * img_mgmt_state_flags): on MCUboot boards slot 0 is the primary, 1 the secondary; on esp-idf
 * boards slot N is OTA app partition N.
 */
export interface SlotState {
	image: number;
	slot: number;
	version: string;
	/** The MCUboot hash TLV (hex); on esp-idf boards the app's SHA-256. */
	hash: string;
	bootable: boolean;
	/** Will run at the next reset (for a test unless `permanent`). */
	pending: boolean;
	/** Stays after the next reset without anyone confirming it. */
	confirmed: boolean;
	/** Running now. */
	active: boolean;
	permanent: boolean;
}

/** What finish() reports. */
export interface InstallResult {
	image: number;
	version: string;
	hash: string;
	state: UpdateState;
	resumedFrom: number;
}
