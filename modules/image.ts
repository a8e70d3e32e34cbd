/**
 * sealdrop/image — the MCUboot image format as device code: header, versions, TLV areas,
 * trailer layout and a streaming parser. Uint8Array/DataView only, so it runs unchanged on XS.
 */
// errors and byte helpers live in the base layer (modules/base); re-exported for the package's
// users, who have always found them here
export * from "./base/errors.js";
export * from "./base/bytes.js";
export * from "./image/version.js";
export * from "./image/header.js";
export * from "./image/tlv.js";
export * from "./image/trailer.js";
export * from "./image/stream.js";
export * from "./image/image.js";
