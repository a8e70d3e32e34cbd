/**
 * sealdrop/transport/http — the device pulls its sealed image over HTTP with Range resume
 * (pull.ts), through a small client interface (client.ts): Moddable's HTTP client on devices
 * (moddable.ts), a bridge to a host-side client in the simulator (bridge.ts).
 */
export * from "./http/client.js";
export * from "./http/pull.js";
export { BridgeClient, dataFrame, encodeFrame, frameJson, FrameReader, jsonFrame, type Frame } from "./http/bridge.js";
export { ModdableHttpClient, type ModdableRequest, type ModdableRequestClass } from "./http/moddable.js";
