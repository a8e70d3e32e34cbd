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
 * This file is the core every update shares: the session and its ranges, the journal, decryption,
 * the image hash, and the checks of signature, security counter, version and dependencies. Where
 * the image goes, what lands there and how it is selected for the next boot is an installer's
 * job (installer.ts: one module per installer and one per payload kind).
 *
 * Invariants: the primary slot is never written (except confirm's image_ok flag); nothing is
 * marked pending unless hash, signature, security counter and dependencies check out, over what
 * was written, read back from flash; any failure leaves the running image as it was.
 */
import AesCtr from "sealdrop/native/aes-ctr";
import Sha256 from "sealdrop/native/sha256";
import {
	aesKeyBits, equalBytes, fail, findHashTlv, formatVersion, fromHex, ImageFlag, IMAGE_HEADER_SIZE, nativeError, parseHeader, SealdropError,
	toHex, type ImageHeader, type ImageLayout,
} from "sealdrop/image";
import { checkSignature, type TrustAnchor } from "sealdrop/image/signature";
import type {
	AgentOptions, BeginOptions, DeviceKeys, InstallResult, Progress, RunningImage, SlotState, UpdateState, UpdateStatus,
} from "./agent-types.js";
import type { BoardConfig } from "./board.js";
import { SecurityCounters } from "./counters.js";
import type { Installer, Payload, Target, VerifiedInstall } from "./installer.js";
import { installerFor } from "./installers.js";
import { openImageKey } from "./image-key.js";
import { CHAIN_BYTES, Journal, sameSession, type SessionRecord } from "./journal.js";
import { checkPolicy } from "./policy.js";
import { areasLayout } from "./slot-image.js";
import { SlotWriter } from "./slot-writer.js";

export type * from "./agent-types.js";

type Phase = "header" | "tlvs" | "body" | "done";
// The phases as constants, compared on every chunk: a string literal is a fresh string each time it
// is evaluated in code XS compiled at run time (the Linux host), garbage per chunk there.
const HEADER: Phase = "header";
const TLVS: Phase = "tlvs";
const BODY: Phase = "body";
const DONE: Phase = "done";

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
	/** The journal's checkpoint: chainValue's first CHAIN_BYTES, one view for the session. */
	checkpoint: Uint8Array;
	/** The secondary slot, or the next OTA app partition. */
	target: Target;
	writer?: SlotWriter;
	/** What lands in the target, once the TLVs are in. */
	payload?: Payload;
	/** The device key slot that opened the image, for a sealed image. */
	keySlot?: number;
	/** Whether the journal holds this session (from the header and TLVs in, or from a resume). */
	journaled?: boolean;
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
	readonly #deviceKeys: DeviceKeys | undefined;
	readonly #installer: Installer;
	#session: Session | undefined;
	/** How the last update ended (after a reset: what the journal says, once looked up). */
	#last: LastUpdate | undefined;
	#lastLookedUp = false;

	constructor(options: AgentOptions) {
		this.#board = options.board;
		this.#deviceKeys = options.deviceKeys;
		this.#trust = options.trust;
		this.#newerOnly = options.newerOnly ?? false;
		this.#onProgress = options.onProgress;
		this.#journal = new Journal(options.board.journal);
		this.#counters = new SecurityCounters(options.board.storage);
		this.#installer = installerFor({
			board: options.board, journal: this.#journal, scratch: this.#scratch, runningApp: options.runningApp,
			openImageKey: (layout, keyBits) => this.#openImageKey(layout, keyBits).cipher,
			checkImage: (layout, digest, image) => {
				checkSignature(layout.unprotectedTlvs, digest, this.#trust);
				checkPolicy(layout, image, this.#policy);
			},
		});
	}

	// --- the running image ---

	/** The image running for `image` (the primary slot, or the running OTA app), or undefined if there is none. */
	running(image = 0): RunningImage | undefined {
		return this.#installer.running(image);
	}

	/**
	 * Confirms the running image after the app's own health check (boot_set_confirmed), and
	 * stores its security counter so older images are refused from now on.
	 */
	confirm(image = 0): RunningImage {
		const confirmed = this.#installer.confirm(image);
		if (confirmed.securityCounter !== null) this.#counters.raise(image, confirmed.securityCounter);
		this.#deviceKeys?.confirmed(fromHex(confirmed.hash));
		return this.running(image)!;
	}

	/** Every slot that holds an image, with MCUmgr's state flags. */
	slots(): SlotState[] {
		return this.#installer.slots();
	}

	/** The security counter stored for an image number. */
	securityCounter(image = 0): number {
		return this.#counters.get(image);
	}

	// --- the update ---

	/**
	 * Whether an update is taking bytes (status().state "receiving"), without building a status:
	 * a transport asks this per chunk, and status() reads the slots and formats a version.
	 */
	get receiving(): boolean {
		return this.#session !== undefined && this.#session.phase !== DONE;
	}

	status(): UpdateStatus {
		const s = this.#session;
		if (s) {
			return {
				state: this.receiving ? "receiving" : "verifying", image: s.options.image, size: s.options.size,
				received: s.received, nextOffset: s.next, ...(s.header ? { version: formatVersion(s.header.version) } : {}),
			};
		}
		if (!this.#last && !this.#lastLookedUp) this.#last = this.#journaledReady();
		this.#lastLookedUp = true;
		const image = this.#last?.image ?? 0;
		const pending = this.#installer.pendingState(image);
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
		// the session id is copied: the journal records it later, and a transport may hand a view
		// of a receive buffer it reuses (the device's SMP loop does)
		const o = { size: options.size, sessionId: options.sessionId?.slice() ?? new Uint8Array(0), image: options.image ?? 0, pending: options.pending ?? "test" };
		if (!Number.isInteger(o.size) || o.size <= IMAGE_HEADER_SIZE) fail("E_RANGE", `an image of ${o.size} bytes is too small to be an MCUboot image`);
		if (!Number.isInteger(o.image) || o.image < 0 || o.image >= this.#installer.imageCount) fail("E_RANGE", `board ${this.#board.name} has no image ${o.image}`);
		if (!["none", "test", "permanent"].includes(o.pending)) fail("E_USAGE", `pending must be "none", "test" or "permanent"`);
		if (this.#installer.onTrial(o.image)) fail("E_STATE", `image ${o.image} is running on trial: confirm it (or let it revert) before the next update`);

		const journal = this.#journal.state;
		const resume = journal && !journal.done && sameSession(journal.session, o.sessionId, o.size, o.image) ? journal.session : undefined;
		const target = this.#installer.openTarget(o.image);
		const chainValue = new Uint8Array(32);
		const session: Session = {
			options: o, phase: HEADER, next: 0, received: 0, resumedFrom: 0, headerArea: new Uint8Array(IMAGE_HEADER_SIZE), tlvOffset: 0,
			hash: new Sha256(), chain: new Sha256(), chainValue, checkpoint: chainValue.subarray(0, CHAIN_BYTES), target,
		};
		this.#session = session;
		this.#last = undefined;
		this.#lastLookedUp = true;
		try {
			// a new session resets the journal when its header and TLVs are in, before the slot's body changes
			if (resume) this.#resume(session, resume);
			else target.prepare();
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
	 * Marks the image verified in the secondary slot (or next OTA partition) pending, for an update
	 * begun with `pending: "none"`, as SMP's upload then state-write does. It is hashed again first.
	 */
	markPending(image = 0, permanent = false): void {
		if (this.#session) fail("E_STATE", "an update is in progress");
		this.#installer.markPending(this.#verified(), image, permanent);
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

	get #policy() {
		return { counters: this.#counters, installer: this.#installer, newerOnly: this.#newerOnly };
	}

	/** The device keys that may open a sealed image: the rotation's slots, else the board's one. */
	#openImageKey(layout: ImageLayout, keyBits: 128 | 256): { cipher: AesCtr; slot: number } {
		const slots = this.#deviceKeys ? this.#deviceKeys.slots() : [this.#board.deviceKeySlot ?? 0];
		return openImageKey(layout, keyBits, slots, this.#deviceKeys?.lastRotation?.() ?? 0);
	}

	/** The journal's last install, when it was verified. */
	#verified(): VerifiedInstall | undefined {
		const journal = this.#journal.state;
		if (journal?.done?.outcome !== "verified") return undefined;
		const { session, done } = journal;
		return { image: session.image, identity: done.imageHash, headerArea: session.headerArea, tlvArea: session.tlvArea };
	}

	/**
	 * After a reset: the journal's last install if it was verified and its target still holds it
	 * (not yet pending, or marked pending and since then swapped or cancelled: status() asks the
	 * installer for that), so status() still says it is ready to be marked pending.
	 */
	#journaledReady(): LastUpdate | undefined {
		const verified = this.#verified();
		if (!verified || this.#installer.heldIdentity(verified) !== toHex(verified.identity)) return undefined;
		const { size } = this.#journal.state!.session;
		return { image: verified.image, size, state: "ready", resumedFrom: 0, version: formatVersion(parseHeader(verified.headerArea).version) };
	}

	#progress(s: Session): void {
		this.#onProgress?.({ phase: s.phase, bytes: s.received, total: s.options.size });
	}

	/** Frees what a session holds, flash writes staged in memory dropped (a reset loses them too). */
	#release(s: Session): void {
		s.cipher?.close();
		s.hash.close();
		s.chain.close();
		s.payload?.close();
		s.writer?.close();
		s.target.flash.close();
	}

	#end(s: Session, error?: SealdropError): void {
		if (error) {
			// the journal records the failure first, so a cut before the erase leaves nothing to
			// resume; then a refused or abandoned image loses its first block and never looks like one
			try {
				if (s.journaled && !this.#journal.state!.done) this.#journal.recordDone("failed", new Uint8Array(0));
				if (s.writer) s.target.flash.eraseBlock(0);
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
		if (s.phase === BODY) {
			const n = Math.min(bytes.length, s.tlvOffset - s.next);
			this.#body(s, bytes, n);
			s.received += n;
			if (s.next === s.tlvOffset) this.#bodyIn(s);
		} else if (s.phase === HEADER) {
			const end = s.header ? s.header.hdrSize : IMAGE_HEADER_SIZE;
			const n = Math.min(bytes.length, end - s.next);
			s.headerArea.set(bytes.subarray(0, n), s.next);
			s.next += n;
			s.received += n;
			if (!s.header && s.next === IMAGE_HEADER_SIZE) {
				this.#headerIn(s);
				if (s.phase === HEADER) this.#consume(s, bytes.subarray(n)); // the rest of the header area may be in this chunk
				return;
			}
			if (s.header && s.next === s.header.hdrSize) this.#headerAreaIn(s);
		} else if (s.phase === TLVS) {
			const n = Math.min(bytes.length, s.options.size - s.next);
			s.tlvArea!.set(bytes.subarray(0, n), s.next - s.tlvOffset);
			s.next += n;
			s.received += n;
			if (s.next === s.options.size) this.#tlvsIn(s, false);
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
		s.phase = TLVS;
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
		checkPolicy(layout, s.options.image, this.#policy);
		s.payload = this.#installer.payloadFor({ image: s.options.image, layout, headerArea: s.headerArea, tlvArea: area }, s.target);
		const keyBits = aesKeyBits(header.flags);
		if (keyBits) ({ cipher: s.cipher, slot: s.keySlot } = this.#openImageKey(layout, keyBits));
		if (!resuming) {
			this.#journal.startSession({ sessionId: s.options.sessionId, size: s.options.size, image: s.options.image, pending: s.options.pending, headerArea: s.headerArea, tlvArea: area });
			s.journaled = true;
			s.writer = this.#writer(s, 0);
			s.payload.start(s.writer);
		}
		s.hash.update(s.headerArea);
		s.phase = BODY;
		s.next = header.hdrSize;
		if (s.next === s.tlvOffset) this.#bodyIn(s);
	}


	#writer(s: Session, startBlock: number): SlotWriter {
		const { blockLength } = s.target.flash.status();
		return new SlotWriter(s.target.flash, startBlock * blockLength, (block, digest) => {
			// d_k = SHA-256(d_(k-1) ‖ SHA-256(block k)): the journal's checkpoint for this block
			s.chain.update(s.chainValue);
			s.chain.update(digest);
			s.chain.digest(s.chainValue);
			this.#journal.recordBlock(block, s.checkpoint);
		}, s.target.erasedFrom);
	}

	/**
	 * The first `length` bytes of `bytes`, body bytes at s.next: decrypted (into the scratch buffer,
	 * a piece at a time), hashed, handed to the payload. Allocates nothing: the natives and the
	 * payload take (bytes, offset, length) rather than views.
	 */
	#body(s: Session, bytes: Uint8Array, length: number): void {
		const scratch = this.#scratch;
		const payload = s.payload!;
		for (let at = 0; at < length; at += SCRATCH) {
			const n = Math.min(SCRATCH, length - at);
			if (s.cipher) {
				s.cipher.process(bytes, scratch, s.next - s.header!.hdrSize, at, n);
				s.hash.update(scratch, 0, n);
				payload.body(bytes, at, scratch, 0, n, s.writer);
			} else {
				s.hash.update(bytes, at, n);
				payload.body(bytes, at, bytes, at, n, s.writer);
			}
			s.next += n;
		}
	}

	/** The whole body is in: verify everything, read back what was written, then mark pending. */
	#bodyIn(s: Session): void {
		s.phase = DONE;
		s.next = s.options.size;
		this.#onProgress?.({ phase: "verifying", bytes: s.received, total: s.options.size });
		const layout = s.layout!;
		s.hash.update(s.tlvArea!.subarray(0, s.header!.protectTlvSize));
		const digest = new Uint8Array(s.hash.digest());
		if (!equalBytes(digest, findHashTlv(layout).tlv.value))
			fail("E_HASH", s.cipher
				? "the image hash does not match after decryption: the body was altered, or the ENC TLV's key is not the one it was encrypted with (an ENC TLV from another sealing)"
				: "the image hash does not match: the image was altered");
		checkSignature(layout.unprotectedTlvs, digest, this.#trust);
		const identity = s.payload!.finish(s.writer!, s.cipher);
		this.#journal.recordDone("verified", identity);
		if (s.keySlot !== undefined) this.#deviceKeys?.installed(s.keySlot, identity);
		if (s.options.pending !== "none") s.target.select(s.options.image, s.options.pending === "permanent");
		this.#end(s);
	}

	/**
	 * Picks up a journaled session: the header and TLVs come from the journal, the target's
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
		const { blockLength } = s.target.flash.status();
		const { hdrSize } = s.header!;
		const payload = s.payload!;
		// Blocks that count: complete, recorded, and holding no TLV bytes (those are written last
		// and rewritten on resume). d_k chains every block up to k, so any recorded checkpoint
		// vouches for all blocks before it.
		const limit = Math.floor(payload.resumableBytes / blockLength);
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
		if (payload.targetStart + good * blockLength < hdrSize) good = 0; // kept blocks must hold the whole header area
		s.chainValue.fill(0);
		for (let k = 0; k < good; k++) this.#chainBlock(s, k, s.chainValue, true); // replay: decrypt, hash, parse
		s.writer = this.#writer(s, good);
		if (good === 0) payload.start(s.writer);
		s.next = good === 0 ? hdrSize : payload.targetStart + good * blockLength;
		s.resumedFrom = s.next;
		s.received += s.next - hdrSize;
		s.target.prepare();
	}

	/**
	 * Reads target block k and advances `chain` to d_k. With `replay`, also feeds the block's body
	 * bytes to decryption, the image hash and the payload's checks, as if just received.
	 */
	#chainBlock(s: Session, k: number, chain: Uint8Array, replay = false): void {
		const { blockLength } = s.target.flash.status();
		const { hdrSize } = s.header!;
		const payload = s.payload!;
		const blockHash = new Sha256();
		try {
			for (let at = k * blockLength; at < (k + 1) * blockLength; at += SCRATCH) {
				const piece = this.#scratch.subarray(0, Math.min(SCRATCH, (k + 1) * blockLength - at));
				s.target.flash.read(piece, at);
				blockHash.update(piece);
				if (!replay) continue;
				const imageOffset = payload.targetStart + at;
				const skip = Math.max(0, hdrSize - imageOffset); // the header area is hashed already
				const body = piece.subarray(Math.min(skip, piece.length));
				if (s.cipher && payload.holdsReceived) s.cipher.process(body, body, imageOffset + skip - hdrSize);
				s.hash.update(body);
				payload.body(body, 0, body, 0, body.length, undefined);
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
