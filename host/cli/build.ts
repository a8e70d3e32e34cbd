/**
 * Making images, as imgtool's `sign` does (image.py create/save; reference §A-§E.8):
 * header → body → protected TLVs are hashed and signed over the plaintext, then the body is
 * encrypted (unless --clear), and the unprotected TLVs and the optional slot trailer follow.
 */
import crypto from "node:crypto";
import {
	alignUp, bootMagic, encodeDependency, encodeHeader, encodeTlvArea, encodeU32, fail, IMAGE_HEADER_SIZE,
	ImageFlag, imgtoolTrailerSize, tlvName, TlvType, type Dependency, type ImageVersion,
} from "sealdrop/image";
import { BodyCipher, encKindFor, encTlvType, HASH_TLV_TYPE, hashAlgFor, randomAesKey, signatureTlvType, signImage, SignatureCheck, wrapKey, type HashAlg } from "./crypto.js";
import { publicKeyBytes, type Key } from "./keys.js";

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
}

export interface BuiltImage {
	image: Buffer;
	digest: Buffer;
	hashAlg: HashAlg;
}

/** Largest TLV that sealing adds: ENC_RSA2048, a 4-byte TLV header and 256 bytes. */
export const SEALED_TLV_ROOM = 4 + 256;

const PREDEFINED_TLVS = new Set<number>(Object.values(TlvType));

export function checkCustomTlv(type: number): void {
	if (!(type >= 0xa0 && type <= 0xfffe) || PREDEFINED_TLVS.has(type))
		fail("E_USAGE", `custom TLV tag 0x${type.toString(16)} must be in 0xa0..0xfffe and not a predefined type (${tlvName(type)})`);
}

/** Builds the image; with `vectorToSign` returns the bytes to sign instead. */
export function buildImage(input: Uint8Array, o: SignOptions): BuiltImage | { vector: Buffer } {
	const erasedVal = o.erasedVal ?? 0xff;
	if (o.headerSize < IMAGE_HEADER_SIZE || o.headerSize > 0xffff) fail("E_HEADER_SIZE", `header size ${o.headerSize} must be 32..65535`);
	const encrypting = !!o.encrypt || !!o.sealable;
	if (o.encrypt && o.sealable) fail("E_USAGE", "--sealable makes an image to seal later; do not also pass -E");
	if (o.clear && !o.encrypt) fail("E_USAGE", "--clear needs -E/--encrypt");
	const signer = o.fixSig?.publicKey ?? o.key;
	const pure = !!o.pure;
	if (pure && signer?.kind !== "ed25519") fail("E_USAGE", "--pure needs an Ed25519 signing key");
	if (o.key && !o.key.privateKey) fail("E_KEY_TYPE", `${o.key.source}: the signing key must be a private key`);
	if (signer) signatureTlvType(signer.kind);
	const hashAlg = hashAlgFor(signer?.kind, o.sha ?? "auto", pure);

	// header region ‖ body, padded with zeros to a multiple of 16 when it will be encrypted
	let payload: Buffer;
	if (o.padHeader) payload = Buffer.concat([Buffer.alloc(o.headerSize, erasedVal), input]);
	else {
		if (input.length < o.headerSize || input.subarray(0, o.headerSize).some((b) => b !== 0))
			fail("E_USAGE", `the first ${o.headerSize} bytes of the input are not zero: pass --pad-header to have the header prepended`);
		payload = Buffer.from(input);
	}
	if (encrypting && payload.length % 16) payload = Buffer.concat([payload, Buffer.alloc(16 - (payload.length % 16))]);

	let flags = 0;
	const keyBits = o.encryptKeylen ?? 128;
	if (encrypting) flags |= keyBits === 256 ? ImageFlag.ENCRYPTED_AES256 : ImageFlag.ENCRYPTED_AES128;
	if (o.loadAddr && o.romFixed) fail("E_USAGE", "--load-addr and --rom-fixed cannot be used together");
	if (o.loadAddr) flags |= ImageFlag.RAM_LOAD;
	if (o.romFixed) flags |= ImageFlag.ROM_FIXED;
	if (o.nonBootable) flags |= ImageFlag.NON_BOOTABLE;

	const protectedTlvs: { type: number; value: Uint8Array }[] = [];
	if (o.securityCounter !== undefined) {
		const v = o.version;
		const counter = o.securityCounter === "auto" ? ((v.major << 24) + (v.minor << 16) + v.revision) >>> 0 : o.securityCounter;
		protectedTlvs.push({ type: TlvType.SEC_CNT, value: encodeU32(counter) });
	}
	for (const dep of o.dependencies ?? []) protectedTlvs.push({ type: TlvType.DEPENDENCY, value: encodeDependency(dep) });
	for (const tlv of o.customTlvs ?? []) {
		checkCustomTlv(tlv.type);
		protectedTlvs.push(tlv);
	}
	const protectedArea = encodeTlvArea(protectedTlvs, true);

	const header = encodeHeader({
		loadAddr: o.romFixed || o.loadAddr || 0, hdrSize: o.headerSize, protectTlvSize: protectedArea.length,
		imgSize: payload.length - o.headerSize, flags, version: o.version,
	});
	header.forEach((b, i) => { payload[i] = b; });
	const region = Buffer.concat([payload, protectedArea]);
	const digest = crypto.createHash(hashAlg).update(region).digest();
	if (o.vectorToSign) return { vector: o.vectorToSign === "digest" ? digest : region };

	const unprotected: { type: number; value: Uint8Array }[] = [{ type: HASH_TLV_TYPE[hashAlg], value: digest }];
	if (pure) unprotected.push({ type: TlvType.SIG_PURE, value: Uint8Array.of(1) });
	if (signer) {
		const pub = publicKeyBytes(signer);
		unprotected.push(o.publicKeyFormat === "full"
			? { type: TlvType.PUBKEY, value: pub }
			: { type: TlvType.KEYHASH, value: crypto.createHash(hashAlg).update(pub).digest() });
		let signature: Uint8Array;
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
	if (o.encrypt) {
		const aesKey = randomAesKey(keyBits);
		const kind = encKindFor(o.encrypt, o.hmacSha);
		unprotected.push({ type: encTlvType(kind), value: wrapKey(kind, o.encrypt, aesKey) });
		if (!o.clear) body = new BodyCipher(aesKey).process(body, 0);
		aesKey.fill(0);
	}
	const image = Buffer.concat([payload.subarray(0, o.headerSize), body, protectedArea, encodeTlvArea(unprotected, false)]);
	// a sealable release must still fit once sealing adds its ENC TLV (at most ENC_RSA2048's)
	const sealingRoom = o.sealable ? SEALED_TLV_ROOM : 0;
	checkSlotFit(image.length + sealingRoom, o, encrypting);
	return { image: padToSlot(image, o), digest, hashAlg };
}

type SlotOptions = Pick<SignOptions, "slotSize" | "pad" | "confirm" | "align" | "maxAlign" | "maxSectors" | "overwriteOnly" | "erasedVal">;

function maxAlignOf(o: SlotOptions): number {
	return o.maxAlign ?? Math.max(8, o.align ?? 1);
}

/** imgtool's slot-size check (image.py check_trailer): image plus its estimated trailer. */
export function checkSlotFit(imageSize: number, o: SlotOptions, encrypted: boolean): void {
	const align = o.align ?? 1;
	if (![1, 2, 4, 8, 16, 32].includes(align)) fail("E_USAGE", `--align must be 1, 2, 4, 8, 16 or 32, not ${align}`);
	const maxAlign = maxAlignOf(o);
	if (![8, 16, 32].includes(maxAlign) || maxAlign < align) fail("E_USAGE", `--max-align must be 8, 16 or 32 and at least --align`);
	const trailer = imgtoolTrailerSize({ align, maxAlign, maxSectors: o.maxSectors, overwriteOnly: o.overwriteOnly, encrypted });
	if (o.slotSize > 0 && imageSize + trailer > o.slotSize)
		fail("E_TOO_LARGE", `image size (0x${imageSize.toString(16)}) + trailer (0x${trailer.toString(16)}) exceeds the slot size 0x${o.slotSize.toString(16)}`);
}

/** With --pad/--confirm, fills to the slot size and writes the trailer as imgtool does (image.py pad_to). */
export function padToSlot(image: Buffer, o: SlotOptions): Buffer {
	if (!o.pad && !o.confirm) return image;
	const maxAlign = maxAlignOf(o);
	const fill = Buffer.alloc(o.slotSize - image.length, o.erasedVal ?? 0xff);
	fill.set(bootMagic(maxAlign), fill.length - 16);
	if (o.confirm && !o.overwriteOnly) fill[fill.length - (alignUp(16, maxAlign) + maxAlign)] = 0x01;
	return Buffer.concat([image, fill]);
}
