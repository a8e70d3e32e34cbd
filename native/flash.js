/*
 * Flash: the ECMA-419 `embedded:storage/flash` shape over a named partition (native/flash.c, the
 * platform part behind native/flash.h). Flash.open({path}) opens one; `new Flash()` throws.
 */
const OPEN = Symbol("Flash.open");
// the C functions, bound once at load (see native/sha256.js)
const create = native("xs_flash");
const operations = native("xs_flash_operations");
const read = native("xs_flash_read");
const write = native("xs_flash_write");
const eraseBlock = native("xs_flash_eraseBlock");
const status = native("xs_flash_status");
const close = native("xs_flash_close");

class Flash extends Native("xs_flash_destructor") {
	constructor(options, key) {
		if (key !== OPEN) throw new TypeError("use Flash.open(options)");
		super();
		create.call(this, options);
	}
	static open(options) {
		return new Flash(options, OPEN);
	}
	static get operations() { return operations.call(this); }
	read(byteLength, byteOffset) { return read.call(this, byteLength, byteOffset); }
	write(buffer, byteOffset, bufferOffset, length) { return write.call(this, buffer, byteOffset, bufferOffset, length); }
	eraseBlock(start, end) { return eraseBlock.call(this, start, end); }
	status() { return status.call(this); }
	close() { return close.call(this); }
	get format() {
		return "buffer";
	}
	set format(value) {
		if (value !== "buffer") throw new RangeError("flash: format must be \"buffer\"");
	}
}
Object.freeze(Flash.prototype);
Object.freeze(Flash);
export default Flash;
