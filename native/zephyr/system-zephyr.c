/*
 * The board's system functions for modules/app/system.ts:
 * - xs_sealdrop_restart: sys_reboot(SYS_REBOOT_COLD) after an SMP reset's answer (CONFIG_REBOOT):
 *   https://docs.zephyrproject.org/latest/services/pm/power_off.html and
 *   include/zephyr/sys/reboot.h. Moddable's System.restart() has no Zephyr branch.
 * - xs_sealdrop_running_partition: the label of the partition the app runs from, the
 *   devicetree's `zephyr,code-partition` (MCUboot's image-0: it always runs the primary slot).
 *   https://docs.zephyrproject.org/latest/build/dts/api/api.html#chosen-nodes
 */
#include "xsmc.h"
#include <zephyr/devicetree.h>
#include <zephyr/sys/reboot.h>

void xs_sealdrop_restart(xsMachine* the)
{
	(void)the;
	sys_reboot(SYS_REBOOT_COLD);
}

void xs_sealdrop_running_partition(xsMachine* the)
{
	xsmcSetString(xsResult, DT_PROP(DT_CHOSEN(zephyr_code_partition), label));
}
