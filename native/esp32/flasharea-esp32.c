/*
 * Flash backend for ESP32 (native/flash.h), on ESP-IDF's partition API:
 *   https://docs.espressif.com/projects/esp-idf/en/latest/esp32/api-reference/storage/partition.html
 * (esp_partition_find_first, esp_partition_read, esp_partition_write, esp_partition_erase_range).
 * Unlike Moddable's embedded:storage/flash on ESP32, any partition opens by its label, app
 * partitions (ota_0, ota_1) included: the esp-idf installer writes the next OTA app itself.
 *
 * With flash encryption on, esp_partition_write encrypts transparently for partitions flagged
 * "encrypted" (app partitions always), which needs 16-byte aligned offsets and lengths: boards
 * declare writeAlign 16 (boards/esp32/layout.json). esp_partition_read decrypts likewise.
 * Not compiled in this repository (no ESP-IDF here); native/flash.c checks bounds and alignment
 * before calling in.
 */
#include "flash.h"

#include <stdio.h>
#include "esp_partition.h"

#define WRITE_ALIGN 16 /* flash encryption's block; harmless without it */

static char gError[96];
static uint32_t gOperations;

static int failed(int code, const char* what, const char* name, esp_err_t err)
{
	snprintf(gError, sizeof(gError), "%s %s: %s", what, name ? name : "", esp_err_to_name(err));
	return code;
}

const char* sealdropFlashAreaError(void)
{
	return gError;
}

uint32_t sealdropFlashOperations(void)
{
	return gOperations;
}

int sealdropFlashAreaOpen(const char* name, SealdropFlashArea* area)
{
	const esp_partition_t* partition = esp_partition_find_first(ESP_PARTITION_TYPE_ANY, ESP_PARTITION_SUBTYPE_ANY, name);
	if (!partition) {
		snprintf(gError, sizeof(gError), "no partition \"%s\" in the partition table", name);
		return kSealdropFlashNotFound;
	}
	area->offset = partition->address;
	area->size = partition->size;
	area->blockLength = partition->erase_size; /* SPI_FLASH_SEC_SIZE, 4 KiB */
	area->writeAlign = WRITE_ALIGN;
	area->eraseValue = 0xFF;
	area->platform = (void*)partition;
	return 0;
}

void sealdropFlashAreaClose(SealdropFlashArea* area)
{
	area->platform = NULL; /* partition records are static in ESP-IDF */
}

int sealdropFlashAreaRead(const SealdropFlashArea* area, uint32_t offset, void* data, uint32_t size)
{
	esp_err_t err = esp_partition_read(area->platform, offset, data, size);
	return ESP_OK == err ? 0 : failed(kSealdropFlashFailed, "read", ((const esp_partition_t*)area->platform)->label, err);
}

int sealdropFlashAreaWrite(const SealdropFlashArea* area, uint32_t offset, const void* data, uint32_t size)
{
	gOperations++;
	esp_err_t err = esp_partition_write(area->platform, offset, data, size);
	return ESP_OK == err ? 0 : failed(kSealdropFlashFailed, "write", ((const esp_partition_t*)area->platform)->label, err);
}

int sealdropFlashAreaErase(const SealdropFlashArea* area, uint32_t offset, uint32_t size)
{
	gOperations++;
	esp_err_t err = esp_partition_erase_range(area->platform, offset, size);
	return ESP_OK == err ? 0 : failed(kSealdropFlashFailed, "erase", ((const esp_partition_t*)area->platform)->label, err);
}
