/**
 * The simulated device's HTTP pull (runs on the Linux XS host, from host/sim/device.ts `pull`):
 * the transport of modules/transport/http feeds the update agent, its requests made by the host
 * through the bridge on the console UART (framing: modules/transport/http/bridge.ts; the host half
 * is host/sim/http-bridge.ts).
 *
 *   pull URL [--image N] [--pending none|test|permanent] [--retries N] [--timeout MS] [--stall-timeout MS]
 *        [--backoff MS] [--deadline S]
 *
 * Prints one JSON object after closing the bridge: what was installed and the transport's figures,
 * or {"error": ...}. A pull that gives up (E_NETWORK, E_HTTP) leaves the agent's session in its
 * journal, as a device that tries again later would: the next pull of the same image resumes.
 */
import Serial from "../xs/serial.js";
import { SealdropError } from "sealdrop/image";
import { BridgeClient, pull, type PullEvent } from "sealdrop/transport/http";
import type { PendingMode, UpdateAgent } from "sealdrop/update";
import Flash from "sealdrop/native/flash";
import { exit } from "sealdrop/xs-host";

function option(args: string[], name: string): string | undefined {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : undefined;
}

const number = (args: string[], name: string) => {
	const value = option(args, name);
	return value === undefined ? undefined : Number(value);
};

export async function pullOverUart(agent: UpdateAgent, args: string[]): Promise<void> {
	let serial: Serial | undefined = undefined;
	const client = new BridgeClient((frame) => serial!.write(frame.buffer as ArrayBuffer));
	serial = new Serial({
		onReadable() {
			const bytes = this.read();
			if (bytes) client.receive(new Uint8Array(bytes));
		},
	});
	let output: unknown;
	let status = 0;
	try {
		const result = await pull({
			url: args[0], client, agent,
			image: number(args, "--image") ?? 0,
			pending: (option(args, "--pending") ?? "test") as PendingMode,
			retries: number(args, "--retries"), timeout: number(args, "--timeout"), stallTimeout: number(args, "--stall-timeout"), backoff: number(args, "--backoff"),
			deadline: args.includes("--deadline") ? number(args, "--deadline")! * 1000 : undefined,
			onEvent: (event: PullEvent) => { if (event.type !== "progress") console.error(JSON.stringify({ http: event })); },
		});
		output = { ...result, flashOperations: Flash.operations };
	} catch (e) {
		if (!(e instanceof SealdropError)) throw e;
		output = { error: { code: e.code, message: e.message } };
		status = 1;
	} finally {
		agent.close(); // a download that gave up stays in the journal: the next pull resumes it
		client.close();
		serial.close();
	}
	console.log(JSON.stringify(output)); // the UART is closed: stdout again
	exit(status);
}
