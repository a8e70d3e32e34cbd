/**
 * What the update agent's core (agent.ts) asks of an installer (ARCHITECTURE.md, "Installers"),
 * in the spirit of RAUC's install handlers: one small module per kind of slot, each with one job.
 *
 * - An `Installer` knows a board's boot mechanism: which image runs and in what state, where a
 *   new image goes, how it is marked for the next boot and confirmed. One per `board.installer`:
 *   installer-mcuboot.ts (both MCUboot installers) and installer-esp-idf.ts.
 * - A `Payload` knows what lands in the target as the body streams in and how to check it once
 *   all of it is in. One per payload kind: payload-stored.ts (the image as received),
 *   payload-nested.ts (the signed image a sealed release wraps), payload-esp-app.ts (an ESP-IDF
 *   app image). The installer picks the payload for an image.
 *
 * The core keeps what every update shares: the session and the byte ranges it asks for, the
 * journal, decryption and the outer image's hash, signature, counter and dependency checks.
 * Adding an installer is adding a module here and a line in installers.ts.
 */
import type AesCtr from "sealdrop/native/aes-ctr";
import type Flash from "sealdrop/native/flash";
import type { ImageHeader, ImageLayout } from "sealdrop/image";
import type { RunningImage, SlotState, UpdateState } from "./agent-types.js";
import type { BoardConfig } from "./board.js";
import type { Journal } from "./journal.js";
import type { SlotImage } from "./slot-image.js";
import type { SlotWriter } from "./slot-writer.js";

/** The verified install the journal remembers, for marking it pending later. */
export interface VerifiedInstall {
	image: number;
	identity: Uint8Array;
	headerArea: Uint8Array;
	tlvArea: Uint8Array;
}

/** An image whose header and TLV areas are in, about to be received. */
export interface Incoming {
	image: number;
	layout: ImageLayout;
	headerArea: Uint8Array;
	tlvArea: Uint8Array;
}

/** What the core lends an installer: the board, the journal (read only), shared scratch, the device key. */
export interface InstallerContext {
	board: BoardConfig;
	journal: Journal;
	/** The agent's scratch buffer (its only per-update buffer besides the header and TLV areas). */
	scratch: Uint8Array;
	/** esp-idf: the running OTA app partition, when the caller knows it better than otadata. */
	runningApp?: number;
	/** Opens a sealed image's key with a device key (native: the AES key never reaches JavaScript). */
	openImageKey(layout: ImageLayout, keyBits: 128 | 256): AesCtr;
	/** The image's signature and policy (security counter, version, dependencies), as the core checks the outer image. */
	checkImage(layout: ImageLayout, digest: Uint8Array, image: number): void;
}

/** Where an update's bytes go: a secondary slot, or the next OTA app partition. */
export interface Target {
	readonly flash: Flash;
	/** For messages: "slot 0", "partition ota_1". */
	readonly name: string;
	/** Bytes of the target an image (stored) or payload may fill. */
	readonly room: number;
	/** Offset from which the target is erased before anything is written (SlotWriter's erasedFrom). */
	readonly erasedFrom: number;
	/** Before the target's body changes: cancel what it held (MCUboot: erase the trailer, so nothing stays pending). */
	prepare(): void;
	/** The verified image is in: select it for the next boot, for a test or for good. */
	select(image: number, permanent: boolean): void;
}

export interface Installer {
	/** Image numbers the board updates. */
	readonly imageCount: number;
	running(image: number): RunningImage | undefined;
	/** Marks the running image good (boot_set_confirmed, esp_ota_mark_app_valid_cancel_rollback); returns it as it was. */
	confirm(image: number): RunningImage;
	/** Every slot that holds an image, with MCUmgr's state flags. */
	slots(): SlotState[];
	/** What the next reset runs when it is not the running image. */
	pendingState(image: number): Extract<UpdateState, "pending-test" | "pending-permanent"> | undefined;
	/** Whether the running image runs on trial (reverted at the next reset unless confirmed). */
	onTrial(image: number): boolean;
	/** The MCUboot header of the release that runs, for the version policy (undefined when unknown). */
	runningRelease(image: number): ImageHeader | undefined;
	/** The image that will run for an image number (bootutil's dependency check), if the board has it. */
	installedImage(image: number): SlotImage | undefined;
	/** Opens where an update of `image` goes (esp-idf: esp_ota_begin's otadata step first). */
	openTarget(image: number): Target;
	/** The identity (hash, hex) of what the target of `verified` holds now, if it holds a valid image. */
	heldIdentity(verified: VerifiedInstall): string | undefined;
	/** The payload for an image about to be received into `target` (refusing what this board cannot boot). */
	payloadFor(incoming: Incoming, target: Target): Payload;
	/**
	 * Marks the install the journal verified pending after checking the target again (SMP's state
	 * write after an upload); refuses with E_STATE when `verified` is not what the target of `image` holds.
	 */
	markPending(verified: VerifiedInstall | undefined, image: number, permanent: boolean): void;
}

/** What lands in the target as the body streams in, and its check once it is all in. */
export interface Payload {
	/** Image offset of the target's first byte: 0 when it holds the image as received, hdrSize when it holds the payload. */
	readonly targetStart: number;
	/** Target bytes whose complete blocks a resume keeps (blocks that also hold TLV bytes are rewritten). */
	readonly resumableBytes: number;
	/** Whether the target holds bytes as received (ciphertext, for a sealed image) rather than decrypted. */
	readonly holdsReceived: boolean;
	/** A new session's first target bytes, before the body (stored: the header area). */
	start(writer: SlotWriter): void;
	/**
	 * Body bytes in order: `length` of them, as received at `receivedAt` of `received` and
	 * decrypted at `plainAt` of `plain` (the same bytes for an image not encrypted), passed as
	 * ranges because a view per piece would be garbage per chunk; `writer` is undefined while
	 * replaying blocks already in flash.
	 */
	body(received: Uint8Array, receivedAt: number, plain: Uint8Array, plainAt: number, length: number, writer: SlotWriter | undefined): void;
	/**
	 * The outer image verified: check the payload, write what is left, read the target back.
	 * Returns the identity of what will run (the hash the bootloader and MCUmgr know it by).
	 */
	finish(writer: SlotWriter, cipher: AesCtr | undefined): Uint8Array;
	close(): void;
}
