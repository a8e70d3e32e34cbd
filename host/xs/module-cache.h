/* module-cache.c: compiled modules kept between runs of the Linux XS host. */
#ifndef SEALDROP_MODULE_CACHE_H
#define SEALDROP_MODULE_CACHE_H

#include <sys/stat.h>

/* The module file as moduleCacheRead found it, before it was parsed; what moduleCacheWrite files the entry under. */
typedef struct {
	struct stat file;
	int valid;
} ModuleCacheKey;

/* The module compiled from `path` by an earlier run, or NULL (then parse it, and moduleCacheWrite the script). */
txScript* moduleCacheRead(const char* path, txUnsigned flags, ModuleCacheKey* key);
void moduleCacheWrite(const char* path, txUnsigned flags, const ModuleCacheKey* key, const txScript* script);

#endif
