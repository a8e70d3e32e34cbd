/* Base64 and CRC-16/XMODEM of SMP's serial framing in native code (native/serial-framing.c). */
export function crc16(bytes, offset, length, crc) { return native("xs_serialframing_crc16").call(undefined, bytes, offset, length, crc); }
export function base64Encode(bytes, offset, length, output, outputOffset) { return native("xs_serialframing_base64Encode").call(undefined, bytes, offset, length, output, outputOffset); }
export function base64Decode(text, offset, length, output, outputOffset) { return native("xs_serialframing_base64Decode").call(undefined, text, offset, length, output, outputOffset); }
export function find(bytes, offset, length, byte) { return native("xs_serialframing_find").call(undefined, bytes, offset, length, byte); }
