declare module "sealdrop/native/serial-framing" {
	type Bytes = ArrayBuffer | ArrayBufferView;
	/**
	 * The bulk work of SMP's serial framing in C (modules/transport/smp/serial-framing.ts uses it on
	 * XS). Each function reads `length` bytes at `offset` of `bytes` (offset and length relative to
	 * the view given) and writes at `outputOffset` of `output`, allocating nothing. A range outside
	 * its buffer, or an argument missing, throws an Error with code E_RANGE.
	 */
	export interface SerialFramingNative {
		/** CRC-16/XMODEM (poly 0x1021, init 0, no reflection, no final XOR) of the range, continuing from `crc` (0 to start). */
		crc16(bytes: Bytes, offset: number, length: number, crc: number): number;
		/** The index (from the view's start) of the first `byte` in the range, or -1: a newline in a UART's bytes. */
		find(bytes: Bytes, offset: number, length: number, byte: number): number;
		/** Base64 (RFC 4648 §4, `=` padding) of the range as ASCII into `output`; returns the characters written. */
		base64Encode(bytes: Bytes, offset: number, length: number, output: Bytes, outputOffset: number): number;
		/**
		 * Decodes base64 text (padding optional) into `output`: the bytes written, -1 when the text is
		 * not base64, -2 when the bytes do not fit; nothing is written unless it returns ≥ 0.
		 */
		base64Decode(text: Bytes, offset: number, length: number, output: Bytes, outputOffset: number): number;
	}
	/** The C functions, bound: bind once and call them as they are. Only on XS: in Node this throws (no `native`). */
	export function bindSerialFraming(): SerialFramingNative;
}
