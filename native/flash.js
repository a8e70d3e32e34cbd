/*
 * Flash: the ECMA-419 `embedded:storage/flash` shape over a named partition (native/flash.c, the
 * platform part behind native/flash.h). Flash.open({path}) opens one; `new Flash()` throws.
 */
const OPEN = Symbol("Flash.open");
// the C functions, bound once at load (see native/sha256.js)
const create = native("xs_flash");
const operations = native("xs_flash_operations");
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
	close() { return close.call(this); }
	get format() {
		return "buffer";
	}
	set format(value) {
		if (value !== "buffer") throw new RangeError("flash: format must be \"buffer\"");
	}
}
// The calls an install makes per block are the C functions themselves, not JavaScript methods
// that call them: a wrapper's frame and its Function.prototype.call cost more than the write.
// The C side checks its argument count (no wrapper fills in missing arguments).
Object.defineProperties(Flash.prototype, {
	read: { value: native("xs_flash_read"), writable: true, configurable: true },
	write: { value: native("xs_flash_write"), writable: true, configurable: true },
	eraseBlock: { value: native("xs_flash_eraseBlock"), writable: true, configurable: true },
	status: { value: native("xs_flash_status"), writable: true, configurable: true },
});
Object.freeze(Flash.prototype);
Object.freeze(Flash);
export default Flash;
