/** A whole image's structure, read through the streaming parser so both paths agree. */
import { fail } from "sealdrop/base/errors";
import { u32 } from "sealdrop/base/bytes";
import type { ImageHeader } from "./header.js";
import { ImageStreamParser, type StreamParserOptions } from "./stream.js";
import { decodeDependency, ENC_TLV_TYPES, HASH_TLVS, TlvType, type Dependency, type Tlv } from "./tlv.js";

export interface ImageLayout {
	header: ImageHeader;
	protectedTlvs: Tlv[];
	unprotectedTlvs: Tlv[];
	/** Start of the first TLV area (= hdrSize + imgSize). */
	tlvOffset: number;
	/** Start of the unprotected TLV area: everything before it is hashed. */
	unprotectedOffset: number;
	/** End of the unprotected TLV area: the image proper. */
	size: number;
	/** Bytes after the image (slot padding and trailer of a padded image). */
	trailingLength: number;
}

export function parseImage(bytes: Uint8Array, options: StreamParserOptions = {}): ImageLayout {
	const parser = new ImageStreamParser(options);
	const layout: Partial<ImageLayout> = { protectedTlvs: [], unprotectedTlvs: [], trailingLength: 0 };
	for (const event of parser.push(bytes)) {
		if (event.kind === "header") layout.header = event.header;
		else if (event.kind === "tlvs") {
			if (event.isProtected) layout.protectedTlvs = event.tlvs;
			else {
				layout.unprotectedTlvs = event.tlvs;
				layout.unprotectedOffset = event.offset;
			}
		} else if (event.kind === "end") layout.size = event.size;
	}
	parser.finish();
	const header = layout.header!;
	return {
		...(layout as ImageLayout),
		tlvOffset: header.hdrSize + header.imgSize,
		trailingLength: bytes.length - layout.size!,
	};
}

export function allTlvs(image: ImageLayout): Tlv[] {
	return [...image.protectedTlvs, ...image.unprotectedTlvs];
}

/** The image hash TLV and its algorithm; bootutil wants exactly one it knows. */
export function findHashTlv(image: ImageLayout): { tlv: Tlv; alg: "sha256" | "sha384" | "sha512" } {
	const tlv = image.unprotectedTlvs.find((t) => HASH_TLVS[t.type]);
	if (!tlv) fail("E_NO_HASH", "image has no SHA256/SHA384/SHA512 hash TLV");
	return { tlv, alg: HASH_TLVS[tlv.type].alg };
}

export function findEncTlv(image: ImageLayout): Tlv | undefined {
	return image.unprotectedTlvs.find((t) => ENC_TLV_TYPES.includes(t.type));
}

/** Security counter from the protected area (as bootutil_get_img_security_cnt reads it), or null. */
export function securityCounter(image: ImageLayout): number | null {
	const tlv = image.protectedTlvs.find((t) => t.type === TlvType.SEC_CNT);
	return tlv ? u32(tlv.value, 0) : null;
}

export function dependencies(image: ImageLayout): Dependency[] {
	return image.protectedTlvs.filter((t) => t.type === TlvType.DEPENDENCY).map((t) => decodeDependency(t.value));
}

export function isPureSigned(image: ImageLayout): boolean {
	return image.unprotectedTlvs.some((t) => t.type === TlvType.SIG_PURE);
}
