/*
 * The ECMA-419 host provider of boards/nucleo_f413zh (embedded:provider/builtin), as an out-of-tree
 * Zephyr board for `mcconfig -p zephyr:./boards/nucleo_f413zh` needs one (Moddable's
 * documentation/devices/zephyr.md, "new board"): the devicetree's devices, as Moddable's own
 * build/devices/zephyr/targets/nucleo_f413zh/host/provider.js has them.
 */
import device from "mc/devicetree";

export default device;
