/* Shared between the parts of the Linux XS host (host/xs/). */
#ifndef SEALDROP_HOST_H
#define SEALDROP_HOST_H

#include <stddef.h>
#include <stdint.h>
#include "xs.h"

typedef struct {
	size_t chunksCurrent, chunksPeak; /* bytes of chunk memory (strings, buffers, closures) */
	size_t slotsCurrent, slotsPeak;   /* bytes of slots in use */
	size_t slotSize;
	size_t stackSlots; /* JS stack slots in use by the caller's frames (excluding the host call's own) */
	size_t stackPeak;  /* the deepest the JS stack went since start or the last reset, in a board's slots */
} HostMemory;

/* platform.c */
const char* hostXsVersion(void);
void hostInitialize(void);
void hostTerminate(void);
int hostLoadModuleMap(const char* file);
int hostExecutablePath(char* out, size_t size); /* this program's file (-1 when unknown): the build folder is beside it */
void hostMemory(xsMachine* the, HostMemory* memory);
void hostResetPeaks(xsMachine* the);
int hostLimitStack(xsMachine* the, int deviceSlots); /* -1 when the machine's stack is too small */
size_t hostStackPeak(xsMachine* the);
void hostRestoreStack(xsMachine* the);
void hostRunPromiseJobs(xsMachine* the);
void hostCheckRejections(xsMachine* the);

/* native/native-common.c (declared here too: sealdrop-native.h's xsmc.h does not mix with xs.h):
   throws an Error whose `code` is one of SealdropError's codes, as the native modules do. */
void sealdropThrowCode(xsMachine* the, const char* code, const char* format, ...) XS_FUNCTION_NORETURN;
/* native/native-common.c, likewise: the writable bytes of an ArrayBuffer, typed array or DataView. */
void sealdropGetWritableBytes(xsMachine* the, xsSlot* slot, uint8_t** data, size_t* size);

/* report.c */
void hostReportError(xsMachine* the, xsSlot* error, const char* what);

/* uart.c: the device's console UART on stdin/stdout */
int hostUartPollFd(xsMachine* the);   /* -1 when nobody reads the UART */
void hostUartReadable(xsMachine* the);

#endif
