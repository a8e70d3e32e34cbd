/** The device's own key: first-boot provisioning, the production interface, public-key export, rotation. */
export * from "./keys/encoding.js";
export * from "./keys/provision.js";
export * from "./keys/rotation.js";
export * from "./keys/rotation-format.js";
export { KeyStore } from "./keys/store.js";
