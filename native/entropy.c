/*
 * Entropy: bytes from the platform's entropy source (native/<platform>/entropy-<platform>.c),
 * released only after health tests on the raw bytes, which fail loudly rather than hand out weak
 * bytes. The same function serves JS (fill) and C (sealdropEntropyFill, used by DeviceKey).
 *
 * Every request draws its raw bytes fresh, in whole windows of WINDOW (512) bytes, at least one
 * (a 16-byte request still has 512 bytes tested; what is not handed out is wiped), and runs over
 * them, byte by byte as the samples of NIST SP 800-90B:
 *
 * - the Repetition Count Test (§4.4.1): fails when one value repeats RCT_CUTOFF times in a row,
 *       C = 1 + ceil(-log2(alpha) / H);
 * - the Adaptive Proportion Test (§4.4.2), window W = 512 (the non-binary window size): fails
 *   when a value occurs APT_CUTOFF or more times in the window,
 *       C = 1 + CRITBINOM(W, 2^-H, 1 - alpha).
 *   §4.4.2 counts only the window's first value; counting every value fails whenever that does,
 *   and also catches a source that favours a value the window does not happen to start with (a
 *   counter's zero bytes, say). It costs 256 bytes of counters;
 * - a stuck-output test (in the manner of FIPS 140-2's continuous RNG test): fails when a 16-byte
 *   block equals the block before it. (A source whose bytes are all equal fails the RCT already:
 *   every request tests at least 512 bytes.)
 *
 * Parameters: assessed min-entropy H = 4 bits per byte (a conservative claim: half of what a
 * byte can hold; the sources here are conditioned outputs close to 8), false-positive rate
 * alpha = 2^-40 per test (the strict end of the 2^-20..2^-40 that §4.4 recommends). Then
 * RCT_CUTOFF = 1 + ceil(40 / 4) = 11 and APT_CUTOFF = 1 + CRITBINOM(512, 1/16, 1 - 2^-40) = 78
 * (the same formula gives SP 800-90B's Table 2 values, e.g. 62 for H = 4 at alpha = 2^-20).
 *
 * False positives on a good source: for uniform bytes (getrandom(2), a TRNG behind a
 * conditioner), a given byte starts a run of 11 with probability 2^-80, some value occurs 78
 * times in a window of 512 with probability below 256 * 2^-315 = 2^-307, and a 16-byte block
 * repeats the one before with probability 2^-128. A request of N raw bytes thus fails by chance
 * with probability below N * 2^-79: under 2^-47 even for a gigabyte, against the ~2^-30 per
 * request we aim for. Against a source that really had only 4 bits per byte the rate would be
 * alpha = 2^-40 per test (at most 16 values can have probability 1/16: 2^-36 per window for the
 * proportion test).
 */
#include "sealdrop-native.h"

#define WINDOW 512 /* APT window; every request draws a multiple of it */
#define RCT_CUTOFF 11 /* 1 + ceil(40 / 4) */
#define APT_CUTOFF 78 /* 1 + CRITBINOM(512, 2^-4, 1 - 2^-40) */
#define BLOCK 16 /* stuck-output test block */
#define CHUNK 128 /* bytes drawn from the platform at a time (stack use) */

enum {
	ENTROPY_OK = 0,
	ENTROPY_SOURCE_FAILED = -1,
	ENTROPY_RCT_FAILED = -2,
	ENTROPY_APT_FAILED = -3,
	ENTROPY_STUCK = -4,
};

typedef struct {
	/* repetition count test */
	uint8_t rctValue;
	unsigned rctCount; /* 0: no sample yet */
	/* adaptive proportion test, every value of the window counted (none gets past APT_CUTOFF) */
	uint8_t aptCounts[256];
	unsigned aptPosition; /* index of the next sample in its window */
	/* stuck-output test */
	uint8_t block[BLOCK];
	uint8_t previous[BLOCK];
	unsigned blockPosition;
	int hasPrevious;
} Health;

/* Runs the three tests over `size` samples; 0, or the failing test's code. */
static int healthTest(Health* h, const uint8_t* samples, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		uint8_t x = samples[i];

		if (h->rctCount && x == h->rctValue) {
			if (++h->rctCount >= RCT_CUTOFF)
				return ENTROPY_RCT_FAILED;
		}
		else {
			h->rctValue = x;
			h->rctCount = 1;
		}

		if (0 == h->aptPosition)
			c_memset(h->aptCounts, 0, sizeof(h->aptCounts));
		if (++h->aptCounts[x] >= APT_CUTOFF)
			return ENTROPY_APT_FAILED;
		if (++h->aptPosition == WINDOW)
			h->aptPosition = 0;

		h->block[h->blockPosition++] = x;
		if (BLOCK == h->blockPosition) {
			if (h->hasPrevious && 0 == c_memcmp(h->block, h->previous, BLOCK))
				return ENTROPY_STUCK;
			c_memcpy(h->previous, h->block, BLOCK);
			h->hasPrevious = 1;
			h->blockPosition = 0;
		}
	}
	return ENTROPY_OK;
}

static const char* describe(int code)
{
	switch (code) {
	case ENTROPY_SOURCE_FAILED: return "the platform entropy source reported an error";
	case ENTROPY_RCT_FAILED: return "repetition count test failed (11 identical bytes in a row, SP 800-90B 4.4.1)";
	case ENTROPY_APT_FAILED: return "adaptive proportion test failed (one value 78 or more times in 512 bytes, SP 800-90B 4.4.2)";
	case ENTROPY_STUCK: return "stuck output (a 16-byte block repeated the previous one)";
	default: return "unknown failure";
	}
}

int sealdropEntropyFill(uint8_t* data, size_t size, const char** why)
{
	Health health;
	uint8_t raw[CHUNK];
	size_t done = 0, drawn = 0;
	int code = ENTROPY_OK;

	if (why)
		*why = NULL;
	if (0 == size)
		return ENTROPY_OK;
	c_memset(&health, 0, sizeof(health));
	/* draw whole windows until the request is covered */
	while (done < size || drawn % WINDOW) {
		if (sealdropEntropyPlatformFill(raw, CHUNK)) {
			code = ENTROPY_SOURCE_FAILED;
			break;
		}
		drawn += CHUNK;
		code = healthTest(&health, raw, CHUNK);
		if (code)
			break;
		if (done < size) {
			size_t n = size - done < CHUNK ? size - done : CHUNK;
			c_memcpy(data + done, raw, n);
			done += n;
		}
	}
	sealdropZeroize(raw, sizeof(raw));
	sealdropZeroize(&health, sizeof(health));
	if (code) {
		sealdropZeroize(data, size); /* nothing of a failed request is handed out */
		if (why)
			*why = describe(code);
	}
	return code;
}

/* Only an ArrayBuffer, typed array or DataView: xsmcGetBufferWritable alone would also take some
   host objects. (It then refuses typed arrays of elements wider than a byte.) */
static void requireBuffer(xsMachine* the, xsSlot* slot)
{
	if (xsReferenceType != xsmcTypeOf(*slot))
		xsTypeError("entropy: fill expects an ArrayBuffer, Uint8Array or DataView");
	if (!xsmcIsInstanceOf(*slot, xsArrayBufferPrototype) && !xsmcIsInstanceOf(*slot, xsTypedArrayPrototype) && !xsmcIsInstanceOf(*slot, xsDataViewPrototype))
		xsTypeError("entropy: fill expects an ArrayBuffer, Uint8Array or DataView");
}

/* fill(buffer): fills all of `buffer` with health-tested entropy and returns it; throws when the
   source fails a test, leaving the buffer zeroed. */
void xs_entropy_fill(xsMachine* the)
{
	uint8_t* data;
	size_t size;
	const char* why = NULL;
	if (xsmcArgc < 1)
		xsTypeError("entropy: fill expects an ArrayBuffer, Uint8Array or DataView");
	requireBuffer(the, &xsArg(0));
	sealdropGetWritableBytes(the, &xsArg(0), &data, &size);
	/* nothing below allocates in the XS heap: `data` stays valid */
	if (sealdropEntropyFill(data, size, &why))
		sealdropThrowCode(the, "E_ENTROPY", "entropy: %s", why);
	xsResult = xsArg(0);
}
