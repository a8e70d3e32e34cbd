/* Streaming SHA-256 in native code (native/sha256.c). The C functions are bound once, at load:
   a call then evaluates no `native("xs_…")` name (on the Linux XS host each evaluation copies
   the string, which showed as garbage per chunk in the install). */
const create = native("xs_sha256");
const update = native("xs_sha256_update");
const digest = native("xs_sha256_digest");
const reset = native("xs_sha256_reset");
const close = native("xs_sha256_close");

class Sha256 extends Native("xs_sha256_destructor") {
	constructor() { super(); create.call(this); }
	update(data, offset, length) { return update.call(this, data, offset, length); }
	digest(output) { return digest.call(this, output); }
	reset() { return reset.call(this); }
	close() { return close.call(this); }
}
Object.freeze(Sha256.prototype);
export default Sha256;
