/*
 * xs_sealdrop_restart (modules/app/restart.ts): esp_restart(), after an SMP reset's answer.
 *   https://docs.espressif.com/projects/esp-idf/en/latest/esp32/api-reference/system/misc_system_api.html
 */
#include "xsmc.h"
#include "esp_system.h"

void xs_sealdrop_restart(xsMachine* the)
{
	(void)the;
	esp_restart();
}
