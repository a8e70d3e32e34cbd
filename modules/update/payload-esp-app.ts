/**
 * The esp-app payload (the `esp-idf` installer): a sealed release's payload is an ESP-IDF app
 * image, written decrypted into the next OTA app partition and checked as it streams in, as
 * esp_image_verify will check it (esp-app-image.ts).
 */
import Flash from "sealdrop/native/flash";
import { equalBytes, fail, findHashTlv, parseHeader } from "sealdrop/image";
import { checkEspAppPartition, EspAppImageCheck } from "./esp-app-image.js";
import type { Incoming, Payload, Target } from "./installer.js";
import { areasLayout, hashImage } from "./slot-image.js";
import type { SlotWriter } from "./slot-writer.js";

export class EspAppPayload implements Payload {
	readonly holdsReceived = false;
	readonly targetStart: number;
	readonly resumableBytes: number;
	readonly #check: EspAppImageCheck;
	readonly #target: Target;
	readonly #areas: { headerArea: Uint8Array; tlvArea: Uint8Array };
	readonly #scratch: Uint8Array;

	constructor(incoming: Incoming, target: Target, scratch: Uint8Array) {
		const { header } = incoming.layout;
		if (header.imgSize > target.room) fail("E_TOO_LARGE", `the ${header.imgSize}-byte app does not fit the ${target.room}-byte ${target.name}`);
		this.#check = new EspAppImageCheck({ size: header.imgSize, maxSize: target.room });
		this.#target = target;
		this.#areas = incoming;
		this.#scratch = scratch;
		this.targetStart = header.hdrSize;
		this.resumableBytes = header.imgSize;
	}

	start(): void {}

	body(_received: Uint8Array, _receivedAt: number, plainBytes: Uint8Array, plainAt: number, length: number, writer: SlotWriter | undefined): void {
		const plain = plainBytes.subarray(plainAt, plainAt + length); // the app image check takes views
		this.#check.push(plain);
		writer?.write(plain);
	}

	/** The app's own checks end, then the partition is read back: as the bootloader will, and against the release's hash. */
	finish(writer: SlotWriter): Uint8Array {
		const app = this.#check.finish();
		writer.flush();
		if (!equalBytes(checkEspAppPartition(this.#target.flash).sha256, app.sha256)) fail("E_FLASH", "the app read back from its OTA partition is not the one written");
		verifyRelease(this.#target.flash, this.#areas.headerArea, this.#areas.tlvArea, this.#scratch);
		return app.sha256;
	}

	close(): void {
		this.#check.close();
	}
}

/**
 * The release's hash over its header area, the app as `flash` holds it, and its protected TLVs,
 * against the release's hash TLV: what was verified is what was written.
 */
export function verifyRelease(flash: Flash, headerArea: Uint8Array, tlvArea: Uint8Array, scratch: Uint8Array): void {
	const header = parseHeader(headerArea);
	const layout = areasLayout(header, tlvArea);
	const { tlvOffset } = layout;
	const digest = hashImage((into, offset) => {
		if (offset < header.hdrSize) into.set(headerArea.subarray(offset, offset + into.length));
		else if (offset >= tlvOffset) into.set(tlvArea.subarray(offset - tlvOffset, offset - tlvOffset + into.length));
		else flash.read(into, offset - header.hdrSize);
	}, header, scratch);
	if (!equalBytes(digest, findHashTlv(layout).tlv.value)) fail("E_FLASH", "the app read back from its OTA partition does not hash to the release's hash TLV");
}
