/**
 * sealdrop/image — the MCUboot image format as device code: header, versions, TLV areas,
 * trailer layout and a streaming parser. Uint8Array/DataView only, so it runs unchanged on XS.
 */
export * from "./errors.js";
export * from "./bytes.js";
export * from "./version.js";
export * from "./header.js";
export * from "./tlv.js";
export * from "./trailer.js";
export * from "./stream.js";
export * from "./image.js";
