/*
 * The XS platform functions of the Linux host that need the engine's internals (xsAll.h):
 * module resolution through the specifier map, module loading (compiled modules kept between
 * runs by module-cache.c; tsc's external source maps in the debug build), the promise-job flag,
 * aborts, and the memory figures benchmarks read.
 */
#include "xsAll.h"
#include "xsScript.h"
#include "host.h"
#include "module-cache.h"

#include <limits.h>
#include <unistd.h>

/* Module map: "specifier<TAB>absolute path" per line, written by scripts/xs-module-map.mjs. */
typedef struct {
	char* specifier;
	char* path;
} MapEntry;

static MapEntry* gMap = NULL;
static size_t gMapCount = 0;

int hostLoadModuleMap(const char* file)
{
	FILE* f = fopen(file, "r");
	if (!f)
		return -1;
	char line[2 * PATH_MAX];
	size_t capacity = 0;
	while (fgets(line, sizeof(line), f)) {
		char* tab = strchr(line, '\t');
		char* end = strchr(line, '\n');
		if (!tab || !end)
			continue;
		*tab = 0;
		*end = 0;
		if (gMapCount == capacity) {
			capacity = capacity ? 2 * capacity : 64;
			MapEntry* grown = realloc(gMap, capacity * sizeof(MapEntry));
			if (!grown) {
				fclose(f);
				return -1;
			}
			gMap = grown;
		}
		gMap[gMapCount].specifier = strdup(line);
		gMap[gMapCount].path = strdup(tab + 1);
		gMapCount++;
	}
	fclose(f);
	return 0;
}

static const char* lookupSpecifier(const char* specifier)
{
	for (size_t i = 0; i < gMapCount; i++) {
		if (!strcmp(gMap[i].specifier, specifier))
			return gMap[i].path;
	}
	return NULL;
}

/* The name a file has in the map (the first), or NULL: files outside the map (tests, the host's own) are known by path. */
static const char* nameOfFile(const char* path)
{
	for (size_t i = 0; i < gMapCount; i++) {
		if (!strcmp(gMap[i].path, path))
			return gMap[i].specifier;
	}
	return NULL;
}

/* Drops a ".js" or ".mjs" ending from the last path segment, as xsl and a device do. */
static void dropExtension(char* name)
{
	char* slash = strrchr(name, '/');
	char* dot = strrchr(slash ? slash : name, '.');
	if (dot && (!strcmp(dot, ".js") || !strcmp(dot, ".mjs")))
		*dot = 0;
}

/*
 * Joins a relative specifier ("./x", "../../y") to the folder of `base`, a module name or a file
 * path. Each "../" removes one segment; running out of segments is an error, as in xsl.
 */
static int joinRelative(char* out, size_t size, const char* base, const char* specifier)
{
	char buffer[PATH_MAX];
	if (strlen(base) + 1 >= sizeof(buffer))
		return -1;
	buffer[0] = '/';
	strcpy(buffer + 1, base[0] == '/' ? base + 1 : base);
	char* slash = strrchr(buffer, '/');
	*slash = 0;
	while (1) {
		if (!strncmp(specifier, "./", 2))
			specifier += 2;
		else if (!strncmp(specifier, "../", 3)) {
			specifier += 3;
			slash = strrchr(buffer, '/');
			if (!slash)
				return -1;
			*slash = 0;
		}
		else
			break;
	}
	if (snprintf(out, size, "%s/%s", buffer, specifier) >= (int)size)
		return -1;
	if (base[0] != '/') /* a name: drop the slash put in front of it above */
		memmove(out, out + 1, strlen(out));
	return 0;
}

/* A file's module key: its name when the map names it (one instance however it is reached), else its real path. */
static txID keyOfFile(txMachine* the, const char* path)
{
	char real[PATH_MAX];
	if (!realpath(path, real))
		return XS_NO_ID;
	const char* name = nameOfFile(real);
	return fxNewNameC(the, (txString)(name ? name : real));
}

/*
 * Module resolution as Moddable's xsl links and a device runs it (xs/tools/xsl.c and
 * xs/platforms/mc/xsHosts.c, fxFindModule): ".js"/".mjs" is dropped, a relative specifier is joined
 * to the importing module's NAME (not its file's folder), and the result must be a module the build
 * names (build/xs/modules.map, from manifest.json). So an import that works from a file but not on
 * a device ("./errors.js" in a module named "sealdrop/image" means "sealdrop/errors") fails here
 * too. Test and host files, which a device never has, are known by path and resolve relative
 * imports by path; a file the map names still loads under its name.
 */
txID fxFindModule(txMachine* the, txSlot* realm, txID moduleID, txSlot* slot)
{
	char name[PATH_MAX];
	char joined[PATH_MAX];
	(void)realm;
	fxToStringBuffer(the, slot, name, sizeof(name));
	if (name[0] == '/')
		return keyOfFile(the, name);
	if (!strncmp(name, "./", 2) || !strncmp(name, "../", 3)) {
		if (moduleID == XS_NO_ID)
			return XS_NO_ID;
		const char* referrer = fxGetKeyName(the, moduleID);
		if (referrer[0] == '/') {
			if (joinRelative(joined, sizeof(joined), referrer, name))
				return XS_NO_ID;
			return keyOfFile(the, joined);
		}
		dropExtension(name);
		if (joinRelative(joined, sizeof(joined), referrer, name))
			return XS_NO_ID;
		return lookupSpecifier(joined) ? fxNewNameC(the, joined) : XS_NO_ID;
	}
	dropExtension(name);
	return lookupSpecifier(name) ? fxNewNameC(the, name) : XS_NO_ID;
}

/* Parses a module's file; a module without errors is kept in the cache under `cacheKey`. */
static txScript* loadScript(txMachine* the, txString path, txUnsigned flags, const ModuleCacheKey* cacheKey)
{
	txParser _parser;
	txParser* parser = &_parser;
	txParserJump jump;
	FILE* volatile file = NULL; /* both live across the parser's setjmp */
	txString name = NULL;
	char map[PATH_MAX];
	txScript* volatile script = NULL;
	fxInitializeParser(parser, the, the->parserBufferSize, the->parserTableModulo);
	parser->firstJump = &jump;
	file = fopen(path, "r");
	if (c_setjmp(jump.jmp_buf) == 0) {
		mxParserThrowElse(file);
		parser->path = fxNewParserSymbol(parser, path);
		fxParserTree(parser, file, (txGetter)fgetc, flags, &name);
		fclose(file);
		file = NULL;
#ifdef mxDebug
		/* Follow tsc's external source map so stacks and errors name the .ts file and line. */
		if (name && realpath(fxCombinePath(parser, path, name), map)) {
			file = fopen(map, "r");
			if (file) {
				parser->path = fxNewParserSymbol(parser, map);
				fxParserSourceMap(parser, file, (txGetter)fgetc, flags, &name);
				fclose(file);
				file = NULL;
				if ((parser->errorCount == 0) && name && realpath(fxCombinePath(parser, map, name), map))
					parser->path = fxNewParserSymbol(parser, map);
			}
		}
#else
		(void)map;
#endif
		fxParserHoist(parser);
		fxParserBind(parser);
		script = fxParserCode(parser);
		if (parser->errorCount == 0)
			moduleCacheWrite(path, flags, cacheKey, script);
	}
	if (file)
		fclose(file);
	fxTerminateParser(parser);
	return script;
}

void fxLoadModule(txMachine* the, txSlot* module, txID moduleID)
{
#ifdef mxDebug
	txUnsigned flags = mxDebugFlag;
#else
	txUnsigned flags = 0;
#endif
	char path[PATH_MAX];
	const char* key = fxGetKeyName(the, moduleID);
	const char* file = key[0] == '/' ? key : lookupSpecifier(key);
	if (!file)
		return;
	c_strncpy(path, file, sizeof(path) - 1);
	path[sizeof(path) - 1] = 0;
	ModuleCacheKey cacheKey;
	txScript* script = moduleCacheRead(path, flags, &cacheKey);
	if (!script)
		script = loadScript(the, path, flags, &cacheKey);
	if (script)
		fxResolveModule(the, module, moduleID, script, C_NULL, C_NULL);
}

void fxQueuePromiseJobs(txMachine* the)
{
	the->promiseJobs = 1;
}

/* Prints the JS frames on the engine's stack, innermost first (function name, file:line), and how
   deep the stack is: an abort says where it happened, not only that it did. */
static void printBacktrace(txMachine* the)
{
	int depth = 0;
	for (txSlot* frame = the->frame; frame && frame->next; frame = frame->next)
		depth++;
	fprintf(stderr, "sealdrop-xs: %d JS frames, %ld of %ld stack slots in use\n", depth,
		(long)(the->stackTop - the->stack), (long)(the->stackTop - the->stackBottom));
	int shown = 0;
	for (txSlot* frame = the->frame; frame && frame->next && shown < 24; frame = frame->next) {
		txSlot* function = frame + 3;
		if (function->kind != XS_REFERENCE_KIND || !mxIsFunction(function->value.reference))
			continue;
		txSlot* environment = mxFrameToEnvironment(frame);
		txSlot* name = mxBehaviorGetProperty(the, function->value.reference, mxID(_name), 0, XS_OWN);
		const char* path = environment->ID != XS_NO_ID ? fxGetKeyName(the, environment->ID) : NULL;
		fprintf(stderr, "    at %s (%s:%d) %ld slots\n",
			name && (name->kind == XS_STRING_KIND || name->kind == XS_STRING_X_KIND) && name->value.string[0] ? name->value.string : "<anonymous>",
			path ? path : "?", (int)environment->value.environment.line, (long)((frame->next ? frame->next : the->stackTop) - (frame == the->frame ? the->stack : frame)));
		shown++;
	}
}

void fxAbort(txMachine* the, int status)
{
	if (the->exitStatus)
		return; /* already stopping: the host unwinds to main */
	const char* why = NULL;
	switch (status) {
	case XS_UNHANDLED_EXCEPTION_EXIT:
	case XS_UNHANDLED_REJECTION_EXIT: {
		txSlot error = mxException;
		mxException = mxUndefined;
		the->exitStatus = 1;
		hostReportError(the, (xsSlot*)&error, status == XS_UNHANDLED_REJECTION_EXIT ? "unhandled rejection" : "uncaught exception");
		break;
	}
	case XS_STACK_OVERFLOW_EXIT: why = "stack overflow"; break;
	case XS_NOT_ENOUGH_MEMORY_EXIT: why = "memory full"; break;
	case XS_NO_MORE_KEYS_EXIT: why = "not enough keys"; break;
	case XS_TOO_MUCH_COMPUTATION_EXIT: why = "too much computation"; break;
	default: why = "fatal error"; break;
	}
	if (why) {
		fprintf(stderr, "sealdrop-xs: %s\n", why);
		printBacktrace(the);
		the->exitStatus = 2;
	}
	fxExitToHost(the);
}

/* Promise jobs and the unhandled-rejection check run inside a jump frame of their own, so an
   abort (which unwinds to the outermost frame) lands here rather than outside the engine. */
void hostRunPromiseJobs(txMachine* the)
{
	fxBeginHost(the);
	mxTry(the) {
		while (the->promiseJobs && !the->exitStatus) {
			the->promiseJobs = 0;
			fxRunPromiseJobs(the);
		}
		fxEndJob(the);
	}
	mxCatch(the) {
	}
	fxEndHost(the);
}

void hostCheckRejections(txMachine* the)
{
	fxBeginHost(the);
	mxTry(the) {
		fxCheckUnhandledRejections(the, 1);
	}
	mxCatch(the) {
	}
	fxEndHost(the);
}

void hostMemory(txMachine* the, HostMemory* memory)
{
	memory->chunksCurrent = the->currentChunksSize;
	memory->chunksPeak = the->peakChunksSize;
	memory->slotsCurrent = (size_t)the->currentHeapCount * sizeof(txSlot);
	memory->slotsPeak = (size_t)the->peakHeapCount * sizeof(txSlot);
	memory->slotSize = sizeof(txSlot);
	memory->stackSlots = (size_t)(the->stackTop - the->frame);
	memory->stackPeak = hostStackPeak(the);
}

/* A board's machine is a clone of the preloaded one (fxCloneMachine, xsAPI.c): its stack holds
   only the machine's own entries (mxGlobal ... mxInstanceInspectors) before any JS runs, while the
   intrinsics stay on the preloaded machine's stack. This host creates its machine afresh, so the
   intrinsics take about 200 slots of its stack too. To give JS the stack a board gives it, the
   machine is created with room to spare and its stack bottom is then raised to leave `deviceSlots`
   minus a clone's own entries free, exactly. The allocation's real bottom is kept for freeing. */
static txSlot* gAllocatedStackBottom = NULL;
/* Slots this host holds on its stack beyond what a board's clone holds when JS starts. */
static size_t gHostStackOffset = 0;

#define STACK_PAINT 0xa5

/* The stack's high-water mark, by painting: every free slot is filled with a pattern, and the
   lowest frame slot no longer holding it is as deep as the stack went since. */
static void paintStack(txMachine* the)
{
	c_memset(the->stackBottom, STACK_PAINT, (size_t)((char*)the->stack - (char*)the->stackBottom));
}

static int isPainted(const txSlot* slot)
{
	const unsigned char* byte = (const unsigned char*)slot;
	for (size_t i = 0; i < sizeof(txSlot); i++)
		if (byte[i] != STACK_PAINT)
			return 0;
	return 1;
}

size_t hostStackPeak(txMachine* the)
{
	/* Frames grow down from the top; XS's number conversions and regular expressions borrow the
	   free stack from the bottom up as scratch (xsdtoa.c, xsre.c). The deepest frame is where,
	   going down from the current stack, the first run of untouched slots starts. */
	enum { RUN = 8 };
	txSlot* lowest = the->stack;
	int painted = 0;
	for (txSlot* slot = the->stack - 1; slot >= the->stackBottom; slot--) {
		if (!isPainted(slot)) {
			painted = 0;
			lowest = slot;
		}
		else if (++painted == RUN)
			break;
	}
	return (size_t)(the->stackTop - lowest) - gHostStackOffset;
}

int hostLimitStack(txMachine* the, int deviceSlots)
{
	size_t cloneEntries = mxInstanceInspectorsStackIndex + 1;
	txSlot* bottom = the->stack - (deviceSlots - cloneEntries);
	if (bottom < the->stackBottom)
		return -1;
	gAllocatedStackBottom = the->stackBottom;
	gHostStackOffset = (size_t)(the->stackTop - the->stack) - cloneEntries;
	the->stackBottom = bottom;
	paintStack(the);
	return 0;
}

void hostRestoreStack(txMachine* the)
{
	if (gAllocatedStackBottom)
		the->stackBottom = gAllocatedStackBottom;
	gAllocatedStackBottom = NULL;
}

void hostResetPeaks(txMachine* the)
{
	the->peakChunksSize = the->currentChunksSize;
	the->peakHeapCount = the->currentHeapCount;
	paintStack(the);
}

int hostExecutablePath(char* out, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", out, size - 1);
	if (n <= 0 || (size_t)n >= size - 1)
		return -1;
	out[n] = 0;
	return 0;
}

const char* hostXsVersion(void)
{
	static char version[16];
	snprintf(version, sizeof(version), "%d.%d.%d", XS_MAJOR_VERSION, XS_MINOR_VERSION, XS_PATCH_VERSION);
	return version;
}

void hostInitialize(void)
{
	fxInitializeSharedCluster();
}

void hostTerminate(void)
{
	fxTerminateSharedCluster();
}
