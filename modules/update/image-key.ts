/**
 * Opens a sealed image's AES key with one of the device's keys (ENC_EC256 with a P-256 key,
 * ENC_X25519 with an X25519 one), as MCUboot's boot_enc_load does with its built-in key. The
 * unwrap runs in C (sealdrop/native/device-key): no key material reaches JavaScript, only an
 * AES-CTR object keyed with it.
 */
import type AesCtr from "sealdrop/native/aes-ctr";
import DeviceKey from "sealdrop/native/device-key";
import { errorCode, fail, findEncTlv, nativeError, TlvType, type ImageLayout } from "sealdrop/image";

/**
 * Tries the key slots in order (during a rotation, the old key and the new one); says which slot
 * opened the image. `lastRotation` is the counter of the rotation that retired an earlier key (0:
 * never), so the refusal can say an image may be sealed for that key.
 */
export function openImageKey(layout: ImageLayout, keyBits: 128 | 256, slots: readonly number[], lastRotation = 0): { cipher: AesCtr; slot: number } {
	const enc = findEncTlv(layout);
	if (!enc) fail("E_ENC_TLV", "the image is flagged encrypted but carries no ENC TLV: a sealable release must be sealed for this device first");
	const kind = enc.type === TlvType.ENC_EC256 ? "ec256" : enc.type === TlvType.ENC_X25519 ? "x25519" : undefined;
	if (!kind) fail("E_UNSUPPORTED", `ENC TLV type 0x${enc.type.toString(16)} is not one a device key opens (ENC_EC256, ENC_X25519)`);
	const kinds: string[] = [];
	for (const slot of slots) {
		if (!DeviceKey.exists({ slot })) continue;
		const key = new DeviceKey({ slot });
		try {
			kinds.push(key.kind);
			if ((key.kind === "p256") !== (kind === "ec256")) continue;
			return { cipher: key.unwrap(enc.value, kind, keyBits), slot };
		} catch (e) {
			// not sealed for this key (its tag does not check): the next one, if any; anything else
			// (a malformed TLV, a key store that fails) is reported as what it is
			if (errorCode(e) !== "E_DEVICE_KEY") throw nativeError(e, "E_KEY_STORE", "the device key");
		} finally {
			key.close();
		}
	}
	if (!kinds.length) fail("E_DEVICE_KEY", "this device has no device key yet");
	if (!kinds.includes(kind === "ec256" ? "p256" : "x25519")) fail("E_DEVICE_KEY", `the image was sealed for a${kind === "ec256" ? " P-256" : "n X25519"} key; this device's key is ${kinds[0] === "p256" ? "P-256" : "X25519"}`);
	// after a rotation the retired key is destroyed, so no key here can tell its images from
	// another device's: the message says both
	fail("E_DEVICE_KEY", lastRotation
		? `the image's ENC TLV does not open with this device's key: sealed for the key this device retired at rotation ${lastRotation} (seal it again for the current key), or for another device`
		: "the image was sealed for another device (its ENC TLV does not open with this device's key)");
}
