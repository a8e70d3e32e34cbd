/*
 * sealdrop-xs: runs Sealdrop's device code (compiled ES modules) on real XS on Linux.
 *
 *   sealdrop-xs [--map FILE] [--state DIR] ENTRY.js [ARGS...]
 *
 * The host gives the program what a Moddable device gives it, plus what tests need:
 * - Native()/native() resolved at run time, as mcconfig's xsc resolves them at build time,
 *   so the native modules run unchanged here and on boards;
 * - trace, console, setTimeout/setInterval and their clear functions, TextEncoder/TextDecoder;
 * - the console UART as embedded:io/serial on stdin/stdout (uart.c);
 * - "sealdrop/xs-host" (host/xs/host.ts): argv, exit, memory figures, gc, files for tests.
 * Bare specifiers resolve through a map generated from package.json and manifest.json
 * (scripts/xs-module-map.mjs). --state DIR becomes the working directory, where the PSA key
 * store writes its files; the folder is made 0700 and every file the process writes 0600
 * (umask 077). Exit code: 0, 1 after an uncaught exception or unhandled rejection
 * (message and stack on stderr), 2 after an engine abort, or what the program passed to exit().
 */
#define _GNU_SOURCE
#include "host.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/time.h>

extern void modInstallTextEncoder(xsMachine* the);
extern void modInstallTextDecoder(xsMachine* the);

static int gArgc;
static char** gArgv;
static char gStartDirectory[PATH_MAX]; /* the working directory before --state changed it */


static double now(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

/* Errors */

static void hostExit(xsMachine* the, int status)
{
	the->exitStatus = status ? status : -1; /* -1: stop with exit code 0 */
}

/* Console */

static void writeArguments(xsMachine* the, FILE* stream)
{
	xsIntegerValue c = xsToInteger(xsArgc), i;
	for (i = 0; i < c; i++) {
		if (i)
			fputc(' ', stream);
		fputs(xsToString(xsArg(i)), stream);
	}
	fputc('\n', stream);
	fflush(stream);
}

/* console.log goes to stdout unless the program holds the UART there; the rest to stderr. */
static void xs_console_log(xsMachine* the)
{
	writeArguments(the, hostUartPollFd(the) >= 0 ? stderr : stdout);
}

static void xs_console_error(xsMachine* the)
{
	writeArguments(the, stderr);
}

/* Timers */

typedef struct Timer {
	struct Timer* next;
	xsIntegerValue id;
	double when;
	double interval; /* 0: once */
	xsSlot callback;
	xsSlot arguments;
} Timer;

static Timer* gTimers = NULL;
static xsIntegerValue gTimerID = 0;

static void scheduleTimer(xsMachine* the, int repeat)
{
	xsVars(1);
	if (xsTypeOf(xsArg(0)) != xsReferenceType || !xsIsInstanceOf(xsArg(0), xsFunctionPrototype))
		xsTypeError("callback is not a function");
	double delay = xsToInteger(xsArgc) > 1 ? xsToNumber(xsArg(1)) : 0;
	if (!(delay >= 0))
		delay = 0;
	Timer* timer = calloc(1, sizeof(Timer));
	if (!timer)
		xsUnknownError("no memory");
	timer->id = ++gTimerID;
	timer->when = now() + delay;
	timer->interval = repeat ? (delay < 1 ? 1 : delay) : 0;
	timer->callback = xsArg(0);
	xsVar(0) = xsNewArray(0);
	for (xsIntegerValue i = 2; i < xsToInteger(xsArgc); i++)
		xsCall1(xsVar(0), xsID("push"), xsArg(i));
	timer->arguments = xsVar(0);
	xsRemember(timer->callback);
	xsRemember(timer->arguments);
	Timer** link = &gTimers;
	while (*link)
		link = &(*link)->next;
	*link = timer;
	xsResult = xsInteger(timer->id);
}

static void xs_setTimeout(xsMachine* the) { scheduleTimer(the, 0); }
static void xs_setInterval(xsMachine* the) { scheduleTimer(the, 1); }

static void forgetTimer(xsMachine* the, Timer** link)
{
	Timer* timer = *link;
	*link = timer->next;
	xsForget(timer->callback);
	xsForget(timer->arguments);
	free(timer);
}

static void xs_clearTimer(xsMachine* the)
{
	if (xsToInteger(xsArgc) < 1 || xsTypeOf(xsArg(0)) != xsIntegerType)
		return;
	xsIntegerValue id = xsToInteger(xsArg(0));
	for (Timer** link = &gTimers; *link; link = &(*link)->next) {
		if ((*link)->id == id) {
			forgetTimer(the, link);
			return;
		}
	}
}

/* Milliseconds until the next timer is due (0: one is due now), or -1 when there is none. */
static int nextTimerDelay(void)
{
	if (!gTimers)
		return -1;
	double first = gTimers->when;
	for (Timer* timer = gTimers->next; timer; timer = timer->next)
		if (timer->when < first)
			first = timer->when;
	double wait = first - now();
	if (wait <= 0)
		return 0;
	return wait > 60000 ? 60000 : (int)ceil(wait);
}

/* Runs the earliest due timer, one per turn of the loop so promise jobs run in between. */
static void runDueTimer(xsMachine* the)
{
	double t = now();
	Timer** volatile due = NULL; /* lives across the setjmp of xsBeginHost */
	for (Timer** link = &gTimers; *link; link = &(*link)->next)
		if ((*link)->when <= t && (!due || (*link)->when < (*due)->when))
			due = link;
	if (!due)
		return;
	xsBeginHost(the);
	{
		xsVars(2);
		Timer* timer = *due;
		xsVar(0) = timer->callback;
		xsVar(1) = timer->arguments;
		if (timer->interval)
			timer->when += timer->interval;
		else
			forgetTimer(the, due);
		xsTry {
			xsCall2(xsVar(0), xsID("apply"), xsUndefined, xsVar(1));
		}
		xsCatch {
			xsVar(0) = xsException;
			the->exitStatus = 1;
			hostReportError(the, &xsVar(0), "uncaught exception");
		}
	}
	xsEndHost(the);
}

static int runLoop(xsMachine* the)
{
	for (;;) {
		hostRunPromiseJobs(the);
		if (the->exitStatus)
			break;
		int wait = nextTimerDelay();
		int fd = hostUartPollFd(the);
		if (wait < 0 && fd < 0)
			break;
		if (wait != 0) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int ready = poll(&p, fd >= 0 ? 1 : 0, wait);
			if (ready > 0)
				hostUartReadable(the);
			continue;
		}
		runDueTimer(the);
	}
	if (!the->exitStatus)
		hostCheckRejections(the);
	return the->exitStatus < 0 ? 0 : the->exitStatus;
}

/* Native()/native(): the functions mcconfig's xsc binds at build time, bound here by name. */

static xsSlot gNatives; /* name → host function or base class */

static void* findNative(xsMachine* the, const char* name)
{
	if (strncmp(name, "xs_", 3))
		xsRangeError("native: %s is not an xs_ function", name);
	void* address = dlsym(RTLD_DEFAULT, name);
	if (!address)
		xsReferenceError("native: no function %s in this host", name);
	return address;
}

/* Looks `name` up in the cache: on a hit, sets xsResult and returns 1; else returns 0 with the
   address of the C symbol in *address and its cache key in *id. */
static int cachedNative(xsMachine* the, void** address, xsIdentifier* id)
{
	*id = xsID(xsToString(xsArg(0)));
	if (xsHas(gNatives, *id)) {
		xsResult = xsGet(gNatives, *id);
		return 1;
	}
	*address = findNative(the, xsToString(xsArg(0)));
	return 0;
}

static void xs_native(xsMachine* the)
{
	void* address;
	xsIdentifier id;
	if (cachedNative(the, &address, &id))
		return;
	xsResult = xsNewHostFunction((xsCallback)address, 0);
	xsSet(gNatives, id, xsResult);
}

/* The base class of `class X extends Native("xs_x_destructor")`: its instances are host objects
   with that destructor, whatever subclass constructs them. */
static void xs_native_construct(xsMachine* the)
{
	xsVars(2);
	xsVar(0) = xsGet(xsFunction, xsID("prototype"));
	xsResult = xsNewHostInstance(xsVar(0));
	if (xsTypeOf(xsTarget) == xsReferenceType) {
		xsVar(1) = xsGet(xsTarget, xsID("prototype"));
		xsCall2(xsGet(xsGlobal, xsID("Object")), xsID("setPrototypeOf"), xsResult, xsVar(1));
	}
}

static void xs_Native(xsMachine* the)
{
	xsVars(1);
	void* address;
	xsIdentifier id;
	if (cachedNative(the, &address, &id))
		return;
	xsVar(0) = xsNewHostObject((xsDestructor)address);
	xsResult = xsNewHostConstructor(xs_native_construct, 0, xsVar(0));
	xsSet(gNatives, id, xsResult);
}

/* sealdrop/xs-host */

void xs_host_argv(xsMachine* the)
{
	xsResult = xsNewArray(0);
	for (int i = 0; i < gArgc; i++)
		xsCall1(xsResult, xsID("push"), xsString(gArgv[i]));
}

void xs_host_startDirectory(xsMachine* the)
{
	xsResult = xsString(gStartDirectory);
}

void xs_host_exit(xsMachine* the)
{
	int status = xsToInteger(xsArgc) > 0 ? xsToInteger(xsArg(0)) : 0;
	hostExit(the, status);
}

void xs_host_memory(xsMachine* the)
{
	HostMemory m;
	hostMemory(the, &m);
	xsResult = xsNewObject();
	xsSet(xsResult, xsID("chunksCurrent"), xsNumber((double)m.chunksCurrent));
	xsSet(xsResult, xsID("chunksPeak"), xsNumber((double)m.chunksPeak));
	xsSet(xsResult, xsID("slotsCurrent"), xsNumber((double)m.slotsCurrent));
	xsSet(xsResult, xsID("slotsPeak"), xsNumber((double)m.slotsPeak));
	xsSet(xsResult, xsID("slotSize"), xsNumber((double)m.slotSize));
	xsSet(xsResult, xsID("stackSlots"), xsNumber((double)m.stackSlots));
	xsSet(xsResult, xsID("stackPeak"), xsNumber((double)m.stackPeak));
}

void xs_host_resetPeaks(xsMachine* the)
{
	hostResetPeaks(the);
}

void xs_host_gc(xsMachine* the)
{
	if (xsToInteger(xsArgc) > 0)
		xsEnableGarbageCollection(xsTest(xsArg(0)));
	else
		xsCollectGarbage();
}

void xs_host_readFile(xsMachine* the)
{
	xsStringValue path = xsToString(xsArg(0));
	FILE* file = fopen(path, "rb");
	if (!file)
		sealdropThrowCode(the, "E_IO", "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fileno(file), &st) || st.st_size > 64 * 1024 * 1024) {
		fclose(file);
		sealdropThrowCode(the, "E_IO", "%s: cannot read", path);
	}
	xsResult = xsArrayBuffer(NULL, (xsIntegerValue)st.st_size);
	size_t got = fread(xsToArrayBuffer(xsResult), 1, st.st_size, file);
	fclose(file);
	if (got != (size_t)st.st_size)
		sealdropThrowCode(the, "E_IO", "%s: short read", path);
}

/* readFileInto(path, position, buffer, byteOffset, length): bytes read (fewer at the end of the file). */
void xs_host_readFileInto(xsMachine* the)
{
	xsStringValue path = xsToString(xsArg(0));
	double position = xsToNumber(xsArg(1));
	xsIntegerValue offset = xsToInteger(xsArg(3)), length = xsToInteger(xsArg(4));
	xsIntegerValue size = xsGetArrayBufferLength(xsArg(2));
	if (position < 0 || offset < 0 || length < 0 || offset > size || length > size - offset)
		xsRangeError("readFileInto: bad range");
	FILE* file = fopen(path, "rb");
	if (!file)
		sealdropThrowCode(the, "E_IO", "%s: %s", path, strerror(errno));
	size_t got = 0;
	if (!fseeko(file, (off_t)position, SEEK_SET))
		got = fread((uint8_t*)xsToArrayBuffer(xsArg(2)) + offset, 1, length, file);
	int failed = ferror(file);
	fclose(file);
	if (failed)
		sealdropThrowCode(the, "E_IO", "%s: read failed", path);
	xsResult = xsInteger((xsIntegerValue)got);
}

void xs_host_fileSize(xsMachine* the)
{
	xsStringValue path = xsToString(xsArg(0));
	struct stat st;
	if (stat(path, &st))
		sealdropThrowCode(the, "E_IO", "%s: %s", path, strerror(errno));
	xsResult = xsNumber((double)st.st_size);
}

void xs_host_writeFile(xsMachine* the)
{
	xsStringValue path = xsToString(xsArg(0));
	FILE* file = fopen(path, "wb");
	if (!file)
		sealdropThrowCode(the, "E_IO", "%s: %s", path, strerror(errno));
	xsIntegerValue length = xsGetArrayBufferLength(xsArg(1));
	size_t put = fwrite(xsToArrayBuffer(xsArg(1)), 1, length, file);
	if (fclose(file) || put != (size_t)length)
		sealdropThrowCode(the, "E_IO", "%s: write failed", path);
}

void xs_host_now(xsMachine* the)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	xsResult = xsNumber((double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6);
}

/* Machine */

static void xs_module_fulfilled(xsMachine* the) { (void)the; }

static void xs_module_rejected(xsMachine* the)
{
	xsVars(1);
	xsVar(0) = xsArg(0);
	the->exitStatus = 1;
	hostReportError(the, &xsVar(0), "uncaught exception");
}

static void defineFunction(xsMachine* the, xsSlot* target, const char* name, xsCallback callback, int length)
{
	xsVar(0) = xsNewHostFunction(callback, length);
	xsDefine(*target, xsID(name), xsVar(0), xsDontEnum);
}

/* uses xsVar(0) and xsVar(1) of the caller's frame */
static void installGlobals(xsMachine* the)
{
	defineFunction(the, &xsGlobal, "trace", xs_console_error, 1);
	xsVar(1) = xsNewObject();
	defineFunction(the, &xsVar(1), "log", xs_console_log, 1);
	defineFunction(the, &xsVar(1), "info", xs_console_log, 1);
	defineFunction(the, &xsVar(1), "warn", xs_console_error, 1);
	defineFunction(the, &xsVar(1), "error", xs_console_error, 1);
	xsDefine(xsGlobal, xsID("console"), xsVar(1), xsDontEnum);
	defineFunction(the, &xsGlobal, "setTimeout", xs_setTimeout, 2);
	defineFunction(the, &xsGlobal, "setInterval", xs_setInterval, 2);
	defineFunction(the, &xsGlobal, "clearTimeout", xs_clearTimer, 1);
	defineFunction(the, &xsGlobal, "clearInterval", xs_clearTimer, 1);
	defineFunction(the, &xsGlobal, "native", xs_native, 1);
	defineFunction(the, &xsGlobal, "Native", xs_Native, 1);
	gNatives = xsNewObject();
	xsRemember(gNatives);
}

static void usage(FILE* stream)
{
	fprintf(stream,
		"usage: sealdrop-xs [--map FILE] [--state DIR] ENTRY.js [ARGS...]\n"
		"Runs an ES module on XS %s with Sealdrop's native modules.\n"
		"  --map FILE   module specifier map (default: modules.map beside the build folder)\n"
		"  --state DIR  the device's own state folder (working directory: PSA key files); made 0700\n"
		"  --version    print the XS version\n"
		"The release build keeps the modules it compiles from its own tree in module-cache beside\n"
		"it, or every module in the absolute path SEALDROP_XS_MODULE_CACHE names (\"off\": none).\n",
		hostXsVersion());
}

int main(int argc, char* argv[])
{
	/* Everything this process writes is the device's: the PSA key store holds the device's private
	   key in clear (mbedTLS's psa_its_file.c creates its files with fopen), the flash file holds
	   decrypted firmware. Owner-only, whatever the caller's umask. */
	umask(077);
	const char* mapFile = NULL;
	const char* stateDir = NULL;
	int argi = 1;
	for (; argi < argc && argv[argi][0] == '-'; argi++) {
		if (!strcmp(argv[argi], "--map") && argi + 1 < argc)
			mapFile = argv[++argi];
		else if (!strcmp(argv[argi], "--state") && argi + 1 < argc)
			stateDir = argv[++argi];
		else if (!strcmp(argv[argi], "--version")) {
			printf("XS %s\n", hostXsVersion());
			return 0;
		}
		else if (!strcmp(argv[argi], "--help") || !strcmp(argv[argi], "-h")) {
			usage(stdout);
			return 0;
		}
		else {
			fprintf(stderr, "sealdrop-xs: unknown option %s\n", argv[argi]);
			usage(stderr);
			return 64;
		}
	}
	if (argi >= argc) {
		usage(stderr);
		return 64;
	}
	char entry[PATH_MAX];
	if (!realpath(argv[argi], entry)) {
		fprintf(stderr, "sealdrop-xs: %s: %s\n", argv[argi], strerror(errno));
		return 66;
	}
	gArgc = argc - argi;
	gArgv = argv + argi;

	char defaultMap[PATH_MAX];
	if (!mapFile) {
		if (!hostExecutablePath(defaultMap, sizeof(defaultMap) - 32)) {
			char* slash = strrchr(defaultMap, '/');
			if (slash) {
				*slash = 0;
				slash = strrchr(defaultMap, '/');
				if (slash)
					strcpy(slash, "/modules.map");
			}
			mapFile = defaultMap;
		}
	}
	if (mapFile && hostLoadModuleMap(mapFile)) {
		fprintf(stderr, "sealdrop-xs: cannot read module map %s: %s\n", mapFile, strerror(errno));
		return 66;
	}
	if (!getcwd(gStartDirectory, sizeof(gStartDirectory)))
		strcpy(gStartDirectory, "/");
	if (stateDir) {
		/* 0700 also when it exists already: a folder made by an older version or another tool
		   under a looser umask would let others read the key files' names and contents */
		mkdir(stateDir, 0700);
		if (chmod(stateDir, 0700) || chdir(stateDir)) {
			fprintf(stderr, "sealdrop-xs: state folder %s: %s\n", stateDir, strerror(errno));
			return 66;
		}
	}

	/* The stack, heap and chunk sizes are a device build's (manifest.json's creation, passed in by
	   the Makefile through scripts/xs-creation.mjs), the heap and chunks with room added for the
	   modules (HOST_MODULE_SLOTS below): code that overflows a board's stack
	   overflows here (hostLimitStack below takes back the extra room the host's own intrinsics
	   need). Keys and the parser buffer are the host's: it compiles modules at run time, which a
	   board's build does ahead of time. */
	/* Room for the intrinsics this host keeps on its own stack (about 200 slots with XS 16). */
	enum { HOST_STACK_EXTRA = 512 };
	/* SEALDROP_XS_STACK_EXTRA=n: n more slots for a test harness whose own frames sit below the
	   device code it drives (the SMP fuzz); never set for a device program. */
	int stackExtra = 0;
	const char* extra = getenv("SEALDROP_XS_STACK_EXTRA");
	if (extra && *extra) {
		char* end;
		long n = strtol(extra, &end, 10);
		if (*end || n < 0 || n > 65536) {
			fprintf(stderr, "sealdrop-xs: SEALDROP_XS_STACK_EXTRA must be a number of slots from 0 to 65536\n");
			return 64;
		}
		stackExtra = (int)n;
	}
	/* Room for the modules themselves: a board runs them from flash, this host compiles them into
	   its heap (every module of the device program: ~25,700 slots and ~470-570 KB of chunks, by
	   memory() after a collection). Without it the device's free heap is the host's whole heap,
	   and loading the modules grows it 1,024 slots at a time, each step after a full collection
	   of all that is loaded: 194 M of the 289 M instructions of a simulator `boot`, against 40 M
	   with this room (cachegrind). The chunks' room is twice what the modules take: XS grows
	   chunks only by the allocation that did not fit, so with the modules' chunks close to the
	   total, the MCUboot model's X25519 (BigInt chunks) collected 2,734 times in one boot with
	   640 KiB of room, 414 times with none, 61 times with this. Growth steps stay the device's. */
	enum { HOST_MODULE_SLOTS = 32768, HOST_MODULE_CHUNKS = 1024 * 1024 };
	xsCreation creation = {
		.initialChunkSize = SEALDROP_CHUNK_INITIAL + HOST_MODULE_CHUNKS,
		.incrementalChunkSize = SEALDROP_CHUNK_INCREMENTAL,
		.initialHeapCount = SEALDROP_HEAP_INITIAL + HOST_MODULE_SLOTS,
		.incrementalHeapCount = SEALDROP_HEAP_INCREMENTAL,
		.stackCount = SEALDROP_STACK_COUNT + HOST_STACK_EXTRA + stackExtra,
		.initialKeyCount = 8192,
		.incrementalKeyCount = 1024,
		.nameModulo = 1993,
		.symbolModulo = 127,
		.parserBufferSize = 64 * 1024,
		.parserTableModulo = 1993,
	};
	hostInitialize();
	xsMachine* machine = xsCreateMachine(&creation, "sealdrop-xs", NULL);
	if (!machine || hostLimitStack(machine, SEALDROP_STACK_COUNT + stackExtra)) {
		fprintf(stderr, "sealdrop-xs: cannot create the XS machine with a %d-slot stack\n", SEALDROP_STACK_COUNT + stackExtra);
		return 70;
	}
	modInstallTextEncoder(machine);
	modInstallTextDecoder(machine);

	xsBeginHost(machine);
	{
		xsVars(3);
		installGlobals(the);
		xsTry {
			xsVar(0) = xsAwaitImport(entry, XS_IMPORT_ASYNC);
			xsVar(1) = xsNewHostFunction(xs_module_fulfilled, 1);
			xsVar(2) = xsNewHostFunction(xs_module_rejected, 1);
			xsCall2(xsVar(0), xsID("then"), xsVar(1), xsVar(2));
		}
		xsCatch {
			xsVar(0) = xsException;
			the->exitStatus = 1;
			hostReportError(the, &xsVar(0), "uncaught exception");
		}
	}
	xsEndHost(machine);
	int status = runLoop(machine);
	hostRestoreStack(machine);
	xsDeleteMachine(machine);
	hostTerminate();
	fflush(stdout);
	return status;
}

