/* AES-CTR with a seekable counter, key kept in native code (native/aes-ctr.c). The C functions
   are bound once, at load (see native/sha256.js). */
const create = native("xs_aesctr");
const processBytes = native("xs_aesctr_process");
const close = native("xs_aesctr_close");

class AesCtr extends Native("xs_aesctr_destructor") {
	constructor(options) { super(); create.call(this, options); }
	process(input, output, byteOffset, inputOffset, length, outputOffset) {
		return processBytes.call(this, input, output, byteOffset, inputOffset, length, outputOffset);
	}
	close() { return close.call(this); }
}
Object.freeze(AesCtr.prototype);
export default AesCtr;
