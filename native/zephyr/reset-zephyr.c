/*
 * xs_sealdrop_restart (modules/app/restart.ts): sys_reboot(SYS_REBOOT_COLD) after an SMP reset's
 * answer (CONFIG_REBOOT): https://docs.zephyrproject.org/latest/services/pm/power_off.html and
 * include/zephyr/sys/reboot.h. Moddable's System.restart() has no Zephyr branch.
 */
#include "xsmc.h"
#include <zephyr/sys/reboot.h>

void xs_sealdrop_restart(xsMachine* the)
{
	(void)the;
	sys_reboot(SYS_REBOOT_COLD);
}
