/*
 * The ECMA-419 host provider of boards/stm32f4_disco (embedded:provider/builtin), as an out-of-tree
 * Zephyr board for `mcconfig -p zephyr:./boards/stm32f4_disco` needs one (Moddable's
 * documentation/devices/zephyr.md, "new board"): the devicetree's devices, as Moddable's own
 * build/devices/zephyr/targets/stm32f4_disco/host/provider.js has them.
 */
import device from "mc/devicetree";

export default device;
