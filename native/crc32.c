/*
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320: zlib's crc32 and ESP-IDF's
 * esp_rom_crc32_le) of a range of a buffer, continuing from a given CRC, for
 * modules/base/crc32.ts. The record log checks every record it writes and reads with it (a
 * resume-journal record per completed block of an install), and the ESP installer its otadata
 * entries; in JavaScript on XS it cost ~1,300 instructions a byte on the Linux host.
 * Allocates nothing.
 */
#include "sealdrop-native.h"

/* The reflected table, built on first use (1 KiB of RAM rather than of the image's code). */
static uint32_t table[256];
static int tableReady;

static void buildTable(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		table[n] = c;
	}
	tableReady = 1;
}

/* crc32(bytes, offset = 0, length = to the end, crc = 0): the CRC-32 of the range, continuing from `crc`. */
void xs_crc32(xsMachine* the)
{
	const uint8_t* data;
	size_t size, offset, length;
	if (xsmcArgc < 1) /* called as is, with no wrapper to fill in arguments (modules/base/crc32.ts) */
		xsTypeError("crc32: no bytes");
	sealdropGetBytes(the, &xsArg(0), &data, &size);
	sealdropByteRange(the, 1, 2, size, &offset, &length);
	double start = xsmcArgc > 3 ? xsmcToNumber(xsArg(3)) : 0;
	if (!(start >= 0 && start <= 4294967295.0) || start != (double)(uint32_t)start)
		xsRangeError("crc32: the CRC to continue from is not an integer from 0 to 2^32-1");
	uint32_t c = ~(uint32_t)start;
	if (!tableReady)
		buildTable();
	for (const uint8_t* p = data + offset; length--; p++)
		c = table[(c ^ *p) & 0xFF] ^ (c >> 8);
	xsmcSetNumber(xsResult, (double)(uint32_t)~c);
}
