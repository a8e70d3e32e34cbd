/**
 * `embedded:io/serial` on the Linux XS host: the device's console UART on stdin/stdout
 * (host/xs/uart.c), in the ECMA-419 Serial shape Moddable's boards give.
 */
export interface SerialOptions {
	/** Called with the number of bytes waiting to be read. */
	onReadable?: (this: Serial, count: number) => void;
}

export default class Serial extends Native("xs_uart_destructor") {
	constructor(options: SerialOptions = {}) {
		super();
		native("xs_uart").call(this, options);
	}
	/** Up to `count` bytes (all that wait when omitted), or undefined when nothing waits. */
	read(count?: number): ArrayBuffer | undefined {
		return native("xs_uart_read").call(this, count) as ArrayBuffer | undefined;
	}
	write(data: ArrayBuffer): void {
		native("xs_uart_write").call(this, data);
	}
	close(): void {
		native("xs_uart_close").call(this);
	}
	get format(): "buffer" {
		return "buffer";
	}
}
