/**
 * Resets the board: xs_sealdrop_restart in native/esp32/system-esp32.c (esp_restart) or
 * native/zephyr/system-zephyr.c (sys_reboot). Only on a board; the simulator passes its own reset.
 */
export function restart(): void {
	native("xs_sealdrop_restart").call(undefined);
}
