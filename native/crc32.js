/* CRC-32 of a range in native code (native/crc32.c). A function that binds it rather than a
   binding made at load: Node imports this module too (modules/base/crc32.ts falls back to
   JavaScript there) and has no `native`; the caller binds once and calls the C function as is. */
export function bindCrc32() { return native("xs_crc32"); }
