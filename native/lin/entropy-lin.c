/*
 * Platform entropy for the Linux XS host: getrandom(2) (the kernel's CSPRNG; blocks only until
 * the kernel pool is first initialised).
 *
 * For tests, the environment variable SEALDROP_ENTROPY replaces the source with a broken one, so
 * that the health tests of native/entropy.c can be seen to refuse it:
 *   unset or ""  getrandom(2)
 *   "zero"       all bytes 0x00                       (fails the repetition count test)
 *   "stuck"      all bytes 0xa5, one repeated value   (fails the repetition count test)
 *   "counter"    a 32-bit little-endian counter, 00 00 00 00 01 00 00 00 02 ... continuing
 *                across requests: mostly zero bytes   (fails the adaptive proportion test)
 *   "repeat"     one 16-byte block from getrandom, repeated over and over
 *                                                     (fails the stuck-output test)
 * Any other value is an error (reported on stderr): a typo must not quietly fall back to the
 * real source, nor a test run quietly use a broken one it did not ask for.
 * The variable is read on every request. It exists on this host only; boards have no such switch.
 */
#define _GNU_SOURCE
#include "sealdrop-native.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static int fromGetrandom(uint8_t* data, size_t size)
{
	while (size) {
		ssize_t got = getrandom(data, size, 0);
		if (got < 0) {
			if (EINTR == errno)
				continue;
			return -1;
		}
		data += got;
		size -= (size_t)got;
	}
	return 0;
}

int sealdropEntropyPlatformFill(uint8_t* data, size_t size)
{
	const char* source = getenv("SEALDROP_ENTROPY");
	if (!source || !*source)
		return fromGetrandom(data, size);
	if (!strcmp(source, "zero")) {
		memset(data, 0, size);
		return 0;
	}
	if (!strcmp(source, "stuck")) {
		memset(data, 0xa5, size);
		return 0;
	}
	if (!strcmp(source, "counter")) {
		static uint32_t counter = 0;
		static unsigned position = 0; /* byte of `counter` next handed out */
		for (size_t i = 0; i < size; i++) {
			data[i] = (uint8_t)(counter >> (8 * position));
			if (4 == ++position) {
				position = 0;
				counter++;
			}
		}
		return 0;
	}
	if (!strcmp(source, "repeat")) {
		static uint8_t block[16];
		static int ready = 0;
		if (!ready) {
			if (fromGetrandom(block, sizeof(block)))
				return -1;
			ready = 1;
		}
		for (size_t i = 0; i < size; i++)
			data[i] = block[i % sizeof(block)];
		return 0;
	}
	fprintf(stderr, "sealdrop-xs: SEALDROP_ENTROPY=%s is not a known source (zero, stuck, counter, repeat, or unset for getrandom)\n", source);
	return -1;
}
