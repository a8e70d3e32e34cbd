/**
 * sealdrop/update — the device's update agent (agent.ts) and what it is built from: board
 * configuration, MCUboot trailer writes, the resume journal, the trusted-signer check.
 */
export * from "./update/agent.js";
export * from "./update/board.js";
export { maxImageSize, readSlotTrailer, setConfirmed, setPending } from "./update/bootutil.js";
export { sha256 } from "./base/hash.js";
export { checkSignature } from "./image/signature.js";
export { hashImage, readImageLayout, readSlotImage, type SlotImage, type SlotReader } from "./update/slot-image.js";
