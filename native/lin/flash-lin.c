/*
 * Flash backend of the Linux XS host (native/flash.h): the device's whole flash is ONE file, its
 * partitions are regions of that file described by a board layout, with NOR rules enforced.
 *
 * Environment, read at the first Flash.open() of the process (then kept for its lifetime):
 *   SEALDROP_LAYOUT   path of the board layout JSON (e.g. boards/sim/layout.json); required.
 *   SEALDROP_FLASH    path of the flash image file; required. Created filled with the erased
 *                     value and sized to the layout's flash.size when missing (or empty); an
 *                     existing file of another size is an error. Relative paths are resolved
 *                     against the working directory (sealdrop-xs --state DIR changes it to DIR).
 *   SEALDROP_FLASH_FAIL_AT=k  (optional, k >= 1) fault injection: the k-th write/erase operation
 *                     of the process, and every one after it (the power stays off), fails with
 *                     "power cut" before changing anything. Reads keep working.
 *   SEALDROP_FLASH_CUT=k  (optional, k >= 1) a real power cut: the k-th write/erase operation is
 *                     torn halfway (a write programs the first half of its bytes, an erase erases
 *                     the first half of its range and leaves the rest as it was), then the
 *                     process ends at once with exit status 99 (SEALDROP_FLASH_CUT_STATUS): no
 *                     JavaScript runs after the cut, as on a device that loses power.
 * Flash.operations counts the write/erase operations that reached this backend (after the
 * glue's bounds and alignment checks; zero-length writes never do), failed ones included: one per
 * write() call and one per eraseBlock() call, whatever its length.
 *
 * The layout (partitions, block sizes, erase value) is read and checked by
 * native/lin/layout-json-lin.c, which documents its JSON.
 *
 * NOR rules: erase sets every byte of a block to eraseValue; a write may only move bits away from
 * their erased state (with 0xFF: clear bits, 1 -> 0). A write that needs any bit back in its
 * erased state fails as a whole ("needs an erase") and changes nothing.
 */
#include "flash.h"
#include "layout-json-lin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define kChunk 4096

static struct {
	int fd; /* -1 until the first successful open */
	char layoutPath[256];
	SealdropLayout layout;
	uint32_t operations;
	uint32_t failAt; /* 0: no fault injection */
	uint32_t cutAt;  /* 0: no power cut */
} gFlash = { .fd = -1 };

#define SEALDROP_FLASH_CUT_STATUS 99

static char gError[512];

static int failure(int code, const char* format, ...) __attribute__((format(printf, 2, 3)));
static int failure(int code, const char* format, ...)
{
	va_list args;
	va_start(args, format);
	vsnprintf(gError, sizeof(gError), format, args);
	va_end(args);
	return code;
}

const char* sealdropFlashAreaError(void)
{
	return gError;
}

uint32_t sealdropFlashOperations(void)
{
	return gFlash.operations;
}

/* The flash file */

static int fill(int fd, uint32_t offset, uint32_t size, uint8_t value, const char* file)
{
	uint8_t chunk[kChunk];
	memset(chunk, value, sizeof(chunk));
	while (size) {
		uint32_t n = size < sizeof(chunk) ? size : sizeof(chunk);
		ssize_t done = pwrite(fd, chunk, n, offset);
		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0)
			return failure(kSealdropFlashFailed, "flash file %s: %s", file, done < 0 ? strerror(errno) : "short write");
		offset += (uint32_t)done;
		size -= (uint32_t)done;
	}
	return 0;
}

/* Creates the flash file erased, under a temporary name renamed into place once complete. */
static int createFlashFile(const char* file, const SealdropLayout* layout)
{
	char temporary[4096];
	if (snprintf(temporary, sizeof(temporary), "%s.%ld.tmp", file, (long)getpid()) >= (int)sizeof(temporary))
		return failure(kSealdropFlashFailed, "flash file %s: path too long", file);
	int fd = open(temporary, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return failure(kSealdropFlashFailed, "flash file %s: %s", temporary, strerror(errno));
	int result = fill(fd, 0, layout->size, (uint8_t)layout->eraseValue, temporary);
	if (close(fd) && !result)
		result = failure(kSealdropFlashFailed, "flash file %s: %s", temporary, strerror(errno));
	if (!result && rename(temporary, file))
		result = failure(kSealdropFlashFailed, "flash file %s: %s", file, strerror(errno));
	if (result)
		unlink(temporary);
	return result;
}

/* Reads an optional operation number (k >= 1) from the environment into *value (0 when unset). */
static int operationNumber(const char* name, uint32_t* value)
{
	const char* text = getenv(name);
	*value = 0;
	if (!text || !*text)
		return 0;
	char* end;
	errno = 0;
	unsigned long k = strtoul(text, &end, 10);
	if (*end || errno || k < 1 || k > UINT32_MAX || text[0] < '0' || text[0] > '9')
		return failure(kSealdropFlashFailed, "%s=%s is not a positive integer", name, text);
	*value = (uint32_t)k;
	return 0;
}

static int start(void)
{
	if (gFlash.fd >= 0)
		return 0;
	const char* layoutPath = getenv("SEALDROP_LAYOUT");
	const char* flashPath = getenv("SEALDROP_FLASH");
	if (!layoutPath || !*layoutPath)
		return failure(kSealdropFlashFailed, "SEALDROP_LAYOUT is not set (the board layout JSON, e.g. boards/sim/layout.json)");
	if (!flashPath || !*flashPath)
		return failure(kSealdropFlashFailed, "SEALDROP_FLASH is not set (the flash image file, created when missing)");
	uint32_t failAtValue = 0, cutAtValue = 0;
	if (operationNumber("SEALDROP_FLASH_FAIL_AT", &failAtValue) || operationNumber("SEALDROP_FLASH_CUT", &cutAtValue))
		return kSealdropFlashFailed;
	if (strlen(layoutPath) >= sizeof(gFlash.layoutPath))
		return failure(kSealdropFlashFailed, "SEALDROP_LAYOUT is too long");
	static SealdropLayout layout;
	if (sealdropLayoutLoad(layoutPath, &layout, gError, sizeof(gError)))
		return kSealdropFlashFailed;
	int result;

	int fd = open(flashPath, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		result = createFlashFile(flashPath, &layout);
		if (result)
			return result;
		fd = open(flashPath, O_RDWR | O_CLOEXEC);
	}
	if (fd < 0)
		return failure(kSealdropFlashFailed, "flash file %s: %s", flashPath, strerror(errno));
	struct stat st;
	if (fstat(fd, &st)) {
		result = failure(kSealdropFlashFailed, "flash file %s: %s", flashPath, strerror(errno));
	}
	else if (!S_ISREG(st.st_mode))
		result = failure(kSealdropFlashFailed, "flash file %s is not a regular file", flashPath);
	else if (st.st_size == 0)
		result = fill(fd, 0, layout.size, (uint8_t)layout.eraseValue, flashPath);
	else if ((uint64_t)st.st_size != layout.size)
		result = failure(kSealdropFlashFailed, "flash file %s is %lld bytes but layout %s says flash.size %u (delete the file to start afresh)", flashPath, (long long)st.st_size, layoutPath, layout.size);
	if (result) {
		close(fd);
		return result;
	}
	gFlash.layout = layout;
	strcpy(gFlash.layoutPath, layoutPath);
	gFlash.failAt = failAtValue;
	gFlash.cutAt = cutAtValue;
	gFlash.fd = fd;
	return 0;
}

/* The porting interface */

int sealdropFlashAreaOpen(const char* name, SealdropFlashArea* area)
{
	memset(area, 0, sizeof(*area));
	int result = start();
	if (result)
		return result;
	const SealdropLayout* l = &gFlash.layout;
	for (int i = 0; i < l->count; i++) {
		const SealdropPartition* p = &l->partitions[i];
		if (strcmp(p->name, name))
			continue;
		area->offset = p->offset;
		area->size = p->size;
		area->blockLength = sealdropPartitionBlock(l, p);
		area->writeAlign = l->writeAlign;
		area->eraseValue = (uint8_t)l->eraseValue;
		area->platform = (void*)p;
		return 0;
	}
	char names[kSealdropLayoutMaxPartitions * (kSealdropLayoutMaxName + 2)] = "";
	for (int i = 0; i < l->count; i++) {
		if (i)
			strcat(names, ", ");
		strcat(names, l->partitions[i].name);
	}
	return failure(kSealdropFlashNotFound, "no partition \"%.*s\" in %s (%s)", kSealdropLayoutMaxName, name, gFlash.layoutPath, names);
}

void sealdropFlashAreaClose(SealdropFlashArea* area)
{
	memset(area, 0, sizeof(*area)); /* the file stays open for the other areas */
}

/* Checks that an area came from open and that [offset, offset + size) lies inside it. */
static int checkArea(const SealdropFlashArea* area, uint32_t offset, uint32_t size, uint32_t align, const char* what)
{
	const SealdropPartition* p = area->platform;
	if (gFlash.fd < 0 || p < gFlash.layout.partitions || p >= gFlash.layout.partitions + gFlash.layout.count || area->size != p->size)
		return failure(kSealdropFlashInvalid, "%s: not an open flash area", what);
	if (offset > area->size || size > area->size - offset)
		return failure(kSealdropFlashInvalid, "%s: %u bytes at %u are outside the %u-byte partition", what, size, offset, area->size);
	if (offset % align || size % align)
		return failure(kSealdropFlashInvalid, "%s: offset %u and length %u must be multiples of %u", what, offset, size, align);
	return 0;
}

static int readAt(uint32_t at, void* data, uint32_t size)
{
	uint8_t* bytes = data;
	while (size) {
		ssize_t done = pread(gFlash.fd, bytes, size, at);
		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0)
			return failure(kSealdropFlashFailed, "read at %u: %s", at, done < 0 ? strerror(errno) : "end of file");
		bytes += done;
		at += (uint32_t)done;
		size -= (uint32_t)done;
	}
	return 0;
}

static int writeAt(uint32_t at, const void* data, uint32_t size)
{
	const uint8_t* bytes = data;
	while (size) {
		ssize_t done = pwrite(gFlash.fd, bytes, size, at);
		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0)
			return failure(kSealdropFlashFailed, "write at %u: %s", at, done < 0 ? strerror(errno) : "short write");
		bytes += done;
		at += (uint32_t)done;
		size -= (uint32_t)done;
	}
	return 0;
}

/* Counts a write/erase operation; fails it when fault injection says the power is cut. */
static int operation(void)
{
	if (gFlash.operations < UINT32_MAX)
		gFlash.operations++;
	if (gFlash.cutAt == gFlash.operations)
		return kSealdropFlashPowerCut; /* the caller tears the operation, then powerCut() ends the process */
	if (gFlash.failAt && gFlash.operations >= gFlash.failAt)
		return failure(kSealdropFlashPowerCut, "power cut (SEALDROP_FLASH_FAIL_AT=%u, this is operation %u)", gFlash.failAt, gFlash.operations);
	return 0;
}

/* SEALDROP_FLASH_CUT: the torn operation is on disk; the device stops here. */
static void powerCut(void)
{
	fsync(gFlash.fd);
	fprintf(stderr, "sealdrop-xs: power cut at flash operation %u (SEALDROP_FLASH_CUT)\n", gFlash.operations);
	_exit(SEALDROP_FLASH_CUT_STATUS);
}

static int isCut(int result)
{
	return result == kSealdropFlashPowerCut && gFlash.cutAt == gFlash.operations;
}

int sealdropFlashAreaRead(const SealdropFlashArea* area, uint32_t offset, void* data, uint32_t size)
{
	int result = checkArea(area, offset, size, 1, "read");
	return result ? result : readAt(area->offset + offset, data, size);
}

int sealdropFlashAreaWrite(const SealdropFlashArea* area, uint32_t offset, const void* data, uint32_t size)
{
	int result = checkArea(area, offset, size, area->writeAlign, "write");
	if (result)
		return result;
	result = operation();
	if (isCut(result)) {
		/* program the first half of the bytes, AND-ed into what is there as NOR does */
		uint8_t old[kChunk];
		uint32_t half = size / 2;
		for (uint32_t done = 0; done < half;) {
			uint32_t n = half - done < kChunk ? half - done : kChunk;
			if (!readAt(area->offset + offset + done, old, n)) {
				uint8_t e = area->eraseValue;
				for (uint32_t i = 0; i < n; i++) /* programmed bits only move away from the erased state */
					old[i] = (uint8_t)(e ^ ((old[i] ^ e) | (((const uint8_t*)data)[done + i] ^ e)));
				writeAt(area->offset + offset + done, old, n);
			}
			done += n;
		}
		powerCut();
	}
	if (result)
		return result;
	/* NOR: a bit may go from its erased state to the other, never back. Check it all first. */
	const uint8_t* bytes = data;
	uint8_t erased = area->eraseValue, old[kChunk];
	for (uint32_t done = 0; done < size;) {
		uint32_t n = size - done < kChunk ? size - done : kChunk;
		result = readAt(area->offset + offset + done, old, n);
		if (result)
			return result;
		for (uint32_t i = 0; i < n; i++) {
			uint8_t was = old[i], want = bytes[done + i];
			if ((was ^ want) & (was ^ erased))
				return failure(kSealdropFlashNotErased, "write needs an erase: byte %u of the partition is 0x%02x, cannot become 0x%02x without erasing block %u", offset + done + i, was, want, (offset + done + i) / area->blockLength);
		}
		done += n;
	}
	return writeAt(area->offset + offset, data, size);
}

int sealdropFlashAreaErase(const SealdropFlashArea* area, uint32_t offset, uint32_t size)
{
	int result = checkArea(area, offset, size, area->blockLength, "erase");
	if (result)
		return result;
	result = operation();
	if (isCut(result)) {
		fill(gFlash.fd, area->offset + offset, size / 2, area->eraseValue, "flash");
		powerCut();
	}
	return result ? result : fill(gFlash.fd, area->offset + offset, size, area->eraseValue, "flash");
}
