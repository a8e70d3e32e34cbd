/**
 * The update agent: takes a sealed (or plain signed) MCUboot image as byte ranges from any
 * transport, decrypts and hashes it on the fly, writes the secondary slot, verifies it, and only
 * then marks it pending for the bootloader. Resumable across resets through its journal.
 *
 * The order bytes are asked for. A sealed image's key (the ENC TLV) sits after the body, so the
 * agent asks for the image in three ranges, each answer to `write()` naming the next offset it
 * wants (as SMP's `off` does; SMP clients, HTTP Range and the simulator all follow it):
 *   1. the header area [0, hdrSize);
 *   2. the TLV areas [hdrSize + imgSize, size): ENC TLV, hash, signature, security counter;
 *   3. the body [hdrSize, hdrSize + imgSize), decrypted, hashed and written as it arrives.
 * So the device key opens the image key before the first body byte, an image the device must
 * refuse (another device's key, a lower security counter, a missing dependency) is refused
 * before the body is sent, and the body is never buffered.
 *
 * Installers (ARCHITECTURE.md "Installers"), as payload modes:
 * - stored: the image is written as received (ciphertext at rest): `mcuboot-encrypted`, and any
 *   unencrypted image on either MCUboot installer.
 * - nested: `mcuboot` with a sealed image whose payload is a signed MCUboot image (sealdrop
 *   wrap): the inner image is written in plaintext and verified as MCUboot will verify it.
 * - esp-app: `esp-idf`: the payload is an ESP-IDF app image, written in plaintext into the next
 *   OTA partition (esp_ota_begin's otadata step first), checked as esp_image_verify does, and
 *   selected through otadata (esp_ota_set_boot_partition); confirm is
 *   esp_ota_mark_app_valid_cancel_rollback. The ESP-IDF bootloader's app rollback reverts an
 *   unconfirmed app.
 *
 * Invariants: the primary slot is never written (except confirm's image_ok flag); nothing is
 * marked pending unless hash, signature, security counter and dependencies check out, over what
 * was written, read back from flash; any failure leaves the running image as it was.
 */
import AesCtr from "sealdrop/native/aes-ctr";
import DeviceKey from "sealdrop/native/device-key";
import Flash from "sealdrop/native/flash";
import Sha256 from "sealdrop/native/sha256";
import {
	aesKeyBits, compareVersions, dependencies, equalBytes, errorCode, fail, findEncTlv, findHashTlv, formatVersion, fromHex, ImageFlag,
	ImageStreamParser, IMAGE_HEADER_SIZE, nativeError, parseHeader, parseTlvArea, SealdropError, securityCounter, swapTypeFor,
	SwapType, TlvType, toHex, type ErrorCode, type ImageHeader, type ImageLayout, type Tlv,
} from "sealdrop/image";
import type { BoardConfig } from "./board.js";
import { maxImageSize, readSlotTrailer, setConfirmed, setPending, trailerFirstBlock } from "./bootutil.js";
import { SecurityCounters } from "./counters.js";
import { CHAIN_BYTES, Journal, sameSession, type PendingMode, type SessionRecord } from "./journal.js";
import { checkSignature, type TrustAnchor } from "sealdrop/image/signature";
import { hashImage, readSlotImage, type SlotImage } from "./slot-image.js";
import { SlotWriter } from "./slot-writer.js";
import { checkEspAppPartition, EspAppImageCheck } from "./esp-app-image.js";
import { OtaData, OtaImgState } from "./esp-otadata.js";

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

type Phase = "header" | "tlvs" | "body" | "done";
/** What lands in flash: the image as received, the inner MCUboot image, or the ESP-IDF app. */
type PayloadMode = "stored" | "nested" | "esp-app";

/** One update in progress. */
interface Session {
	options: Required<Omit<BeginOptions, "sessionId">> & { sessionId: Uint8Array };
	phase: Phase;
	next: number;
	received: number;
	resumedFrom: number;
	headerArea: Uint8Array;
	header?: ImageHeader;
	tlvArea?: Uint8Array;
	layout?: ImageLayout;
	tlvOffset: number;
	cipher?: AesCtr;
	hash: Sha256;
	chain: Sha256;
	chainValue: Uint8Array;
	/** The secondary slot, or the next OTA app partition. */
	target: Flash;
	writer?: SlotWriter;
	mode: PayloadMode;
	/** The device key slot that opened the image, for a sealed image. */
	keySlot?: number;
	/** Whether the journal holds this session (from the header and TLVs in, or from a resume). */
	journaled?: boolean;
	/** esp-idf: the OTA app partition written, and the app image check (once the header is in). */
	esp?: { partition: number; check?: EspAppImageCheck };
	inner?: {
		parser: ImageStreamParser; hash: Sha256; layout: Partial<ImageLayout> & { protectedTlvs: Tlv[]; unprotectedTlvs: Tlv[] }; end: number; protectedBytes: Uint8Array[];
		/** The payload does not start as an image: reported once the outer hash says whether the key or the release is at fault. */
		notAnImage?: SealdropError;
	};
}

/** How an update ended, for status() once it is over. */
interface LastUpdate {
	image: number;
	size: number;
	state: UpdateState;
	resumedFrom: number;
	error?: UpdateStatus["error"];
	version?: string;
}

/** Bytes decrypted per step: the agent's only per-update buffer besides the header and TLVs. */
const SCRATCH = 4096;

/** The layout of an image from its header and its TLV areas (as received, or as the journal keeps them). */
function areasLayout(header: ImageHeader, tlvArea: Uint8Array): ImageLayout {
	const tlvOffset = header.hdrSize + header.imgSize;
	const protectedTlvs = header.protectTlvSize ? parseTlvArea(tlvArea.subarray(0, header.protectTlvSize), tlvOffset, true) : [];
	const unprotectedOffset = tlvOffset + header.protectTlvSize;
	const rest = tlvArea.subarray(header.protectTlvSize);
	const unprotectedTlvs = parseTlvArea(rest, unprotectedOffset, false);
	return { header, protectedTlvs, unprotectedTlvs, tlvOffset, unprotectedOffset, size: unprotectedOffset + (rest[2] | (rest[3] << 8)), trailingLength: 0 };
}

/** esp-idf: what otadata selects for the next reset when it is not the running app (NEW: a test, VALID: for good). */
function espPendingState(otadata: OtaData): UpdateState | undefined {
	const next = otadata.bootPartition();
	if (next === otadata.running) return undefined;
	const state = otadata.stateOf(next);
	return state === OtaImgState.NEW ? "pending-test" : state === OtaImgState.VALID ? "pending-permanent" : undefined;
}

/** A failure as the agent reports it: its own code, or a native module's (E_KEY_STORE, E_ENTROPY...), else E_FLASH. */
const asError = (e: unknown): SealdropError => nativeError(e, "E_FLASH", "flash or crypto operation failed");

export class UpdateAgent {
	readonly #board: BoardConfig;
	readonly #trust: TrustAnchor[];
	readonly #newerOnly: boolean;
	readonly #onProgress?: (progress: Progress) => void;
	readonly #journal: Journal;
	readonly #counters: SecurityCounters;
	readonly #scratch = new Uint8Array(SCRATCH);
	readonly #runningApp: number | undefined;
	readonly #deviceKeys: DeviceKeys | undefined;
	#session: Session | undefined;
	/** How the last update ended (after a reset: what the journal says, once looked up). */
	#last: LastUpdate | undefined;
	#lastLookedUp = false;

	constructor(options: AgentOptions) {
		this.#board = options.board;
		this.#runningApp = options.runningApp;
		this.#deviceKeys = options.deviceKeys;
		this.#trust = options.trust;
		this.#newerOnly = options.newerOnly ?? false;
		this.#onProgress = options.onProgress;
		this.#journal = new Journal(options.board.journal);
		this.#counters = new SecurityCounters(options.board.storage);
	}

	// --- the running image ---

	/** The image running from the primary slot of `image`, or undefined if the slot is empty. */
	running(image = 0): RunningImage | undefined {
		if (this.#board.installer === "esp-idf") return this.#runningEspApp(image);
		const flash = this.#open("primary", image);
		try {
			const found = readSlotImage(flash);
			if (!found) return undefined;
			// trial: swapped in for a test (magic and copy_done written by the bootloader), not confirmed: REVERT at the next reset
			const { state } = readSlotTrailer(flash, this.#maxAlign);
			const trial = state.magic === "good" && state.imageOk === "unset" && state.copyDone === "set";
			return { image, version: found.version, hash: found.hash, state: trial ? "trial" : "confirmed", securityCounter: found.securityCounter };
		} finally {
			flash.close();
		}
	}

	/**
	 * Confirms the running image after the app's own health check (boot_set_confirmed), and
	 * stores its security counter so older images are refused from now on.
	 */
	confirm(image = 0): RunningImage {
		if (this.#board.installer === "esp-idf") {
			const running = this.#runningEspApp(image);
			if (!running) fail("E_NO_IMAGE", "the running app partition holds no app image");
			this.#withOtaData((otadata) => otadata.markValid());
			if (running.securityCounter !== null) this.#counters.raise(image, running.securityCounter);
			this.#deviceKeys?.confirmed(fromHex(running.hash));
			return this.running(image)!;
		}
		const flash = this.#open("primary", image);
		try {
			const found = readSlotImage(flash);
			if (!found) fail("E_NO_IMAGE", `image ${image}: the primary slot holds no image to confirm`);
			setConfirmed(flash, this.#maxAlign);
			if (found.securityCounter !== null) this.#counters.raise(image, found.securityCounter);
			this.#deviceKeys?.confirmed(fromHex(found.hash));
		} finally {
			flash.close();
		}
		return this.running(image)!;
	}

	/** Every slot that holds an image, with MCUmgr's state flags. */
	slots(): SlotState[] {
		const out: SlotState[] = [];
		if (this.#board.installer === "esp-idf") {
			this.#withOtaData((otadata) => {
				const pending = espPendingState(otadata);
				const next = otadata.bootPartition();
				for (let slot = 0; slot < otadata.appCount; slot++) {
					let app;
					try {
						app = otadata.checkApp(slot);
					} catch (e) {
						if (e instanceof SealdropError) continue;
						throw e;
					}
					const state = otadata.stateOf(slot);
					const active = slot === otadata.running;
					const isPending = !!pending && slot === next;
					out.push({
						image: 0, slot, version: app.version, hash: toHex(app.sha256), bootable: true, pending: isPending,
						confirmed: !isPending && (state === OtaImgState.VALID || (active && state === undefined)), active, permanent: isPending && pending === "pending-permanent",
					});
				}
			});
			return out;
		}
		for (let image = 0; image < this.#imageCount; image++) {
			const primary = this.#open("primary", image);
			const secondary = this.#open("secondary", image);
			try {
				const type = swapTypeFor(readSlotTrailer(primary, this.#maxAlign).state, readSlotTrailer(secondary, this.#maxAlign).state);
				[primary, secondary].forEach((flash, slot) => {
					const found = readSlotImage(flash);
					if (!found) return;
					const pending = slot === 1 && (type === SwapType.TEST || type === SwapType.PERM);
					out.push({
						image, slot, version: found.version, hash: found.hash, bootable: !(found.header.flags & ImageFlag.NON_BOOTABLE),
						pending, confirmed: slot === 0 ? type === SwapType.NONE || type === SwapType.TEST || type === SwapType.PERM : type === SwapType.REVERT,
						active: slot === 0, permanent: slot === 1 && type === SwapType.PERM,
					});
				});
			} finally {
				primary.close();
				secondary.close();
			}
		}
		return out;
	}

	/** The security counter stored for an image number. */
	securityCounter(image = 0): number {
		return this.#counters.get(image);
	}

	// --- the update ---

	status(): UpdateStatus {
		const s = this.#session;
		if (s) {
			return {
				state: s.phase === "done" ? "verifying" : "receiving", image: s.options.image, size: s.options.size,
				received: s.received, nextOffset: s.next, ...(s.header ? { version: formatVersion(s.header.version) } : {}),
			};
		}
		if (!this.#last && !this.#lastLookedUp) this.#last = this.#journaledReady();
		this.#lastLookedUp = true;
		const image = this.#last?.image ?? 0;
		const pending = this.#pendingState(image);
		const base = { image, size: this.#last?.size ?? 0, received: this.#last?.size ?? 0, nextOffset: this.#last?.size ?? 0, ...(this.#last?.version ? { version: this.#last.version } : {}) };
		if (pending) return { ...base, state: pending };
		if (this.#last) return { ...base, state: this.#last.state, ...(this.#last.error ? { error: this.#last.error } : {}) };
		return { ...base, state: "idle" };
	}

	/**
	 * Starts an update, or resumes the one the journal holds when `sessionId`, size and image
	 * number match it. Returns the offset the agent wants first.
	 */
	begin(options: BeginOptions): { nextOffset: number; resumed: boolean } {
		if (this.#session) fail("E_STATE", `an update is in progress (${this.#session.received} of ${this.#session.options.size} bytes); abort it first`);
		const o = { size: options.size, sessionId: options.sessionId ?? new Uint8Array(0), image: options.image ?? 0, pending: options.pending ?? "test" };
		if (!Number.isInteger(o.size) || o.size <= IMAGE_HEADER_SIZE) fail("E_RANGE", `an image of ${o.size} bytes is too small to be an MCUboot image`);
		if (!Number.isInteger(o.image) || o.image < 0 || o.image >= this.#imageCount) fail("E_RANGE", `board ${this.#board.name} has no image ${o.image}`);
		if (!["none", "test", "permanent"].includes(o.pending)) fail("E_USAGE", `pending must be "none", "test" or "permanent"`);
		if (this.#onTrial(o.image)) fail("E_STATE", `image ${o.image} is running on trial: confirm it (or let it revert) before the next update`);

		const journal = this.#journal.state;
		const resume = journal && !journal.done && sameSession(journal.session, o.sessionId, o.size, o.image) ? journal.session : undefined;
		// esp-idf: esp_ota_begin's otadata step (no rollback to the partition about to be erased) comes first
		const espPartition = this.#board.installer === "esp-idf" ? this.#withOtaData((otadata) => otadata.beginUpdate()) : undefined;
		const target = espPartition === undefined ? this.#open("secondary", o.image) : Flash.open({ path: this.#board.ota!.apps[espPartition] });
		const session: Session = {
			options: o, phase: "header", next: 0, received: 0, resumedFrom: 0, headerArea: new Uint8Array(IMAGE_HEADER_SIZE), tlvOffset: 0,
			hash: new Sha256(), chain: new Sha256(), chainValue: new Uint8Array(32), target, mode: "stored",
			...(espPartition === undefined ? {} : { esp: { partition: espPartition } }),
		};
		this.#session = session;
		this.#last = undefined;
		this.#lastLookedUp = true;
		try {
			// a new session resets the journal when its header and TLVs are in, before the slot's body changes
			if (resume) this.#resume(session, resume);
			else if (espPartition === undefined) this.#eraseTrailer(target);
		} catch (e) {
			this.#end(session, asError(e));
			throw asError(e);
		}
		this.#progress(session);
		return { nextOffset: session.next, resumed: !!resume };
	}

	/**
	 * Takes `bytes` at image offset `offset`; returns the offset wanted next. Bytes at another
	 * offset than the one wanted are ignored (the answer says where to continue), as SMP does.
	 * Throws E_RANGE for bytes past the announced size (the update goes on), and any refusal
	 * (the update is then over and nothing is pending).
	 */
	write(offset: number, bytes: Uint8Array): number {
		const s = this.#session;
		if (!s) fail("E_STATE", "no update in progress: begin() one first");
		if (!Number.isInteger(offset) || offset < 0) fail("E_RANGE", `offset ${offset} is not a byte offset`);
		if (offset + bytes.length > s.options.size) fail("E_RANGE", `${bytes.length} bytes at offset ${offset} run past the announced size of ${s.options.size}`);
		if (offset !== s.next || bytes.length === 0) return s.next;
		try {
			this.#consume(s, bytes);
		} catch (e) {
			const error = asError(e);
			this.#end(s, error);
			throw error;
		}
		this.#progress(s);
		return s.next;
	}

	/** After the last byte: what was installed. Throws E_TRUNCATED while bytes are missing. */
	finish(): InstallResult {
		const s = this.#session;
		if (s) fail("E_TRUNCATED", `the update is missing bytes: next wanted at offset ${s.next} of ${s.options.size}`);
		const last = this.#last;
		if (!last) fail("E_STATE", "no update to finish");
		if (last.error) throw new SealdropError(last.error.code, last.error.message);
		const done = this.#journal.state?.done;
		return { image: last.image, version: last.version ?? "", hash: done ? toHex(done.imageHash) : "", state: this.status().state, resumedFrom: last.resumedFrom };
	}

	/** Abandons the update in progress; the secondary slot is left with nothing pending. */
	abort(): void {
		const s = this.#session;
		if (!s) return;
		this.#end(s, new SealdropError("E_STATE", "the update was aborted"));
		this.#journal.clear();
	}

	/**
	 * Marks the image verified in the secondary slot pending (for an update begun with
	 * `pending: "none"`, as SMP's upload then state-write does). The slot is hashed again first.
	 */
	markPending(image = 0, permanent = false): void {
		if (this.#session) fail("E_STATE", "an update is in progress");
		if (this.#board.installer === "esp-idf") return this.#markEspAppPending(image, permanent);
		const done = this.#journal.state?.done;
		const journalImage = this.#journal.state?.session.image;
		const secondary = this.#open("secondary", image);
		try {
			const found = readSlotImage(secondary);
			if (!found || !done || done.outcome === "failed" || journalImage !== image || found.hash !== toHex(done.imageHash))
				fail("E_STATE", `image ${image}: the secondary slot holds no image this agent verified`);
			this.#verifyStored(secondary, found);
			setPending(secondary, this.#maxAlign, image, permanent);
		} finally {
			secondary.close();
		}
	}

	#markEspAppPending(image: number, permanent: boolean): void {
		const journal = this.#journal.state;
		const refuse = () => fail("E_STATE", `image ${image}: the next OTA partition holds no app this agent verified`);
		if (image !== 0 || journal?.done?.outcome !== "verified") refuse();
		const { headerArea, tlvArea } = journal!.session;
		const partition = this.#withOtaData((otadata) => otadata.nextUpdatePartition());
		const flash = Flash.open({ path: this.#board.ota!.apps[partition] });
		try {
			let app;
			try {
				app = checkEspAppPartition(flash);
			} catch {
				refuse();
			}
			if (!equalBytes(app!.sha256, journal!.done!.imageHash)) refuse();
			this.#verifyRelease(flash, headerArea, tlvArea);
		} finally {
			flash.close();
		}
		this.#selectEspApp(partition, permanent);
	}

	/**
	 * Releases the agent. An update in progress is left as a reset would leave it: the journal
	 * keeps it, so begin() with the same session id resumes after the last durable block (use
	 * abort() to abandon it instead).
	 */
	close(): void {
		if (this.#session) this.#release(this.#session);
		this.#session = undefined;
		this.#journal.close();
		this.#counters.close();
	}

	// --- internals ---

	get #imageCount(): number {
		return this.#board.installer === "esp-idf" ? 1 : this.#board.images?.length ?? 0;
	}

	get #maxAlign(): number {
		return this.#board.maxAlign ?? 8;
	}

	/** esp-idf: the board's otadata, as the running app sees it. */
	#withOtaData<T>(use: (otadata: OtaData) => T): T {
		const otadata = new OtaData(this.#board.ota!, this.#runningApp === undefined ? {} : { running: this.#runningApp });
		try {
			return use(otadata);
		} finally {
			otadata.close();
		}
	}

	/**
	 * esp-idf: the running app, checked as esp_image_verify does. Its security counter is known
	 * when this agent installed it: the journal's last verified image is this app.
	 */
	#runningEspApp(image: number): RunningImage | undefined {
		if (image !== 0) fail("E_RANGE", `board ${this.#board.name} has no image ${image}`);
		return this.#withOtaData((otadata) => {
			let info;
			try {
				info = otadata.checkApp(otadata.running);
			} catch (e) {
				if (e instanceof SealdropError) return undefined;
				throw e;
			}
			const hash = toHex(info.sha256);
			const release = this.#installedRelease(hash);
			const trial = otadata.stateOf(otadata.running) === OtaImgState.PENDING_VERIFY;
			return { image, version: info.version, hash, state: trial ? "trial" : "confirmed", securityCounter: release ? securityCounter(release) : null };
		});
	}

	/** The release the journal's last verified install wrote, if its identity is `hash`. */
	#installedRelease(hash: string): ImageLayout | undefined {
		const journal = this.#journal.state;
		if (journal?.done?.outcome !== "verified" || toHex(journal.done.imageHash) !== hash) return undefined;
		return areasLayout(parseHeader(journal.session.headerArea), journal.session.tlvArea);
	}

	/**
	 * After a reset: the journal's last install if it was verified and its target still holds it
	 * (not yet pending, or marked pending and since then swapped or cancelled: status() asks the
	 * trailers or otadata for that), so status() still says it is ready to be marked pending.
	 */
	#journaledReady(): LastUpdate | undefined {
		const journal = this.#journal.state;
		if (journal?.done?.outcome !== "verified") return undefined;
		const { session, done } = journal;
		const esp = this.#board.installer === "esp-idf";
		const target = esp ? Flash.open({ path: this.#board.ota!.apps[this.#withOtaData((otadata) => otadata.nextUpdatePartition())] }) : this.#open("secondary", session.image);
		let held: string | undefined;
		try {
			held = esp ? toHex(checkEspAppPartition(target).sha256) : readSlotImage(target)?.hash;
		} catch {
			held = undefined; // no valid app there
		} finally {
			target.close();
		}
		if (held !== toHex(done.imageHash)) return undefined;
		return { image: session.image, size: session.size, state: "ready", resumedFrom: 0, version: formatVersion(parseHeader(session.headerArea).version) };
	}

	/** Whether the running image is on trial (reverted at the next reset unless confirmed): no full image check needed. */
	#onTrial(image: number): boolean {
		if (this.#board.installer === "esp-idf") return this.#withOtaData((otadata) => otadata.stateOf(otadata.running) === OtaImgState.PENDING_VERIFY);
		return this.running(image)?.state === "trial";
	}

	#open(which: "primary" | "secondary", image: number): Flash {
		const pair = this.#board.images?.[image];
		if (!pair) fail("E_RANGE", `board ${this.#board.name} has no image ${image}`);
		return Flash.open({ path: pair[which] });
	}

	#pendingState(image: number): UpdateState | undefined {
		if (this.#board.installer === "esp-idf") return this.#withOtaData(espPendingState);
		const primary = this.#open("primary", image);
		const secondary = this.#open("secondary", image);
		try {
			const type = swapTypeFor(readSlotTrailer(primary, this.#maxAlign).state, readSlotTrailer(secondary, this.#maxAlign).state);
			return type === SwapType.TEST ? "pending-test" : type === SwapType.PERM ? "pending-permanent" : undefined;
		} finally {
			primary.close();
			secondary.close();
		}
	}

	/** Erases the secondary slot's trailer blocks, which cancels anything pending there. Blocks already erased are left alone. */
	#eraseTrailer(secondary: Flash): void {
		const status = secondary.status();
		for (let b = trailerFirstBlock(this.#board, secondary); b < status.blocks; b++) {
			if (!this.#isErased(secondary, b * status.blockLength, status.blockLength, status.eraseValue)) secondary.eraseBlock(b);
		}
	}

	#isErased(flash: Flash, offset: number, length: number, erased: number): boolean {
		for (let at = offset; at < offset + length; at += SCRATCH) {
			const piece = this.#scratch.subarray(0, Math.min(SCRATCH, offset + length - at));
			flash.read(piece, at);
			for (let i = 0; i < piece.length; i++) if (piece[i] !== erased) return false;
		}
		return true;
	}

	#progress(s: Session): void {
		const phase = s.phase === "done" ? "done" : s.phase;
		this.#onProgress?.({ phase, bytes: s.received, total: s.options.size });
	}

	/** Frees what a session holds, flash writes staged in memory dropped (a reset loses them too). */
	#release(s: Session): void {
		s.cipher?.close();
		s.hash.close();
		s.chain.close();
		s.inner?.hash.close();
		s.esp?.check?.close();
		s.writer?.close();
		s.target.close();
	}

	#end(s: Session, error?: SealdropError): void {
		if (error) {
			// the journal records the failure first, so a cut before the erase leaves nothing to
			// resume; then a refused or abandoned image loses its first block and never looks like one
			try {
				if (s.journaled && !this.#journal.state!.done) this.#journal.recordDone("failed", new Uint8Array(0));
				if (s.writer) s.target.eraseBlock(0);
			} catch {
				// flash that just failed: the next begin() starts over anyway
			}
		}
		this.#release(s);
		this.#session = undefined;
		const version = s.header ? formatVersion(s.header.version) : undefined;
		const ended = { image: s.options.image, size: s.options.size, resumedFrom: s.resumedFrom, ...(version ? { version } : {}) };
		this.#last = error ? { ...ended, state: "failed", error: { code: error.code, message: error.message } } : { ...ended, state: "ready" };
	}

	/** Routes bytes at s.next to the current phase. */
	#consume(s: Session, bytes: Uint8Array): void {
		if (s.phase === "header") {
			const end = s.header ? s.header.hdrSize : IMAGE_HEADER_SIZE;
			const n = Math.min(bytes.length, end - s.next);
			s.headerArea.set(bytes.subarray(0, n), s.next);
			s.next += n;
			s.received += n;
			if (!s.header && s.next === IMAGE_HEADER_SIZE) {
				this.#headerIn(s);
				if (s.phase === "header") this.#consume(s, bytes.subarray(n)); // the rest of the header area may be in this chunk
				return;
			}
			if (s.header && s.next === s.header.hdrSize) this.#headerAreaIn(s);
		} else if (s.phase === "tlvs") {
			const n = Math.min(bytes.length, s.options.size - s.next);
			s.tlvArea!.set(bytes.subarray(0, n), s.next - s.tlvOffset);
			s.next += n;
			s.received += n;
			if (s.next === s.options.size) this.#tlvsIn(s, false);
		} else if (s.phase === "body") {
			const n = Math.min(bytes.length, s.tlvOffset - s.next);
			this.#body(s, bytes.subarray(0, n));
			s.received += n;
			if (s.next === s.tlvOffset) this.#bodyIn(s);
		}
	}

	/** The 32-byte header is in: checks that need nothing else. */
	#headerIn(s: Session): void {
		const header = parseHeader(s.headerArea);
		const f = header.flags;
		if (f & ImageFlag.NON_BOOTABLE) fail("E_FLAGS", "the image is flagged NON_BOOTABLE");
		if ((f & ImageFlag.RAM_LOAD) && !this.#board.allowRamLoad) fail("E_UNSUPPORTED", `the image is flagged RAM_LOAD and board ${this.#board.name}'s bootloader does not load to RAM`);
		if (f & (ImageFlag.COMPRESSED_LZMA1 | ImageFlag.COMPRESSED_LZMA2 | ImageFlag.COMPRESSED_ARM_THUMB)) fail("E_UNSUPPORTED", "compressed images are not supported");
		const tlvOffset = header.hdrSize + header.imgSize;
		if (tlvOffset + header.protectTlvSize + 4 > s.options.size) fail("E_RANGE", `the announced size ${s.options.size} is smaller than the image's header, body and TLV areas (at least ${tlvOffset + header.protectTlvSize + 4} bytes)`);
		const areas = header.hdrSize + (s.options.size - tlvOffset);
		if (areas > this.#journal.maxSessionBytes)
			fail("E_UNSUPPORTED", `the header area and TLV areas (${areas} bytes) exceed the ${this.#journal.maxSessionBytes} bytes the journal keeps; padded images (imgtool --pad) must be sent unpadded`);
		s.header = header;
		s.tlvOffset = tlvOffset;
		const area = new Uint8Array(header.hdrSize);
		area.set(s.headerArea);
		s.headerArea = area;
		if (s.next === header.hdrSize) this.#headerAreaIn(s);
	}

	#headerAreaIn(s: Session): void {
		s.phase = "tlvs";
		s.next = s.tlvOffset;
		s.tlvArea = new Uint8Array(s.options.size - s.tlvOffset);
	}

	/** The TLV areas are in: everything that can be checked before the body, then the body is asked for. */
	#tlvsIn(s: Session, resuming: boolean): void {
		const header = s.header!;
		const area = s.tlvArea!;
		const layout = areasLayout(header, area);
		const end = layout.size;
		if (end !== s.options.size) fail(end < s.options.size ? "E_UNSUPPORTED" : "E_RANGE", `the image ends at ${end} but ${s.options.size} bytes were announced${end < s.options.size ? " (a padded image? send it unpadded)" : ""}`);
		s.layout = layout;
		const hash = findHashTlv(layout);
		if (hash.alg !== "sha256") fail("E_UNSUPPORTED", `the image is hashed with ${hash.alg.toUpperCase()}; this device checks SHA-256 images`);
		this.#checkPolicy(layout, s.options.image);

		const keyBits = aesKeyBits(header.flags);
		// mcuboot-encrypted: the bootloader decrypts at the swap, with the one AES size it was built for
		const bootKeyBits = this.#board.aesKeyBits ?? 128;
		if (keyBits && this.#board.installer === "mcuboot-encrypted" && keyBits !== bootKeyBits)
			fail("E_UNSUPPORTED", `the image's AES-${keyBits} key is not one board ${this.#board.name}'s MCUboot decrypts: it is built for AES-${bootKeyBits}`);
		if (keyBits) ({ cipher: s.cipher, slot: s.keySlot } = this.#unwrap(layout, keyBits));
		s.mode = s.esp ? "esp-app" : this.#board.installer === "mcuboot" && keyBits !== 0 ? "nested" : "stored";
		if (s.mode === "stored" && s.options.size > maxImageSize(this.#board, s.target))
			fail("E_TOO_LARGE", `the ${s.options.size}-byte image does not fit the ${maxImageSize(this.#board, s.target)} bytes slot ${s.options.image} leaves before its trailer`);
		if (s.mode === "esp-app") {
			const room = s.target.status().size;
			if (header.imgSize > room) fail("E_TOO_LARGE", `the ${header.imgSize}-byte app does not fit the ${room}-byte partition ${this.#board.ota!.apps[s.esp!.partition]}`);
			s.esp!.check = new EspAppImageCheck({ size: header.imgSize, maxSize: room });
		} else if (s.mode === "nested") {
			s.inner = {
				parser: new ImageStreamParser({ maxSize: maxImageSize(this.#board, s.target) }), hash: new Sha256(),
				layout: { protectedTlvs: [], unprotectedTlvs: [] }, end: -1, protectedBytes: [],
			};
		}
		if (!resuming) {
			this.#journal.startSession({ sessionId: s.options.sessionId, size: s.options.size, image: s.options.image, pending: s.options.pending, headerArea: s.headerArea, tlvArea: area });
			s.journaled = true;
			s.writer = this.#writer(s, 0);
			if (s.mode === "stored") s.writer.write(s.headerArea); // stored: the slot holds the image as received
		}
		s.hash.update(s.headerArea);
		s.phase = "body";
		s.next = header.hdrSize;
		if (s.next === s.tlvOffset) this.#bodyIn(s);
	}

	/** Security counter, version policy and dependencies of an image (outer or inner). */
	#checkPolicy(layout: ImageLayout, image: number): void {
		// The floor is everything the bootloader will compare with: the counter stored when an image
		// was confirmed, and the running image's own (MCUboot's model and a fresh device whose factory
		// image was never confirmed through this agent compare with that one).
		const counter = securityCounter(layout);
		const stored = this.#counters.get(image);
		const running = this.running(image)?.securityCounter ?? 0;
		const floor = Math.max(stored, running);
		const whose = running > stored ? "the running image's" : "this device's stored";
		if (counter === null ? floor > 0 : counter < floor)
			fail("E_SECURITY_COUNTER", `the image's security counter (${counter ?? "none"}) is below ${whose} ${floor}`);
		if (this.#newerOnly) {
			const running = this.#runningRelease(image);
			if (running && compareVersions(layout.header.version, running.version) <= 0)
				fail("E_DOWNGRADE", `version ${formatVersion(layout.header.version)} is not newer than the running ${formatVersion(running.version)}`);
		}
		for (const dep of dependencies(layout)) {
			const installed = this.#installedVersion(dep.imageId);
			if (!installed) fail("E_DEPENDENCY", `the image needs image ${dep.imageId} at version ${formatVersion(dep.minVersion)} or later, and there is none`);
			if (compareVersions(installed.header.version, dep.minVersion) < 0)
				fail("E_DEPENDENCY", `the image needs image ${dep.imageId} at version ${formatVersion(dep.minVersion)} or later; ${installed.version} is installed`);
		}
	}

	/**
	 * The MCUboot header of what runs: the primary slot's image, or on esp-idf boards the release
	 * the running app came in when this agent installed it (an app flashed otherwise has none).
	 */
	#runningRelease(image: number): ImageHeader | undefined {
		if (this.#board.installer !== "esp-idf") return this.#slotImage("primary", image)?.header;
		const running = this.#runningEspApp(image);
		return running ? this.#installedRelease(running.hash)?.header : undefined;
	}

	/** The image that will run for an image number: the pending one if any, else the running one (bootutil's dependency check). */
	#installedVersion(image: number): SlotImage | undefined {
		if (!this.#board.images?.[image]) return undefined;
		return this.#slotImage(this.#pendingState(image) ? "secondary" : "primary", image);
	}

	#slotImage(which: "primary" | "secondary", image: number): SlotImage | undefined {
		const flash = this.#open(which, image);
		try {
			return readSlotImage(flash);
		} finally {
			flash.close();
		}
	}

	/** Opens the image key with a device key (in C: no key material reaches JavaScript); says which key slot opened it. */
	#unwrap(layout: ImageLayout, keyBits: 128 | 256): { cipher: AesCtr; slot: number } {
		const enc = findEncTlv(layout);
		if (!enc) fail("E_ENC_TLV", "the image is flagged encrypted but carries no ENC TLV: a sealable release must be sealed for this device first");
		const kind = enc.type === TlvType.ENC_EC256 ? "ec256" : enc.type === TlvType.ENC_X25519 ? "x25519" : undefined;
		if (!kind) fail("E_UNSUPPORTED", `ENC TLV type 0x${enc.type.toString(16)} is not one a device key opens (ENC_EC256, ENC_X25519)`);
		const slots = this.#deviceKeys ? this.#deviceKeys.slots() : [this.#board.deviceKeySlot ?? 0];
		const kinds: string[] = [];
		for (const slot of slots) {
			if (!DeviceKey.exists({ slot })) continue;
			const key = new DeviceKey({ slot });
			try {
				kinds.push(key.kind);
				if ((key.kind === "p256") !== (kind === "ec256")) continue;
				return { cipher: key.unwrap(enc.value, kind, keyBits), slot };
			} catch (e) {
				// not sealed for this key (its tag does not check): the next one, if any; anything else
				// (a malformed TLV, a key store that fails) is reported as what it is
				if (errorCode(e) !== "E_DEVICE_KEY") throw nativeError(e, "E_KEY_STORE", "the device key");
			} finally {
				key.close();
			}
		}
		if (!kinds.length) fail("E_DEVICE_KEY", "this device has no device key yet");
		if (!kinds.includes(kind === "ec256" ? "p256" : "x25519")) fail("E_DEVICE_KEY", `the image was sealed for a${kind === "ec256" ? " P-256" : "n X25519"} key; this device's key is ${kinds[0] === "p256" ? "P-256" : "X25519"}`);
		// after a rotation the retired key is destroyed, so no key here can tell its images from
		// another device's: the message says both
		const rotation = this.#deviceKeys?.lastRotation?.() ?? 0;
		fail("E_DEVICE_KEY", rotation
			? `the image's ENC TLV does not open with this device's key: sealed for the key this device retired at rotation ${rotation} (seal it again for the current key), or for another device`
			: "the image was sealed for another device (its ENC TLV does not open with this device's key)");
	}

	#writer(s: Session, startBlock: number): SlotWriter {
		const status = s.target.status();
		// MCUboot slots: begin() and a resume erase the trailer's blocks before anything is written
		const erasedFrom = s.mode === "esp-app" ? status.size : trailerFirstBlock(this.#board, s.target) * status.blockLength;
		return new SlotWriter(s.target, startBlock * status.blockLength, (block, digest) => {
			// d_k = SHA-256(d_(k-1) ‖ SHA-256(block k)): the journal's checkpoint for this block
			s.chain.update(s.chainValue);
			s.chain.update(digest);
			s.chain.digest(s.chainValue);
			this.#journal.recordBlock(block, s.chainValue.subarray(0, CHAIN_BYTES));
		}, erasedFrom);
	}

	/** Body bytes at s.next: decrypt, hash, write. */
	#body(s: Session, bytes: Uint8Array): void {
		for (let at = 0; at < bytes.length; at += SCRATCH) {
			const piece = bytes.subarray(at, Math.min(bytes.length, at + SCRATCH));
			let plain = piece;
			if (s.cipher) {
				plain = this.#scratch.subarray(0, piece.length);
				s.cipher.process(piece, plain, s.next - s.header!.hdrSize);
			}
			s.hash.update(plain);
			if (s.mode !== "stored") this.#payload(s, plain);
			else s.writer!.write(piece);
			s.next += piece.length;
		}
	}

	/**
	 * Plaintext payload (nested or esp-app): checked as its bootloader will check it, and written
	 * (not when replaying blocks already in flash after a reset).
	 */
	#payload(s: Session, plain: Uint8Array, write = true): void {
		if (s.mode === "nested") return this.#inner(s, plain, write);
		s.esp!.check!.push(plain);
		if (write) s.writer!.write(plain);
	}

	/**
	 * Plaintext of a nested image: parse it and hash it as MCUboot will, and write the inner
	 * image's bytes (not when replaying blocks already in the slot after a reset).
	 */
	#inner(s: Session, plain: Uint8Array, write = true): void {
		const inner = s.inner!;
		if (inner.end >= 0) return; // outer body bytes after the inner image: hashed, not written
		const start = inner.parser.offset;
		let events;
		try {
			events = inner.parser.push(plain);
		} catch (e) {
			if (start < IMAGE_HEADER_SIZE && e instanceof SealdropError && e.code === "E_BAD_MAGIC") {
				// Either the release wraps no image, or the ENC TLV's key is not the one the body was
				// encrypted with (an ENC TLV from another sealing): decrypted, both look like this. The
				// outer hash tells them apart at the end, so the rest is hashed and nothing written.
				inner.notAnImage = new SealdropError("E_UNSUPPORTED", `board ${this.#board.name}'s mcuboot installer writes the signed image a sealed release wraps (sealdrop wrap); this sealed image's payload is not one`);
				inner.end = start;
				return;
			}
			throw e;
		}
		for (const event of events) {
			if (event.kind === "data" && event.region !== "unprotected" && event.region !== "trailing") inner.hash.update(event.bytes);
			else if (event.kind === "header") {
				inner.layout.header = event.header;
				if (aesKeyBits(event.header.flags)) fail("E_UNSUPPORTED", "the inner image of a nested release is itself encrypted; stock MCUboot could not boot it");
			} else if (event.kind === "tlvs") {
				if (event.isProtected) inner.layout.protectedTlvs = event.tlvs;
				else {
					inner.layout.unprotectedTlvs = event.tlvs;
					inner.layout.unprotectedOffset = event.offset;
				}
			} else if (event.kind === "end") inner.end = event.size;
		}
		if (write) s.writer!.write(plain.subarray(0, inner.end >= 0 ? inner.end - start : plain.length));
	}

	/** The whole body is in: verify everything, read back what was written, then mark pending. */
	#bodyIn(s: Session): void {
		s.phase = "done";
		s.next = s.options.size;
		this.#onProgress?.({ phase: "verifying", bytes: s.received, total: s.options.size });
		const layout = s.layout!;
		const header = s.header!;
		s.hash.update(s.tlvArea!.subarray(0, header.protectTlvSize));
		const digest = new Uint8Array(s.hash.digest());
		const expected = findHashTlv(layout).tlv.value;
		if (!equalBytes(digest, expected))
			fail("E_HASH", s.cipher
				? "the image hash does not match after decryption: the body was altered, or the ENC TLV's key is not the one it was encrypted with (an ENC TLV from another sealing)"
				: "the image hash does not match: the image was altered");
		if (s.inner?.notAnImage) throw s.inner.notAnImage;
		checkSignature(layout.unprotectedTlvs, digest, this.#trust);

		if (s.mode === "esp-app") {
			const app = s.esp!.check!.finish();
			s.writer!.flush();
			if (!equalBytes(checkEspAppPartition(s.target).sha256, app.sha256)) fail("E_FLASH", "the app read back from its OTA partition is not the one written");
			this.#verifyRelease(s.target, s.headerArea, s.tlvArea!);
			this.#journal.recordDone("verified", app.sha256);
			if (s.keySlot !== undefined) this.#deviceKeys?.installed(s.keySlot, app.sha256);
			if (s.options.pending !== "none") this.#selectEspApp(s.esp!.partition, s.options.pending === "permanent");
			this.#end(s);
			return;
		}
		let identity = expected;
		if (s.mode === "nested") {
			const inner = s.inner!;
			if (inner.end < 0) fail("E_TRUNCATED", "the sealed payload ends inside the inner image");
			const innerLayout = inner.layout as ImageLayout;
			innerLayout.tlvOffset = innerLayout.header.hdrSize + innerLayout.header.imgSize;
			innerLayout.size = inner.end;
			const innerDigest = new Uint8Array(inner.hash.digest());
			const innerHash = findHashTlv(innerLayout);
			if (innerHash.alg !== "sha256") fail("E_UNSUPPORTED", `the inner image is hashed with ${innerHash.alg.toUpperCase()}; this device checks SHA-256 images`);
			if (!equalBytes(innerDigest, innerHash.tlv.value)) fail("E_HASH", "the inner image's hash does not match");
			checkSignature(innerLayout.unprotectedTlvs, innerDigest, this.#trust);
			this.#checkPolicy(innerLayout, s.options.image);
			identity = innerHash.tlv.value;
		} else s.writer!.write(s.tlvArea!);
		s.writer!.flush();

		const found = readSlotImage(s.target);
		if (!found || found.hash !== toHex(identity)) fail("E_FLASH", "the image read back from the secondary slot is not the one written");
		this.#verifyStored(s.target, found, s.mode !== "stored" ? undefined : s.cipher);
		this.#journal.recordDone("verified", identity);
		if (s.keySlot !== undefined) this.#deviceKeys?.installed(s.keySlot, identity);
		if (s.options.pending !== "none") setPending(s.target, this.#maxAlign, s.options.image, s.options.pending === "permanent");
		this.#end(s);
	}

	/**
	 * esp-idf: the release's hash over its header area, the app as `flash` holds it, and its
	 * protected TLVs, against the release's hash TLV: what was verified is what was written.
	 */
	#verifyRelease(flash: Flash, headerArea: Uint8Array, tlvArea: Uint8Array): void {
		const header = parseHeader(headerArea);
		const layout = areasLayout(header, tlvArea);
		const { tlvOffset } = layout;
		const expected = findHashTlv(layout).tlv.value;
		const digest = hashImage((into, offset) => {
			if (offset < header.hdrSize) into.set(headerArea.subarray(offset, offset + into.length));
			else if (offset >= tlvOffset) into.set(tlvArea.subarray(offset - tlvOffset, offset - tlvOffset + into.length));
			else flash.read(into, offset - header.hdrSize);
		}, header, this.#scratch);
		if (!equalBytes(digest, expected)) fail("E_FLASH", "the app read back from its OTA partition does not hash to the release's hash TLV");
	}

	/** esp-idf: esp_ota_set_boot_partition (already verified), or straight to VALID for a permanent update. */
	#selectEspApp(partition: number, permanent: boolean): void {
		this.#withOtaData((otadata) => otadata.setBootPartition(partition, { skipValidate: true, state: permanent ? OtaImgState.VALID : OtaImgState.NEW }));
	}

	/**
	 * Hashes the image in a slot again, from flash, and compares with its hash TLV: the proof that
	 * what the bootloader will read is what was verified. A stored sealed image is decrypted
	 * for this (`cipher`, or the device key opens it again).
	 */
	#verifyStored(flash: Flash, found: SlotImage, cipher?: AesCtr): void {
		const keyBits = aesKeyBits(found.header.flags);
		const own = keyBits && !cipher ? this.#unwrap(found, keyBits).cipher : undefined;
		try {
			const digest = hashImage((into, offset) => flash.read(into, offset), found.header, this.#scratch, cipher ?? own);
			if (!equalBytes(digest, findHashTlv(found).tlv.value)) fail("E_FLASH", "the image read back from the secondary slot does not hash to its hash TLV");
		} finally {
			own?.close();
		}
	}

	/**
	 * Picks up a journaled session: the header and TLVs come from the journal, the slot's
	 * complete blocks are read back and checked against their chained digests, and the body
	 * continues after the last good block.
	 */
	#resume(s: Session, record: SessionRecord): void {
		s.journaled = true;
		s.headerArea = record.headerArea.slice(0, IMAGE_HEADER_SIZE);
		this.#headerIn(s);
		s.headerArea = record.headerArea;
		s.tlvArea = record.tlvArea;
		s.received = record.headerArea.length + record.tlvArea.length;
		this.#tlvsIn(s, true);
		const { blockLength } = s.target.status();
		const header = s.header!;
		// Blocks that count: complete, recorded, and for a stored image below its TLV areas
		// (the blocks holding TLV bytes are written last and rewritten on resume).
		const limit = Math.floor((s.mode !== "stored" ? header.imgSize : s.tlvOffset) / blockLength);
		// d_k chains every block up to k, so any recorded checkpoint vouches for all blocks before it
		const recorded = this.#journal.state!.blocks;
		let last = -1;
		for (const k of recorded.keys()) if (k < limit && k > last) last = k;
		let good = 0;
		const chain = new Uint8Array(32);
		for (let k = 0; k <= last; k++) {
			this.#chainBlock(s, k, chain);
			const checkpoint = recorded.get(k);
			if (!checkpoint) continue;
			if (!equalBytes(chain.subarray(0, CHAIN_BYTES), checkpoint)) break;
			good = k + 1;
		}
		if (s.mode === "stored" && good * blockLength < header.hdrSize) good = 0;
		s.chainValue.fill(0);
		for (let k = 0; k < good; k++) this.#chainBlock(s, k, s.chainValue, true); // replay: decrypt, hash, parse
		s.writer = this.#writer(s, good);
		const bodyStart = s.mode !== "stored" ? header.hdrSize : 0; // image offset of slot offset 0
		if (s.mode === "stored" && good === 0) s.writer.write(s.headerArea);
		s.next = good === 0 ? header.hdrSize : bodyStart + good * blockLength;
		s.resumedFrom = s.next;
		s.received += s.next - header.hdrSize;
		if (s.mode !== "esp-app") this.#eraseTrailer(s.target);
	}

	/**
	 * Reads slot block k and advances `chain` to d_k. With `replay`, also feeds the block's body
	 * bytes to decryption, the image hash and (nested) the inner parser, as if just received.
	 */
	#chainBlock(s: Session, k: number, chain: Uint8Array, replay = false): void {
		const { blockLength } = s.target.status();
		const hdrSize = s.header!.hdrSize;
		const bodyStart = s.mode !== "stored" ? hdrSize : 0;
		const blockHash = new Sha256();
		try {
			for (let at = k * blockLength; at < (k + 1) * blockLength; at += SCRATCH) {
				const piece = this.#scratch.subarray(0, Math.min(SCRATCH, (k + 1) * blockLength - at));
				s.target.read(piece, at);
				blockHash.update(piece);
				if (!replay) continue;
				const imageOffset = bodyStart + at;
				const skip = Math.max(0, hdrSize - imageOffset); // the header area is hashed already
				const body = piece.subarray(Math.min(skip, piece.length));
				if (s.cipher && s.mode === "stored") s.cipher.process(body, body, imageOffset + skip - hdrSize);
				s.hash.update(body);
				if (s.mode !== "stored") this.#payload(s, body, false);
			}
			const digest = new Uint8Array(blockHash.digest());
			s.chain.update(chain);
			s.chain.update(digest);
			s.chain.digest(chain);
		} finally {
			blockHash.close();
		}
	}

}

