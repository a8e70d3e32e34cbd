/**
 * The nested payload (the `mcuboot` installer with a sealed release): the release's payload is a
 * signed MCUboot image (sealdrop wrap). Stock MCUboot cannot decrypt with the device key, so the
 * inner image is written in plaintext, parsed and hashed as it streams in, and verified as
 * MCUboot will verify it (hash, signature, security counter, dependencies) before it is marked.
 */
import Sha256 from "sealdrop/native/sha256";
import {
	aesKeyBits, equalBytes, fail, findHashTlv, ImageStreamParser, IMAGE_HEADER_SIZE, SealdropError, type ImageLayout, type Tlv,
} from "sealdrop/image";
import type { Payload, Target } from "./installer.js";
import { verifySlotHolds } from "./slot-image.js";
import type { SlotWriter } from "./slot-writer.js";

/** The inner image's signature and policy, as the core checks the outer image's. */
export type CheckImage = (layout: ImageLayout, digest: Uint8Array) => void;

export class NestedPayload implements Payload {
	readonly holdsReceived = false;
	readonly targetStart: number;
	readonly resumableBytes: number;
	readonly #parser: ImageStreamParser;
	readonly #hash = new Sha256();
	readonly #layout: Partial<ImageLayout> & { protectedTlvs: Tlv[]; unprotectedTlvs: Tlv[] } = { protectedTlvs: [], unprotectedTlvs: [] };
	/** The inner image's size once its end is parsed, -1 before. */
	#end = -1;
	/** The payload does not start as an image: reported once the outer hash says whether the key or the release is at fault. */
	#notAnImage: SealdropError | undefined;
	readonly #target: Target;
	readonly #scratch: Uint8Array;
	readonly #checkImage: CheckImage;
	readonly #board: string;

	constructor(outer: ImageLayout, target: Target, scratch: Uint8Array, checkImage: CheckImage, board: string) {
		this.#parser = new ImageStreamParser({ maxSize: target.room });
		this.#target = target;
		this.#scratch = scratch;
		this.#checkImage = checkImage;
		this.#board = board;
		this.targetStart = outer.header.hdrSize;
		this.resumableBytes = outer.header.imgSize;
	}

	start(): void {}

	/** Parses and hashes the inner image as MCUboot will, and writes its bytes (not while replaying). */
	body(_received: Uint8Array, _receivedAt: number, plainBytes: Uint8Array, plainAt: number, length: number, writer: SlotWriter | undefined): void {
		if (this.#end >= 0) return; // outer body bytes after the inner image: hashed by the core, not written
		if (length < this.#parser.bodyLeft) {
			// inside the inner body (most chunks): what a body data event would do, without the event
			this.#parser.skipBody(length);
			this.#hash.update(plainBytes, plainAt, length);
			writer?.write(plainBytes, plainAt, length);
			return;
		}
		const plain = plainBytes.subarray(plainAt, plainAt + length); // the stream parser takes views (and makes its own)
		const start = this.#parser.offset;
		let events;
		try {
			events = this.#parser.push(plain);
		} catch (e) {
			if (start < IMAGE_HEADER_SIZE && e instanceof SealdropError && e.code === "E_BAD_MAGIC") {
				// Either the release wraps no image, or the ENC TLV's key is not the one the body was
				// encrypted with (an ENC TLV from another sealing): decrypted, both look like this. The
				// outer hash tells them apart at the end, so the rest is hashed and nothing written.
				this.#notAnImage = new SealdropError("E_UNSUPPORTED", `board ${this.#board}'s mcuboot installer writes the signed image a sealed release wraps (sealdrop wrap); this sealed image's payload is not one`);
				this.#end = start;
				return;
			}
			throw e;
		}
		for (const event of events) {
			if (event.kind === "data" && event.region !== "unprotected" && event.region !== "trailing") this.#hash.update(event.bytes);
			else if (event.kind === "header") {
				this.#layout.header = event.header;
				if (aesKeyBits(event.header.flags)) fail("E_UNSUPPORTED", "the inner image of a nested release is itself encrypted; stock MCUboot could not boot it");
			} else if (event.kind === "tlvs") {
				if (event.isProtected) this.#layout.protectedTlvs = event.tlvs;
				else {
					this.#layout.unprotectedTlvs = event.tlvs;
					this.#layout.unprotectedOffset = event.offset;
				}
			} else if (event.kind === "end") this.#end = event.size;
		}
		writer?.write(plain.subarray(0, this.#end >= 0 ? this.#end - start : plain.length));
	}

	/** The outer image checked out: now the inner one, then the slot read back. Its identity is the inner hash. */
	finish(writer: SlotWriter): Uint8Array {
		if (this.#notAnImage) throw this.#notAnImage;
		if (this.#end < 0) fail("E_TRUNCATED", "the sealed payload ends inside the inner image");
		const layout = this.#layout as ImageLayout;
		layout.tlvOffset = layout.header.hdrSize + layout.header.imgSize;
		layout.size = this.#end;
		const digest = new Uint8Array(this.#hash.digest());
		const hash = findHashTlv(layout);
		if (hash.alg !== "sha256") fail("E_UNSUPPORTED", `the inner image is hashed with ${hash.alg.toUpperCase()}; this device checks SHA-256 images`);
		if (!equalBytes(digest, hash.tlv.value)) fail("E_HASH", "the inner image's hash does not match");
		this.#checkImage(layout, digest);
		const identity = hash.tlv.value;
		writer.flush();
		verifySlotHolds(this.#target.flash, identity, this.#scratch);
		return identity;
	}

	close(): void {
		this.#hash.close();
	}
}
