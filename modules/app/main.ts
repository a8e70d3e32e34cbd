/**
 * The entry module of a Moddable build of the device app (manifest.json "main"): reads the board
 * and the trusted keys from the build's config (mc/config, set by boards/<board>/manifest.json
 * and the mcconfig command line) and runs startDeviceApp (./app.ts) on the console UART.
 *
 * Platform APIs used, as documented by Moddable:
 * - `embedded:provider/builtin` (ECMA-419 host provider; documentation/io/io.md, and for
 *   out-of-tree Zephyr boards boards/<board>/host/provider.js): `device.io.Serial` and the
 *   board's default console pins in `device.Serial.default`.
 * - `mc/config` (documentation/tools/manifest.md, "config"): frozen build-time values.
 * - ./system.ts: the board's reset and the partition the app runs from (ESP-IDF's
 *   esp_ota_get_running_partition).
 * Not run on the Linux XS host: the simulator runs the same startDeviceApp from host/sim/device.ts.
 */
import "sealdrop/app/web-globals"; // first: modules below use TextEncoder, TextDecoder and timers as globals
import device from "embedded:provider/builtin";
import config from "mc/config";
import { fromHex } from "sealdrop/image";
import { parseBoardConfig } from "sealdrop/update";
import { startDeviceApp, type UartPort } from "sealdrop/app/app";
import { restart, runningPartition } from "sealdrop/app/system";

interface AppConfig {
	board: { name: string; sealdrop: unknown };
	/** Hex of each trusted signing key's getpub bytes (or of a 32-byte key hash). */
	trust: string[];
	keyKind?: "p256" | "x25519";
	baud?: number;
	/** Console UART pins over the provider's default (boards/esp32*: port, receive, transmit). */
	uart?: Record<string, unknown>;
}

const app = (config as { sealdrop?: AppConfig }).sealdrop;
if (!app) throw new Error("sealdrop app: the build's config has no \"sealdrop\" section (include a board manifest from boards/)");

const board = parseBoardConfig(app.board.name, app.board.sealdrop);
// esp-idf boards: the OTA app running now, which the agent must never erase (otadata may name another)
const runningApp = board.ota?.apps.indexOf(runningPartition() ?? "") ?? -1;

startDeviceApp({
	board,
	...(runningApp >= 0 ? { runningApp } : {}),
	trust: app.trust.map((hex) => hex.length === 64 ? { keyHash: fromHex(hex) } : { publicKey: fromHex(hex) }),
	...(app.keyKind ? { keyKind: app.keyKind } : {}),
	openUart: (onReadable) => new device.io.Serial({ ...device.Serial.default, ...app.uart, baud: app.baud ?? 115200, format: "buffer", onReadable }) as UartPort,
	reset: restart,
	log: (line) => trace(`sealdrop: ${line}\n`),
});
