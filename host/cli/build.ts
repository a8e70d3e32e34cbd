/**
 * Making images, as imgtool's `sign` does (image.py create/save; reference §A-§E.8):
 * header → body → protected TLVs are hashed and signed over the plaintext, then the body is
 * encrypted (unless --clear), and the unprotected TLVs and the optional slot trailer follow.
 */
import crypto from "node:crypto";
import {
	alignUp, bootMagic, encodeDependency, encodeHeader, encodeTlvArea, fail, IMAGE_HEADER_SIZE,
	ImageFlag, imgtoolTrailerSize, tlvName, TlvType, type Dependency, type ImageVersion,
} from "sealdrop/image";
import { BodyCipher, encKindFor, encTlvType, HASH_TLV_TYPE, randomAesKey, signatureTlvType, signImage, SignatureCheck, wrapKey, type HashAlg } from "./crypto.js";
import { compressLzma2, lzma2Header, type Compression } from "./imgtool/compress.js";
import { bootRecord, imageUuids } from "./imgtool/tlvs.js";
import { publicKeyBytes, type Key, type KeyKind } from "./keys.js";

export interface SignOptions {
	key?: Key;
	publicKeyFormat?: "hash" | "full";
	version: ImageVersion;
	headerSize: number;
	padHeader?: boolean;
	slotSize: number;
	pad?: boolean;
	confirm?: boolean;
	align?: number;
	maxAlign?: number;
	maxSectors?: number;
	overwriteOnly?: boolean;
	erasedVal?: number;
	securityCounter?: number | "auto";
	dependencies?: Dependency[];
	/** Device (or encryption) public key: wrap a fresh AES key for it and encrypt the body. */
	encrypt?: Key;
	/** Flag the image for encryption but leave body in plaintext and add no ENC TLV: a sealable release. */
	sealable?: boolean;
	encryptKeylen?: 128 | 256;
	hmacSha?: "auto" | "256" | "512";
	clear?: boolean;
	customTlvs?: { type: number; value: Uint8Array }[];
	sha?: "auto" | HashAlg;
	pure?: boolean;
	padSig?: boolean;
	loadAddr?: number;
	romFixed?: number;
	nonBootable?: boolean;
	/** Stop before signing and return what an external signer signs. */
	vectorToSign?: "payload" | "digest";
	/** A signature made elsewhere (raw bytes) and the public key it verifies with. */
	fixSig?: { signature: Uint8Array; publicKey: Key };
	/** Byte order of every multi-byte field (imgtool -e/--endian; default little). */
	endian?: "little" | "big";
	/** `--vid`/`--cid`: UUID_VID and UUID_CID TLVs (a UUID, or a name hashed into one). */
	vid?: string;
	cid?: string;
	/** `--boot-record SW_TYPE`: the TF-M measured-boot BOOT_RECORD TLV. */
	bootRecord?: string;
	/** `--save-enctlv`: size the trailer for a bootloader that saves the ENC TLV instead of the plain key. */
	saveEnctlv?: boolean;
	/** `--compression`: LZMA2 body with DECOMP_* TLVs, when that makes the image smaller. */
	compression?: Compression;
}

export interface BuiltImage {
	image: Buffer;
	digest: Buffer;
	hashAlg: HashAlg;
	/** The signature TLV's value, for --sig-out (none for an unsigned image). */
	signature?: Uint8Array;
	/** The image's bytes before slot padding (what an Intel HEX output holds). */
	unpadded: Buffer;
	/** Trailer size imgtool reserves (image.py _trailer_size), for Intel HEX output of a padded image. */
	trailerSize: number;
	/** Whether --compression paid off and the body is LZMA2. */
	compressed: boolean;
	/** With --vector-to-sign: the bytes to sign. */
	vector?: Buffer;
}

/** Largest TLV that sealing adds: ENC_RSA2048, a 4-byte TLV header and 256 bytes. */
export const SEALED_TLV_ROOM = 4 + 256;

const PREDEFINED_TLVS = new Set<number>(Object.values(TlvType));

export function checkCustomTlv(type: number): void {
	if (!(type >= 0xa0 && type <= 0xfffe) || PREDEFINED_TLVS.has(type))
		fail("E_USAGE", `custom TLV tag 0x${type.toString(16)} must be in 0xa0..0xfffe and not a predefined type (${tlvName(type)})`);
}

/**
 * The hash imgtool uses for a signer (image.py key_and_user_sha_to_alg_and_tlv and its
 * ALLOWED_KEY_SHA / ALLOWED_PURE_KEY_SHA tables): P-256 private keys SHA-256 (their public keys,
 * as --fix-sig-pubkey, also SHA-512), P-384 SHA-384, RSA SHA-256, Ed25519 SHA-256 or SHA-512;
 * with no key any hash. Pure signatures: private Ed25519 keys only, SHA-512.
 */
function imgtoolHashAlg(signer: Key | undefined, signerIsPrivate: boolean, requested: "auto" | HashAlg, pure: boolean): HashAlg {
	if (pure && requested !== "auto") fail("E_USAGE", "--pure selects the hash itself (SHA-512 for Ed25519); do not combine it with --sha");
	const wanted = requested === "auto" ? undefined : requested;
	if (!signer) return wanted ?? "sha256";

	if (pure) {
		if (signer.kind !== "ed25519" || !signerIsPrivate) fail("E_USAGE", `--pure needs an Ed25519 private signing key (-k), not ${signer.kind}${signerIsPrivate ? "" : " public key"}`);
		return "sha512";
	}
	const table: Partial<Record<KeyKind, HashAlg[]>> = {
		"ecdsa-p256": signerIsPrivate ? ["sha256"] : ["sha256", "sha512"], "ecdsa-p384": ["sha384"],
		"rsa-2048": ["sha256"], "rsa-3072": ["sha256"], ed25519: ["sha256", "sha512"], x25519: ["sha256", "sha512"],
	};
	const allowed = table[signer.kind] ?? [];
	if (!wanted) return allowed[0];
	if (!allowed.includes(wanted)) fail("E_USAGE", `${signer.kind} keys cannot be used with --sha ${wanted.slice(3)}; allowed: ${allowed.map((a) => a.slice(3)).join(", ")}`);
	return wanted;
}

/** imgtool's TLV names for the hash TLVs (boot record measurement description). */
const HASH_TLV_NAME: Record<HashAlg, string> = { sha256: "SHA256", sha384: "SHA384", sha512: "SHA512" };

/** Multi-byte fields in imgtool's -e/--endian byte order (struct '<' or '>'). */
class Endian {
	constructor(readonly big: boolean) {}
	u32(n: number): Buffer {
		const b = Buffer.alloc(4);
		if (this.big) b.writeUInt32BE(n >>> 0);
		else b.writeUInt32LE(n >>> 0);
		return b;
	}
	/** An image header, from the little-endian encoding: u32 magic/load/size/flags/pad, u16 sizes and revision, u32 build. */
	header(le: Uint8Array): Buffer {
		const b = Buffer.from(le);
		if (this.big) {
			for (const off of [0, 4, 12, 16, 24, 28]) b.writeUInt32BE(b.readUInt32LE(off), off);
			for (const off of [8, 10, 22]) b.writeUInt16BE(b.readUInt16LE(off), off);
		}
		return b;
	}
	/** A DEPENDENCY value ('B3xBBHI'): image id, pad, version with u16 revision and u32 build. */
	dependency(dep: Dependency): Buffer {
		const b = Buffer.from(encodeDependency(dep));
		if (this.big) {
			b.writeUInt16BE(b.readUInt16LE(6), 6);
			b.writeUInt32BE(b.readUInt32LE(8), 8);
		}
		return b;
	}
	/**
	 * A TLV area (image.py TLV.get/add). Big-endian, imgtool packs predefined TLVs as 'BBH' (type
	 * byte, zero byte, length) and custom ones as 'HH', so only custom types (0xa0 and up) swap.
	 */
	tlvArea(tlvs: readonly { type: number; value: Uint8Array }[], isProtected: boolean): Buffer {
		const area = Buffer.from(encodeTlvArea(tlvs, isProtected));
		if (!this.big || !area.length) return area;
		area.writeUInt16BE(area.readUInt16LE(0), 0);
		area.writeUInt16BE(area.readUInt16LE(2), 2);
		let off = 4;
		for (const t of tlvs) {
			if (t.type >= 0xa0) area.writeUInt16BE(t.type, off);
			area.writeUInt16BE(t.value.length, off + 2);
			off += 4 + t.value.length;
		}
		return area;
	}
}

interface Created {
	/** The image without slot padding. */
	image: Buffer;
	digest: Buffer;
	/** What --vector-to-sign writes. */
	vector: Buffer;
	signature?: Uint8Array;
	/** The ENC TLV value's length (0 when none): the trailer saves it with --save-enctlv. */
	encTlvLength: number;
}

/**
 * One pass of image.py create: header, protected TLVs, hash, signature, encryption. `payload` is
 * the header room followed by the body; `extraProtected` are the compression TLVs.
 */
function create(payload: Buffer, o: SignOptions, hashAlg: HashAlg, flags: number, extraProtected: { type: number; value: Uint8Array }[], encrypt: boolean): Created {
	const e = new Endian(o.endian === "big");
	const signer = o.fixSig?.publicKey ?? o.key;
	const pure = !!o.pure;
	const encrypting = encrypt && (!!o.encrypt || !!o.sealable);
	payload = Buffer.from(payload);
	if (encrypting && payload.length % 16) payload = Buffer.concat([payload, Buffer.alloc(16 - (payload.length % 16))]);
	const keyBits = o.encryptKeylen ?? 128;
	// imgtool flags the header from the encryption key even on a pass that does not encrypt (compression's first)
	if (o.encrypt || o.sealable) flags |= keyBits === 256 ? ImageFlag.ENCRYPTED_AES256 : ImageFlag.ENCRYPTED_AES128;

	const pub = signer ? publicKeyBytes(signer) : undefined;
	// the signer id: hash of the public key, or 32 zero bytes with no key (image.py create)
	const keyDigest = pub ? crypto.createHash(hashAlg).update(pub).digest() : Buffer.alloc(32);

	// protected TLVs in imgtool's order (image.py create)
	const protectedTlvs: { type: number; value: Uint8Array }[] = [];
	if (o.securityCounter !== undefined) {
		const v = o.version;
		const counter = o.securityCounter === "auto" ? ((v.major << 24) + (v.minor << 16) + v.revision) >>> 0 : o.securityCounter;
		protectedTlvs.push({ type: TlvType.SEC_CNT, value: e.u32(counter) });
	}
	if (o.bootRecord !== undefined) {
		const v = o.version;
		const digestLength = crypto.createHash(hashAlg).digest().length;
		protectedTlvs.push({ type: TlvType.BOOT_RECORD, value: bootRecord(o.bootRecord, `${v.major}.${v.minor}.${v.revision}`, HASH_TLV_NAME[hashAlg], digestLength, keyDigest) });
	}
	for (const dep of o.dependencies ?? []) protectedTlvs.push({ type: TlvType.DEPENDENCY, value: e.dependency(dep) });
	protectedTlvs.push(...extraProtected);
	const uuids = imageUuids(o.vid, o.cid);
	if (uuids.vid) protectedTlvs.push({ type: TlvType.UUID_VID, value: uuids.vid });
	if (uuids.cid) protectedTlvs.push({ type: TlvType.UUID_CID, value: uuids.cid });
	const seen = new Set<number>();
	for (const tlv of o.customTlvs ?? []) {
		checkCustomTlv(tlv.type);
		if (seen.has(tlv.type)) fail("E_USAGE", `Custom TLV 0x${tlv.type.toString(16)} already exists`);
		seen.add(tlv.type);
		protectedTlvs.push(tlv);
	}
	const protectedArea = e.tlvArea(protectedTlvs, true);

	const header = e.header(encodeHeader({
		loadAddr: o.romFixed || o.loadAddr || 0, hdrSize: o.headerSize, protectTlvSize: protectedArea.length,
		imgSize: payload.length - o.headerSize, flags, version: o.version,
	}));
	header.copy(payload, 0);
	const region = Buffer.concat([payload, protectedArea]);
	const digest = crypto.createHash(hashAlg).update(region).digest();
	const vector = o.vectorToSign === "digest" ? digest : region;
	// image.py create stops here for --vector-to-sign: nothing is signed (so compression adds no DECOMP_SIGNATURE)
	if (o.vectorToSign) return { image: region, digest, vector, encTlvLength: 0 };

	const unprotected: { type: number; value: Uint8Array }[] = [{ type: HASH_TLV_TYPE[hashAlg], value: digest }];
	if (pure) unprotected.push({ type: TlvType.SIG_PURE, value: Uint8Array.of(1) });
	let signature: Uint8Array | undefined;
	if (signer && pub) {
		unprotected.push(o.publicKeyFormat === "full" ? { type: TlvType.PUBKEY, value: pub } : { type: TlvType.KEYHASH, value: keyDigest });
		if (o.fixSig) {
			const check = new SignatureCheck(o.fixSig.publicKey, pure);
			check.update(region);
			if (!check.verify(o.fixSig.signature, digest)) fail("E_SIGNATURE", "the --fix-sig signature does not verify with --fix-sig-pubkey over this image");
			signature = o.fixSig.signature;
		} else signature = signImage(o.key!, region, digest, pure);
		if (o.padSig && signer.kind.startsWith("ecdsa")) {
			const padTo = signer.kind === "ecdsa-p256" ? 72 : 103;
			signature = Buffer.concat([signature, Buffer.alloc(Math.max(0, padTo - signature.length))]);
		}
		unprotected.push({ type: signatureTlvType(signer.kind), value: signature });
	}

	let body = payload.subarray(o.headerSize);
	let encTlvLength = 0;
	if (encrypt && o.encrypt) {
		const aesKey = randomAesKey(keyBits);
		const kind = encKindFor(o.encrypt, o.hmacSha);
		const wrapped = wrapKey(kind, o.encrypt, aesKey);
		encTlvLength = wrapped.length;
		unprotected.push({ type: encTlvType(kind), value: wrapped });
		if (!o.clear) body = new BodyCipher(aesKey).process(body, 0);
		aesKey.fill(0);
	}
	const image = Buffer.concat([payload.subarray(0, o.headerSize), body, protectedArea, e.tlvArea(unprotected, false)]);
	return { image, digest, vector, signature, encTlvLength };
}

/**
 * Builds the image as imgtool sign does (main.py sign, image.py create/save). With `vectorToSign`,
 * `vector` holds what to sign and `image` is that vector, slot-padded with --pad as imgtool saves it.
 */
export function buildImage(input: Uint8Array, o: SignOptions): BuiltImage {
	const erasedVal = o.erasedVal ?? 0xff;
	if (o.headerSize < IMAGE_HEADER_SIZE || o.headerSize > 0xffff) fail("E_HEADER_SIZE", `header size ${o.headerSize} must be 32..65535`);
	const encrypting = !!o.encrypt || !!o.sealable;
	if (o.encrypt && o.sealable) fail("E_USAGE", "--sealable makes an image to seal later; do not also pass -E");
	if (o.clear && !o.encrypt) fail("E_USAGE", "--clear needs -E/--encrypt");
	if (o.compression && encrypting) fail("E_USAGE", "--compression with -E/--sealable is not supported by Sealdrop (imgtool 2.4 writes an unencrypted body under the ENCRYPTED flag when compression does not pay off)");
	if (o.key && !o.key.privateKey) fail("E_KEY_TYPE", `${o.key.source}: the signing key must be a private key`);
	if (o.fixSig && o.key) fail("E_USAGE", "Can not sign using key and provide fixed-signature at the same time");
	// main.py sign: an ECDSA or RSA signing key needs an encryption key of its own kind
	if (o.key && o.encrypt && (o.key.kind.startsWith("ecdsa") || o.key.kind.startsWith("rsa")) && o.key.kind.split("-")[0] !== o.encrypt.kind.split("-")[0]
		|| o.key?.kind === "ecdsa-p384" && o.encrypt)
		fail("E_USAGE", `Signing and encryption must use the same type of key (${o.key!.kind} signing key, ${o.encrypt!.kind} encryption key)`);
	const signer = o.fixSig?.publicKey ?? o.key;
	if (signer) signatureTlvType(signer.kind);
	const hashAlg = imgtoolHashAlg(signer, !o.fixSig, o.sha ?? "auto", !!o.pure);
	if (o.loadAddr && o.romFixed) fail("E_USAGE", "--load-addr and --rom-fixed cannot be used together");

	// header room ‖ body (image.py load, check_header)
	let payload: Buffer;
	if (o.padHeader) payload = Buffer.concat([Buffer.alloc(o.headerSize, erasedVal), input]);
	else {
		if (input.length < o.headerSize || input.subarray(0, o.headerSize).some((b) => b !== 0))
			fail("E_USAGE", `the first ${o.headerSize} bytes of the input are not zero: pass --pad-header to have the header prepended`);
		payload = Buffer.from(input);
	}

	let flags = 0;
	if (o.loadAddr) flags |= ImageFlag.RAM_LOAD;
	if (o.romFixed) flags |= ImageFlag.ROM_FIXED;
	if (o.nonBootable) flags |= ImageFlag.NON_BOOTABLE;

	let made = create(payload, o, hashAlg, flags, [], true);
	let compressed = false;
	if (!o.vectorToSign) checkSlotFit(made.image.length + (o.sealable ? SEALED_TLV_ROOM : 0), o, encrypting, made.encTlvLength);
	if (o.compression) {
		// main.py sign: compress the input body; keep the result only if it (with its TLVs) is smaller
		const e = new Endian(o.endian === "big");
		const bodyStart = o.padHeader ? 0 : o.headerSize;
		const compressedBody = compressLzma2(input.subarray(bodyStart), o.compression);
		const tlvs = [
			{ type: TlvType.DECOMP_SIZE, value: e.u32(payload.length - o.headerSize) },
			{ type: TlvType.DECOMP_SHA, value: made.digest },
			...(made.signature ? [{ type: TlvType.DECOMP_SIGNATURE, value: made.signature }] : []),
		];
		const tlvBytes = tlvs.reduce((n, t) => n + t.value.length, 0);
		if (compressedBody.length + tlvBytes < input.length - bodyStart) {
			const room = Buffer.alloc(o.headerSize, o.padHeader ? erasedVal : 0);
			let cflags = flags | ImageFlag.COMPRESSED_LZMA2 | (o.compression === "lzma2armthumb" ? ImageFlag.COMPRESSED_ARM_THUMB : 0);
			// imgtool builds the compressed image without passing non_bootable on (main.py sign): the flag is dropped
			cflags &= ~ImageFlag.NON_BOOTABLE;
			made = create(Buffer.concat([room, lzma2Header(), compressedBody]), o, hashAlg, cflags, tlvs, true);
			compressed = true;
			if (!o.vectorToSign) checkSlotFit(made.image.length, o, encrypting, made.encTlvLength);
		}
	}
	const unpadded = o.vectorToSign ? made.vector : made.image;
	return {
		image: padToSlot(unpadded, o), unpadded, digest: made.digest, hashAlg, signature: o.vectorToSign ? undefined : made.signature,
		trailerSize: trailerSize(o, encrypting, made.encTlvLength), compressed, vector: o.vectorToSign ? made.vector : undefined,
	};
}

type SlotOptions = Pick<SignOptions, "slotSize" | "pad" | "confirm" | "align" | "maxAlign" | "maxSectors" | "overwriteOnly" | "erasedVal" | "saveEnctlv" | "endian">;

function maxAlignOf(o: SlotOptions): number {
	return o.maxAlign ?? Math.max(8, o.align ?? 1);
}

/**
 * image.py _trailer_size: swap status, encryption keys (the ENC TLV itself with --save-enctlv),
 * four max-align flag fields and the magic. imgtool accepts any --max-align with any --align.
 */
export function trailerSize(o: SlotOptions, encrypted: boolean, encTlvLength = 0): number {
	const align = o.align ?? 1;
	if (![1, 2, 4, 8, 16, 32].includes(align)) fail("E_USAGE", `--align must be 1, 2, 4, 8, 16 or 32, not ${align}`);
	const maxAlign = maxAlignOf(o);
	if (![8, 16, 32].includes(maxAlign)) fail("E_USAGE", `--max-align must be 8, 16 or 32`);
	const base = imgtoolTrailerSize({ align, maxAlign, maxSectors: o.maxSectors, overwriteOnly: o.overwriteOnly, encrypted: false });
	if (o.overwriteOnly || !encrypted) return base;
	return base + alignUp(o.saveEnctlv ? encTlvLength : 16, maxAlign) * 2;
}

/** imgtool's slot-size check (image.py check_trailer): image plus its estimated trailer. */
export function checkSlotFit(imageSize: number, o: SlotOptions, encrypted: boolean, encTlvLength = 0): void {
	const trailer = trailerSize(o, encrypted, encTlvLength);
	if (o.slotSize > 0 && imageSize + trailer > o.slotSize)
		fail("E_TOO_LARGE", `image size (0x${imageSize.toString(16)}) + trailer (0x${trailer.toString(16)}) exceeds the slot size 0x${o.slotSize.toString(16)}`);
}

/** The trailer magic (image.py Image.__init__): its max-align field in the image's byte order. */
export function imgtoolBootMagic(o: SlotOptions): Uint8Array {
	const magic = bootMagic(maxAlignOf(o));
	if (o.endian === "big" && maxAlignOf(o) !== 8) [magic[0], magic[1]] = [magic[1], magic[0]];
	return magic;
}

/** Offset of image_ok counted back from the slot end (image.py pad_to). */
export function imageOkFromEnd(o: SlotOptions): number {
	const maxAlign = maxAlignOf(o);
	return alignUp(16, maxAlign) + maxAlign;
}

/** With --pad/--confirm, fills to the slot size and writes the trailer as imgtool does (image.py pad_to). */
export function padToSlot(image: Buffer, o: SlotOptions): Buffer {
	if (!o.pad && !o.confirm) return image;
	const fill = Buffer.alloc(o.slotSize - image.length, o.erasedVal ?? 0xff);
	fill.set(imgtoolBootMagic(o), fill.length - 16);
	if (o.confirm && !o.overwriteOnly) fill[fill.length - imageOkFromEnd(o)] = 0x01;
	return Buffer.concat([image, fill]);
}
