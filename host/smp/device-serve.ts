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
import type { BoardConfig, UpdateAgent } from "sealdrop/update";
import { argv, exit } from "sealdrop/xs-host";
import { SealdropError } from "sealdrop/image";
import { parseBufSize, SIM_BUF_COUNT, SIM_BUF_SIZE } from "./buf-size.js";
import { ImageGroup } from "../../modules/transport/smp/groups/image.js";
import { OsGroup } from "../../modules/transport/smp/groups/os.js";
import { SealdropGroup, type DeviceKeyService } from "../../modules/transport/smp/groups/sealdrop.js";
import { encodeSerialFrame, SerialFrameDecoder } from "../../modules/transport/smp/serial-framing.js";
import { SmpServer } from "../../modules/transport/smp/server.js";

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

export function serveSmpOnUart(agent: UpdateAgent, board: BoardConfig, deviceKey: DeviceKeyService): void {
	let resetRequested = false;
	const bufSize = bufSizeArgument();
	const server = new SmpServer({
		bufSize,
		groups: [
			new OsGroup({ bufSize, bufCount: SIM_BUF_COUNT, reset: () => (resetRequested = true) }),
			new ImageGroup({ agent, board }),
			new SealdropGroup({ agent, deviceKey }),
		],
	});
	const decoder = new SerialFrameDecoder({ maxLine: 128, maxPacket: bufSize });
	new Serial({
		onReadable(this: Serial) {
			const data = this.read();
			if (!data) return;
			for (const packet of decoder.push(new Uint8Array(data))) {
				for (const response of server.process(packet)) this.write(encodeSerialFrame(response).buffer as ArrayBuffer);
				if (resetRequested) {
					agent.close();
					this.close();
					exit(RESET_EXIT);
					return;
				}
			}
		},
	});
}
