/**
 * sealdrop/transport/http — the device pulls its sealed image over HTTP with Range resume
 * (pull.ts), through a small client interface (client.ts): Moddable's HTTP client on devices
 * (moddable.ts), a bridge to a host-side client in the simulator (bridge.ts).
 */
export * from "./client.js";
export * from "./pull.js";
export { BridgeClient, dataFrame, encodeFrame, frameJson, FrameReader, jsonFrame, type Frame } from "./bridge.js";
export { ModdableHttpClient, type ModdableRequest, type ModdableRequestClass } from "./moddable.js";
