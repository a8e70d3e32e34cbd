/**
 * sealdrop/update — the device's update agent (agent.ts) and what it is built from: board
 * configuration, MCUboot trailer writes, the resume journal, the trusted-signer check.
 */
export * from "./agent.js";
export * from "./board.js";
export { maxImageSize, readSlotTrailer, setConfirmed, setPending } from "./bootutil.js";
export { checkSignature, sha256 } from "./signature.js";
export { hashImage, readImageLayout, readSlotImage, type SlotImage, type SlotReader } from "./slot-image.js";
