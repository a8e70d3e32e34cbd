/**
 * Reads the MCUboot image a flash slot holds: its header and TLV areas (the body stays in
 * flash). Used for the running image's version and state, dependencies, and checks before
 * marking an image pending.
 */
import Flash from "sealdrop/native/flash";
import { formatVersion, IMAGE_HEADER_SIZE, IMAGE_MAGIC, parseHeader, parseTlvArea, TLV_INFO_SIZE, toHex, u16, u32, findHashTlv, securityCounter, type ImageHeader, type ImageLayout } from "sealdrop/image";

export interface SlotImage extends ImageLayout {
	/** The hash TLV's value in hex: the image's identity, as `mcumgr image list` shows it. */
	hash: string;
	version: string;
	securityCounter: number | null;
}

/** The image at the start of `flash`, or undefined when the slot holds none that parses. */
export function readSlotImage(flash: Flash): SlotImage | undefined {
	const slotSize = flash.status().size;
	const head = new Uint8Array(IMAGE_HEADER_SIZE);
	flash.read(head, 0);
	if (u32(head, 0) !== IMAGE_MAGIC) return undefined;
	try {
		const header: ImageHeader = parseHeader(head);
		const tlvOffset = header.hdrSize + header.imgSize;
		if (tlvOffset + header.protectTlvSize + TLV_INFO_SIZE > slotSize) return undefined;
		let protectedTlvs: ImageLayout["protectedTlvs"] = [];
		if (header.protectTlvSize) {
			const area = new Uint8Array(header.protectTlvSize);
			flash.read(area, tlvOffset);
			protectedTlvs = parseTlvArea(area, tlvOffset, true);
		}
		const unprotectedOffset = tlvOffset + header.protectTlvSize;
		const info = new Uint8Array(TLV_INFO_SIZE);
		flash.read(info, unprotectedOffset);
		const total = u16(info, 2);
		if (unprotectedOffset + total > slotSize) return undefined;
		const area = new Uint8Array(Math.max(total, TLV_INFO_SIZE));
		flash.read(area, unprotectedOffset);
		const unprotectedTlvs = parseTlvArea(area, unprotectedOffset, false);
		const layout: ImageLayout = { header, protectedTlvs, unprotectedTlvs, tlvOffset, unprotectedOffset, size: unprotectedOffset + total, trailingLength: 0 };
		return { ...layout, hash: toHex(findHashTlv(layout).tlv.value), version: formatVersion(header.version), securityCounter: securityCounter(layout) };
	} catch {
		return undefined; // a damaged or partial image is no image
	}
}
