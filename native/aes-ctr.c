/*
 * AesCtr: AES-CTR (NIST SP 800-38A §6.5) with a key that stays inside PSA. The counter is
 * seekable: process(input, output, byteOffset) encrypts or decrypts the bytes that sit at
 * byteOffset of the stream, so a resumed download continues at any block. Sequential calls
 * continue the running PSA operation; a jump re-keys the counter block.
 */
#include "sealdrop-native.h"

typedef struct {
	psa_key_id_t key;
	psa_cipher_operation_t operation;
	uint8_t counter[16];  /* initial counter block (MCUboot: all zero) */
	double position;      /* stream offset the running operation is at */
	int running;
} xsAesCtrRecord, *xsAesCtr;

void xs_aesctr_destructor(void* data)
{
	xsAesCtr ctr = data;
	if (ctr) {
		psa_cipher_abort(&ctr->operation);
		if (ctr->key)
			psa_destroy_key(ctr->key);
		sealdropZeroize(ctr, sizeof(*ctr));
		c_free(ctr);
	}
}

static psa_key_id_t importKey(xsMachine* the, const uint8_t* bytes, size_t size)
{
	if (size != 16 && size != 32)
		xsRangeError("AES key must be 16 or 32 bytes");
	psa_key_attributes_t attributes = PSA_KEY_ATTRIBUTES_INIT;
	psa_set_key_type(&attributes, PSA_KEY_TYPE_AES);
	psa_set_key_bits(&attributes, size * 8);
	psa_set_key_usage_flags(&attributes, PSA_KEY_USAGE_ENCRYPT | PSA_KEY_USAGE_DECRYPT);
	psa_set_key_algorithm(&attributes, PSA_ALG_CTR);
	psa_key_id_t key = 0;
	psa_status_t status = psa_import_key(&attributes, bytes, size, &key);
	if (PSA_SUCCESS != status)
		sealdropPsaThrow(the, "AesCtr key", status);
	return key;
}

/* new AesCtr({key, counter}): a key given by the caller (tests, interop); DeviceKey.unwrap
   makes AesCtr objects whose key never was a JS value. */
void xs_aesctr(xsMachine* the)
{
	sealdropPsaInit(the);
	xsAesCtr ctr = c_calloc(1, sizeof(xsAesCtrRecord));
	if (!ctr)
		sealdropThrowCode(the, "E_KEY_STORE", "no memory"); /* as PSA_ERROR_INSUFFICIENT_MEMORY is coded */
	ctr->operation = psa_cipher_operation_init();
	xsmcSetHostData(xsThis, ctr);
	if (xsmcArgc < 1 || !xsmcTest(xsArg(0)))
		return;
	xsmcVars(1);
	if (xsmcHas(xsArg(0), xsID_counter)) {
		xsmcGet(xsVar(0), xsArg(0), xsID_counter);
		const uint8_t* counter;
		size_t size;
		sealdropGetBytes(the, &xsVar(0), &counter, &size);
		if (size != 16)
			xsRangeError("counter must be 16 bytes");
		c_memcpy(ctr->counter, counter, 16);
	}
	if (xsmcHas(xsArg(0), xsID_key)) {
		xsmcGet(xsVar(0), xsArg(0), xsID_key);
		const uint8_t* key;
		size_t size;
		sealdropGetBytes(the, &xsVar(0), &key, &size);
		ctr->key = importKey(the, key, size);
	}
}

void sealdropAesCtrAdopt(xsMachine* the, xsSlot* aesCtr, psa_key_id_t key)
{
	xsAesCtr ctr = xsmcGetHostDataValidate(*aesCtr, xs_aesctr_destructor);
	if (ctr->key) {
		psa_destroy_key(key);
		sealdropThrowCode(the, "E_STATE", "AesCtr already has a key");
	}
	ctr->key = key;
}

void xs_aesctr_close(xsMachine* the)
{
	xsAesCtr ctr = xsmcGetHostData(xsThis);
	if (!ctr)
		return;
	xsmcGetHostDataValidate(xsThis, xs_aesctr_destructor);
	xs_aesctr_destructor(ctr);
	xsmcSetHostData(xsThis, NULL);
	xsmcSetHostDestructor(xsThis, NULL);
}

/* Positions the PSA operation at stream offset `position`: counter block + position/16, then
   the partial block's keystream is consumed. */
static void seek(xsMachine* the, xsAesCtr ctr, double position)
{
	static const uint8_t zeros[16] = { 0 };
	uint8_t scratch[16];
	uint8_t block[16];
	size_t written;
	psa_cipher_abort(&ctr->operation);
	ctr->running = 0;
	psa_status_t status = psa_cipher_decrypt_setup(&ctr->operation, ctr->key, PSA_ALG_CTR);
	if (PSA_SUCCESS != status)
		sealdropPsaThrow(the, "AesCtr", status);
	/* 128-bit big-endian addition of the block index to the initial counter block */
	uint64_t add = (uint64_t)(position / 16);
	unsigned carry = 0;
	for (int i = 15; i >= 0; i--) {
		unsigned sum = ctr->counter[i] + (unsigned)(add & 0xFF) + carry;
		block[i] = (uint8_t)sum;
		carry = sum >> 8;
		add >>= 8;
	}
	status = psa_cipher_set_iv(&ctr->operation, block, sizeof(block));
	if (PSA_SUCCESS == status) {
		size_t skip = (size_t)((uint64_t)position & 15);
		if (skip)
			status = psa_cipher_update(&ctr->operation, zeros, skip, scratch, sizeof(scratch), &written);
	}
	sealdropZeroize(scratch, sizeof(scratch));
	if (PSA_SUCCESS != status)
		sealdropPsaThrow(the, "AesCtr", status);
	ctr->position = position;
	ctr->running = 1;
}

/* process(input, output, byteOffset, inputOffset = 0, length = to the end, outputOffset = 0):
   `length` bytes of input from inputOffset into output from outputOffset, which may be the same
   bytes; returns undefined. */
void xs_aesctr_process(xsMachine* the)
{
	xsAesCtr ctr = xsmcGetHostDataValidate(xsThis, xs_aesctr_destructor);
	if (!ctr->key)
		sealdropThrowCode(the, "E_STATE", "AesCtr has no key");
	sealdropNeedArguments(the, 2, NULL, "AesCtr.process"); /* the method itself (native/aes-ctr.js) */
	double position = xsmcArgc > 2 ? xsmcToNumber(xsArg(2)) : 0;
	if (!(position >= 0) || position > 9007199254740991.0 || position != (double)(uint64_t)position)
		xsRangeError("byteOffset must be a non-negative integer");
	const uint8_t* input;
	size_t inputSize;
	uint8_t* output;
	size_t outputSize;
	size_t offset;
	sealdropGetBytes(the, &xsArg(0), &input, &inputSize);
	sealdropByteRange(the, 3, 4, inputSize, &offset, &inputSize);
	input += offset;
	sealdropGetWritableBytes(the, &xsArg(1), &output, &outputSize);
	sealdropByteRange(the, 5, -1, outputSize, &offset, &outputSize);
	output += offset;
	if (outputSize < inputSize)
		xsRangeError("output shorter than input");
	if (!ctr->running || ctr->position != position)
		seek(the, ctr, position);
	/* the buffers were fetched after the last call that could allocate; PSA does not enter XS */
	size_t written = 0;
	psa_status_t status = psa_cipher_update(&ctr->operation, input, inputSize, output, outputSize, &written);
	if (PSA_SUCCESS != status || written != inputSize) {
		ctr->running = 0;
		sealdropPsaThrow(the, "AesCtr process", PSA_SUCCESS != status ? status : PSA_ERROR_GENERIC_ERROR);
	}
	ctr->position = position + (double)inputSize;
}
