/**
 * The simulated device's SMP server (runs on the Linux XS host, from host/sim/device.ts `serve`):
 * SMP in the serial console framing (smp-protocol.md §6) on the console UART (stdin/stdout),
 * served by the same SmpServer and groups a board runs. `sealdrop sim serve` relays UDP
 * datagrams or a pty onto this UART.
 *
 * It runs until the UART's input ends (exit 0), or until an SMP reset, which it answers first
 * and then ends with RESET_EXIT so the simulator can run the bootloader model and start it again.
 *
 * buf_size is SIM_BUF_SIZE unless the device program's arguments say `--buf-size N` after
 * `serve` (`sealdrop sim serve --buf-size N`): the largest request the serial framing takes, the
 * largest response, and what OS params (cmd 6) report all follow it.
 */
import Serial from "../xs/serial.js";
import type { BoardConfig, TrustAnchor, UpdateAgent } from "sealdrop/update";
import { argv, exit } from "sealdrop/xs-host";
import { SealdropError } from "sealdrop/image";
import { parseBufSize, SIM_BUF_COUNT, SIM_BUF_SIZE } from "./buf-size.js";
import { DeviceSmp } from "../../modules/app/app.js";

/** The exit status of a device that resets on an SMP request. */
export const RESET_EXIT = 3;

/** `--buf-size N` among the device program's arguments, else SIM_BUF_SIZE. */
function bufSizeArgument(): number {
	const at = argv.indexOf("--buf-size");
	try {
		return at < 0 ? SIM_BUF_SIZE : parseBufSize(argv[at + 1])!;
	} catch (e) {
		throw new SealdropError("E_USAGE", (e as Error).message);
	}
}

/** The device app's SMP server (modules/app DeviceSmp) alone, without provisioning or a health check. */
export function serveSmpOnUart(agent: UpdateAgent, board: BoardConfig, trust: TrustAnchor[]): void {
	const smp = new DeviceSmp({ agent, board, trust, bufSize: bufSizeArgument(), bufCount: SIM_BUF_COUNT });
	smp.listen((onReadable) => new Serial({ onReadable }), () => {
		agent.close();
		exit(RESET_EXIT);
	});
}
