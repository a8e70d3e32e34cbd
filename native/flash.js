/*
 * Flash: the ECMA-419 `embedded:storage/flash` shape over a named partition (native/flash.c, the
 * platform part behind native/flash.h). Flash.open({path}) opens one; `new Flash()` throws.
 */
const OPEN = Symbol("Flash.open");

class Flash extends Native("xs_flash_destructor") {
	constructor(options, key) {
		if (key !== OPEN) throw new TypeError("use Flash.open(options)");
		super();
		native("xs_flash").call(this, options);
	}
	static open(options) {
		return new Flash(options, OPEN);
	}
	static get operations() { return native("xs_flash_operations").call(this); }
	read(byteLength, byteOffset) { return native("xs_flash_read").call(this, byteLength, byteOffset); }
	write(buffer, byteOffset) { return native("xs_flash_write").call(this, buffer, byteOffset); }
	eraseBlock(start, end) { return native("xs_flash_eraseBlock").call(this, start, end); }
	status() { return native("xs_flash_status").call(this); }
	close() { return native("xs_flash_close").call(this); }
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
