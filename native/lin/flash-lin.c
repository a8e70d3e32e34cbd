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
 * Layout JSON (decimal byte counts; unknown keys, e.g. "description", are ignored):
 *   { "name": "sim",
 *     "flash": { "size": 1048576, "blockLength": 4096, "writeAlign": 8, "eraseValue": 255 },
 *     "partitions": [ { "name": "primary", "offset": 65536, "size": 393216 }, ... ] }
 * flash.size, blockLength and writeAlign are required; eraseValue defaults to 255. blockLength
 * and writeAlign are powers of two, writeAlign <= blockLength, size a multiple of blockLength
 * (at most 256 MiB). Up to 16 partitions, named with 1-31 of [A-Za-z0-9._-], unique, block
 * aligned, non-empty, inside the flash and not overlapping. A partition may give its own
 * "blockLength", a power of two above the flash's, for flash whose sectors differ in size
 * (STM32F4: 16, 64 and 128 KiB): it is then aligned to it and erased in whole units of it. The parser below reads strict JSON
 * (RFC 8259) and reports errors as "FILE:LINE:COLUMN: what".
 *
 * NOR rules: erase sets every byte of a block to eraseValue; a write may only move bits away from
 * their erased state (with 0xFF: clear bits, 1 -> 0). A write that needs any bit back in its
 * erased state fails as a whole ("needs an erase") and changes nothing.
 */
#include "flash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define kMaxPartitions 16
#define kMaxName 32 /* with the NUL */
#define kMaxLayoutBytes (64 * 1024)
#define kMaxFlashSize (256u * 1024 * 1024)
#define kMaxDepth 32
#define kChunk 4096

typedef struct {
	char name[kMaxName];
	uint32_t offset, size;
	uint32_t blockLength; /* its erase unit; 0 in the JSON's absence: the flash's */
} Partition;

typedef struct {
	char name[kMaxName];
	uint32_t size, blockLength, writeAlign, eraseValue;
	int count;
	Partition partitions[kMaxPartitions];
} Layout;

static struct {
	int fd; /* -1 until the first successful open */
	char layoutPath[256];
	Layout layout;
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

/* A strict JSON reader for the layout's shape */

typedef struct {
	const char* text;
	size_t length, at;
	const char* file;
	int failed;
} Json;

static int jsonFail(Json* j, const char* format, ...) __attribute__((format(printf, 2, 3)));
static int jsonFail(Json* j, const char* format, ...)
{
	if (j->failed)
		return -1;
	j->failed = 1;
	int line = 1, column = 1;
	for (size_t i = 0; i < j->at && i < j->length; i++) {
		if (j->text[i] == '\n') {
			line++;
			column = 1;
		}
		else
			column++;
	}
	char what[256];
	va_list args;
	va_start(args, format);
	vsnprintf(what, sizeof(what), format, args);
	va_end(args);
	failure(kSealdropFlashFailed, "%s:%d:%d: %s", j->file, line, column, what);
	return -1;
}

/* The next significant character (not consumed), or -1 at the end. */
static int jsonPeek(Json* j)
{
	while (j->at < j->length) {
		char c = j->text[j->at];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return (unsigned char)c;
		j->at++;
	}
	return -1;
}

static int jsonExpect(Json* j, char c)
{
	if (jsonPeek(j) != (unsigned char)c)
		return jsonFail(j, "expected '%c'", c);
	j->at++;
	return 0;
}

static int hexDigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A string into out (size bytes with the NUL), or skipped when out is NULL. */
static int jsonString(Json* j, char* out, size_t size, const char* what)
{
	if (jsonPeek(j) != '"')
		return jsonFail(j, "expected a string (%s)", what);
	j->at++;
	size_t n = 0;
	for (;;) {
		if (j->at >= j->length)
			return jsonFail(j, "unterminated string");
		unsigned char c = (unsigned char)j->text[j->at];
		if (c == '"') {
			j->at++;
			break;
		}
		if (c < 0x20)
			return jsonFail(j, "control character in a string");
		if (c == '\\') {
			if (j->at + 1 >= j->length)
				return jsonFail(j, "unterminated string");
			char e = j->text[j->at + 1];
			j->at += 2;
			switch (e) {
			case '"': c = '"'; break;
			case '\\': c = '\\'; break;
			case '/': c = '/'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				unsigned code = 0;
				for (int i = 0; i < 4; i++) {
					int d = j->at < j->length ? hexDigit(j->text[j->at]) : -1;
					if (d < 0)
						return jsonFail(j, "bad \\u escape");
					code = code * 16 + (unsigned)d;
					j->at++;
				}
				if (out && (code == 0 || code >= 0x80))
					return jsonFail(j, "%s: only ASCII escapes are supported", what);
				c = (unsigned char)code;
				break;
			}
			default:
				j->at--;
				return jsonFail(j, "bad escape");
			}
		}
		else
			j->at++;
		if (out) {
			if (n + 1 >= size)
				return jsonFail(j, "%s is too long (at most %zu bytes)", what, size - 1);
			out[n++] = (char)c;
		}
	}
	if (out)
		out[n] = 0;
	return 0;
}

static int isDigit(int c)
{
	return c >= '0' && c <= '9';
}

/* A non-negative integer that fits 32 bits. */
static int jsonUnsigned(Json* j, uint32_t* value, const char* what)
{
	int c = jsonPeek(j);
	if (!isDigit(c))
		return jsonFail(j, "%s must be a non-negative integer", what);
	size_t start = j->at;
	uint64_t v = 0;
	while (j->at < j->length && isDigit(j->text[j->at])) {
		v = v * 10 + (uint64_t)(j->text[j->at] - '0');
		if (v > UINT32_MAX) {
			j->at = start;
			return jsonFail(j, "%s is too large", what);
		}
		j->at++;
	}
	if (j->at - start > 1 && j->text[start] == '0') {
		j->at = start;
		return jsonFail(j, "%s: leading zeros are not JSON", what);
	}
	if (j->at < j->length && (j->text[j->at] == '.' || j->text[j->at] == 'e' || j->text[j->at] == 'E'))
		return jsonFail(j, "%s must be an integer", what);
	*value = (uint32_t)v;
	return 0;
}

static int jsonSkip(Json* j, int depth);

static int jsonSkipNumber(Json* j)
{
	if (j->text[j->at] == '-')
		j->at++;
	if (j->at >= j->length || !isDigit(j->text[j->at]))
		return jsonFail(j, "bad number");
	if (j->text[j->at] == '0')
		j->at++;
	else
		while (j->at < j->length && isDigit(j->text[j->at]))
			j->at++;
	if (j->at < j->length && j->text[j->at] == '.') {
		j->at++;
		if (j->at >= j->length || !isDigit(j->text[j->at]))
			return jsonFail(j, "bad number");
		while (j->at < j->length && isDigit(j->text[j->at]))
			j->at++;
	}
	if (j->at < j->length && (j->text[j->at] == 'e' || j->text[j->at] == 'E')) {
		j->at++;
		if (j->at < j->length && (j->text[j->at] == '+' || j->text[j->at] == '-'))
			j->at++;
		if (j->at >= j->length || !isDigit(j->text[j->at]))
			return jsonFail(j, "bad number");
		while (j->at < j->length && isDigit(j->text[j->at]))
			j->at++;
	}
	return 0;
}

/* Iterates an object's members: call with *first set to 1; returns 1 with the key in key while
   there is a member (positioned on its value), 0 after the closing brace, -1 on error. */
static int jsonMember(Json* j, int* first, char* key, size_t size)
{
	if (*first) {
		if (jsonExpect(j, '{'))
			return -1;
		*first = 0;
		if (jsonPeek(j) == '}') {
			j->at++;
			return 0;
		}
	}
	else {
		int c = jsonPeek(j);
		if (c == '}') {
			j->at++;
			return 0;
		}
		if (c != ',')
			return jsonFail(j, "expected ',' or '}'");
		j->at++;
	}
	if (jsonString(j, key, size, "key") || jsonExpect(j, ':'))
		return -1;
	return 1;
}

/* Same for an array's elements: 1 positioned on an element, 0 after the closing bracket. */
static int jsonElement(Json* j, int* first)
{
	if (*first) {
		if (jsonExpect(j, '['))
			return -1;
		*first = 0;
		if (jsonPeek(j) == ']') {
			j->at++;
			return 0;
		}
		return 1;
	}
	int c = jsonPeek(j);
	if (c == ']') {
		j->at++;
		return 0;
	}
	if (c != ',')
		return jsonFail(j, "expected ',' or ']'");
	j->at++;
	return 1;
}

static int jsonSkip(Json* j, int depth)
{
	if (depth > kMaxDepth)
		return jsonFail(j, "nested too deeply");
	int c = jsonPeek(j), more, first = 1;
	char key[64];
	switch (c) {
	case '{':
		while ((more = jsonMember(j, &first, key, sizeof(key))) > 0)
			if (jsonSkip(j, depth + 1))
				return -1;
		return more;
	case '[':
		while ((more = jsonElement(j, &first)) > 0)
			if (jsonSkip(j, depth + 1))
				return -1;
		return more;
	case '"':
		return jsonString(j, NULL, 0, "value");
	case 't':
	case 'f':
	case 'n': {
		const char* word = c == 't' ? "true" : c == 'f' ? "false" : "null";
		size_t n = strlen(word);
		if (j->length - j->at < n || memcmp(j->text + j->at, word, n))
			return jsonFail(j, "unexpected character");
		j->at += n;
		return 0;
	}
	case -1:
		return jsonFail(j, "unexpected end of file");
	default:
		if (c == '-' || isDigit(c))
			return jsonSkipNumber(j);
		return jsonFail(j, "unexpected character");
	}
}


static const char* const kFlashKeys[] = { "size", "blockLength", "writeAlign", "eraseValue" };

static int jsonFlash(Json* j, Layout* layout)
{
	uint32_t* fields[] = { &layout->size, &layout->blockLength, &layout->writeAlign, &layout->eraseValue };
	int first = 1, more, seen = 0;
	char key[64];
	while ((more = jsonMember(j, &first, key, sizeof(key))) > 0) {
		int i = 0;
		while (i < 4 && strcmp(key, kFlashKeys[i]))
			i++;
		if (i == 4) {
			if (jsonSkip(j, 2))
				return -1;
			continue;
		}
		if (seen & (1 << i))
			return jsonFail(j, "flash.%s appears twice", key);
		seen |= 1 << i;
		char what[40];
		snprintf(what, sizeof(what), "flash.%s", kFlashKeys[i]);
		if (jsonUnsigned(j, fields[i], what))
			return -1;
	}
	if (more < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		if (!(seen & (1 << i)))
			return jsonFail(j, "flash.%s is missing", kFlashKeys[i]);
	if (!(seen & 8))
		layout->eraseValue = 0xFF;
	return 0;
}

static int jsonPartition(Json* j, Partition* partition, int index)
{
	static const char* const keys[] = { "name", "offset", "size", "blockLength" };
	int first = 1, more, seen = 0;
	char key[64], what[48];
	while ((more = jsonMember(j, &first, key, sizeof(key))) > 0) {
		int i = 0;
		while (i < 4 && strcmp(key, keys[i]))
			i++;
		if (i == 4) {
			if (jsonSkip(j, 3))
				return -1;
			continue;
		}
		if (seen & (1 << i))
			return jsonFail(j, "partitions[%d].%s appears twice", index, key);
		seen |= 1 << i;
		snprintf(what, sizeof(what), "partitions[%d].%s", index, keys[i]);
		uint32_t* number = i == 1 ? &partition->offset : i == 2 ? &partition->size : &partition->blockLength;
		if (i == 0 ? jsonString(j, partition->name, sizeof(partition->name), what) : jsonUnsigned(j, number, what))
			return -1;
	}
	if (more < 0)
		return -1;
	if ((seen & 7) != 7)
		return jsonFail(j, "partitions[%d] needs name, offset and size", index);
	return 0;
}

static int jsonLayout(Json* j, Layout* layout)
{
	int first = 1, more, seen = 0;
	char key[64];
	while ((more = jsonMember(j, &first, key, sizeof(key))) > 0) {
		int bit = !strcmp(key, "name") ? 1 : !strcmp(key, "flash") ? 2 : !strcmp(key, "partitions") ? 4 : 0;
		if (!bit) {
			if (jsonSkip(j, 1))
				return -1;
			continue;
		}
		if (seen & bit)
			return jsonFail(j, "%s appears twice", key);
		seen |= bit;
		if (bit == 1) {
			if (jsonString(j, layout->name, sizeof(layout->name), "name"))
				return -1;
		}
		else if (bit == 2) {
			if (jsonFlash(j, layout))
				return -1;
		}
		else {
			int element = 1, next;
			while ((next = jsonElement(j, &element)) > 0) {
				if (layout->count == kMaxPartitions)
					return jsonFail(j, "more than %d partitions", kMaxPartitions);
				if (jsonPartition(j, &layout->partitions[layout->count], layout->count))
					return -1;
				layout->count++;
			}
			if (next < 0)
				return -1;
		}
	}
	if (more < 0)
		return -1;
	if (!(seen & 2))
		return jsonFail(j, "\"flash\" is missing");
	if (!(seen & 4) || !layout->count)
		return jsonFail(j, "\"partitions\" is missing or empty");
	if (jsonPeek(j) >= 0)
		return jsonFail(j, "unexpected text after the layout");
	return 0;
}

static int isPowerOfTwo(uint32_t x)
{
	return x && !(x & (x - 1));
}

static int validName(const char* name)
{
	if (!*name)
		return 0;
	for (; *name; name++) {
		char c = *name;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c) || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* A partition's erase unit: its own blockLength (a board with mixed sector sizes) or the flash's. */
static uint32_t partitionBlock(const Layout* l, const Partition* p)
{
	return p->blockLength ? p->blockLength : l->blockLength;
}

static int checkLayout(const char* file, const Layout* l)
{
	if (!isPowerOfTwo(l->blockLength))
		return failure(kSealdropFlashFailed, "%s: flash.blockLength %u is not a power of two", file, l->blockLength);
	if (!isPowerOfTwo(l->writeAlign) || l->writeAlign > l->blockLength)
		return failure(kSealdropFlashFailed, "%s: flash.writeAlign %u is not a power of two up to blockLength", file, l->writeAlign);
	if (!l->size || l->size % l->blockLength || l->size > kMaxFlashSize)
		return failure(kSealdropFlashFailed, "%s: flash.size %u is not a non-zero multiple of blockLength up to %u", file, l->size, kMaxFlashSize);
	if (l->eraseValue > 0xFF)
		return failure(kSealdropFlashFailed, "%s: flash.eraseValue %u is not a byte", file, l->eraseValue);
	for (int i = 0; i < l->count; i++) {
		const Partition* p = &l->partitions[i];
		if (!validName(p->name))
			return failure(kSealdropFlashFailed, "%s: partition name \"%s\" is not 1-%d of [A-Za-z0-9._-]", file, p->name, kMaxName - 1);
		uint32_t block = partitionBlock(l, p);
		if (p->blockLength && (!isPowerOfTwo(p->blockLength) || p->blockLength < l->blockLength))
			return failure(kSealdropFlashFailed, "%s: partition \"%s\": blockLength %u is not a power of two of at least flash.blockLength", file, p->name, p->blockLength);
		if (p->offset % block || p->size % block || !p->size)
			return failure(kSealdropFlashFailed, "%s: partition \"%s\" (offset %u, size %u) is not a non-empty run of whole %u-byte blocks", file, p->name, p->offset, p->size, block);
		if ((uint64_t)p->offset + p->size > l->size)
			return failure(kSealdropFlashFailed, "%s: partition \"%s\" ends at %llu, past the flash's %u bytes", file, p->name, (unsigned long long)p->offset + p->size, l->size);
		for (int k = 0; k < i; k++) {
			const Partition* q = &l->partitions[k];
			if (!strcmp(p->name, q->name))
				return failure(kSealdropFlashFailed, "%s: two partitions are named \"%s\"", file, p->name);
			if (p->offset < q->offset + q->size && q->offset < p->offset + p->size)
				return failure(kSealdropFlashFailed, "%s: partitions \"%s\" and \"%s\" overlap", file, q->name, p->name);
		}
	}
	return 0;
}

static int loadLayout(const char* file, Layout* layout)
{
	memset(layout, 0, sizeof(*layout));
	FILE* stream = fopen(file, "rb");
	if (!stream)
		return failure(kSealdropFlashFailed, "layout %s: %s", file, strerror(errno));
	char* text = malloc(kMaxLayoutBytes + 1);
	if (!text) {
		fclose(stream);
		return failure(kSealdropFlashFailed, "no memory");
	}
	size_t length = fread(text, 1, kMaxLayoutBytes + 1, stream);
	int error = ferror(stream);
	fclose(stream);
	int result;
	if (error)
		result = failure(kSealdropFlashFailed, "layout %s: cannot read", file);
	else if (length > kMaxLayoutBytes)
		result = failure(kSealdropFlashFailed, "layout %s: larger than %d bytes", file, kMaxLayoutBytes);
	else {
		Json j = { .text = text, .length = length, .at = 0, .file = file, .failed = 0 };
		if (length >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
			j.at = 3; /* a UTF-8 byte order mark */
		result = jsonLayout(&j, layout) ? kSealdropFlashFailed : checkLayout(file, layout);
	}
	free(text);
	return result;
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
static int createFlashFile(const char* file, const Layout* layout)
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
	static Layout layout;
	int result = loadLayout(layoutPath, &layout);
	if (result)
		return result;

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
	const Layout* l = &gFlash.layout;
	for (int i = 0; i < l->count; i++) {
		const Partition* p = &l->partitions[i];
		if (strcmp(p->name, name))
			continue;
		area->offset = p->offset;
		area->size = p->size;
		area->blockLength = partitionBlock(l, p);
		area->writeAlign = l->writeAlign;
		area->eraseValue = (uint8_t)l->eraseValue;
		area->platform = (void*)p;
		return 0;
	}
	char names[kMaxPartitions * (kMaxName + 2)] = "";
	for (int i = 0; i < l->count; i++) {
		if (i)
			strcat(names, ", ");
		strcat(names, l->partitions[i].name);
	}
	return failure(kSealdropFlashNotFound, "no partition \"%.*s\" in %s (%s)", kMaxName, name, gFlash.layoutPath, names);
}

void sealdropFlashAreaClose(SealdropFlashArea* area)
{
	memset(area, 0, sizeof(*area)); /* the file stays open for the other areas */
}

/* Checks that an area came from open and that [offset, offset + size) lies inside it. */
static int checkArea(const SealdropFlashArea* area, uint32_t offset, uint32_t size, uint32_t align, const char* what)
{
	const Partition* p = area->platform;
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
