/*
 * The board's system functions for modules/app/system.ts:
 * - xs_sealdrop_restart: esp_restart(), after an SMP reset's answer.
 *   https://docs.espressif.com/projects/esp-idf/en/latest/esp32/api-reference/system/misc_system_api.html
 * - xs_sealdrop_running_partition: the label of the OTA app partition running now, from
 *   esp_ota_get_running_partition(). The agent needs it, not otadata's choice: after a rollback
 *   or a lost otadata entry the two differ, and the partition running must never be erased.
 *   https://docs.espressif.com/projects/esp-idf/en/latest/esp32/api-reference/system/ota.html
 */
#include "xsmc.h"
#include "esp_system.h"
#include "esp_ota_ops.h"

void xs_sealdrop_restart(xsMachine* the)
{
	(void)the;
	esp_restart();
}

void xs_sealdrop_running_partition(xsMachine* the)
{
	const esp_partition_t* running = esp_ota_get_running_partition();
	if (running)
		xsmcSetString(xsResult, (char*)running->label);
}
