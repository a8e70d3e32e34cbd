/**
 * The TLV areas after an image's body as the bootloader walks them: tlv.c bootutil_tlv_iter_begin,
 * bootutil_tlv_iter_next and bootutil_tlv_iter_is_prot, read straight from the slot. Only the byte
 * format comes from sealdrop/image (the info magics, the TLV type numbers); the walk, and every
 * refusal, is bootutil's. A refusal is a SealdropError (bootutil's rc -1).
 */
import { decodeVersion, fail, IMAGE_MAGIC, TLV_INFO_MAGIC, TLV_PROT_INFO_MAGIC, u16, u32, type ImageVersion } from "sealdrop/image";
import type { Area } from "./flash.js";
import { tlvOff, type RawHeader } from "./image.js";

/** sizeof(struct image_tlv_info) and sizeof(struct image_tlv). */
const INFO_SIZE = 4;
const TLV_HEADER_SIZE = 4;

/** One TLV as bootutil_tlv_iter_next hands it out: its payload's offset in the slot and length. */
export interface TlvEntry {
	type: number;
	off: number;
	len: number;
	/** bootutil_tlv_iter_is_prot. */
	prot: boolean;
}

/** LOAD_IMAGE_DATA: a read that fails (rc != 0) outside the slot. */
function load(area: Area, off: number, len: number): Uint8Array {
	if (off < 0 || off + len > area.size) fail("E_TLV_OVERRUN", `the image's TLV area runs past the end of "${area.name}"`);
	return area.read(off, len);
}

/** struct image_tlv_iter. */
export class TlvIter {
	readonly area: Area;
	readonly hdr: RawHeader;
	readonly type: number | null;
	readonly prot: boolean;
	readonly protEnd: number;
	/** Where the TLVs end: what bootutil_img_validate takes as the image size. */
	readonly tlvEnd: number;
	tlvOff: number;

	/**
	 * bootutil_tlv_iter_begin: the protected area, if any, must be as large as the header says;
	 * the unprotected area's info must follow. `type` null is IMAGE_TLV_ANY; `prot` walks the
	 * protected area only.
	 */
	constructor(area: Area, hdr: RawHeader, type: number | null, prot: boolean) {
		if (hdr.magic !== IMAGE_MAGIC) fail("E_BAD_MAGIC", `no image header in "${area.name}"`);
		const off = tlvOff(hdr);
		let info = load(area, off, INFO_SIZE);
		if (u16(info, 0) === TLV_PROT_INFO_MAGIC) {
			if (hdr.protectTlvSize !== u16(info, 2)) fail("E_PROT_SIZE", `protected TLV area size ${u16(info, 2)} disagrees with the header's ${hdr.protectTlvSize}`);
			info = load(area, off + u16(info, 2), INFO_SIZE);
		} else if (hdr.protectTlvSize !== 0) {
			fail("E_PROT_SIZE", `the header announces ${hdr.protectTlvSize} bytes of protected TLVs but none follow the body`);
		}
		if (u16(info, 0) !== TLV_INFO_MAGIC) fail("E_BAD_MAGIC", "no TLV area after the image body");
		this.area = area;
		this.hdr = hdr;
		this.type = type;
		this.prot = prot;
		this.protEnd = off + hdr.protectTlvSize;
		this.tlvEnd = off + hdr.protectTlvSize + u16(info, 2);
		this.tlvOff = off + INFO_SIZE;
	}

	/** bootutil_tlv_iter_next: the next TLV of the type, or null at the end (rc 1); throws for rc -1. */
	next(): TlvEntry | null {
		while (this.tlvOff < this.tlvEnd) {
			if (this.prot && this.tlvOff >= this.protEnd) return null;
			if (this.hdr.protectTlvSize > 0 && this.tlvOff === this.protEnd) {
				this.tlvOff += INFO_SIZE; // the unprotected area's info
				continue;
			}
			const end = this.prot ? this.protEnd : this.tlvEnd;
			if (this.tlvOff > end || TLV_HEADER_SIZE > end - this.tlvOff) fail("E_TLV_OVERRUN", `TLV header at offset ${this.tlvOff} runs past the end of its area`);
			const head = load(this.area, this.tlvOff, TLV_HEADER_SIZE);
			const type = u16(head, 0);
			const len = u16(head, 2);
			if (len > end - this.tlvOff - TLV_HEADER_SIZE) fail("E_TLV_OVERRUN", `TLV 0x${type.toString(16)} at offset ${this.tlvOff} (${len} bytes) runs past the end of its area`);
			const entry = { type, off: this.tlvOff + TLV_HEADER_SIZE, len, prot: this.tlvOff < this.protEnd };
			this.tlvOff += TLV_HEADER_SIZE + len;
			if (this.type === null || type === this.type) return entry;
		}
		return null;
	}
}

/** Every TLV (IMAGE_TLV_ANY, both areas), in flash order. */
export function allTlvs(area: Area, hdr: RawHeader): { tlvs: TlvEntry[]; tlvEnd: number } {
	const it = new TlvIter(area, hdr, null, false);
	const tlvs: TlvEntry[] = [];
	for (let e = it.next(); e; e = it.next()) tlvs.push(e);
	return { tlvs, tlvEnd: it.tlvEnd };
}

/** A TLV's payload (LOAD_IMAGE_DATA). */
export function tlvValue(area: Area, e: TlvEntry): Uint8Array {
	return load(area, e.off, e.len);
}

/** boot_read_image_size (bootutil_loader.c): header, body and both TLV areas, i.e. the iterator's tlv_end. */
export function imageSize(area: Area, hdr: RawHeader): number {
	return new TlvIter(area, hdr, null, false).tlvEnd;
}

/**
 * bootutil_get_img_security_cnt (bootutil_img_security_cnt.c): the SEC_CNT TLV of the protected
 * area, exactly 4 bytes. Null where bootutil returns an error: no protected area, no such TLV,
 * another length, or TLVs it cannot walk.
 */
export function imageSecurityCounter(area: Area, hdr: RawHeader, secCntType: number): number | null {
	if (hdr.protectTlvSize === 0) return null;
	try {
		const e = new TlvIter(area, hdr, secCntType, true).next();
		if (!e || e.len !== 4) return null;
		return u32(tlvValue(area, e), 0);
	} catch {
		return null;
	}
}

/**
 * The DEPENDENCY TLVs of the protected area, as boot_verify_slot_dependencies (loader.c) reads
 * them: each exactly sizeof(struct image_dependency), 12 bytes: image_id, 3 pad bytes, the
 * minimum struct image_version. Throws where bootutil returns an error.
 */
export function imageDependencies(area: Area, hdr: RawHeader, dependencyType: number): { imageId: number; minVersion: ImageVersion }[] {
	const deps: { imageId: number; minVersion: ImageVersion }[] = [];
	const it = new TlvIter(area, hdr, dependencyType, true);
	for (let e = it.next(); e; e = it.next()) {
		if (e.len !== 12) fail("E_TLV_VALUE", `DEPENDENCY TLV of ${e.len} bytes (BOOT_EBADIMAGE)`);
		const value = tlvValue(area, e);
		deps.push({ imageId: value[0], minVersion: decodeVersion(value, 4) });
	}
	return deps;
}
