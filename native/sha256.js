/* Streaming SHA-256 in native code (native/sha256.c). The C functions are bound once, at load:
   a call then evaluates no `native("xs_…")` name (on the Linux XS host each evaluation copies
   the string, which showed as garbage per chunk in the install). */
const create = native("xs_sha256");
const close = native("xs_sha256_close");

class Sha256 extends Native("xs_sha256_destructor") {
	constructor() { super(); create.call(this); }
	close() { return close.call(this); }
}
// update/digest/reset run per block of an install: the C functions themselves (see native/flash.js)
Object.defineProperties(Sha256.prototype, {
	update: { value: native("xs_sha256_update"), writable: true, configurable: true },
	digest: { value: native("xs_sha256_digest"), writable: true, configurable: true },
	reset: { value: native("xs_sha256_reset"), writable: true, configurable: true },
});
Object.freeze(Sha256.prototype);
export default Sha256;
