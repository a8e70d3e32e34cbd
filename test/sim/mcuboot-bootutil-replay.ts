/**
 * The device side of test/unit/mcuboot-bootutil-vectors.test.ts, run on the Linux XS host:
 *
 *   SEALDROP_LAYOUT=L SEALDROP_FLASH=F [SEALDROP_FLASH_CUT=k] sealdrop-xs --state DIR \
 *     build/js/test/sim/mcuboot-bootutil-replay.js L TRUST SLOT:HEX... 
 *
 * L is the board layout (boards/nucleo_l4a6zg/layout.json), TRUST the signing key MCUboot was
 * built with (SubjectPublicKeyInfo DER in hex), each SLOT:HEX a device key (a raw P-256 private
 * key) for that key slot, imported unless the state folder already holds it, as the PSA key
 * store real bootutil read held it. Then the MCUboot model boots once, as the recorded build did:
 * the key hook's slots (it tries every slot that holds a key), no downgrade prevention
 * (boards/nucleo_l4a6zg/mcuboot.conf does not set CONFIG_MCUBOOT_DOWNGRADE_PREVENTION). Prints one
 * JSON line {"report": BootReport, "operations": flash write/erase operations}.
 */
import Flash from "sealdrop/native/flash";
import DeviceKey from "sealdrop/native/device-key";
import { fail, fromHex } from "sealdrop/image";
import { parseBoardConfig } from "sealdrop/update/board";
import { argv, exit, readFile, startDirectory } from "sealdrop/xs-host";
import { mcubootBoot } from "../../host/sim/mcuboot.js";

const absolute = (path: string) => (path.startsWith("/") ? path : `${startDirectory}/${path}`);
const layout = JSON.parse(new TextDecoder().decode(readFile(absolute(argv[1])))) as { name: string; sealdrop: unknown };
const board = parseBoardConfig(layout.name, layout.sealdrop);
const slots: number[] = [];
for (const arg of argv.slice(3)) {
	const [slot, hex] = arg.split(":");
	if (!/^[0-3]$/.test(slot) || !hex) fail("E_USAGE", `SLOT:HEX expected, got ${arg}`);
	if (!DeviceKey.exists({ slot: Number(slot) })) DeviceKey.import("p256", fromHex(hex), { slot: Number(slot) }).close();
	slots.push(Number(slot));
}
const before = Flash.operations;
const report = mcubootBoot({ board, trust: [{ publicKey: fromHex(argv[2]) }], deviceKeySlots: slots, downgradePrevention: "off" });
console.log(JSON.stringify({ report, operations: Flash.operations - before }));
exit(0);
