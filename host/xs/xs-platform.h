/*
 * XS platform header of the Sealdrop Linux host (XSPLATFORM). XS takes most of its platform
 * defaults (xsPlatforms.c); the host supplies its own module resolution (a specifier map),
 * promise-job queue, abort handling and run loop, so those defaults stay off.
 */
#ifndef SEALDROP_XS_PLATFORM_H
#define SEALDROP_XS_PLATFORM_H

#undef mxLinux
#define mxLinux 1
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
#include <arpa/inet.h>
#include <pthread.h>
#include <unistd.h>

#define mxUseGCCAtomics 1
#define mxUsePOSIXThreads 1

#define mxUseDefaultMachinePlatform 1
#define mxUseDefaultBuildKeys 1
#define mxUseDefaultChunkAllocation 1
#define mxUseDefaultSlotAllocation 1
#define mxUseDefaultParseScript 1
#define mxUseDefaultSharedChunks 1
#define mxUseDefaultDebug 1

/* promiseJobs: set by fxQueuePromiseJobs, drained by the run loop; exitStatus: non-zero once the
   program must stop (uncaught error, exit()), then the run loop returns it as the exit code. */
#define mxMachinePlatform \
	void* waiterCondition; \
	void* waiterData; \
	void* waiterLink; \
	int promiseJobs; \
	int exitStatus;

#endif
