/**
 * `sealdrop sim serve`: the simulated device on the wire. The device program's SMP server
 * (host/smp/device-serve.ts, on the Linux XS host) speaks the serial framing on its console
 * UART; this relays that UART to a UDP socket (one SMP packet per datagram, smp-protocol.md §7)
 * or to a pseudo-terminal, and plays the board's reset: when the device resets (an SMP reset,
 * or a power cut from SEALDROP_FLASH_CUT), the bootloader model runs and the device starts again.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import dgram from "node:dgram";
import { fail } from "sealdrop/image";
import { FORMAT, type CommandSpec } from "../cli/args.js";
import { deviceDir, deviceProcess, POWER_CUT_EXIT, runDevice } from "../cli/sim-device.js";
import { encodeSerialFrame, SERIAL_FRAME_OVERHEAD, SerialFrameDecoder } from "../../modules/transport/smp/serial-framing.js";
import { decodeCbor, encodeCbor, type CborMap } from "../../modules/transport/smp/cbor.js";
import { decodeSmpHeader, encodeSmpPacket, SMP_HEADER_SIZE, SmpGroupId, SmpOp } from "../../modules/transport/smp/header.js";
import { parseHostPort } from "./links.js";
import { ReplyRoutes } from "./reply-routes.js";
import { openPty } from "./pty.js";
import { MAX_BUF_SIZE, parseBufSize, SIM_BUF_SIZE } from "./buf-size.js";

/** host/smp/device-serve.ts RESET_EXIT. */
const RESET_EXIT = 3;

/** The device's console UART, kept up across resets: bytes in, bytes out. */
export class SimUart {
	readonly #dir: string;
	#child: ChildProcessWithoutNullStreams | undefined;
	#env: NodeJS.ProcessEnv;
	#closed = false;
	/** Called with the device's console output. */
	onData: (bytes: Buffer) => void = () => {};
	/** Called on each reset with the reason and what booted. */
	onReset: (reason: string, booted: Record<string, unknown>) => void = () => {};
	/** Called each time the device program starts (first start and after each reset). */
	onStart: () => void = () => {};
	/** Called when the device stops for good (an error the simulator cannot recover from). */
	onFatal: (message: string) => void = () => {};

	readonly #bufSize: number | undefined;
	readonly #app: boolean;

	/**
	 * `bufSize`: the device program's buf_size (default SIM_BUF_SIZE, ./buf-size.ts; behind the UDP
	 * relay, the buf_size clients get plus the relay's serial frame, serveUdp()). `app`: run the device
	 * app a board runs (modules/app: first-boot provisioning, health check, self-confirm) instead
	 * of the bare SMP server.
	 */
	constructor(dir: string, bufSize?: number, app = false) {
		this.#dir = dir;
		this.#env = { ...process.env };
		this.#bufSize = bufSize;
		this.#app = app;
	}

	start(): void {
		const command = this.#app ? ["app"] : ["serve", ...(this.#bufSize === undefined ? [] : ["--buf-size", String(this.#bufSize)])];
		const p = deviceProcess(this.#dir, command, this.#env);
		// a power cut happens once: after it the device runs on
		delete this.#env.SEALDROP_FLASH_CUT;
		const child = spawn(p.file, p.args, { env: p.env, stdio: ["pipe", "pipe", "pipe"] });
		this.#child = child;
		let stderr = "";
		child.stdout.on("data", (d: Buffer) => this.onData(d));
		child.stderr.on("data", (d: Buffer) => { stderr = (stderr + d.toString("utf8")).slice(-2000); });
		child.stdin.on("error", () => {}); // writes racing a reset
		queueMicrotask(() => this.onStart());
		child.on("close", (status) => {
			if (this.#child !== child) return;
			this.#child = undefined;
			if (this.#closed) return;
			if (status === RESET_EXIT || status === POWER_CUT_EXIT) void this.#reboot(status === RESET_EXIT ? "reset" : "power cut");
			else this.onFatal(`the simulated device stopped (exit ${status}): ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
		});
	}

	async #reboot(reason: string): Promise<void> {
		try {
			const booted = await runDevice(this.#dir, ["boot"]);
			this.onReset(reason, booted);
			if (!this.#closed) this.start();
		} catch (e) {
			this.onFatal(`the simulated device did not boot after a ${reason}: ${(e as Error).message}`);
		}
	}

	/** Bytes to the device's UART; dropped while it reboots, as on a board. */
	write(bytes: Uint8Array): void {
		this.#child?.stdin.write(bytes);
	}

	close(): void {
		this.#closed = true;
		this.#child?.stdin.end();
	}
}

/**
 * UDP: each datagram is one SMP packet (or several) to the device; each answer goes back to the
 * client that asked (ReplyRoutes). A datagram larger than buf_size is dropped without an answer,
 * as Zephyr's UDP transport does (smp_udp.c: recvfrom() into CONFIG_MCUMGR_TRANSPORT_UDP_MTU,
 * which its Kconfig.udp requires to fit the CONFIG_MCUMGR_TRANSPORT_NETBUF_SIZE net_buf).
 *
 * The device program only listens on its UART, in the serial framing, and takes there what
 * Zephyr's serial transport takes: the frame's length and CRC decoded into the same buffer as the
 * packet (serial_util.c mcumgr_serial_decode_frag(); modules/app DeviceSmp), so a packet of at
 * most its buffer less SERIAL_FRAME_OVERHEAD. That hop is the simulator's, not the wire's: over
 * UDP the datagram alone fills the net_buf (smp_udp.c smp_udp_receive_thread() copies just the
 * received bytes into it), so the relay, which plays the device's UDP transport, counts buf_size
 * as what a datagram may hold — udpBufSize(), the device's buffer less that hop — and says so in
 * the OS params answers it relays (forUdp()). Relaying the device's own figure instead promised
 * UDP clients 4 bytes the device's UART then dropped: a default upload's first buf_size packet
 * went unanswered.
 */
function serveUdp(uart: SimUart, address: string, limits: DeviceLimits, announce: (what: Record<string, unknown>) => void, onFatal: (message: string) => void): Promise<void> {
	const { host, port } = parseHostPort(address, "--udp", true);
	const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
	const fromDevice = new SerialFrameDecoder({ maxPacket: 65535 });
	const routes = new ReplyRoutes<{ address: string; port: number }>();
	uart.onData = (bytes) => {
		for (const packet of fromDevice.push(bytes)) {
			if (limits.take(packet)) continue;
			const to = routes.route(packet);
			if (to) socket.send(forUdp(packet, limits.udpBufSize), to.port, to.address);
		}
	};
	const started = uart.onStart;
	uart.onStart = () => {
		routes.clear(); // a reset: nothing asked before it will be answered
		started();
	};
	socket.on("message", (message, remote) => {
		if (message.length > limits.udpBufSize) return;
		routes.add(message, { address: remote.address, port: remote.port });
		uart.write(encodeSerialFrame(message));
	});
	return new Promise((resolve, reject) => {
		socket.on("error", (e) => reject(new Error(`UDP ${address}: ${e.message}`)));
		socket.bind(port, host, () => {
			const bound = socket.address();
			announce({ udp: `${bound.address}:${bound.port}` });
			uart.start();
		});
		uart.onFatal = (message) => {
			socket.close();
			onFatal(message);
			resolve();
		};
		const stop = () => {
			uart.close();
			socket.close();
			resolve();
		};
		process.once("SIGINT", stop);
		process.once("SIGTERM", stop);
	});
}

/**
 * A pty: the serial console framing (§6) with Zephyr's limits on what the device takes — a line
 * of at most 128 bytes with its newline (drivers/console/uart_mcumgr.c uart_mcumgr_rx_byte()
 * drops a longer one: CONFIG_UART_MCUMGR_RX_BUF_SIZE, default 128) and a decoded frame (length,
 * packet, CRC) within buf_size (serial_util.c mcumgr_serial_decode_frag()): the largest packet
 * is buf_size − 4. Frames past those limits are dropped without an answer, as the real server
 * does; the device's answers pass through unchanged.
 */
async function servePty(uart: SimUart, limits: DeviceLimits, announce: (what: Record<string, unknown>) => void, onFatal: (message: string) => void): Promise<void> {
	const pty = await openPty();
	const fromDevice = new SerialFrameDecoder({ maxPacket: 65535 });
	let toDevice = new SerialFrameDecoder({ maxLine: SERIAL_RX_LINE, bufSize: limits.bufSize });
	let bufSize = limits.bufSize;
	uart.onData = (bytes) => {
		// the device's own params query (DeviceLimits) is answered to the relay, not to the client
		const packets = fromDevice.push(bytes);
		if (packets.some((p) => limits.take(p))) return;
		pty.write(bytes);
	};
	pty.onData = (bytes) => {
		if (limits.bufSize !== bufSize) toDevice = new SerialFrameDecoder({ maxLine: SERIAL_RX_LINE, bufSize: (bufSize = limits.bufSize) });
		for (const packet of toDevice.push(bytes)) uart.write(encodeSerialFrame(packet));
	};
	announce({ pty: pty.path });
	uart.start();
	return new Promise((resolve) => {
		const stop = () => {
			uart.close();
			pty.close();
			resolve();
		};
		uart.onFatal = (message) => {
			onFatal(message);
			stop();
		};
		process.once("SIGINT", stop);
		process.once("SIGTERM", stop);
	});
}

/**
 * `packet` as the device's UDP transport sends it: an OS params answer (group 0, command 6,
 * smp-protocol.md §4) reports `udpBufSize`, the largest datagram the relay and the device behind
 * it take; any other packet goes unchanged.
 */
export function forUdp(packet: Uint8Array, udpBufSize: number): Uint8Array {
	if (packet.length < SMP_HEADER_SIZE) return packet;
	const h = decodeSmpHeader(packet);
	if (h.op !== SmpOp.READ + 1 || h.group !== SmpGroupId.OS || h.command !== 6 || packet.length !== SMP_HEADER_SIZE + h.length) return packet;
	let body: CborMap;
	try {
		body = decodeCbor(packet.subarray(SMP_HEADER_SIZE)) as CborMap;
	} catch {
		return packet; // not a map the relay can read: the client judges it
	}
	if (typeof body?.buf_size !== "number" || body.buf_size === udpBufSize) return packet;
	return encodeSmpPacket(h, encodeCbor({ ...body, buf_size: udpBufSize }));
}

/** Zephyr's serial line buffer, marker and newline included (CONFIG_UART_MCUMGR_RX_BUF_SIZE, default 128). */
const SERIAL_RX_LINE = 128;

/**
 * The device's buf_size, as the relay enforces it: known from --buf-size (or the simulator's
 * default) for the bare server; asked of the device itself (OS params, §4) for the device app,
 * whose board sets it. The relay's own query uses a sequence number and group/command that it
 * recognises in the answer (`take`), which never reaches a client.
 */
class DeviceLimits {
	/** The device program's buffer: the largest serial frame (packet, length and CRC) its UART takes. */
	bufSize: number;
	#asked = false;
	static readonly #SEQUENCE = 0xa5;
	constructor(bufSize: number | undefined, readonly ask: boolean) {
		this.bufSize = bufSize ?? SIM_BUF_SIZE;
	}
	/** The largest UDP datagram the device takes through the relay, and the buf_size UDP clients are told: see serveUdp(). */
	get udpBufSize(): number {
		return this.bufSize - SERIAL_FRAME_OVERHEAD;
	}
	/** The params request to send the device once it runs, or undefined. */
	query(): Uint8Array | undefined {
		if (!this.ask) return undefined;
		this.#asked = true;
		return encodeSerialFrame(encodeSmpPacket({ op: SmpOp.READ, version: 1, flags: 0, group: SmpGroupId.OS, sequence: DeviceLimits.#SEQUENCE, command: 6 }, encodeCbor({})));
	}
	/** Whether `packet` answers the relay's own query (its buf_size is then taken). */
	take(packet: Uint8Array): boolean {
		if (!this.#asked || packet.length < SMP_HEADER_SIZE) return false;
		const h = decodeSmpHeader(packet);
		if (h.op !== SmpOp.READ + 1 || h.group !== SmpGroupId.OS || h.command !== 6 || h.sequence !== DeviceLimits.#SEQUENCE) return false;
		const body = decodeCbor(packet.subarray(SMP_HEADER_SIZE, SMP_HEADER_SIZE + h.length)) as CborMap;
		if (typeof body.buf_size === "number") this.bufSize = body.buf_size;
		this.#asked = false;
		return true;
	}
}

export const simServe: CommandSpec = {
	name: "serve",
	summary: "Put the simulated device on the wire: its SMP server over UDP or a pseudo-terminal, for `sealdrop smp` and MCUmgr tools.",
	usage: "sim serve --dir D (--udp HOST:PORT | --pty) [--app | --buf-size N] [-f json]",
	options: [
		{ long: "dir", short: "d", metavar: "D", help: "the simulated device's folder (required)" },
		{ long: "udp", metavar: "HOST:PORT", help: "serve SMP over UDP (MCUmgr's port is 1337; port 0 picks a free one)" },
		{ long: "pty", arity: 0, help: "serve SMP in the serial framing on a new pseudo-terminal (its path is printed; needs python3)" },
		{ long: "buf-size", metavar: "N", help: `the device's buf_size: its largest SMP request and response (default ${SIM_BUF_SIZE}, one unfragmented datagram; up to ${MAX_BUF_SIZE})` },
		{ long: "app", arity: 0, help: "run the device app boards run (modules/app): it confirms a trial image itself once its health check passes" },
		FORMAT,
	],
	notes: [
		"Runs until interrupted. The first line says where the device listens ({\"udp\": ...} or {\"pty\": ...} with -f json).",
		"An SMP reset (or a power cut from SEALDROP_FLASH_CUT=k) runs the bootloader model and restarts the device;",
		`requests sent meanwhile are lost, as on a board, and clients retry. buf_size is ${SIM_BUF_SIZE} (one unfragmented datagram)`,
		"unless --buf-size says otherwise: larger packets suit loopback and serial lines (`sealdrop smp upload --mtu N` up to it).",
		"Example:\n  sealdrop sim serve --dir dev1 --udp 127.0.0.1:1337 &\n  sealdrop smp --udp 127.0.0.1:1337 upload sealed.bin",
	].join("\n"),
	async run(args) {
		const dir = deviceDir(args);
		if (!!args.get("udp") === args.flag("pty")) fail("E_USAGE", "give one of --udp HOST:PORT or --pty");
		const json = args.get("format") === "json";
		const log = (what: Record<string, unknown>, human: string) => process.stdout.write(json ? JSON.stringify(what) + "\n" : human + "\n");
		const announce = (what: Record<string, unknown>) => log(what, what.udp ? `SMP over UDP on ${what.udp}` : `SMP (serial framing) on ${what.pty}`);
		let bufSize: number | undefined;
		try {
			bufSize = parseBufSize(args.get("buf-size"));
		} catch (e) {
			fail("E_USAGE", (e as Error).message);
		}
		if (args.flag("app") && bufSize !== undefined) fail("E_USAGE", "--buf-size sets the bare server's; the device app has its board's");
		// over UDP the bare device's buffer holds the serial hop from the relay too, so that a datagram
		// of the whole buf_size reaches it (serveUdp()); on a pty the framing is the wire's own
		const udp = !!args.get("udp");
		if (udp && bufSize !== undefined && bufSize > MAX_BUF_SIZE - SERIAL_FRAME_OVERHEAD) fail("E_USAGE", `--buf-size over UDP takes up to ${MAX_BUF_SIZE - SERIAL_FRAME_OVERHEAD} (the relay's serial frame to the device adds ${SERIAL_FRAME_OVERHEAD}), not ${bufSize}`);
		const deviceBufSize = udp && !args.flag("app") ? (bufSize ?? SIM_BUF_SIZE) + SERIAL_FRAME_OVERHEAD : bufSize;
		const uart = new SimUart(dir, deviceBufSize, args.flag("app"));
		uart.onReset = (reason, booted) => {
			const running = booted.running as { version?: string; state?: string } | null;
			log({ reset: reason, running }, `device ${reason}: bootloader ran; running ${running ? `${running.version} (${running.state})` : "nothing"}`);
		};
		let failure: string | undefined;
		const onFatal = (message: string) => { failure = message; };
		const limits = new DeviceLimits(deviceBufSize, args.flag("app"));
		uart.onStart = () => {
			const query = limits.query();
			if (query) uart.write(query);
		};
		if (args.flag("pty")) await servePty(uart, limits, announce, onFatal);
		else await serveUdp(uart, args.get("udp")!, limits, announce, onFatal);
		if (failure) fail("E_IO", failure);
		return 0;
	},
};
