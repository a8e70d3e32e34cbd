/**
 * `embedded:io/serial` on the Linux XS host: the device's console UART on stdin/stdout
 * (host/xs/uart.c), in the ECMA-419 Serial shape Moddable's boards give.
 */
export interface SerialOptions {
	/** Called with the number of bytes waiting to be read. */
	onReadable?: (this: Serial, count: number) => void;
}

// bound once: each native("…") evaluation on the host copies the name (see native/sha256.js)
const uartRead = native("xs_uart_read");
const uartWrite = native("xs_uart_write");

export default class Serial extends Native("xs_uart_destructor") {
	constructor(options: SerialOptions = {}) {
		super();
		native("xs_uart").call(this, options);
	}
	/**
	 * Up to `count` bytes (all that wait when omitted) in a new ArrayBuffer; or, given a buffer,
	 * what waits read into it up to its length, and the count. Undefined when nothing waits.
	 */
	read(count?: number): ArrayBuffer | undefined;
	read(buffer: ArrayBuffer | ArrayBufferView): number | undefined;
	read(what?: number | ArrayBuffer | ArrayBufferView): ArrayBuffer | number | undefined {
		return uartRead.call(this, what) as ArrayBuffer | number | undefined;
	}
	write(data: ArrayBuffer): void {
		uartWrite.call(this, data);
	}
	close(): void {
		native("xs_uart_close").call(this);
	}
	get format(): "buffer" {
		return "buffer";
	}
}
