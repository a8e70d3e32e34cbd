declare module "sealdrop/native/crc32" {
	/**
	 * CRC-32 (IEEE 802.3, reflected: zlib's crc32) of `length` bytes of `bytes` at `offset`
	 * (relative to the view given; the rest of it by default), continuing from `crc` (0 by
	 * default); allocates nothing. A range outside the bytes throws RangeError.
	 */
	export type Crc32 = (bytes: ArrayBuffer | ArrayBufferView, offset?: number, length?: number, crc?: number) => number;
	/** The native function, bound: bind once, call it as is. Only on XS: in Node this throws (no `native`). */
	export function bindCrc32(): Crc32;
}
