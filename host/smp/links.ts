/**
 * How `sealdrop smp` reaches a device: UDP (one SMP packet per datagram, smp-protocol.md §7), a
 * serial line in the console framing (§6), a tty or a pty, or that same framing over TCP (the
 * UART that QEMU's `-serial tcp:`, Renode's server socket terminal and ser2net expose).
 */
import { execFileSync } from "node:child_process";
import dgram from "node:dgram";
import fs from "node:fs";
import net from "node:net";
import tty from "node:tty";
import { fail } from "sealdrop/image";
import { encodeSerialFrame, SerialFrameDecoder } from "../../modules/transport/smp/serial-framing.js";

/** Whole SMP packets both ways. */
export interface SmpLink {
	/** What the link is, for messages: "udp 127.0.0.1:1337", "serial /dev/ttyACM0", "tcp 127.0.0.1:5555". */
	readonly name: string;
	/**
	 * Bytes the device's receive buffer (its `buf_size`) holds for each packet beyond the packet
	 * itself: 4 in the serial framing (the 2-byte length and the CRC-16 are base64-decoded into the
	 * same net_buf as the packet: Zephyr subsys/mgmt/mcumgr/transport/src/serial_util.c,
	 * mcumgr_serial_decode_frag() decodes into net_buf_tailroom(); MCUboot
	 * boot/boot_serial/src/boot_serial.c, boot_serial_in_dec() decodes into dec_buf), 0 over UDP
	 * (smp_udp.c smp_udp_receive_thread() copies the datagram alone into the net_buf).
	 */
	readonly framing: number;
	/** The packet size to use when the device does not say (no OS params): see ./client.ts packetLimit(). */
	readonly mtu: number;
	/** The largest packet the link can carry at all (a UDP datagram's payload, the serial frame's 16-bit length): an explicit MTU may go up to it. */
	readonly maxMtu: number;
	send(packet: Uint8Array): void;
	onPacket: (packet: Uint8Array) => void;
	close(): void;
}

/**
 * MCUboot's serial recovery receive buffer when the device does not report one (no OS params):
 * Kconfig BOOT_SERIAL_MAX_RECEIVE_SIZE, default 1024 (mcu-tools/mcuboot boot/zephyr/Kconfig.serial_recovery;
 * boot_serial.c sizes in_buf and dec_buf by it).
 */
export const MCUBOOT_RECEIVE_SIZE = 1024;

/** A TCP or UDP port: 1 to 65535, or 0 too where `zero` allows it (bind to any free port). */
export function parsePort(text: string, what: string, zero = false): number {
	const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
	if (!(port >= (zero ? 0 : 1) && port <= 65535)) fail("E_USAGE", `${what}: the port must be ${zero ? 0 : 1} to 65535, not "${text}"`);
	return port;
}

/** `HOST:PORT` (IPv6 in brackets); an empty host is 127.0.0.1. `zero`: port 0 is allowed (a server binding any free port). */
export function parseHostPort(text: string, option = "--udp", zero = false): { host: string; port: number } {
	const m = /^(.*):([^:\]]*)$/.exec(text);
	if (!m) fail("E_USAGE", `${option} takes HOST:PORT, not "${text}"`);
	return { host: m[1].replace(/^\[(.*)\]$/, "$1") || "127.0.0.1", port: parsePort(m[2], `${option} ${text}`, zero) };
}

export function udpLink(address: string): SmpLink {
	const { host, port } = parseHostPort(address, "--udp");
	const v6 = host.includes(":");
	const socket = dgram.createSocket(v6 ? "udp6" : "udp4");
	const link: SmpLink = {
		name: `udp ${address}`,
		framing: 0,
		mtu: v6 ? 1452 : 1472,
		maxMtu: v6 ? 65527 : 65507,
		send: (packet) => socket.send(packet, port, host),
		onPacket: () => {},
		close: () => socket.close(),
	};
	socket.on("message", (message) => link.onPacket(new Uint8Array(message)));
	socket.on("error", () => {}); // ICMP port unreachable and the like: the request times out and is retried
	return link;
}

/** What the serial framing's links share: packets the device's buffer takes with the length and CRC, MCUboot's default when it does not say. */
const SERIAL_SIZES = { framing: 4, mtu: MCUBOOT_RECEIVE_SIZE - 4, maxMtu: 65533 } as const;

/** A serial device, `PATH[,BAUD]`: the console framing over a tty or pty, in raw mode. */
export function serialLink(spec: string): SmpLink {
	const [path, baud, ...extra] = spec.split(",");
	if (extra.length || (baud !== undefined && !/^[1-9]\d{1,7}$/.test(baud))) fail("E_USAGE", `--serial takes PATH[,BAUD] with BAUD a number of bits per second, not "${spec}"`);
	if (!fs.existsSync(path)) fail("E_IO", `no serial device ${path}`);
	try {
		execFileSync("stty", ["-F", path, "raw", "-echo", ...(baud ? [baud] : [])], { stdio: "ignore" });
	} catch {
		// not a tty (a FIFO or file in tests), or a speed the tty refuses: nothing to configure
	}
	const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
	const decoder = new SerialFrameDecoder({ maxPacket: 65535 });
	// a tty through net.Socket (non-blocking): a pending fs read on a tty would hold the process open
	const input: NodeJS.ReadableStream & { destroy(): void } = tty.isatty(fd) ? new tty.ReadStream(fd) : fs.createReadStream("", { fd, autoClose: false });
	const link: SmpLink = {
		name: `serial ${path}`,
		...SERIAL_SIZES,
		send: (packet) => fs.writeSync(fd, encodeSerialFrame(packet)),
		onPacket: () => {},
		close: () => input.destroy(),
	};
	input.on("data", (d) => {
		for (const packet of decoder.push(d as Buffer)) link.onPacket(packet);
	});
	input.on("error", () => {});
	return link;
}

/**
 * A UART on a TCP socket, `HOST:PORT`: the serial console framing, byte for byte as on the wire
 * (QEMU `-serial tcp::PORT,server=on`, Renode's `emulation CreateServerSocketTerminal`, ser2net's
 * raw mode). Resolves once connected; a refused or unreachable port is E_IO.
 */
export function tcpLink(address: string, connectTimeout = 5000): Promise<SmpLink> {
	const { host, port } = parseHostPort(address, "--tcp");
	return new Promise((resolve, reject) => {
		const socket = net.connect({ host, port });
		socket.setNoDelay(true);
		const timer = setTimeout(() => socket.destroy(new Error(`no connection within ${connectTimeout} ms`)), connectTimeout);
		const decoder = new SerialFrameDecoder({ maxPacket: 65535 });
		const link: SmpLink = {
			name: `tcp ${address}`,
			...SERIAL_SIZES,
			send: (packet) => { socket.write(encodeSerialFrame(packet)); },
			onPacket: () => {},
			close: () => socket.destroy(),
		};
		socket.on("data", (d) => {
			for (const packet of decoder.push(d)) link.onPacket(packet);
		});
		socket.once("connect", () => {
			clearTimeout(timer);
			socket.on("error", () => {}); // a reset connection: requests time out
			resolve(link);
		});
		socket.once("error", (e) => {
			clearTimeout(timer);
			socket.destroy();
			reject(e);
		});
	}).catch((e: Error) => fail("E_IO", `--tcp ${address}: cannot connect (${e.message}): is the device's TCP serial port listening there?`)) as Promise<SmpLink>;
}
