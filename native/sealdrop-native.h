/*
 * Shared by Sealdrop's native modules (XS host objects written against the PSA Crypto API).
 * The same sources build with mcconfig on the boards and into the Linux XS host (host/xs).
 */
#ifndef SEALDROP_NATIVE_H
#define SEALDROP_NATIVE_H

#include "xsmc.h"
#include "xsHost.h"
#include <psa/crypto.h>
#include "device-key-unwrap.h" /* sealdropZeroize, the ECIES unwrap */
#include <stddef.h>
#include <stdint.h>

#ifdef kPocoRotation
	/* Moddable SDK build: xsID_ values come from the generated header */
	#include "mc.xs.h"
#else
	#define xsID_path xsID("path")
	#define xsID_size xsID("size")
	#define xsID_blockLength xsID("blockLength")
	#define xsID_blocks xsID("blocks")
	#define xsID_writeAlign xsID("writeAlign")
	#define xsID_eraseValue xsID("eraseValue")
	#define xsID_mode xsID("mode")
	#define xsID_key xsID("key")
	#define xsID_counter xsID("counter")
	#define xsID_slot xsID("slot")
	#define xsID_kind xsID("kind")
#endif

/* psa_crypto_init() once; throws if the platform's crypto cannot start. */
void sealdropPsaInit(xsMachine* the);

/* Throws an Error whose `code` property is one of SealdropError's codes (modules/image/errors.ts):
   JavaScript tells failures apart by it, never by the message. */
void sealdropThrowCode(xsMachine* the, const char* code, const char* format, ...) XS_FUNCTION_NORETURN;

/* Throws an Error naming the operation and PSA's status ("unwrap: PSA_ERROR_INVALID_SIGNATURE"),
   coded by the status: E_ENTROPY, E_DEVICE_KEY (a MAC that does not check), else E_KEY_STORE. */
void sealdropPsaThrow(xsMachine* the, const char* what, psa_status_t status) XS_FUNCTION_NORETURN;

/* Name of a PSA status code, for messages. */
const char* sealdropPsaStatusName(psa_status_t status);


/* For a native that is a method itself, with no JavaScript wrapper to fill in missing arguments:
   throws unless it was given at least `count`, a TypeError, or an Error with `code` when one is
   named. `what` names the function in the message. */
void sealdropNeedArguments(xsMachine* the, int count, const char* code, const char* what);

/* Readable bytes of an ArrayBuffer, typed array or DataView argument; throws TypeError otherwise.
   The pointer is valid until the next call that may allocate in the XS heap. */
void sealdropGetBytes(xsMachine* the, xsSlot* slot, const uint8_t** data, size_t* size);
void sealdropGetWritableBytes(xsMachine* the, xsSlot* slot, uint8_t** data, size_t* size);

/* The (offset, length) range of `size` bytes that arguments `offsetIndex` and `lengthIndex` name,
   for natives that take (buffer, offset, length) where a subarray view would cost the caller an
   allocation: a missing or undefined offset is 0, a missing or undefined length runs to the end
   (an index of -1: no such argument). Throws RangeError for a range outside the bytes, TypeError
   for a value that is not a number; allocates nothing otherwise. */
void sealdropByteRange(xsMachine* the, int offsetIndex, int lengthIndex, size_t size, size_t* offset, size_t* length);

/* Platform entropy (native/<platform>/entropy-<platform>.c): fills `data`, 0 on success. */
int sealdropEntropyPlatformFill(uint8_t* data, size_t size);

/* Health-checked entropy (native/entropy.c): repetition-count and adaptive-proportion tests of
   NIST SP 800-90B §4.4 over the raw output; returns 0, or a negative code with *why set. */
int sealdropEntropyFill(uint8_t* data, size_t size, const char** why);


/* Gives an AesCtr object (native/aes-ctr.c) a PSA key it then owns, with a zero initial counter. */
void sealdropAesCtrAdopt(xsMachine* the, xsSlot* aesCtr, psa_key_id_t key);

#endif
