/*
 * Flash backend for Zephyr (native/flash.h), on Zephyr's flash map:
 *   https://docs.zephyrproject.org/latest/services/storage/flash_map/flash_map.html
 * (flash_area_open, flash_area_read, flash_area_write, flash_area_erase, flash_area_align,
 * flash_area_erased_val, flash_area_get_device) and the flash driver's page layout
 * (flash_get_page_info_by_offs, CONFIG_FLASH_PAGE_LAYOUT):
 *   https://docs.zephyrproject.org/latest/hardware/peripherals/flash.html
 * Partitions open by their devicetree `label` (boards/<board>/<board>.overlay: image-0, image-1,
 * image-scratch, storage and the sd-* partitions of the journal, counters and key records),
 * matched against a table built at compile time from every fixed-partitions child, as
 * Moddable's own flash-zephyr.c does.
 *
 * Mixed sector sizes (STM32F4: 16/64/128 KiB): a partition must lie in sectors of one size, and
 * its blockLength is that size; open refuses a partition whose first and last sectors differ,
 * so the agent never erases more than it asked for. Not compiled in this repository (no Zephyr
 * here); native/flash.c checks bounds and alignment before calling in.
 */
#include "flash.h"

#include <stdio.h>
#include <string.h>
#include <zephyr/devicetree.h>
#include <zephyr/drivers/flash.h>
#include <zephyr/storage/flash_map.h>

typedef struct {
	const char* label;
	uint8_t id;
} PartitionName;

/* a partition without a label (another overlay's) gets NULL and is never matched */
#define SEALDROP_PARTITION(node) { DT_PROP_OR(node, label, NULL), DT_FIXED_PARTITION_ID(node) },
static const PartitionName gPartitions[] = {
	DT_FOREACH_STATUS_OKAY_VARGS(fixed_partitions, DT_FOREACH_CHILD, SEALDROP_PARTITION)
};

static char gError[96];
static uint32_t gOperations;

static int failed(int code, const char* what, int err)
{
	snprintf(gError, sizeof(gError), "%s failed (%d)", what, err);
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
	const struct flash_area* fa = NULL;
	size_t i;
	for (i = 0; i < sizeof(gPartitions) / sizeof(gPartitions[0]); i++)
		if (gPartitions[i].label && !strcmp(gPartitions[i].label, name))
			break;
	if (i == sizeof(gPartitions) / sizeof(gPartitions[0])) {
		snprintf(gError, sizeof(gError), "no partition labelled \"%s\" in the devicetree", name);
		return kSealdropFlashNotFound;
	}
	int err = flash_area_open(gPartitions[i].id, &fa);
	if (err)
		return failed(kSealdropFlashFailed, "flash_area_open", err);
	const struct device* dev = flash_area_get_device(fa);
	struct flash_pages_info first, last;
	if (flash_get_page_info_by_offs(dev, fa->fa_off, &first) || flash_get_page_info_by_offs(dev, fa->fa_off + fa->fa_size - 1, &last)) {
		flash_area_close(fa);
		return failed(kSealdropFlashFailed, "flash_get_page_info_by_offs", -1);
	}
	if (first.size != last.size || first.start_offset != fa->fa_off || fa->fa_size % first.size) {
		flash_area_close(fa);
		snprintf(gError, sizeof(gError), "partition \"%s\" does not lie in whole sectors of one size", name);
		return kSealdropFlashFailed;
	}
	area->offset = fa->fa_off;
	area->size = fa->fa_size;
	area->blockLength = first.size;
	area->writeAlign = flash_area_align(fa);
	area->eraseValue = flash_area_erased_val(fa);
	area->platform = (void*)fa;
	return 0;
}

void sealdropFlashAreaClose(SealdropFlashArea* area)
{
	if (area->platform)
		flash_area_close(area->platform);
	area->platform = NULL;
}

int sealdropFlashAreaRead(const SealdropFlashArea* area, uint32_t offset, void* data, uint32_t size)
{
	int err = flash_area_read(area->platform, offset, data, size);
	return err ? failed(kSealdropFlashFailed, "flash_area_read", err) : 0;
}

int sealdropFlashAreaWrite(const SealdropFlashArea* area, uint32_t offset, const void* data, uint32_t size)
{
	gOperations++;
	int err = flash_area_write(area->platform, offset, data, size);
	return err ? failed(kSealdropFlashFailed, "flash_area_write", err) : 0;
}

int sealdropFlashAreaErase(const SealdropFlashArea* area, uint32_t offset, uint32_t size)
{
	gOperations++;
	int err = flash_area_erase(area->platform, offset, size);
	return err ? failed(kSealdropFlashFailed, "flash_area_erase", err) : 0;
}
