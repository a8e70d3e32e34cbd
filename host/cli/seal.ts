/**
 * Sealing (ARCHITECTURE.md "The life of an update", step 3): a release signed once over its plaintext
 * gets its body encrypted with a key K fresh for this sealing run and, per device, an ENC TLV
 * that wraps K for that device's public key. Neither the hash nor the signature covers the
 * ciphertext or the ENC TLV, so no signing key is needed, and every device of a run shares the
 * ciphertext: only the tail (the TLV areas after the body) differs.
 */
import crypto from "node:crypto";
import { aesKeyBits, encodeTlvArea, ENC_TLV_TYPES, fail, findHashTlv, parseImage, type ImageLayout, type Tlv } from "sealdrop/image";
import { BodyCipher, encKindFor, encTlvType, randomAesKey, wrapKey, type EncKind } from "./crypto.js";
import type { Key } from "./keys.js";

export interface Release {
	image: Uint8Array;
	layout: ImageLayout;
	keyBits: 128 | 256;
}

/**
 * Accepts a sealable release: ENCRYPTED flag set and the body in plaintext, proven by the hash
 * TLV matching the bytes as stored (which also refuses an image that is already sealed).
 * An imgtool `--clear` image qualifies; its old ENC TLV is replaced.
 */
export function openRelease(image: Uint8Array): Release {
	const layout = parseImage(image);
	const keyBits = aesKeyBits(layout.header.flags);
	if (!keyBits) fail("E_NOT_SEALABLE", "release is not flagged for encryption: sign it with --sealable (or imgtool sign -E KEY --clear)");
	const { tlv, alg } = findHashTlv(layout);
	const digest = crypto.createHash(alg).update(image.subarray(0, layout.unprotectedOffset)).digest();
	if (!crypto.timingSafeEqual(digest, tlv.value))
		fail("E_NOT_SEALABLE", "release body is not the plaintext its hash covers: it is already encrypted or it is corrupt");
	return { image, layout, keyBits };
}

/** What every device of one sealing run shares. K stays in this object only as long as the run. */
export class SealRun {
	readonly release: Release;
	/** Header and encrypted body: identical for every device of the run. */
	readonly shared: Buffer;
	readonly #protectedArea: Uint8Array;
	readonly #unprotected: Tlv[];
	#aesKey: Buffer;

	constructor(release: Release) {
		this.release = release;
		const { image, layout } = release;
		this.#aesKey = randomAesKey(release.keyBits);
		const body = new BodyCipher(this.#aesKey).process(image.subarray(layout.header.hdrSize, layout.tlvOffset), 0);
		this.shared = Buffer.concat([image.subarray(0, layout.header.hdrSize), body]);
		this.#protectedArea = image.subarray(layout.tlvOffset, layout.unprotectedOffset);
		this.#unprotected = layout.unprotectedTlvs.filter((t) => !ENC_TLV_TYPES.includes(t.type));
	}

	/** The key K, for handing to worker threads of this run. */
	get aesKey(): Buffer { return this.#aesKey; }

	encTlvFor(device: Key): { type: number; value: Buffer } {
		const kind: EncKind = encKindFor(device);
		return { type: encTlvType(kind), value: wrapKey(kind, device, this.#aesKey) };
	}

	/** Everything after the body for one device: protected TLVs, then the unprotected ones + ENC TLV. */
	tail(encTlv: { type: number; value: Uint8Array }): Buffer {
		return Buffer.concat([this.#protectedArea, encodeTlvArea([...this.#unprotected, encTlv], false)]);
	}

	sealFor(device: Key): Buffer {
		return Buffer.concat([this.shared, this.tail(this.encTlvFor(device))]);
	}

	/** Forget K once the run is over. */
	close(): void {
		this.#aesKey.fill(0);
	}
}
