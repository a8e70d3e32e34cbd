/**
 * The board's system functions (native/esp32/system-esp32.c, native/zephyr/system-zephyr.c).
 * Only on a board; the simulator passes its own reset and running partition.
 */

/** Resets the board: esp_restart, or Zephyr's sys_reboot. */
export function restart(): void {
	native("xs_sealdrop_restart").call(undefined);
}

/**
 * The label of the flash partition the running app executes from: ESP-IDF's
 * esp_ota_get_running_partition(), or Zephyr's code partition (MCUboot's primary slot).
 */
export function runningPartition(): string | undefined {
	return native("xs_sealdrop_running_partition").call(undefined) as string | undefined;
}
