declare module "sealdrop/native/sha256" {
	/** Streaming SHA-256 (FIPS 180-4) computed in C through PSA Crypto. */
	export default class Sha256 {
		constructor();
		/**
		 * Adds bytes to the hash (`length` bytes of `data` from `offset` when given, where a
		 * subarray view would cost an allocation); allocates nothing.
		 */
		update(data: ArrayBuffer | ArrayBufferView, offset?: number, length?: number): void;
		/** The 32-byte hash (into `output` when given, which is then returned); the object starts over. */
		digest(): ArrayBuffer;
		digest<T extends ArrayBuffer | ArrayBufferView>(output: T): T;
		/** Forgets the bytes added so far. */
		reset(): void;
		/** Releases the native state; any later call throws. */
		close(): void;
	}
}
