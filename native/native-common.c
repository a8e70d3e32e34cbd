/* Helpers shared by the native modules: PSA start-up, errors, buffers (zeroization is in
   device-key-unwrap.c, plain C). */
#include "sealdrop-native.h"
#include <stdarg.h>

void sealdropPsaInit(xsMachine* the)
{
	static int started = 0;
	if (started)
		return;
	psa_status_t status = psa_crypto_init();
	if (PSA_SUCCESS != status)
		sealdropPsaThrow(the, "psa_crypto_init", status);
	started = 1;
}

const char* sealdropPsaStatusName(psa_status_t status)
{
	switch (status) {
	case PSA_SUCCESS: return "PSA_SUCCESS";
	case PSA_ERROR_GENERIC_ERROR: return "PSA_ERROR_GENERIC_ERROR";
	case PSA_ERROR_NOT_SUPPORTED: return "PSA_ERROR_NOT_SUPPORTED";
	case PSA_ERROR_NOT_PERMITTED: return "PSA_ERROR_NOT_PERMITTED";
	case PSA_ERROR_BUFFER_TOO_SMALL: return "PSA_ERROR_BUFFER_TOO_SMALL";
	case PSA_ERROR_ALREADY_EXISTS: return "PSA_ERROR_ALREADY_EXISTS";
	case PSA_ERROR_DOES_NOT_EXIST: return "PSA_ERROR_DOES_NOT_EXIST";
	case PSA_ERROR_BAD_STATE: return "PSA_ERROR_BAD_STATE";
	case PSA_ERROR_INVALID_ARGUMENT: return "PSA_ERROR_INVALID_ARGUMENT";
	case PSA_ERROR_INSUFFICIENT_MEMORY: return "PSA_ERROR_INSUFFICIENT_MEMORY";
	case PSA_ERROR_INSUFFICIENT_STORAGE: return "PSA_ERROR_INSUFFICIENT_STORAGE";
	case PSA_ERROR_COMMUNICATION_FAILURE: return "PSA_ERROR_COMMUNICATION_FAILURE";
	case PSA_ERROR_STORAGE_FAILURE: return "PSA_ERROR_STORAGE_FAILURE";
	case PSA_ERROR_HARDWARE_FAILURE: return "PSA_ERROR_HARDWARE_FAILURE";
	case PSA_ERROR_CORRUPTION_DETECTED: return "PSA_ERROR_CORRUPTION_DETECTED";
	case PSA_ERROR_INSUFFICIENT_ENTROPY: return "PSA_ERROR_INSUFFICIENT_ENTROPY";
	case PSA_ERROR_INVALID_SIGNATURE: return "PSA_ERROR_INVALID_SIGNATURE";
	case PSA_ERROR_INVALID_PADDING: return "PSA_ERROR_INVALID_PADDING";
	case PSA_ERROR_INSUFFICIENT_DATA: return "PSA_ERROR_INSUFFICIENT_DATA";
	case PSA_ERROR_INVALID_HANDLE: return "PSA_ERROR_INVALID_HANDLE";
	default: return "PSA_ERROR_UNKNOWN";
	}
}

void sealdropThrowCode(xsMachine* the, const char* code, const char* format, ...)
{
	char message[160];
	va_list arguments;
	va_start(arguments, format);
	c_vsnprintf(message, sizeof(message), format, arguments);
	va_end(arguments);
	xsmcVars(2);
	xsVar(0) = xsString(message);
	xsVar(0) = xsNew1(xsGlobal, xsID("Error"), xsVar(0));
	xsVar(1) = xsString(code);
	xsmcSet(xsVar(0), xsID("code"), xsVar(1));
	xsThrow(xsVar(0));
}

void sealdropNeedArguments(xsMachine* the, int count, const char* code, const char* what)
{
	if (xsmcArgc >= count)
		return;
	if (code)
		sealdropThrowCode(the, code, "%s: %d arguments expected, %d given", what, count, (int)xsmcArgc);
	xsTypeError("%s: %d arguments expected, %d given", what, count, (int)xsmcArgc);
}

/* What a PSA status means for the caller: the entropy source, the key store, or a key that does
   not fit (a tag mismatch is the expected refusal of another device's image). */
static const char* psaCode(psa_status_t status)
{
	switch (status) {
	case PSA_ERROR_INSUFFICIENT_ENTROPY: return "E_ENTROPY";
	case PSA_ERROR_INVALID_SIGNATURE: return "E_DEVICE_KEY";
	default: return "E_KEY_STORE";
	}
}

void sealdropPsaThrow(xsMachine* the, const char* what, psa_status_t status)
{
	sealdropThrowCode(the, psaCode(status), "%s: %s (%d)", what, sealdropPsaStatusName(status), (int)status);
}

void sealdropGetBytes(xsMachine* the, xsSlot* slot, const uint8_t** data, size_t* size)
{
	void* pointer;
	xsUnsignedValue length;
	/* host buffers are refused: XS would take another host object's C data for bytes */
	if (xsReferenceType != xsmcTypeOf(*slot) || xsBufferRelocatable != xsmcGetBufferReadable(*slot, &pointer, &length))
		xsTypeError("expected an ArrayBuffer, Uint8Array or DataView");
	*data = pointer;
	*size = length;
}

void sealdropGetWritableBytes(xsMachine* the, xsSlot* slot, uint8_t** data, size_t* size)
{
	void* pointer;
	xsUnsignedValue length;
	if (xsReferenceType != xsmcTypeOf(*slot) || xsBufferRelocatable != xsmcGetBufferWritable(*slot, &pointer, &length))
		xsTypeError("expected an ArrayBuffer, Uint8Array or DataView");
	*data = pointer;
	*size = length;
}

/* Argument `index` as a byte count when given (not missing, not undefined): 1 with *value set,
   else 0. Only numbers are taken, so no JavaScript runs (no valueOf) while a caller holds a
   pointer into the XS heap. */
static int optionalCount(xsMachine* the, int index, size_t* value)
{
	if (index < 0 || xsmcArgc <= index)
		return 0;
	int type = xsmcTypeOf(xsArg(index));
	if (xsUndefinedType == type)
		return 0;
	double number;
	if (xsIntegerType == type)
		number = xsmcToInteger(xsArg(index));
	else if (xsNumberType == type)
		number = xsmcToNumber(xsArg(index));
	else
		xsTypeError("byte offsets and lengths must be numbers");
	if (!(number >= 0) || number > 4294967295.0 || number != (double)(uint32_t)number)
		xsRangeError("byte offsets and lengths must be integers from 0 to 2^32-1");
	*value = (size_t)number;
	return 1;
}

void sealdropByteRange(xsMachine* the, int offsetIndex, int lengthIndex, size_t size, size_t* offset, size_t* length)
{
	size_t from = 0, count;
	optionalCount(the, offsetIndex, &from);
	if (from > size)
		xsRangeError("offset %u is past the %u bytes given", (unsigned)from, (unsigned)size);
	if (!optionalCount(the, lengthIndex, &count))
		count = size - from;
	else if (count > size - from)
		xsRangeError("%u bytes from offset %u run past the %u bytes given", (unsigned)count, (unsigned)from, (unsigned)size);
	*offset = from;
	*length = count;
}
