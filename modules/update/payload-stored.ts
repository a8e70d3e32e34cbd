/**
 * The stored payload: the target holds the image exactly as received, header to TLVs (ciphertext
 * at rest for a sealed image, which MCUboot decrypts during the swap: the `mcuboot-encrypted`
 * installer), or a plain signed image on either MCUboot installer.
 */
import type AesCtr from "sealdrop/native/aes-ctr";
import { fail, findHashTlv, type ImageLayout } from "sealdrop/image";
import type { Incoming, Payload, Target } from "./installer.js";
import { verifySlotHolds } from "./slot-image.js";
import type { SlotWriter } from "./slot-writer.js";

export class StoredPayload implements Payload {
	readonly targetStart = 0;
	readonly holdsReceived = true;
	readonly resumableBytes: number;
	readonly #layout: ImageLayout;
	readonly #headerArea: Uint8Array;
	readonly #tlvArea: Uint8Array;
	readonly #target: Target;
	readonly #scratch: Uint8Array;

	constructor({ layout, headerArea, tlvArea }: Incoming, target: Target, scratch: Uint8Array) {
		if (layout.size > target.room) fail("E_TOO_LARGE", `the ${layout.size}-byte image does not fit the ${target.room} bytes ${target.name} leaves before its trailer`);
		this.#layout = layout;
		this.#headerArea = headerArea;
		this.#tlvArea = tlvArea;
		this.#target = target;
		this.#scratch = scratch;
		this.resumableBytes = layout.tlvOffset;
	}

	start(writer: SlotWriter): void {
		writer.write(this.#headerArea);
	}

	body(received: Uint8Array, receivedAt: number, _plain: Uint8Array, _plainAt: number, length: number, writer: SlotWriter | undefined): void {
		writer?.write(received, receivedAt, length);
	}

	/** The TLV areas go last; then the slot is read back and hashed again (decrypted with `cipher`). */
	finish(writer: SlotWriter, cipher?: AesCtr): Uint8Array {
		writer.write(this.#tlvArea);
		writer.flush();
		const identity = findHashTlv(this.#layout).tlv.value;
		verifySlotHolds(this.#target.flash, identity, this.#scratch, cipher);
		return identity;
	}

	close(): void {}
}
