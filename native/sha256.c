/*
 * Sha256: streaming SHA-256 (FIPS 180-4) through PSA, for hashing images as they stream in.
 * update() takes any byte view, or a range of one, and allocates nothing; digest() can write into
 * a caller's buffer.
 */
#include "sealdrop-native.h"

typedef struct {
	psa_hash_operation_t operation;
} xsSha256Record, *xsSha256;

void xs_sha256_destructor(void* data)
{
	xsSha256 sha = data;
	if (sha) {
		psa_hash_abort(&sha->operation);
		c_free(sha);
	}
}

static void start(xsMachine* the, xsSha256 sha)
{
	psa_status_t status = psa_hash_setup(&sha->operation, PSA_ALG_SHA_256);
	if (PSA_SUCCESS != status)
		sealdropPsaThrow(the, "sha256", status);
}

void xs_sha256(xsMachine* the)
{
	sealdropPsaInit(the);
	xsSha256 sha = c_calloc(1, sizeof(xsSha256Record));
	if (!sha)
		sealdropThrowCode(the, "E_KEY_STORE", "no memory"); /* as PSA_ERROR_INSUFFICIENT_MEMORY is coded */
	sha->operation = psa_hash_operation_init();
	xsmcSetHostData(xsThis, sha);
	start(the, sha);
}

void xs_sha256_close(xsMachine* the)
{
	xsSha256 sha = xsmcGetHostData(xsThis);
	if (!sha)
		return; /* closed already */
	xsmcGetHostDataValidate(xsThis, xs_sha256_destructor);
	xs_sha256_destructor(sha);
	xsmcSetHostData(xsThis, NULL);
	xsmcSetHostDestructor(xsThis, NULL);
}

/* update(data, offset = 0, length = to the end) */
void xs_sha256_update(xsMachine* the)
{
	xsSha256 sha = xsmcGetHostDataValidate(xsThis, xs_sha256_destructor);
	const uint8_t* data;
	size_t size, offset, length;
	sealdropNeedArguments(the, 1, NULL, "sha256.update"); /* the method itself (native/sha256.js) */
	sealdropGetBytes(the, &xsArg(0), &data, &size);
	sealdropByteRange(the, 1, 2, size, &offset, &length);
	psa_status_t status = psa_hash_update(&sha->operation, data + offset, length);
	if (PSA_SUCCESS != status)
		sealdropPsaThrow(the, "sha256 update", status);
}

/* digest([output]): the 32-byte hash, into `output` when given; the object then starts over. */
void xs_sha256_digest(xsMachine* the)
{
	xsSha256 sha = xsmcGetHostDataValidate(xsThis, xs_sha256_destructor);
	uint8_t hash[32];
	size_t length;
	psa_status_t status = psa_hash_finish(&sha->operation, hash, sizeof(hash), &length);
	if (PSA_SUCCESS != status)
		sealdropPsaThrow(the, "sha256 digest", status);
	start(the, sha);
	if (xsmcArgc > 0 && xsmcTest(xsArg(0))) {
		uint8_t* out;
		size_t size;
		sealdropGetWritableBytes(the, &xsArg(0), &out, &size);
		if (size < sizeof(hash))
			xsRangeError("output shorter than 32 bytes");
		c_memcpy(out, hash, sizeof(hash));
		xsResult = xsArg(0);
	}
	else
		xsmcSetArrayBuffer(xsResult, hash, sizeof(hash));
}

void xs_sha256_reset(xsMachine* the)
{
	xsSha256 sha = xsmcGetHostDataValidate(xsThis, xs_sha256_destructor);
	psa_hash_abort(&sha->operation);
	start(the, sha);
}
