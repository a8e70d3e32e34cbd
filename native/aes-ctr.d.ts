declare module "sealdrop/native/aes-ctr" {
	export interface AesCtrOptions {
		/** A 16- or 32-byte AES key given by the caller (tests, interop). Device code gets its
		 * AesCtr from DeviceKey.unwrap instead, where the key never is a JS value. */
		key?: ArrayBuffer | ArrayBufferView;
		/** Initial counter block, 16 bytes; zero by default (MCUboot). */
		counter?: ArrayBuffer | ArrayBufferView;
	}
	/** AES-CTR (NIST SP 800-38A §6.5) in C through PSA Crypto; the key never leaves C. */
	export default class AesCtr {
		constructor(options?: AesCtrOptions);
		/**
		 * Encrypts or decrypts `input` (the same operation in CTR) into `output`, which may be
		 * `input` itself, as the bytes at `byteOffset` of the stream: any offset, in any order.
		 * With `inputOffset`, `length` and `outputOffset`: `length` bytes of `input` from
		 * `inputOffset` (to its end by default) into `output` from `outputOffset`, where subarray
		 * views would cost allocations. Allocates nothing.
		 */
		process(
			input: ArrayBuffer | ArrayBufferView, output: ArrayBuffer | ArrayBufferView, byteOffset: number,
			inputOffset?: number, length?: number, outputOffset?: number,
		): void;
		/** Destroys the key; any later call throws. */
		close(): void;
	}
}
