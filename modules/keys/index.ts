/** The device's own key: first-boot provisioning, the production interface, public-key export, rotation. */
export * from "./encoding.js";
export * from "./provision.js";
export * from "./rotation.js";
export * from "./rotation-format.js";
export { KeyStore } from "./store.js";
