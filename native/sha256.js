/* Streaming SHA-256 in native code (native/sha256.c). */
class Sha256 extends Native("xs_sha256_destructor") {
	constructor() { super(); native("xs_sha256").call(this); }
	update(data) { return native("xs_sha256_update").call(this, data); }
	digest(output) { return native("xs_sha256_digest").call(this, output); }
	reset() { return native("xs_sha256_reset").call(this); }
	close() { return native("xs_sha256_close").call(this); }
}
Object.freeze(Sha256.prototype);
export default Sha256;
