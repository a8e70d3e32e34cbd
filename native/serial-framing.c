/*
 * The bulk work of SMP's serial framing (modules/transport/smp/serial-framing.ts; MCUmgr
 * smp-protocol.md §6, Zephyr subsys/mgmt/mcumgr/transport/src/serial_util.c): base64 (RFC 4648
 * §4, the standard alphabet with `=` padding) and CRC-16/XMODEM (poly 0x1021, init 0, no
 * reflection, no final XOR). Every function works on (buffer, offset, length) of the caller's
 * buffers and allocates nothing, so a device decodes its UART straight into its frame buffer.
 *
 * The Moddable SDK has base64 (modules/data/base64: strings in, a new ArrayBuffer or String out)
 * and CRC (modules/data/crc: a host object over a whole buffer) of its own; neither takes a range
 * of a buffer or writes into one, so each line would cost views and results on the heap.
 */
#include "sealdrop-native.h"
#include <string.h>

/* (buffer, offset, length) at argument `at`: the bytes, bounds-checked. */
static const uint8_t* readRange(xsMachine* the, int at, size_t* length)
{
	const uint8_t* data;
	size_t size;
	sealdropGetBytes(the, &xsArg(at), &data, &size);
	xsIntegerValue offset = xsmcToInteger(xsArg(at + 1)), count = xsmcToInteger(xsArg(at + 2));
	if (offset < 0 || count < 0 || (size_t)offset > size || (size_t)count > size - (size_t)offset)
		sealdropThrowCode(the, "E_RANGE", "%d bytes at %d run past a %u-byte buffer", (int)count, (int)offset, (unsigned)size);
	*length = (size_t)count;
	return data + offset;
}

/* (buffer, offset) at argument `at`: where to write and the room left there. */
static uint8_t* writeRange(xsMachine* the, int at, size_t* room)
{
	uint8_t* data;
	size_t size;
	sealdropGetWritableBytes(the, &xsArg(at), &data, &size);
	xsIntegerValue offset = xsmcToInteger(xsArg(at + 1));
	if (offset < 0 || (size_t)offset > size)
		sealdropThrowCode(the, "E_RANGE", "offset %d is outside a %u-byte buffer", (int)offset, (unsigned)size);
	*room = size - (size_t)offset;
	return data + offset;
}

/* CRC-16/XMODEM, a byte at a time (the table is crc16Xmodem's bit loop run on each byte value). */
static const uint16_t crcTable[256] = {
	0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7, 0x8108, 0x9129, 0xa14a, 0xb16b, 0xc18c, 0xd1ad, 0xe1ce, 0xf1ef,
	0x1231, 0x0210, 0x3273, 0x2252, 0x52b5, 0x4294, 0x72f7, 0x62d6, 0x9339, 0x8318, 0xb37b, 0xa35a, 0xd3bd, 0xc39c, 0xf3ff, 0xe3de,
	0x2462, 0x3443, 0x0420, 0x1401, 0x64e6, 0x74c7, 0x44a4, 0x5485, 0xa56a, 0xb54b, 0x8528, 0x9509, 0xe5ee, 0xf5cf, 0xc5ac, 0xd58d,
	0x3653, 0x2672, 0x1611, 0x0630, 0x76d7, 0x66f6, 0x5695, 0x46b4, 0xb75b, 0xa77a, 0x9719, 0x8738, 0xf7df, 0xe7fe, 0xd79d, 0xc7bc,
	0x48c4, 0x58e5, 0x6886, 0x78a7, 0x0840, 0x1861, 0x2802, 0x3823, 0xc9cc, 0xd9ed, 0xe98e, 0xf9af, 0x8948, 0x9969, 0xa90a, 0xb92b,
	0x5af5, 0x4ad4, 0x7ab7, 0x6a96, 0x1a71, 0x0a50, 0x3a33, 0x2a12, 0xdbfd, 0xcbdc, 0xfbbf, 0xeb9e, 0x9b79, 0x8b58, 0xbb3b, 0xab1a,
	0x6ca6, 0x7c87, 0x4ce4, 0x5cc5, 0x2c22, 0x3c03, 0x0c60, 0x1c41, 0xedae, 0xfd8f, 0xcdec, 0xddcd, 0xad2a, 0xbd0b, 0x8d68, 0x9d49,
	0x7e97, 0x6eb6, 0x5ed5, 0x4ef4, 0x3e13, 0x2e32, 0x1e51, 0x0e70, 0xff9f, 0xefbe, 0xdfdd, 0xcffc, 0xbf1b, 0xaf3a, 0x9f59, 0x8f78,
	0x9188, 0x81a9, 0xb1ca, 0xa1eb, 0xd10c, 0xc12d, 0xf14e, 0xe16f, 0x1080, 0x00a1, 0x30c2, 0x20e3, 0x5004, 0x4025, 0x7046, 0x6067,
	0x83b9, 0x9398, 0xa3fb, 0xb3da, 0xc33d, 0xd31c, 0xe37f, 0xf35e, 0x02b1, 0x1290, 0x22f3, 0x32d2, 0x4235, 0x5214, 0x6277, 0x7256,
	0xb5ea, 0xa5cb, 0x95a8, 0x8589, 0xf56e, 0xe54f, 0xd52c, 0xc50d, 0x34e2, 0x24c3, 0x14a0, 0x0481, 0x7466, 0x6447, 0x5424, 0x4405,
	0xa7db, 0xb7fa, 0x8799, 0x97b8, 0xe75f, 0xf77e, 0xc71d, 0xd73c, 0x26d3, 0x36f2, 0x0691, 0x16b0, 0x6657, 0x7676, 0x4615, 0x5634,
	0xd94c, 0xc96d, 0xf90e, 0xe92f, 0x99c8, 0x89e9, 0xb98a, 0xa9ab, 0x5844, 0x4865, 0x7806, 0x6827, 0x18c0, 0x08e1, 0x3882, 0x28a3,
	0xcb7d, 0xdb5c, 0xeb3f, 0xfb1e, 0x8bf9, 0x9bd8, 0xabbb, 0xbb9a, 0x4a75, 0x5a54, 0x6a37, 0x7a16, 0x0af1, 0x1ad0, 0x2ab3, 0x3a92,
	0xfd2e, 0xed0f, 0xdd6c, 0xcd4d, 0xbdaa, 0xad8b, 0x9de8, 0x8dc9, 0x7c26, 0x6c07, 0x5c64, 0x4c45, 0x3ca2, 0x2c83, 0x1ce0, 0x0cc1,
	0xef1f, 0xff3e, 0xcf5d, 0xdf7c, 0xaf9b, 0xbfba, 0x8fd9, 0x9ff8, 0x6e17, 0x7e36, 0x4e55, 0x5e74, 0x2e93, 0x3eb2, 0x0ed1, 0x1ef0,
};

/* crc16(buffer, offset, length, crc): CRC-16/XMODEM of the range, continuing from `crc`. */
void xs_serialframing_crc16(xsMachine* the)
{
	sealdropNeedArguments(the, 4, "E_RANGE", "crc16"); /* called as is (native/serial-framing.js) */
	size_t length;
	const uint8_t* bytes = readRange(the, 0, &length);
	uint16_t crc = (uint16_t)xsmcToInteger(xsArg(3));
	while (length--)
		crc = (uint16_t)(crc << 8) ^ crcTable[(uint8_t)(crc >> 8) ^ *bytes++];
	xsmcSetInteger(xsResult, crc);
}

/* find(bytes, offset, length, byte): the index of the first `byte` in the range (from the view's
   start), or -1. XS's TypedArray indexOf reads each element as a JS value: ~90 ns a byte on the
   Linux host, more than decoding the line the newline ends. */
void xs_serialframing_find(xsMachine* the)
{
	sealdropNeedArguments(the, 4, "E_RANGE", "find");
	size_t length;
	const uint8_t* bytes = readRange(the, 0, &length);
	const uint8_t* found = memchr(bytes, (uint8_t)xsmcToInteger(xsArg(3)), length);
	xsmcSetInteger(xsResult, found ? (xsIntegerValue)(found - bytes) + xsmcToInteger(xsArg(1)) : -1);
}

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* base64Encode(bytes, offset, length, output, outputOffset): characters written, with padding. */
void xs_serialframing_base64Encode(xsMachine* the)
{
	sealdropNeedArguments(the, 5, "E_RANGE", "base64Encode");
	size_t length, room;
	const uint8_t* in = readRange(the, 0, &length);
	uint8_t* out = writeRange(the, 3, &room);
	size_t needed = (length + 2) / 3 * 4;
	if (needed > room)
		sealdropThrowCode(the, "E_RANGE", "base64 of %u bytes needs %u characters, %u fit", (unsigned)length, (unsigned)needed, (unsigned)room);
	uint8_t* o = out;
	for (; length >= 3; length -= 3, in += 3) {
		uint32_t n = ((uint32_t)in[0] << 16) | ((uint32_t)in[1] << 8) | in[2];
		*o++ = alphabet[n >> 18];
		*o++ = alphabet[(n >> 12) & 63];
		*o++ = alphabet[(n >> 6) & 63];
		*o++ = alphabet[n & 63];
	}
	if (length) {
		uint32_t n = ((uint32_t)in[0] << 16) | (length == 2 ? (uint32_t)in[1] << 8 : 0);
		*o++ = alphabet[n >> 18];
		*o++ = alphabet[(n >> 12) & 63];
		*o++ = length == 2 ? alphabet[(n >> 6) & 63] : '=';
		*o++ = '=';
	}
	xsmcSetInteger(xsResult, (xsIntegerValue)(o - out));
}

/* Each character's 6-bit value, -1 outside the alphabet: a table (const: flash, not RAM on a
   board) because the decoder looks up every character of every line twice (to check, then to
   decode). */
static const int8_t values[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

/*
 * base64Decode(text, offset, length, output, outputOffset): bytes written; -1 when the text is
 * not base64 (a character outside the alphabet, more than two `=`, `=` before the end, or a
 * length that leaves one character over), -2 when the bytes do not fit the output. Padding is
 * optional, as serial_util.c's base64_decode takes it. Writes nothing unless it returns ≥ 0.
 */
void xs_serialframing_base64Decode(xsMachine* the)
{
	sealdropNeedArguments(the, 5, "E_RANGE", "base64Decode");
	size_t length, room;
	const uint8_t* text = readRange(the, 0, &length);
	uint8_t* out = writeRange(the, 3, &room);
	size_t end = length;
	while (end > 0 && length - end < 3 && text[end - 1] == '=')
		end--;
	if (length - end > 2 || end % 4 == 1) {
		xsmcSetInteger(xsResult, -1);
		return;
	}
	size_t decoded = end * 3 / 4;
	int8_t any = 0;
	for (size_t i = 0; i < end; i++)
		any |= values[text[i]]; /* negative when a character is outside the alphabet */
	if (any < 0) {
		xsmcSetInteger(xsResult, -1);
		return;
	}
	if (decoded > room) {
		xsmcSetInteger(xsResult, -2);
		return;
	}
	size_t i = 0;
	uint8_t* o = out;
	for (; end - i >= 4; i += 4) {
		uint32_t n = ((uint32_t)values[text[i]] << 18) | ((uint32_t)values[text[i + 1]] << 12) | ((uint32_t)values[text[i + 2]] << 6) | (uint32_t)values[text[i + 3]];
		*o++ = (uint8_t)(n >> 16);
		*o++ = (uint8_t)(n >> 8);
		*o++ = (uint8_t)n;
	}
	if (end - i >= 2) {
		uint32_t n = ((uint32_t)values[text[i]] << 18) | ((uint32_t)values[text[i + 1]] << 12) | (end - i == 3 ? (uint32_t)values[text[i + 2]] << 6 : 0);
		*o++ = (uint8_t)(n >> 16);
		if (end - i == 3)
			*o++ = (uint8_t)(n >> 8);
	}
	xsmcSetInteger(xsResult, (xsIntegerValue)(o - out));
}
