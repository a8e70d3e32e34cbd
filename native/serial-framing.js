/* Base64 and CRC-16/XMODEM of SMP's serial framing in native code (native/serial-framing.c).
   bindSerialFraming() binds the C functions once; the framing calls them as they are (no
   wrapper: a frame is ~20 lines, each several calls). Not bound at load: Node imports this
   module too (modules/transport/smp/serial-framing.ts falls back to JavaScript there) and has
   no `native`. */
export function bindSerialFraming() {
	return Object.freeze({
		crc16: native("xs_serialframing_crc16"),
		base64Encode: native("xs_serialframing_base64Encode"),
		base64Decode: native("xs_serialframing_base64Decode"),
		find: native("xs_serialframing_find"),
	});
}
