/*
 * The ECMA-419 host provider (embedded:provider/builtin) of boards/lin: Moddable's Linux
 * simulator has none, and the app needs only the console UART. Serial is Moddable's
 * embedded:io/serial for Linux (modules/io/serial/lin/serial.c), which opens a device path; the
 * console's path comes from SEALDROP_CONSOLE (boards/lin/system-lin.c).
 */
import Serial from "embedded:io/serial";

const device = Object.freeze({
	io: Object.freeze({ Serial }),
	Serial: Object.freeze({
		default: Object.freeze({ device: native("xs_sealdrop_console_device").call(undefined) }),
	}),
});

export default device;
