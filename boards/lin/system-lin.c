/*
 * The board's system functions for modules/app/system.ts on Moddable's Linux simulator
 * (mcconfig -p lin), and the console the app serves SMP on:
 * - xs_sealdrop_restart: a board resets here; on Linux the app's process ends with status 0
 *   after an SMP reset's answer, and whoever runs it (scripts/check-moddable.mjs, a user's
 *   shell loop) starts it again, as a bootloader would, on the same flash file.
 * - xs_sealdrop_running_partition: the simulated board is MCUboot's (boards/sim/layout.json), which
 *   always runs the primary slot: no ESP-IDF OTA partition to name.
 * - xs_sealdrop_console_device: the serial device the console UART is (SEALDROP_CONSOLE, e.g. one
 *   end of a pty pair), opened by Moddable's embedded:io/serial for Linux (modules/io/serial/lin).
 */
#include "xsmc.h"
#include <stdlib.h>
#include <unistd.h>

void xs_sealdrop_restart(xsMachine* the)
{
	(void)the;
	fflush(NULL);
	_exit(0);
}

void xs_sealdrop_running_partition(xsMachine* the)
{
	(void)the; /* undefined: MCUboot runs the primary slot */
}

void xs_sealdrop_console_device(xsMachine* the)
{
	const char* device = getenv("SEALDROP_CONSOLE");
	if (!device || !*device)
		xsUnknownError("SEALDROP_CONSOLE is not set (the serial device for the console, e.g. a pty)");
	xsmcSetString(xsResult, (char*)device);
}
