declare module "sealdrop/native/device-key" {
	import type AesCtr from "sealdrop/native/aes-ctr";

	export type DeviceKeyKind = "p256" | "x25519";
	export interface DeviceKeyOptions {
		/** Key slot 0–3 (0 by default); rotation keeps the old key in one slot, the new in another. */
		slot?: number;
	}

	/**
	 * The device's own key pair as a persistent PSA key that cannot be exported. Its only use is
	 * opening MCUboot ENC_EC256 / ENC_X25519 TLVs inside native code.
	 */
	export default class DeviceKey {
		/** Opens the stored key of a slot; throws if there is none. */
		constructor(options?: DeviceKeyOptions);
		static exists(options?: DeviceKeyOptions): boolean;
		/** Makes a key from the health-checked platform entropy; throws if the slot holds one. */
		static generate(kind: DeviceKeyKind, options?: DeviceKeyOptions): DeviceKey;
		/** Factory injection: a raw 32-byte private key (P-256 scalar or X25519 key); refuses weak or malformed keys. */
		static import(kind: DeviceKeyKind, privateKey: ArrayBuffer | ArrayBufferView, options?: DeviceKeyOptions): DeviceKey;
		readonly kind: DeviceKeyKind;
		/** 65 bytes 04‖X‖Y (P-256) or 32 bytes (X25519). */
		publicKey(): ArrayBuffer;
		/** Whether PSA would export the private key: false for every key made here. */
		isExportable(): boolean;
		/**
		 * ECDH with the TLV's ephemeral key, HKDF-SHA256 (info "MCUBoot_ECIES_v1"), the HMAC
		 * check in constant time and the key decryption; returns an AesCtr holding the image key.
		 * Throws if the TLV was made for another key or altered.
		 */
		unwrap(encTlv: ArrayBuffer | ArrayBufferView, kind: "ec256" | "x25519", keyBits: 128 | 256): AesCtr;
		/**
		 * HMAC-SHA256 over `message` keyed by HKDF-SHA256 (info "Sealdrop_rotation_v1") of
		 * ECDH(this key, peerPublicKey): a key rotation's proof that the answer comes from the holder
		 * of this key. `peerPublicKey` is of this key's kind (65 bytes 04‖X‖Y or 32 bytes).
		 */
		prove(peerPublicKey: ArrayBuffer | ArrayBufferView, message: ArrayBuffer | ArrayBufferView): ArrayBuffer;
		/** Erases the stored key for good. */
		destroy(): void;
		close(): void;
	}
}
