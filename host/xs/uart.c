/*
 * The device's console UART on the Linux host: stdin and stdout, binary-safe, with the ECMA-419
 * Serial shape of embedded:io/serial (host/xs/serial.ts): onReadable(count), read(), write(),
 * close(). One instance at a time, as there is one console UART.
 */
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>

typedef struct {
	xsSlot self;      /* the Serial object, kept alive while open */
	xsSlot onReadable;
	int open;
} Uart;

static Uart gUart;

int hostUartPollFd(xsMachine* the)
{
	(void)the;
	return gUart.open && xsTypeOf(gUart.onReadable) != xsUndefinedType ? STDIN_FILENO : -1;
}

static int available(void)
{
	int count = 0;
	if (ioctl(STDIN_FILENO, FIONREAD, &count))
		return 0;
	return count;
}

void hostUartReadable(xsMachine* the)
{
	int count = available();
	xsBeginHost(the);
	{
		xsVars(2);
		if (count == 0) {
			/* readable with nothing to read: end of input, the host side closed the line */
			gUart.onReadable = xsUndefined;
		}
		else {
			xsVar(0) = gUart.self;
			xsVar(1) = gUart.onReadable;
			xsTry {
				xsCall2(xsVar(1), xsID("call"), xsVar(0), xsInteger(count));
			}
			xsCatch {
				xsVar(0) = xsException;
				the->exitStatus = 1;
				hostReportError(the, &xsVar(0), "uncaught exception");
			}
		}
	}
	xsEndHost(the);
}

void xs_uart_destructor(void* data)
{
	(void)data;
}

void xs_uart(xsMachine* the)
{
	if (gUart.open)
		sealdropThrowCode(the, "E_STATE", "the UART is already open");
	xsVars(1);
	gUart.onReadable = xsUndefined;
	if (xsToInteger(xsArgc) > 0 && xsTypeOf(xsArg(0)) == xsReferenceType) {
		xsVar(0) = xsGet(xsArg(0), xsID("onReadable"));
		if (xsTypeOf(xsVar(0)) != xsUndefinedType)
			gUart.onReadable = xsVar(0);
	}
	gUart.self = xsThis;
	xsRemember(gUart.self);
	xsRemember(gUart.onReadable);
	gUart.open = 1;
	xsSetHostData(xsThis, &gUart);
}

static void checkOpen(xsMachine* the)
{
	if (!gUart.open || xsGetHostData(xsThis) != &gUart)
		sealdropThrowCode(the, "E_STATE", "closed");
}

/* read() / read(count): a new ArrayBuffer of what waits (up to count); read(buffer): fills an
   ArrayBuffer or view with what waits, up to its length, and returns the count (ECMA-419, as
   Moddable's serial on ESP32 and Zephyr has it). Undefined when nothing waits. */
void xs_uart_read(xsMachine* the)
{
	checkOpen(the);
	int count = available();
	int into = xsToInteger(xsArgc) > 0 && xsTypeOf(xsArg(0)) == xsReferenceType;
	if (!into && xsToInteger(xsArgc) > 0 && xsTypeOf(xsArg(0)) != xsUndefinedType) {
		int wanted = xsToInteger(xsArg(0));
		if (wanted < 0)
			xsRangeError("negative length");
		if (wanted < count)
			count = wanted;
	}
	if (count == 0)
		return;
	uint8_t* data;
	if (into) {
		uint8_t* writable;
		size_t size;
		sealdropGetWritableBytes(the, &xsArg(0), &writable, &size);
		if (size < (size_t)count)
			count = (int)size;
		if (count == 0)
			return;
		data = writable;
	}
	else {
		xsResult = xsArrayBuffer(NULL, count);
		data = xsToArrayBuffer(xsResult);
	}
	ssize_t got = read(STDIN_FILENO, data, count);
	if (got < 0)
		sealdropThrowCode(the, "E_IO", "read failed: %s", strerror(errno));
	if (into)
		xsResult = xsInteger((int)got);
	else if (got < count)
		xsResult = xsCall2(xsResult, xsID("slice"), xsInteger(0), xsInteger((int)got));
}

void xs_uart_write(xsMachine* the)
{
	checkOpen(the);
	xsIntegerValue length = 0;
	if (xsIsInstanceOf(xsArg(0), xsArrayBufferPrototype))
		length = xsGetArrayBufferLength(xsArg(0));
	else
		xsTypeError("write takes an ArrayBuffer");
	const uint8_t* data = xsToArrayBuffer(xsArg(0));
	xsIntegerValue done = 0;
	while (done < length) {
		ssize_t n = write(STDOUT_FILENO, data + done, length - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			sealdropThrowCode(the, "E_IO", "write failed: %s", strerror(errno));
		}
		done += (xsIntegerValue)n;
		data = xsToArrayBuffer(xsArg(0)); /* the GC may move buffers between calls */
	}
}

void xs_uart_close(xsMachine* the)
{
	if (!gUart.open || xsGetHostData(xsThis) != &gUart)
		return;
	xsForget(gUart.self);
	xsForget(gUart.onReadable);
	gUart.open = 0;
	xsSetHostData(xsThis, NULL);
}
