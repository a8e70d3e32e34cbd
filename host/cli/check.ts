/**
 * Checking an image as the bootloader would, and more: the hash over the plaintext (decrypting
 * on the fly with the device key when the body is encrypted), the signature by a given key, and
 * for a nested release the inner image too.
 */
import crypto from "node:crypto";
import {
	aesKeyBits, fail, findEncTlv, findHashTlv, formatVersion, IMAGE_MAGIC, isPureSigned, parseImage, SIGNATURE_TLV_TYPES,
	TlvType, toHex, u32, type ImageLayout,
} from "sealdrop/image";
import { BodyCipher, signatureTlvType, SignatureCheck, unwrapKey } from "./crypto.js";
import { publicKeyBytes, type Key } from "./keys.js";

export interface CheckOptions {
	/** Signing key (public or private) the image must be signed by. */
	key?: Key;
	/** Device private key to open the ENC TLV and decrypt the body. */
	deviceKey?: Key;
	/** Key for a nested inner image (defaults to `key`). */
	innerKey?: Key;
	slotSize?: number;
}

export interface CheckResult {
	layout: ImageLayout;
	version: string;
	hashAlg: string;
	digest: string;
	/** How the body is stored: plaintext (signed/sealable/--clear) or ciphertext (decrypted to check). */
	body: "plaintext" | "ciphertext";
	signature: "verified" | "not checked";
	/** The decrypted body (only when the body was ciphertext). */
	plaintextBody?: Buffer;
	inner?: CheckResult;
}

const CHUNK = 64 * 1024;

export function checkImage(image: Uint8Array, o: CheckOptions = {}): CheckResult {
	const layout = parseImage(image, { maxSize: o.slotSize });
	const { header } = layout;
	const { tlv: hashTlv, alg } = findHashTlv(layout);
	const encTlv = findEncTlv(layout);
	const bits = aesKeyBits(header.flags);

	let cipher: BodyCipher | undefined;
	if (o.deviceKey && encTlv) {
		const aesKey = unwrapKey(encTlv, o.deviceKey, bits);
		cipher = new BodyCipher(aesKey);
		aesKey.fill(0);
	}

	// Hash the region twice in one pass when a key was opened: as decrypted (sealed image) and as
	// stored (a --clear image carries an ENC TLV over a plaintext body). One of them must match.
	const asStored = crypto.createHash(alg);
	const decrypted = cipher ? crypto.createHash(alg) : undefined;
	const plainParts: Buffer[] = [];
	const regionParts: Uint8Array[] = [];
	const bodyStart = header.hdrSize, bodyEnd = layout.tlvOffset;
	for (let at = 0; at < layout.unprotectedOffset; at += CHUNK) {
		const end = Math.min(at + CHUNK, layout.unprotectedOffset);
		const stored = image.subarray(at, end);
		asStored.update(stored);
		regionParts.push(stored);
		if (decrypted) {
			// decrypt only the body part of this chunk
			const from = Math.max(at, bodyStart), to = Math.min(end, bodyEnd);
			if (from < to) {
				const plain = cipher!.process(image.subarray(from, to), from - bodyStart);
				plainParts.push(plain);
				decrypted.update(image.subarray(at, from)).update(plain).update(image.subarray(to, end));
			} else decrypted.update(stored);
		}
	}
	const storedDigest = asStored.digest();
	const decryptedDigest = decrypted?.digest();
	let body: CheckResult["body"];
	let digest: Buffer;
	if (decryptedDigest && crypto.timingSafeEqual(decryptedDigest, hashTlv.value)) {
		body = "ciphertext";
		digest = decryptedDigest;
	} else if (crypto.timingSafeEqual(storedDigest, hashTlv.value)) {
		body = "plaintext";
		digest = storedDigest;
	} else {
		const hint = bits && encTlv && !o.deviceKey ? ": the body is encrypted, pass --device-key to check it" : "";
		fail("E_HASH", `image hash does not match its ${alg.toUpperCase()} TLV${hint}`);
	}

	const plaintextBody = body === "ciphertext" ? Buffer.concat(plainParts) : undefined;
	const region = (): Uint8Array[] => body === "ciphertext"
		? [image.subarray(0, bodyStart), plaintextBody!, image.subarray(bodyEnd, layout.unprotectedOffset)]
		: regionParts;

	let signature: CheckResult["signature"] = "not checked";
	if (o.key) {
		checkSignature(layout, o.key, region(), digest, alg);
		signature = "verified";
	}

	const result: CheckResult = { layout, version: formatVersion(header.version), hashAlg: alg, digest: toHex(digest), body, signature, plaintextBody };
	const plainBody = plaintextBody ?? image.subarray(bodyStart, bodyEnd);
	if (isNestedImage(plainBody)) result.inner = checkImage(plainBody, { key: o.innerKey ?? o.key });
	return result;
}

/**
 * A body is a nested image (ARCHITECTURE.md "Installers", mcuboot) when it parses as an MCUboot image
 * that fills it, up to the zero padding sealing adds; a firmware body that merely starts with the
 * magic bytes is not one.
 */
function isNestedImage(body: Uint8Array): boolean {
	if (body.length < 32 || u32(body, 0) !== IMAGE_MAGIC) return false;
	try {
		const inner = parseImage(body);
		return body.subarray(inner.size).every((b) => b === 0) && body.length - inner.size < 16;
	} catch {
		return false;
	}
}

/**
 * Finds the signature made by `key` the way bootutil does (image_validate.c:364-435): a KEYHASH
 * (or PUBKEY) naming this key, followed by a signature TLV of the key's type.
 */
function checkSignature(layout: ImageLayout, key: Key, region: Uint8Array[], digest: Uint8Array, alg: string): void {
	const pub = publicKeyBytes(key);
	const keyHash = crypto.createHash(alg).update(pub).digest();
	const sigType = signatureTlvType(key.kind);
	const tlvs = layout.unprotectedTlvs;
	let keyIdsSeen = 0, signaturesSeen = 0, matched = false;
	for (let i = 0; i < tlvs.length; i++) {
		const t = tlvs[i];
		if (SIGNATURE_TLV_TYPES.includes(t.type)) signaturesSeen++;
		if (t.type !== TlvType.KEYHASH && t.type !== TlvType.PUBKEY) continue;
		keyIdsSeen++;
		const named = t.type === TlvType.KEYHASH ? Buffer.compare(keyHash, t.value) === 0 : Buffer.compare(pub, t.value) === 0;
		if (!named) continue;
		matched = true;
		const sig = tlvs.slice(i + 1).find((s) => s.type === sigType);
		if (!sig) break;
		const check = new SignatureCheck(key, isPureSigned(layout));
		for (const part of region) check.update(part);
		if (check.verify(sig.value, digest)) return;
		fail("E_SIGNATURE", `the signature does not verify with ${key.source}`);
	}
	if (!signaturesSeen) fail("E_NO_SIGNATURE", "image is not signed");
	if (keyIdsSeen && !matched) fail("E_WRONG_SIGNER", `image was not signed by ${key.source}`);
	fail("E_WRONG_SIGNER", `image carries no ${key.kind} signature for ${key.source}`);
}
