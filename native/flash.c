/*
 * Flash: the ECMA-419 `embedded:storage/flash` shape over a partition (native/flash.js), the xsmc
 * glue shared by every platform. The platform part sits behind native/flash.h (Linux host:
 * native/lin/flash-lin.c).
 *
 * Everything JavaScript can pass is checked here before the backend sees it, and fails as a JS
 * error: TypeError for a wrong type (a non-number offset, a non-buffer, no options), RangeError
 * for a value out of range (negative or fractional numbers, out of bounds, misaligned, an empty
 * erase range), Error for a closed handle or a read-only one (code E_STATE) and for a failed
 * operation (code E_FLASH; the backend's words: "write needs an erase ...", "power cut ...").
 */
#include "sealdrop-native.h"
#include "flash.h"

typedef struct {
	SealdropFlashArea area;
	uint8_t readOnly;
} xsFlashRecord, *xsFlash;

void xs_flash_destructor(void* data)
{
	xsFlash flash = data;
	if (flash) {
		sealdropFlashAreaClose(&flash->area);
		c_free(flash);
	}
}

/* The open record of this; throws if this is no Flash or is closed. */
static xsFlash getFlash(xsMachine* the)
{
	xsFlash flash = xsmcGetHostDataValidate(xsThis, xs_flash_destructor);
	if (!flash)
		sealdropThrowCode(the, "E_STATE", "flash: closed");
	return flash;
}

/* Throws the backend's failure in full: xsUnknownError() and co. cut messages at 128 bytes, too
   short for a layout file's path and what is wrong in it. */
static void fail(xsMachine* the, int result, const char* what) XS_FUNCTION_NORETURN;
static void fail(xsMachine* the, int result, const char* what)
{
	char message[640];
	c_snprintf(message, sizeof(message), "flash.%s: %s", what, sealdropFlashAreaError());
	xsmcVars(2);
	xsVar(0) = xsString(message);
	xsVar(0) = xsNew1(xsGlobal, kSealdropFlashInvalid == result ? xsID("RangeError") : xsID("Error"), xsVar(0));
	/* the flash failing (not a call that was wrong): E_FLASH, as SealdropError's code */
	if (kSealdropFlashInvalid != result) {
		xsVar(1) = xsString("E_FLASH");
		xsmcSet(xsVar(0), xsID("code"), xsVar(1));
	}
	xsThrow(xsVar(0));
}

/* Argument `index` as an integer in [0, 2^32); never runs JavaScript (no valueOf). */
static uint32_t toUnsigned(xsMachine* the, int index, const char* what, const char* name)
{
	if (xsmcArgc <= index)
		xsTypeError("flash.%s: %s is missing", what, name);
	int type = xsmcTypeOf(xsArg(index));
	if (xsIntegerType == type) {
		xsIntegerValue value = xsmcToInteger(xsArg(index));
		if (value < 0)
			xsRangeError("flash.%s: %s %d is negative", what, name, (int)value);
		return (uint32_t)value;
	}
	if (xsNumberType != type)
		xsTypeError("flash.%s: %s must be a number", what, name);
	double value = xsmcToNumber(xsArg(index));
	if (!(value >= 0) || value > 4294967295.0 || value != (double)(uint32_t)value)
		xsRangeError("flash.%s: %s must be an integer from 0 to 2^32-1", what, name);
	return (uint32_t)value;
}

/* The bytes of argument `index` (native-common.c refuses anything but an ArrayBuffer, 8-bit typed
   array or DataView). The pointer is valid until the XS heap next allocates. */
static void getBuffer(xsMachine* the, int index, int writable, void** data, xsUnsignedValue* size, const char* what)
{
	if (xsmcArgc <= index)
		xsTypeError("flash.%s: expected an ArrayBuffer, Uint8Array or DataView", what);
	size_t length;
	if (writable)
		sealdropGetWritableBytes(the, &xsArg(index), (uint8_t**)data, &length);
	else
		sealdropGetBytes(the, &xsArg(index), (const uint8_t**)data, &length);
	*size = (xsUnsignedValue)length;
}

static void checkRange(xsMachine* the, xsFlash flash, uint32_t offset, uint32_t length, const char* what)
{
	if (offset > flash->area.size || length > flash->area.size - offset)
		xsRangeError("flash.%s: %u bytes at %u are outside the %u-byte partition", what, (unsigned)length, (unsigned)offset, (unsigned)flash->area.size);
}

static void checkWritable(xsMachine* the, xsFlash flash, const char* what)
{
	if (flash->readOnly)
		sealdropThrowCode(the, "E_STATE", "flash.%s: read-only (opened with mode \"r\")", what);
}

/* new Flash(options, key) from Flash.open(options): options {path, mode?: "r" | "r+"}. */
void xs_flash(xsMachine* the)
{
	if (xsmcGetHostDataValidate(xsThis, xs_flash_destructor))
		sealdropThrowCode(the, "E_STATE", "flash: open already");
	if (xsmcArgc < 1 || xsReferenceType != xsmcTypeOf(xsArg(0)))
		xsTypeError("flash.open: expected options {path}");
	xsmcVars(1);
	uint8_t readOnly = 0;
	xsmcGet(xsVar(0), xsArg(0), xsID_mode); /* getters may run JS: before anything is taken */
	int type = xsmcTypeOf(xsVar(0));
	if (xsUndefinedType != type) {
		const char* mode = (xsStringType == type || xsStringXType == type) ? xsmcToString(xsVar(0)) : "";
		if (!c_strcmp(mode, "r"))
			readOnly = 1;
		else if (c_strcmp(mode, "r+"))
			xsRangeError("flash.open: mode must be \"r\" or \"r+\"");
	}
	xsmcGet(xsVar(0), xsArg(0), xsID_path);
	type = xsmcTypeOf(xsVar(0));
	if (xsStringType != type && xsStringXType != type)
		xsTypeError("flash.open: options.path must be a string (a partition name)");
	char name[64];
	const char* path = xsmcToString(xsVar(0));
	size_t length = c_strlen(path);
	if (!length || length >= sizeof(name))
		xsRangeError("flash.open: no partition \"%.63s\"", path);
	c_memcpy(name, path, length + 1);

	xsFlash flash = c_calloc(1, sizeof(xsFlashRecord));
	if (!flash)
		sealdropThrowCode(the, "E_FLASH", "flash.open: no memory");
	int result = sealdropFlashAreaOpen(name, &flash->area);
	if (result) {
		c_free(flash);
		fail(the, result, "open");
	}
	flash->readOnly = readOnly;
	xsmcSetHostData(xsThis, flash);
}

void xs_flash_close(xsMachine* the)
{
	xsFlash flash = xsmcGetHostDataValidate(xsThis, xs_flash_destructor);
	if (!flash)
		return; /* closed already */
	xsmcSetHostData(xsThis, NULL);
	xs_flash_destructor(flash);
}

/* read(byteLength, byteOffset) → ArrayBuffer; read(buffer, byteOffset) → bytes read (its length);
   read(buffer, byteOffset, bufferOffset, length) → `length` bytes into buffer from bufferOffset
   (as write takes them: where a subarray view would cost an allocation) */
void xs_flash_read(xsMachine* the)
{
	xsFlash flash = getFlash(the);
	uint32_t offset = toUnsigned(the, 1, "read", "byteOffset");
	int type = xsmcArgc > 0 ? xsmcTypeOf(xsArg(0)) : xsUndefinedType;
	void* data;
	uint32_t length;
	if (xsIntegerType == type || xsNumberType == type) {
		length = toUnsigned(the, 0, "read", "byteLength");
		checkRange(the, flash, offset, length, "read");
		xsmcSetArrayBuffer(xsResult, NULL, length);
		data = xsmcToArrayBuffer(xsResult);
	}
	else {
		xsUnsignedValue size;
		getBuffer(the, 0, 1, &data, &size, "read");
		size_t from, count;
		sealdropByteRange(the, 2, 3, size, &from, &count);
		data = (uint8_t*)data + from;
		length = (uint32_t)count;
		if (count != length)
			xsRangeError("flash.read: buffer too large");
		checkRange(the, flash, offset, length, "read");
		xsmcSetInteger(xsResult, (xsIntegerValue)length);
	}
	if (!length)
		return;
	int result = sealdropFlashAreaRead(&flash->area, offset, data, length);
	if (result)
		fail(the, result, "read");
}

/* write(buffer, byteOffset): offset and length multiples of writeAlign; NOR rules apply. */
/* write(buffer, byteOffset, bufferOffset = 0, length = to the end): `length` bytes of buffer from
   bufferOffset, programmed at byteOffset */
void xs_flash_write(xsMachine* the)
{
	xsFlash flash = getFlash(the);
	uint32_t offset = toUnsigned(the, 1, "write", "byteOffset");
	void* data;
	xsUnsignedValue size;
	getBuffer(the, 0, 0, &data, &size, "write");
	size_t from, count;
	sealdropByteRange(the, 2, 3, size, &from, &count);
	data = (uint8_t*)data + from;
	size = (xsUnsignedValue)count;
	checkWritable(the, flash, "write");
	uint32_t length = (uint32_t)size;
	if (size != length)
		xsRangeError("flash.write: buffer too large");
	checkRange(the, flash, offset, length, "write");
	uint32_t align = flash->area.writeAlign;
	if (offset % align)
		xsRangeError("flash.write: byteOffset %u is not a multiple of writeAlign %u", (unsigned)offset, (unsigned)align);
	if (length % align)
		xsRangeError("flash.write: length %u is not a multiple of writeAlign %u", (unsigned)length, (unsigned)align);
	if (!length)
		return;
	int result = sealdropFlashAreaWrite(&flash->area, offset, data, length);
	if (result)
		fail(the, result, "write");
}

/* eraseBlock(start, end = start + 1): blocks start .. end - 1 */
void xs_flash_eraseBlock(xsMachine* the)
{
	xsFlash flash = getFlash(the);
	uint32_t blocks = flash->area.size / flash->area.blockLength;
	uint32_t start = toUnsigned(the, 0, "eraseBlock", "start");
	uint64_t end = (uint64_t)start + 1;
	if (xsmcArgc > 1 && xsUndefinedType != xsmcTypeOf(xsArg(1)))
		end = toUnsigned(the, 1, "eraseBlock", "end");
	checkWritable(the, flash, "eraseBlock");
	if (end <= start)
		xsRangeError("flash.eraseBlock: end %u is not after start %u", (unsigned)end, (unsigned)start);
	if (end > blocks)
		xsRangeError("flash.eraseBlock: blocks %u to %u are outside the partition's %u blocks", (unsigned)start, (unsigned)(end - 1), (unsigned)blocks);
	uint32_t blockLength = flash->area.blockLength;
	int result = sealdropFlashAreaErase(&flash->area, start * blockLength, (uint32_t)(end - start) * blockLength);
	if (result)
		fail(the, result, "eraseBlock");
}

/* status() → {size, blockLength, blocks, writeAlign, eraseValue} */
void xs_flash_status(xsMachine* the)
{
	xsFlash flash = getFlash(the);
	SealdropFlashArea area = flash->area;
	xsmcVars(1);
	xsmcSetNewObject(xsResult);
	xsmcSetNumber(xsVar(0), area.size);
	xsmcSet(xsResult, xsID_size, xsVar(0));
	xsmcSetNumber(xsVar(0), area.blockLength);
	xsmcSet(xsResult, xsID_blockLength, xsVar(0));
	xsmcSetNumber(xsVar(0), area.size / area.blockLength);
	xsmcSet(xsResult, xsID_blocks, xsVar(0));
	xsmcSetNumber(xsVar(0), area.writeAlign);
	xsmcSet(xsResult, xsID_writeAlign, xsVar(0));
	xsmcSetInteger(xsVar(0), area.eraseValue);
	xsmcSet(xsResult, xsID_eraseValue, xsVar(0));
}

/* Flash.operations: write/erase operations that reached the backend (native/flash.h). */
void xs_flash_operations(xsMachine* the)
{
	xsmcSetNumber(xsResult, sealdropFlashOperations());
}
