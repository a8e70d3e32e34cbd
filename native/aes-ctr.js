/* AES-CTR with a seekable counter, key kept in native code (native/aes-ctr.c). The C functions
   are bound once, at load (see native/sha256.js). */
const create = native("xs_aesctr");
const close = native("xs_aesctr_close");

class AesCtr extends Native("xs_aesctr_destructor") {
	constructor(options) { super(); create.call(this, options); }
	close() { return close.call(this); }
}
// process() runs per piece of an install: the C function itself (see native/flash.js)
Object.defineProperty(AesCtr.prototype, "process", { value: native("xs_aesctr_process"), writable: true, configurable: true });
Object.freeze(AesCtr.prototype);
export default AesCtr;
