/*
 * The board layout JSON of the Linux XS host (SEALDROP_LAYOUT), for native/lin/flash-lin.c.
 *
 *   { "name": "sim",
 *     "flash": { "size": 1048576, "blockLength": 4096, "writeAlign": 8, "eraseValue": 255 },
 *     "partitions": [ { "name": "primary", "offset": 65536, "size": 393216 }, ... ] }
 *
 * Values: decimal byte counts. flash.size, blockLength and writeAlign are required; eraseValue
 * defaults to 255. blockLength and writeAlign are powers of two, writeAlign <= blockLength, size a
 * multiple of blockLength (at most 256 MiB). 1 to 16 partitions, named with 1-31 of
 * [A-Za-z0-9._-], unique, block aligned, non-empty, inside the flash and not overlapping. A
 * partition may give its own "blockLength", a power of two of at least the flash's, for flash
 * whose sectors differ in size (STM32F4: 16, 64 and 128 KiB): it is then aligned to it and erased
 * in whole units of it. Other keys (e.g. "description", "sealdrop") may hold any JSON and are
 * read only to be skipped; a key named twice among the layout's own is an error.
 *
 * The subset of JSON (RFC 8259) read: at most 64 KiB and 32 levels deep, a UTF-8 byte order mark
 * allowed; escapes are checked but never decoded, so a key or a name written with an escape is
 * refused rather than misread (the layout's keys and names are plain ASCII); UTF-8 is not
 * validated; the numbers the layout uses are integers from 0 to 2^32-1 written without fraction
 * or exponent (numbers elsewhere may be any JSON number). Anything else is an error naming the
 * place, "FILE:LINE:COLUMN: what", which flash-lin.c throws as E_FLASH.
 */
#include "layout-json-lin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define kMaxLayoutBytes (64 * 1024)
#define kMaxFlashSize (256u * 1024 * 1024)
#define kMaxDepth 32

/* What a value is to the layout, which says where an object's members go. */
enum { kOther, kRoot, kFlash, kPartitions, kPartition };

/* The members each kind of object takes (bit i of a `seen` mask is keys[kind][i]). */
static const char* const kKeys[][4] = {
	[kRoot] = { "name", "flash", "partitions" },
	[kFlash] = { "size", "blockLength", "writeAlign", "eraseValue" },
	[kPartition] = { "name", "offset", "size", "blockLength" },
};

typedef struct {
	const char* text;
	size_t length, at;
	const char* file;
	SealdropLayout* layout;
	char* error;
	size_t errorSize;
} Reader;

static int value(Reader* r, int kind, int index, int depth);

/* Every failure returns at once, so the first one is the one reported. */
static int fail(Reader* r, const char* format, ...) __attribute__((format(printf, 2, 3)));
static int fail(Reader* r, const char* format, ...)
{
	int line = 1, column = 1;
	for (size_t i = 0; i < r->at && i < r->length; i++) {
		if (r->text[i] == '\n') {
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
	snprintf(r->error, r->errorSize, "%s:%d:%d: %s", r->file, line, column, what);
	return -1;
}

/* A failure that has no place in the text: the layout's values, the file itself. */
static int failFile(char* error, size_t size, const char* format, ...) __attribute__((format(printf, 3, 4)));
static int failFile(char* error, size_t size, const char* format, ...)
{
	va_list args;
	va_start(args, format);
	vsnprintf(error, size, format, args);
	va_end(args);
	return -1;
}

static int isDigit(int c)
{
	return c >= '0' && c <= '9';
}

/* The next significant character (not consumed), or -1 at the end. */
static int peek(Reader* r)
{
	for (; r->at < r->length; r->at++) {
		char c = r->text[r->at];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return (unsigned char)c;
	}
	return -1;
}

/* Digits from r->at on: how many. */
static size_t digits(Reader* r)
{
	size_t start = r->at;
	while (r->at < r->length && isDigit(r->text[r->at]))
		r->at++;
	return r->at - start;
}

/* A string, its escapes checked and left as written: its text is [*start, r->at - 1). */
static int string(Reader* r, size_t* start, int* escaped)
{
	if (peek(r) != '"')
		return fail(r, "expected a string");
	*start = ++r->at;
	*escaped = 0;
	for (;;) {
		if (r->at >= r->length)
			return fail(r, "unterminated string");
		unsigned char c = (unsigned char)r->text[r->at++];
		if (c == '"')
			return 0;
		if (c < 0x20) {
			r->at--;
			return fail(r, "control character in a string");
		}
		if (c != '\\')
			continue;
		*escaped = 1;
		char e = r->at < r->length ? r->text[r->at] : 0;
		if (e == 'u') {
			for (int i = 0; i < 4; i++)
				if (++r->at >= r->length || !strchr("0123456789abcdefABCDEF", r->text[r->at]) || !r->text[r->at])
					return fail(r, "bad \\u escape");
		}
		else if (!e || !strchr("\"\\/bfnrt", e))
			return fail(r, "bad escape");
		r->at++;
	}
}

/* A number as JSON writes it; *integer is its value when it is an integer from 0 to 2^32-1, else -1. */
static int number(Reader* r, int64_t* integer)
{
	size_t start = r->at;
	int whole = r->text[r->at] != '-';
	if (!whole)
		r->at++;
	size_t first = r->at, n = digits(r);
	if (!n || (n > 1 && r->text[first] == '0')) {
		r->at = start;
		return fail(r, n ? "leading zeros are not JSON" : "bad number");
	}
	if (r->at < r->length && r->text[r->at] == '.') {
		r->at++;
		if (!digits(r))
			return fail(r, "bad number");
		whole = 0;
	}
	if (r->at < r->length && (r->text[r->at] == 'e' || r->text[r->at] == 'E')) {
		r->at++;
		if (r->at < r->length && (r->text[r->at] == '+' || r->text[r->at] == '-'))
			r->at++;
		if (!digits(r))
			return fail(r, "bad number");
		whole = 0;
	}
	uint64_t v = 0;
	for (size_t i = first; i < first + n && v <= UINT32_MAX; i++)
		v = v * 10 + (uint64_t)(r->text[i] - '0');
	*integer = whole && v <= UINT32_MAX ? (int64_t)v : -1;
	return 0;
}

/* A layout number into *out. */
static int unsignedValue(Reader* r, uint32_t* out, const char* what)
{
	int c = peek(r);
	size_t start = r->at;
	int64_t v = -1;
	if ((c == '-' || isDigit(c)) && number(r, &v))
		return -1;
	if (v < 0) {
		r->at = start;
		return fail(r, "%s must be an integer from 0 to 4294967295", what);
	}
	*out = (uint32_t)v;
	return 0;
}

/* A name into out (kSealdropLayoutMaxName bytes with the NUL). */
static int name(Reader* r, char* out, const char* what)
{
	if (peek(r) != '"')
		return fail(r, "%s must be a string", what);
	size_t start;
	int escaped;
	if (string(r, &start, &escaped))
		return -1;
	size_t n = r->at - 1 - start;
	r->at = start - 1; /* where the errors below are */
	if (escaped)
		return fail(r, "%s: escapes are not read in names", what);
	if (n >= kSealdropLayoutMaxName)
		return fail(r, "%s is too long (at most %d bytes)", what, kSealdropLayoutMaxName - 1);
	memcpy(out, r->text + start, n);
	out[n] = 0;
	r->at = start + n + 1;
	return 0;
}

/* The value of member `key` (an index into kKeys[kind]) of object `index` of its kind. */
static int member(Reader* r, int kind, int index, int key, int depth)
{
	SealdropLayout* l = r->layout;
	SealdropPartition* p = &l->partitions[index];
	char what[48];
	if (kind == kRoot && key)
		return value(r, key == 1 ? kFlash : kPartitions, 0, depth + 1);
	if (kind == kPartition)
		snprintf(what, sizeof(what), "partitions[%d].%s", index, kKeys[kind][key]);
	else
		snprintf(what, sizeof(what), "%s%s", kind == kFlash ? "flash." : "", kKeys[kind][key]);
	if (kind != kFlash && key == 0)
		return name(r, kind == kRoot ? l->name : p->name, what);
	uint32_t* flash[] = { &l->size, &l->blockLength, &l->writeAlign, &l->eraseValue };
	uint32_t* partition[] = { NULL, &p->offset, &p->size, &p->blockLength };
	return unsignedValue(r, kind == kFlash ? flash[key] : partition[key], what);
}

/* An object's members (r->at on its '{'): the layout's keys to member(), others read and dropped.
   The mask of the layout's keys it had, or -1. */
static int object(Reader* r, int kind, int index, int depth)
{
	unsigned seen = 0;
	r->at++;
	if (peek(r) == '}') {
		r->at++;
		return 0;
	}
	for (;;) {
		size_t key;
		int escaped, known = -1;
		if (string(r, &key, &escaped))
			return -1;
		size_t length = r->at - 1 - key;
		if (escaped) {
			r->at = key - 1;
			return fail(r, "escapes are not read in keys");
		}
		for (int i = 0; i < 4 && kKeys[kind][i]; i++)
			if (strlen(kKeys[kind][i]) == length && !memcmp(r->text + key, kKeys[kind][i], length))
				known = i;
		if (peek(r) != ':')
			return fail(r, "expected ':'");
		r->at++;
		if (known >= 0 && (seen & (1u << known))) {
			r->at = key - 1;
			return kind == kPartition ? fail(r, "partitions[%d].%s appears twice", index, kKeys[kind][known])
				: fail(r, "%s%s appears twice", kind == kFlash ? "flash." : "", kKeys[kind][known]);
		}
		if (known >= 0)
			seen |= 1u << known;
		if (known >= 0 ? member(r, kind, index, known, depth) : value(r, kOther, 0, depth + 1))
			return -1;
		int c = peek(r);
		r->at++;
		if (c == '}')
			return (int)seen;
		if (c != ',') {
			r->at--;
			return fail(r, "expected ',' or '}'");
		}
	}
}

/* An array's elements (r->at on its '['): partitions, or values read and dropped. */
static int array(Reader* r, int kind, int depth)
{
	SealdropLayout* l = r->layout;
	r->at++;
	if (peek(r) == ']') {
		r->at++;
		return 0;
	}
	for (;;) {
		if (kind == kPartitions && l->count == kSealdropLayoutMaxPartitions)
			return fail(r, "more than %d partitions", kSealdropLayoutMaxPartitions);
		if (kind == kPartitions ? value(r, kPartition, l->count++, depth + 1) : value(r, kOther, 0, depth + 1))
			return -1;
		int c = peek(r);
		r->at++;
		if (c == ']')
			return 0;
		if (c != ',') {
			r->at--;
			return fail(r, "expected ',' or ']'");
		}
	}
}

/* The members an object of the layout must have, once it is read. */
static int required(Reader* r, int kind, int index, unsigned seen)
{
	if (kind == kRoot && !(seen & 2))
		return fail(r, "\"flash\" is missing");
	if (kind == kRoot && !r->layout->count)
		return fail(r, "\"partitions\" is missing or empty");
	if (kind == kFlash) {
		for (int i = 0; i < 3; i++)
			if (!(seen & (1u << i)))
				return fail(r, "flash.%s is missing", kKeys[kFlash][i]);
		if (!(seen & 8))
			r->layout->eraseValue = 0xFF;
	}
	if (kind == kPartition && (seen & 7) != 7)
		return fail(r, "partitions[%d] needs name, offset and size", index);
	return 0;
}

/* Any JSON value; objects and arrays of the layout's kinds must be there as such. */
static int value(Reader* r, int kind, int index, int depth)
{
	static const char* const words[] = { "true", "false", "null" };
	if (depth > kMaxDepth)
		return fail(r, "nested too deeply");
	int c = peek(r);
	if (kind == kRoot || kind == kFlash || kind == kPartition) {
		if (c != '{')
			return fail(r, "expected '{'");
		int seen = object(r, kind, index, depth);
		return seen < 0 ? -1 : required(r, kind, index, (unsigned)seen);
	}
	if (kind == kPartitions && c != '[')
		return fail(r, "expected '['");
	if (c == '{')
		return object(r, kOther, 0, depth) < 0 ? -1 : 0;
	if (c == '[')
		return array(r, kind, depth);
	if (c == '"') {
		size_t start;
		int escaped;
		return string(r, &start, &escaped);
	}
	if (c == '-' || isDigit(c)) {
		int64_t ignored;
		return number(r, &ignored);
	}
	for (int i = 0; i < 3; i++) {
		size_t n = strlen(words[i]);
		if (r->length - r->at >= n && !memcmp(r->text + r->at, words[i], n)) {
			r->at += n;
			return 0;
		}
	}
	return fail(r, c < 0 ? "unexpected end of file" : "unexpected character");
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

/* The values: what flash-lin.c relies on. */
static int check(Reader* r)
{
	const SealdropLayout* l = r->layout;
	const char* file = r->file;
	char* e = r->error;
	size_t size = r->errorSize;
	if (!isPowerOfTwo(l->blockLength))
		return failFile(e, size, "%s: flash.blockLength %u is not a power of two", file, l->blockLength);
	if (!isPowerOfTwo(l->writeAlign) || l->writeAlign > l->blockLength)
		return failFile(e, size, "%s: flash.writeAlign %u is not a power of two up to blockLength", file, l->writeAlign);
	if (!l->size || l->size % l->blockLength || l->size > kMaxFlashSize)
		return failFile(e, size, "%s: flash.size %u is not a non-zero multiple of blockLength up to %u", file, l->size, kMaxFlashSize);
	if (l->eraseValue > 0xFF)
		return failFile(e, size, "%s: flash.eraseValue %u is not a byte", file, l->eraseValue);
	for (int i = 0; i < l->count; i++) {
		const SealdropPartition* p = &l->partitions[i];
		if (!validName(p->name))
			return failFile(e, size, "%s: partition name \"%s\" is not 1-%d of [A-Za-z0-9._-]", file, p->name, kSealdropLayoutMaxName - 1);
		uint32_t block = sealdropPartitionBlock(l, p);
		if (p->blockLength && (!isPowerOfTwo(p->blockLength) || p->blockLength < l->blockLength))
			return failFile(e, size, "%s: partition \"%s\": blockLength %u is not a power of two of at least flash.blockLength", file, p->name, p->blockLength);
		if (p->offset % block || p->size % block || !p->size)
			return failFile(e, size, "%s: partition \"%s\" (offset %u, size %u) is not a non-empty run of whole %u-byte blocks", file, p->name, p->offset, p->size, block);
		if ((uint64_t)p->offset + p->size > l->size)
			return failFile(e, size, "%s: partition \"%s\" ends at %llu, past the flash's %u bytes", file, p->name, (unsigned long long)p->offset + p->size, l->size);
		for (int k = 0; k < i; k++) {
			const SealdropPartition* q = &l->partitions[k];
			if (!strcmp(p->name, q->name))
				return failFile(e, size, "%s: two partitions are named \"%s\"", file, p->name);
			if (p->offset < q->offset + q->size && q->offset < p->offset + p->size)
				return failFile(e, size, "%s: partitions \"%s\" and \"%s\" overlap", file, q->name, p->name);
		}
	}
	return 0;
}

int sealdropLayoutLoad(const char* file, SealdropLayout* layout, char* error, size_t errorSize)
{
	memset(layout, 0, sizeof(*layout));
	FILE* stream = fopen(file, "rb");
	if (!stream)
		return failFile(error, errorSize, "layout %s: %s", file, strerror(errno));
	char* text = malloc(kMaxLayoutBytes + 1);
	if (!text) {
		fclose(stream);
		return failFile(error, errorSize, "layout %s: no memory", file);
	}
	size_t length = fread(text, 1, kMaxLayoutBytes + 1, stream);
	int failed = ferror(stream);
	fclose(stream);
	Reader r = { .text = text, .length = length, .file = file, .layout = layout, .error = error, .errorSize = errorSize };
	int result = -1;
	if (failed)
		failFile(error, errorSize, "layout %s: cannot read", file);
	else if (length > kMaxLayoutBytes)
		failFile(error, errorSize, "layout %s: larger than %d bytes", file, kMaxLayoutBytes);
	else {
		if (length >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
			r.at = 3; /* a UTF-8 byte order mark */
		if (!value(&r, kRoot, 0, 0))
			result = peek(&r) >= 0 ? fail(&r, "unexpected text after the layout") : check(&r);
	}
	free(text);
	return result;
}
