/*
 * Compiled modules, kept between runs of the Linux XS host. A board runs modules that mcconfig
 * compiled at build time; this host compiles each one from its .js file at every start, which was
 * about half of a short run's CPU (the simulator and the tests start thousands of them). A module
 * compiled once is stored as XS compiled it (the three buffers of its txScript: symbols, byte
 * code, host names; what xsc writes into an .xsb) and read back instead of parsing the file again,
 * so what runs is the same byte code either way.
 *
 * An entry is used only while it still describes its file: the header holds the file's device,
 * inode, size, modification and status-change times (any write moves ctime, which no one can set
 * back), the host binary's own size and modification time (a rebuilt host, perhaps on another XS
 * version, compiles afresh), the parse flags and the format; a checksum covers the buffers.
 * Anything else, including a short or damaged entry, is a miss, and the file is parsed as before. Entries are written to a temporary
 * file and renamed into place, so concurrent runs never read half of one.
 *
 * The cache is the folder `module-cache` beside the binary (the build folder, the user's own, as
 * the .js files it stands for are), for the modules of the tree the binary was built in;
 * SEALDROP_XS_MODULE_CACHE names another folder (an absolute path) for every module, or "off"
 * turns it off. A cache that cannot be written only costs the time it would have saved. The debug
 * builds do not cache: their modules also follow tsc's source maps, files this key does not cover.
 */
#include "xsAll.h"
#include "host.h"
#include "module-cache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_MAGIC 0x43584453u /* "SDXC" */
#define CACHE_FORMAT 1

typedef struct {
	uint32_t magic, format;
	uint32_t xsVersion, flags;
	/* the host binary */
	int64_t hostSize, hostMtimeSec, hostMtimeNsec;
	/* the module's file */
	uint64_t dev, ino;
	int64_t size, mtimeSec, mtimeNsec, ctimeSec, ctimeNsec;
	/* what follows the header: the path (with its 0), then the three buffers, and their FNV-1a */
	uint32_t pathSize, symbolsSize, codeSize, hostsSize;
	uint64_t checksum;
} CacheHeader;

static char gFolder[PATH_MAX];
/* The default cache keeps only the modules under this folder (the project or package the binary
   was built in, three folders up from build/xs/<flavor>/): a scratch program elsewhere, such as a
   test's in a temporary folder, would leave an entry behind at every run. Empty: every module. */
static char gTree[PATH_MAX];
static int gState = 0; /* 0 not looked up yet, 1 on, -1 off */
static struct stat gHost;

static int cacheOn(void)
{
	if (gState)
		return gState > 0;
	gState = -1;
	const char* folder = getenv("SEALDROP_XS_MODULE_CACHE");
	char exe[PATH_MAX];
	if (hostExecutablePath(exe, sizeof(exe)) || stat(exe, &gHost))
		return 0;
	if (folder && !strcmp(folder, "off"))
		return 0;
	if (folder && *folder) {
		if (folder[0] != '/') /* the process works in its state folder: a relative path would move */
			return 0;
		if (snprintf(gFolder, sizeof(gFolder), "%s", folder) >= (int)sizeof(gFolder))
			return 0;
	}
	else {
		char* slash = strrchr(exe, '/');
		if (!slash)
			return 0;
		*slash = 0;
		if (snprintf(gFolder, sizeof(gFolder), "%s/module-cache", exe) >= (int)sizeof(gFolder))
			return 0;
		for (int up = 0; up < 3; up++) {
			slash = strrchr(exe, '/');
			if (!slash || slash == exe)
				return 0;
			*slash = 0;
		}
		size_t length = strlen(exe);
		if (length + 2 > sizeof(gTree))
			return 0;
		memcpy(gTree, exe, length);
		gTree[length] = '/';
		gTree[length + 1] = 0;
	}
	if (mkdir(gFolder, 0700) && errno != EEXIST)
		return 0;
	gState = 1;
	return 1;
}

#define FNV_OFFSET 0xcbf29ce484222325ull

/* 64-bit FNV-1a, continued from `h`. */
static uint64_t fnv1a(uint64_t h, const void* data, size_t size)
{
	for (const unsigned char* p = data; size--; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return h;
}

static uint64_t checksumOf(const txScript* script, uint32_t hostsSize)
{
	uint64_t h = fnv1a(FNV_OFFSET, script->symbolsBuffer, script->symbolsBuffer ? script->symbolsSize : 0);
	h = fnv1a(h, script->codeBuffer, script->codeSize);
	return fnv1a(h, script->hostsBuffer, hostsSize);
}

/* The entry's file name: FNV-1a of the module's path (the path itself is in the entry and compared). */
static int entryPath(char* out, size_t size, const char* path)
{
	uint64_t h = fnv1a(FNV_OFFSET, path, strlen(path));
	return snprintf(out, size, "%s/%016llx", gFolder, (unsigned long long)h) >= (int)size ? -1 : 0;
}

static void describe(CacheHeader* header, const struct stat* file, const char* path, txUnsigned flags)
{
	memset(header, 0, sizeof(*header));
	header->magic = CACHE_MAGIC;
	header->format = CACHE_FORMAT;
	header->xsVersion = (XS_MAJOR_VERSION << 16) | (XS_MINOR_VERSION << 8) | XS_PATCH_VERSION;
	header->flags = flags;
	header->hostSize = gHost.st_size;
	header->hostMtimeSec = gHost.st_mtim.tv_sec;
	header->hostMtimeNsec = gHost.st_mtim.tv_nsec;
	header->dev = file->st_dev;
	header->ino = file->st_ino;
	header->size = file->st_size;
	header->mtimeSec = file->st_mtim.tv_sec;
	header->mtimeNsec = file->st_mtim.tv_nsec;
	header->ctimeSec = file->st_ctim.tv_sec;
	header->ctimeNsec = file->st_ctim.tv_nsec;
	header->pathSize = (uint32_t)strlen(path) + 1;
}

/* Reads exactly `size` bytes into a new buffer (NULL for size 0, or on failure: *ok says which). */
static txS1* readBuffer(int fd, uint32_t size, int* ok)
{
	if (!size)
		return NULL;
	txS1* buffer = c_malloc(size);
	if (!buffer || read(fd, buffer, size) != (ssize_t)size) {
		c_free(buffer);
		*ok = 0;
		return NULL;
	}
	return buffer;
}

txScript* moduleCacheRead(const char* path, txUnsigned flags, ModuleCacheKey* key)
{
	char entry[PATH_MAX];
	key->valid = 0;
#ifdef mxDebug
	return NULL;
#endif
	/* the file as it is before anyone reads it: a change while it is parsed makes the entry a miss */
	if (!cacheOn() || (gTree[0] && strncmp(path, gTree, strlen(gTree))) || stat(path, &key->file) || entryPath(entry, sizeof(entry), path))
		return NULL;
	key->valid = 1;
	int fd = open(entry, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	CacheHeader want, got;
	describe(&want, &key->file, path, flags);
	struct stat stored;
	txScript* script = NULL;
	char storedPath[PATH_MAX];
	if (read(fd, &got, sizeof(got)) != sizeof(got)) goto bail;
	/* every field but the buffer sizes must match */
	if (memcmp(&got, &want, offsetof(CacheHeader, symbolsSize))) goto bail;
	if (got.pathSize > sizeof(storedPath) || read(fd, storedPath, got.pathSize) != (ssize_t)got.pathSize || memcmp(storedPath, path, got.pathSize)) goto bail;
	if (fstat(fd, &stored) || stored.st_size != (off_t)(sizeof(got) + got.pathSize + (uint64_t)got.symbolsSize + got.codeSize + got.hostsSize) || !got.codeSize) goto bail;
	script = c_calloc(1, sizeof(txScript));
	if (!script) goto bail;
	int ok = 1;
	script->symbolsBuffer = readBuffer(fd, got.symbolsSize, &ok);
	script->symbolsSize = got.symbolsSize;
	script->codeBuffer = readBuffer(fd, got.codeSize, &ok);
	script->codeSize = got.codeSize;
	script->hostsBuffer = readBuffer(fd, got.hostsSize, &ok);
	script->hostsSize = got.hostsSize;
	script->version[0] = XS_MAJOR_VERSION;
	script->version[1] = XS_MINOR_VERSION;
	script->version[2] = XS_PATCH_VERSION;
	if (!ok || checksumOf(script, got.hostsSize) != got.checksum) {
		fxDeleteScript(script);
		script = NULL;
	}
bail:
	close(fd);
	return script;
}

static int writeAll(int fd, const void* data, size_t size)
{
	return size == 0 || write(fd, data, size) == (ssize_t)size ? 0 : -1;
}

void moduleCacheWrite(const char* path, txUnsigned flags, const ModuleCacheKey* key, const txScript* script)
{
	char entry[PATH_MAX], temporary[PATH_MAX + 32];
	if (!key->valid || !script || !script->codeBuffer || entryPath(entry, sizeof(entry), path))
		return;
	CacheHeader header;
	describe(&header, &key->file, path, flags);
	header.codeSize = script->codeSize;
	header.hostsSize = script->hostsBuffer ? script->hostsSize : 0;
	header.symbolsSize = script->symbolsBuffer ? script->symbolsSize : 0;
	header.checksum = checksumOf(script, header.hostsSize);
	snprintf(temporary, sizeof(temporary), "%s.%ld", entry, (long)getpid());
	int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	int failed = writeAll(fd, &header, sizeof(header)) || writeAll(fd, path, header.pathSize)
		|| writeAll(fd, script->symbolsBuffer, header.symbolsSize) || writeAll(fd, script->codeBuffer, header.codeSize)
		|| writeAll(fd, script->hostsBuffer, header.hostsSize);
	if (close(fd) || failed || rename(temporary, entry))
		unlink(temporary);
}
