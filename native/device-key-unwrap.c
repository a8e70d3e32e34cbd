/*
 * The ECIES unwrap of an ENC TLV (native/device-key-unwrap.h), and sealdropZeroize, which it
 * needs: plain C over PSA Crypto, so that bench/c/install-loop.c can link this file without XS.
 */
#include "device-key-unwrap.h"

#define ECIES_INFO "MCUBoot_ECIES_v1"

void sealdropZeroize(void* data, size_t size)
{
	volatile uint8_t* p = data;
	while (size--)
		*p++ = 0;
}

psa_key_id_t sealdropDeriveKey(psa_key_derivation_operation_t* operation, psa_key_type_t type, size_t bits, psa_key_usage_t usage, psa_algorithm_t algorithm, psa_status_t* status)
{
	psa_key_attributes_t attributes = PSA_KEY_ATTRIBUTES_INIT;
	psa_set_key_type(&attributes, type);
	psa_set_key_bits(&attributes, bits);
	psa_set_key_usage_flags(&attributes, usage);
	psa_set_key_algorithm(&attributes, algorithm);
	psa_key_id_t key = 0;
	*status = psa_key_derivation_output_key(&attributes, operation, &key);
	return key;
}

psa_status_t sealdropEciesUnwrap(psa_key_id_t deviceKey, const uint8_t* encTlv, size_t pointLength, size_t keyLength, psa_key_id_t* imageKey, const char** step)
{
	const uint8_t* point = encTlv;
	const uint8_t* tag = encTlv + pointLength;
	const uint8_t* encrypted = tag + 32;
	size_t bits = keyLength * 8;
	psa_key_id_t kek = 0, macKey = 0;
	uint8_t imageKeyBytes[32];
	size_t written = 0;
	*imageKey = 0;
	*step = "key agreement";
	psa_key_derivation_operation_t derivation = PSA_KEY_DERIVATION_OPERATION_INIT;
	psa_cipher_operation_t cipher = PSA_CIPHER_OPERATION_INIT;
	psa_status_t status = keyLength == 16 || keyLength == 32 ? psa_key_derivation_setup(&derivation, SEALDROP_ECIES_ALG) : PSA_ERROR_INVALID_ARGUMENT;
	if (PSA_SUCCESS == status)
		status = psa_key_derivation_key_agreement(&derivation, PSA_KEY_DERIVATION_INPUT_SECRET, deviceKey, point, pointLength);
	if (PSA_SUCCESS == status)
		status = psa_key_derivation_input_bytes(&derivation, PSA_KEY_DERIVATION_INPUT_INFO, (const uint8_t*)ECIES_INFO, sizeof(ECIES_INFO) - 1);
	if (PSA_SUCCESS == status) {
		*step = "HKDF";
		kek = sealdropDeriveKey(&derivation, PSA_KEY_TYPE_AES, bits, PSA_KEY_USAGE_DECRYPT, PSA_ALG_CTR, &status);
	}
	if (PSA_SUCCESS == status)
		macKey = sealdropDeriveKey(&derivation, PSA_KEY_TYPE_HMAC, 256, PSA_KEY_USAGE_VERIFY_MESSAGE | PSA_KEY_USAGE_VERIFY_HASH, PSA_ALG_HMAC(PSA_ALG_SHA_256), &status);
	psa_key_derivation_abort(&derivation);
	if (PSA_SUCCESS == status) {
		*step = "tag";
		status = psa_mac_verify(macKey, PSA_ALG_HMAC(PSA_ALG_SHA_256), encrypted, keyLength, tag, 32);
	}
	if (PSA_SUCCESS == status) {
		static const uint8_t zeroCounter[16] = { 0 };
		*step = "key decryption";
		status = psa_cipher_decrypt_setup(&cipher, kek, PSA_ALG_CTR);
		if (PSA_SUCCESS == status)
			status = psa_cipher_set_iv(&cipher, zeroCounter, sizeof(zeroCounter));
		if (PSA_SUCCESS == status)
			status = psa_cipher_update(&cipher, encrypted, keyLength, imageKeyBytes, sizeof(imageKeyBytes), &written);
		psa_cipher_abort(&cipher);
		if (PSA_SUCCESS == status && written != keyLength)
			status = PSA_ERROR_GENERIC_ERROR;
	}
	if (PSA_SUCCESS == status) {
		psa_key_attributes_t attributes = PSA_KEY_ATTRIBUTES_INIT;
		psa_set_key_type(&attributes, PSA_KEY_TYPE_AES);
		psa_set_key_bits(&attributes, bits);
		psa_set_key_usage_flags(&attributes, PSA_KEY_USAGE_ENCRYPT | PSA_KEY_USAGE_DECRYPT);
		psa_set_key_algorithm(&attributes, PSA_ALG_CTR);
		*step = "image key";
		status = psa_import_key(&attributes, imageKeyBytes, keyLength, imageKey);
	}
	sealdropZeroize(imageKeyBytes, sizeof(imageKeyBytes));
	if (kek)
		psa_destroy_key(kek);
	if (macKey)
		psa_destroy_key(macKey);
	return status;
}
