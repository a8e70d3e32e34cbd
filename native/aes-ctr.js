/* AES-CTR with a seekable counter, key kept in native code (native/aes-ctr.c). */
class AesCtr extends Native("xs_aesctr_destructor") {
	constructor(options) { super(); native("xs_aesctr").call(this, options); }
	process(input, output, byteOffset) { return native("xs_aesctr_process").call(this, input, output, byteOffset); }
	close() { return native("xs_aesctr_close").call(this); }
}
Object.freeze(AesCtr.prototype);
export default AesCtr;
