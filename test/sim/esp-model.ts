/**
 * XS program for test/unit/sim-esp-model.test.ts: the ESP-IDF bootloader model alone
 * (host/sim/esp-bootloader.ts, host/sim/esp/app-image.ts) on a flash file the test wrote byte by
 * byte. It runs no agent code, so what it prints is the model's own reading of those bytes.
 *
 *   sealdrop-xs esp-model.js OTA_LAYOUT_JSON COMMAND...
 *   OTA_LAYOUT_JSON   { "otadata": "otadata", "apps": ["ota_0", "ota_1"] }
 *   boot              one boot of the bootloader model
 *   verify:N          the model's check of the image in app partition N
 *
 * Lines: { cmd, ok: true, ... } or { cmd, ok: false, code }. Anything thrown that is not a
 * SealdropError exits 1.
 */
import Flash from "sealdrop/native/flash";
import { toHex } from "sealdrop/image";
import { argv } from "sealdrop/xs-host";
import { runCommands } from "./commands.js";
import { bootEspIdf, type EspOtaLayout } from "../../host/sim/esp-bootloader.js";
import { verifyEspApp } from "../../host/sim/esp/app-image.js";

const layout = JSON.parse(argv[1]) as EspOtaLayout;

function run(command: string): Record<string, unknown> {
	const [verb, arg] = command.split(":");
	if (verb === "boot") return { ...bootEspIdf(layout) };
	if (verb === "verify") {
		const flash = Flash.open({ path: layout.apps[Number(arg)] });
		try {
			const facts = verifyEspApp(flash, 0);
			return { version: facts.version, projectName: facts.projectName, sha256: toHex(facts.sha256) };
		} finally {
			flash.close();
		}
	}
	throw new Error(`unknown command ${command}`);
}

runCommands(argv.slice(2), run, { withMessage: false });
