/**
 * Reads the MCUboot image a flash slot holds: its TLV areas (the body stays in flash) and its
 * hash, read back from flash. The agent uses it for the running image's version and state,
 * dependencies, and the check before marking an image pending; the esp-app payload hashes a
 * release over the OTA partition through a `SlotReader`. The simulator's MCUboot model does not
 * use it: it validates images with its own code (host/sim/mcuboot/validate.ts; ARCHITECTURE.md,
 * "The Linux XS host and the simulator").
 */
import type AesCtr from "sealdrop/native/aes-ctr";
import Flash from "sealdrop/native/flash";
import Sha256 from "sealdrop/native/sha256";
import {
	equalBytes, errorCode, fail, findHashTlv, formatVersion, IMAGE_HEADER_SIZE, IMAGE_MAGIC, parseHeader, parseTlvArea, securityCounter, TLV_INFO_MAGIC,
	TLV_INFO_SIZE, TLV_PROT_INFO_MAGIC, toHex, u16, u32, type ImageHeader, type ImageLayout,
} from "sealdrop/image";

/** Fills `into` with the slot's bytes at `offset`. */
export type SlotReader = (into: Uint8Array, offset: number) => void;

export interface SlotImage extends ImageLayout {
	/** The hash TLV's value in hex: the image's identity, as `mcumgr image list` shows it. */
	hash: string;
	version: string;
	securityCounter: number | null;
}

/**
 * The TLV areas after the body of the image whose header is `header`, in a slot of `slotSize`
 * bytes, with bootutil_tlv_iter_begin's checks: the protected area's size must match the header,
 * the unprotected area's magic must follow, nothing may run past the slot. Throws SealdropError.
 */
export function readImageLayout(read: SlotReader, header: ImageHeader, slotSize: number): ImageLayout {
	const need = (offset: number, length: number): Uint8Array => {
		if (offset + length > slotSize) fail("E_TLV_OVERRUN", "the image's TLV area runs past the end of its slot");
		const bytes = new Uint8Array(length);
		read(bytes, offset);
		return bytes;
	};
	const tlvOffset = header.hdrSize + header.imgSize;
	let offset = tlvOffset;
	let info = need(offset, TLV_INFO_SIZE);
	let protectedTlvs: ImageLayout["protectedTlvs"] = [];
	if (u16(info, 0) === TLV_PROT_INFO_MAGIC) {
		if (u16(info, 2) !== header.protectTlvSize) fail("E_PROT_SIZE", `protected TLV area size ${u16(info, 2)} disagrees with the header's ${header.protectTlvSize}`);
		protectedTlvs = parseTlvArea(need(offset, header.protectTlvSize), offset, true);
		offset += header.protectTlvSize;
		info = need(offset, TLV_INFO_SIZE);
	} else if (header.protectTlvSize !== 0) {
		fail("E_PROT_SIZE", `the header announces ${header.protectTlvSize} bytes of protected TLVs but none follow the body`);
	}
	if (u16(info, 0) !== TLV_INFO_MAGIC) fail("E_BAD_MAGIC", "no TLV area after the image body");
	const total = u16(info, 2);
	const unprotectedTlvs = parseTlvArea(need(offset, Math.max(total, TLV_INFO_SIZE)), offset, false);
	return { header, protectedTlvs, unprotectedTlvs, tlvOffset, unprotectedOffset: offset, size: offset + total, trailingLength: 0 };
}

/**
 * bootutil_img_hash without a seed: SHA-256 of the header area, the body and the protected TLVs,
 * read in pieces of `scratch`'s size. With `cipher`, the body is decrypted first (a sealed image
 * stored as received). A piece never spans the body's edges, so it is all ciphertext or none.
 */
export function hashImage(read: SlotReader, header: ImageHeader, scratch: Uint8Array, cipher?: AesCtr): Uint8Array {
	const bodyStart = header.hdrSize;
	const bodyEnd = header.hdrSize + header.imgSize;
	const end = bodyEnd + header.protectTlvSize;
	const hash = new Sha256();
	try {
		for (let offset = 0; offset < end;) {
			let size = Math.min(scratch.length, end - offset);
			if (offset < bodyStart && offset + size > bodyStart) size = bodyStart - offset;
			if (offset < bodyEnd && offset + size > bodyEnd) size = bodyEnd - offset;
			// a view only for the short pieces at the areas' edges: one per piece would be garbage per block
			const piece = size === scratch.length ? scratch : scratch.subarray(0, size);
			read(piece, offset);
			if (cipher && offset >= bodyStart && offset < bodyEnd) cipher.process(piece, piece, offset - bodyStart);
			hash.update(piece);
			offset += size;
		}
		return new Uint8Array(hash.digest());
	} finally {
		hash.close();
	}
}

/** Whether `flash` starts with an image header's magic (a cheap first look: no image, no more reading). */
export function startsWithImageMagic(flash: Flash): boolean {
	const magic = new Uint8Array(4);
	flash.read(magic, 0);
	return u32(magic, 0) === IMAGE_MAGIC;
}

/**
 * The header and TLV areas of the image at the start of `flash` with its hash TLV's value, or
 * undefined when the slot holds none that parses.
 */
export function readSlotAreas(flash: Flash): { layout: ImageLayout; hash: Uint8Array } | undefined {
	const head = new Uint8Array(IMAGE_HEADER_SIZE);
	flash.read(head, 0);
	if (u32(head, 0) !== IMAGE_MAGIC) return undefined;
	try {
		const layout = readImageLayout((into, offset) => flash.read(into, offset), parseHeader(head), flash.status().size);
		return { layout, hash: findHashTlv(layout).tlv.value };
	} catch (e) {
		if (errorCode(e) === "E_FLASH") throw e; // the flash failing is not an empty slot
		return undefined; // a damaged or partial image is no image
	}
}

/** The image at the start of `flash`, or undefined when the slot holds none that parses. */
export function readSlotImage(flash: Flash): SlotImage | undefined {
	const found = readSlotAreas(flash);
	if (!found) return undefined;
	const { layout, hash } = found;
	return { ...layout, hash: toHex(hash), version: formatVersion(layout.header.version), securityCounter: securityCounter(layout) };
}

/**
 * The check before an image is marked pending: the slot holds the image whose hash TLV is
 * `identity`, and it hashes to it when read back (decrypted with `cipher` when stored as
 * received). Throws E_FLASH otherwise. Compares bytes, not hex: this runs once per install,
 * and readSlotImage's strings were most of its garbage.
 */
export function verifySlotHolds(flash: Flash, identity: Uint8Array, scratch: Uint8Array, cipher?: AesCtr): void {
	const found = readSlotAreas(flash);
	if (!found || !equalBytes(found.hash, identity)) fail("E_FLASH", "the image read back from the secondary slot is not the one written");
	verifySlot(flash, found.layout, scratch, cipher);
}

/**
 * Hashes the image a slot holds again, from flash, against its hash TLV: the proof that what the
 * bootloader will read is what was verified. `cipher` decrypts a sealed image stored as received.
 */
export function verifySlot(flash: Flash, found: ImageLayout, scratch: Uint8Array, cipher?: AesCtr): void {
	const digest = hashImage((into, offset) => flash.read(into, offset), found.header, scratch, cipher);
	if (!equalBytes(digest, findHashTlv(found).tlv.value)) fail("E_FLASH", "the image read back from the secondary slot does not hash to its hash TLV");
}

/** The layout of an image from its header and its TLV areas (as received, or as the journal keeps them). */
export function areasLayout(header: ImageHeader, tlvArea: Uint8Array): ImageLayout {
	const tlvOffset = header.hdrSize + header.imgSize;
	const protectedTlvs = header.protectTlvSize ? parseTlvArea(tlvArea.subarray(0, header.protectTlvSize), tlvOffset, true) : [];
	const unprotectedOffset = tlvOffset + header.protectTlvSize;
	const rest = tlvArea.subarray(header.protectTlvSize);
	const unprotectedTlvs = parseTlvArea(rest, unprotectedOffset, false);
	return { header, protectedTlvs, unprotectedTlvs, tlvOffset, unprotectedOffset, size: unprotectedOffset + (rest[2] | (rest[3] << 8)), trailingLength: 0 };
}
