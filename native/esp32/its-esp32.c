/*
 * Key storage for ESP32: where the persistent device key (PSA key ids 0x00534400 + slot) lives.
 *
 * PSA Crypto keeps persistent keys through the PSA Internal Trusted Storage API (psa_its_*,
 * PSA Certified Secure Storage API 1.0). Which ESP-IDF provides it depends on the version:
 * - ESP-IDF v6 (TF-PSA-Crypto / Mbed TLS 4), which the Moddable SDK targets: the platform provides
 *   PSA ITS over NVS (components/mbedtls/port/psa_crypto_storage/esp_psa_its.c, namespace
 *   "psa_its" in the default "nvs" partition, encrypted when CONFIG_NVS_ENCRYPTION is on); this
 *   file is compiled out (SEALDROP_ESP32_OWN_ITS undefined).
 * - ESP-IDF v5.x (Mbed TLS 3.x): MBEDTLS_PSA_CRYPTO_STORAGE_C needs an ITS, and the stock one is a
 *   file store (MBEDTLS_PSA_ITS_FILE_C) with no file system under it on the device. Define
 *   SEALDROP_ESP32_OWN_ITS and turn MBEDTLS_PSA_ITS_FILE_C off (no Kconfig does that alone:
 *   MBEDTLS_USER_CONFIG_FILE on the mbedtls component; not wired into Moddable's build): this
 *   implements psa_its_* over NVS in the board's "sd_its" partition
 *   (boards/esp32/sdkconfig/partitions.csv), encrypted with NVS encryption (keys in nvs_keys).
 * NVS API: https://docs.espressif.com/projects/esp-idf/en/latest/esp32/api-reference/storage/nvs_flash.html
 * (nvs_flash_secure_init_partition, nvs_open_from_partition, nvs_get_blob, nvs_set_blob,
 * nvs_erase_key, nvs_commit). nvs_commit is atomic per entry, which is what PSA asks of psa_its_set.
 * Checked with gcc -fsyntax-only against ESP-IDF v5.0.9 and v5.5.5 headers (README); not built.
 */
#ifdef SEALDROP_ESP32_OWN_ITS

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "esp_partition.h"
#include "nvs.h"
#include "nvs_flash.h"
#include "psa_crypto_its.h" /* Mbed TLS 3.x library/, on ESP-IDF v5's include path */

#define ITS_PARTITION "sd_its"
#define ITS_NAMESPACE "psa_its"
/* stored blob: 4-byte create flags, then the data */
#define FLAGS_SIZE 4

static int gReady;

static psa_status_t openIts(nvs_open_mode_t mode, nvs_handle_t* handle)
{
	if (!gReady) {
		nvs_sec_cfg_t keys;
		const esp_partition_t* keysPartition = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_DATA_NVS_KEYS, NULL);
		if (!keysPartition)
			return PSA_ERROR_STORAGE_FAILURE;
		esp_err_t err = nvs_flash_read_security_cfg(keysPartition, &keys);
		if (ESP_ERR_NVS_KEYS_NOT_INITIALIZED == err)
			err = nvs_flash_generate_keys(keysPartition, &keys);
		if (ESP_OK != err || ESP_OK != nvs_flash_secure_init_partition(ITS_PARTITION, &keys))
			return PSA_ERROR_STORAGE_FAILURE;
		memset(&keys, 0, sizeof(keys));
		gReady = 1;
	}
	return ESP_OK == nvs_open_from_partition(ITS_PARTITION, ITS_NAMESPACE, mode, handle) ? PSA_SUCCESS : PSA_ERROR_STORAGE_FAILURE;
}

/* NVS keys are at most 15 characters: "i" and up to 14 hex digits */
static psa_status_t entryName(psa_storage_uid_t uid, char name[16])
{
	if (uid >> 56)
		return PSA_ERROR_NOT_SUPPORTED;
	snprintf(name, 16, "i%llx", (unsigned long long)uid);
	return PSA_SUCCESS;
}

/* The whole stored blob of `uid` (flags, then data) in a malloc'ed buffer the caller wipes and frees. */
static psa_status_t readBlob(psa_storage_uid_t uid, uint8_t** blob, size_t* size)
{
	char name[16];
	nvs_handle_t handle;
	psa_status_t status = entryName(uid, name);
	if (PSA_SUCCESS != status || PSA_SUCCESS != (status = openIts(NVS_READONLY, &handle)))
		return status;
	*blob = NULL;
	*size = 0;
	esp_err_t err = nvs_get_blob(handle, name, NULL, size);
	if (ESP_OK == err && *size < FLAGS_SIZE)
		err = ESP_FAIL;
	if (ESP_OK == err && !(*blob = malloc(*size)))
		err = ESP_ERR_NO_MEM;
	if (ESP_OK == err)
		err = nvs_get_blob(handle, name, *blob, size);
	nvs_close(handle);
	if (ESP_OK == err)
		return PSA_SUCCESS;
	free(*blob);
	*blob = NULL;
	return ESP_ERR_NVS_NOT_FOUND == err ? PSA_ERROR_DOES_NOT_EXIST : ESP_ERR_NO_MEM == err ? PSA_ERROR_INSUFFICIENT_MEMORY : PSA_ERROR_STORAGE_FAILURE;
}

psa_status_t psa_its_get(psa_storage_uid_t uid, uint32_t data_offset, uint32_t data_length, void* p_data, size_t* p_data_length)
{
	uint8_t* blob;
	size_t size;
	psa_status_t status = readBlob(uid, &blob, &size);
	if (PSA_SUCCESS != status)
		return status;
	if (data_offset > size - FLAGS_SIZE || data_length > size - FLAGS_SIZE - data_offset)
		status = PSA_ERROR_INVALID_ARGUMENT;
	else {
		memcpy(p_data, blob + FLAGS_SIZE + data_offset, data_length);
		if (p_data_length)
			*p_data_length = data_length;
	}
	memset(blob, 0, size);
	free(blob);
	return status;
}

psa_status_t psa_its_get_info(psa_storage_uid_t uid, struct psa_storage_info_t* p_info)
{
	uint8_t* blob;
	size_t size;
	psa_status_t status = readBlob(uid, &blob, &size);
	if (PSA_SUCCESS != status)
		return status;
	uint32_t flags;
	memcpy(&flags, blob, FLAGS_SIZE);
	memset(blob, 0, size);
	free(blob);
	p_info->size = (uint32_t)(size - FLAGS_SIZE);
	p_info->flags = flags;
	return PSA_SUCCESS;
}

psa_status_t psa_its_set(psa_storage_uid_t uid, uint32_t data_length, const void* p_data, psa_storage_create_flags_t create_flags)
{
	/* an entry created write-once stays (PSA ITS 1.0 psa_its_set) */
	struct psa_storage_info_t info;
	if (PSA_SUCCESS == psa_its_get_info(uid, &info) && (info.flags & PSA_STORAGE_FLAG_WRITE_ONCE))
		return PSA_ERROR_NOT_PERMITTED;
	char name[16];
	nvs_handle_t handle;
	psa_status_t status = entryName(uid, name);
	if (PSA_SUCCESS != status || PSA_SUCCESS != (status = openIts(NVS_READWRITE, &handle)))
		return status;
	uint8_t* blob = malloc(FLAGS_SIZE + data_length);
	if (!blob) {
		nvs_close(handle);
		return PSA_ERROR_INSUFFICIENT_MEMORY;
	}
	memcpy(blob, &create_flags, FLAGS_SIZE);
	memcpy(blob + FLAGS_SIZE, p_data, data_length);
	esp_err_t err = nvs_set_blob(handle, name, blob, FLAGS_SIZE + data_length);
	if (ESP_OK == err)
		err = nvs_commit(handle);
	memset(blob, 0, FLAGS_SIZE + data_length);
	free(blob);
	nvs_close(handle);
	return ESP_OK == err ? PSA_SUCCESS : ESP_ERR_NVS_NOT_ENOUGH_SPACE == err ? PSA_ERROR_INSUFFICIENT_STORAGE : PSA_ERROR_STORAGE_FAILURE;
}

psa_status_t psa_its_remove(psa_storage_uid_t uid)
{
	char name[16];
	nvs_handle_t handle;
	psa_status_t status = entryName(uid, name);
	if (PSA_SUCCESS != status || PSA_SUCCESS != (status = openIts(NVS_READWRITE, &handle)))
		return status;
	esp_err_t err = nvs_erase_key(handle, name);
	if (ESP_OK == err)
		err = nvs_commit(handle);
	nvs_close(handle);
	return ESP_OK == err ? PSA_SUCCESS : ESP_ERR_NVS_NOT_FOUND == err ? PSA_ERROR_DOES_NOT_EXIST : PSA_ERROR_STORAGE_FAILURE;
}

#endif /* SEALDROP_ESP32_OWN_ITS */
