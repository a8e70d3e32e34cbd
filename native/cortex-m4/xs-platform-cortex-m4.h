/*
 * XS platform header (XSPLATFORM) for the Cortex-M4 compile check of the portable native C
 * (native/cortex-m4/Makefile), not for a firmware build. @agoric/xsnap ships XS's desktop
 * platform headers only; the XS platform headers of the real boards (Moddable's
 * xs/platforms/esp and zephyr) come with the Moddable SDK and ESP-IDF/Zephyr, which are not
 * here. So this is a minimal bare-metal platform of our own on newlib: no threads, no sockets,
 * and the c_* wrappers mapped to newlib as Moddable's own platform headers do.
 */
#ifndef SEALDROP_XS_PLATFORM_CORTEX_M4_H
#define SEALDROP_XS_PLATFORM_CORTEX_M4_H

#define XS_FUNCTION_NORETURN __attribute__((noreturn))

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define mxMachinePlatform \
	void* host;

#define c_calloc calloc
#define c_free free
#define c_malloc malloc
#define c_realloc realloc
#define c_memcmp memcmp
#define c_memcpy memcpy
#define c_memmove memmove
#define c_memset memset
#define c_snprintf snprintf
#define c_strcmp strcmp
#define c_strlen strlen
#define c_strncmp strncmp

#endif
