/*
 * The porting interface of the Flash native module (native/flash.c ↔ native/<platform>/flash-*.c).
 *
 * A tiny flash-area layer in the manner of MCUboot's flash_area: open a partition by name, then
 * read, write and erase at offsets relative to the partition's start. native/flash.c (the xsmc
 * glue, shared by every platform) checks bounds, alignment, argument types and the read-only mode
 * before it calls a backend, so a backend may trust its arguments; the Linux backend checks them
 * again anyway. A backend keeps a description of its last failure for error messages.
 *
 * Backends:
 * - native/lin/flash-lin.c: partitions of ONE file, laid out by a board layout JSON (SEALDROP_FLASH,
 *   SEALDROP_LAYOUT); NOR rules enforced (a write needing an erased bit fails); an operation
 *   counter and an injected "power cut" (SEALDROP_FLASH_FAIL_AT) for fault-injection tests.
 * - native/esp32/flasharea-esp32.c (esp_partition_*) and native/zephyr/flasharea-zephyr.c
 *   (flash_area_*). Real NOR flash does not refuse a write over programmed bits (the hardware
 *   ANDs silently), so those backends need not check; the host refuses so that such bugs show
 *   in tests.
 */
#ifndef SEALDROP_FLASH_H
#define SEALDROP_FLASH_H

#include <stdint.h>

typedef struct {
	uint32_t offset;      /* start of the partition in the device's flash (informational) */
	uint32_t size;        /* bytes; a multiple of blockLength */
	uint32_t blockLength; /* erase unit in bytes */
	uint32_t writeAlign;  /* write offsets and lengths are multiples of this (a power of two) */
	uint8_t eraseValue;   /* what each byte reads after an erase (0xFF on NOR flash) */
	void* platform;       /* the backend's own handle (esp_partition_t*, struct flash_area*...) */
} SealdropFlashArea;

/* Results of the functions below: 0, or one of these. */
enum {
	kSealdropFlashNotFound = -1,  /* no partition of that name */
	kSealdropFlashInvalid = -2,   /* out of bounds or misaligned */
	kSealdropFlashNotErased = -3, /* a write needs a bit that only an erase sets */
	kSealdropFlashFailed = -4,    /* platform I/O or configuration failure */
	kSealdropFlashPowerCut = -5,  /* injected fault (host: SEALDROP_FLASH_FAIL_AT) */
};

/* Opens the partition `name` and fills *area. */
int sealdropFlashAreaOpen(const char* name, SealdropFlashArea* area);

/* Releases what open took; *area is not used again. */
void sealdropFlashAreaClose(SealdropFlashArea* area);

/* offset and size are relative to the partition. write: offset and size multiples of
   writeAlign. erase: offset and size multiples of blockLength. */
int sealdropFlashAreaRead(const SealdropFlashArea* area, uint32_t offset, void* data, uint32_t size);
int sealdropFlashAreaWrite(const SealdropFlashArea* area, uint32_t offset, const void* data, uint32_t size);
int sealdropFlashAreaErase(const SealdropFlashArea* area, uint32_t offset, uint32_t size);

/* What the last failing call above went wrong on, in words ("no partition \"foo\" in ..."). */
const char* sealdropFlashAreaError(void);

/* Write and erase calls that reached the backend since the process started, across all areas,
   including those that failed. A statistic for tests and fault injection. */
uint32_t sealdropFlashOperations(void);

#endif
