/**
 * Globals Sealdrop's device modules use (transport/smp/cbor.ts, keys/encoding.ts, transport/http)
 * that @moddable/typings 5.6.0 does not declare as globals. The types are Moddable's own
 * (text/encoder, text/decoder); only their being global is declared here.
 * - Linux XS host: host/xs/main.c installs all four.
 * - Boards: Moddable ships TextEncoder/TextDecoder as the modules text/encoder and text/decoder
 *   and timers as the module timer; modules/app/web-globals.ts installs them as globals first
 *   thing in the device app (an app embedding Sealdrop imports it the same way).
 */
// eslint-disable-next-line no-var -- a global that may be replaced, as lib.dom.d.ts declares it
declare var TextEncoder: typeof import("text/encoder").default;
// eslint-disable-next-line no-var -- idem
declare var TextDecoder: typeof import("text/decoder").default;
/** A timer id as setTimeout returns it (XS hosts: a number). */
declare function setTimeout(callback: () => void, ms?: number): number;
declare function clearTimeout(id: number | undefined): void;
