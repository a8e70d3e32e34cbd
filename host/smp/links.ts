/**
 * How `sealdrop smp` reaches a device: UDP (one SMP packet per datagram, smp-protocol.md §7) or
 * a serial line in the console framing (§6), a tty or a pty.
 */
import { execFileSync } from "node:child_process";
import dgram from "node:dgram";
import fs from "node:fs";
import tty from "node:tty";
import { fail } from "sealdrop/image";
import { encodeSerialFrame, SerialFrameDecoder } from "../../modules/transport/smp/serial-framing.js";

/** Whole SMP packets both ways. */
export interface SmpLink {
	/** The packet size to use unless told otherwise (a datagram without fragmentation, the serial framing's default). */
	readonly mtu: number;
	/** The largest packet the link can carry at all (a UDP datagram's payload, the serial frame's 16-bit length): an explicit MTU may go up to it. */
	readonly maxMtu: number;
	send(packet: Uint8Array): void;
	onPacket: (packet: Uint8Array) => void;
	close(): void;
}

/** `HOST:PORT` (IPv6 in brackets); an empty host is 127.0.0.1. */
export function parseHostPort(text: string): { host: string; port: number } {
	const m = /^(.*):(\d+)$/.exec(text);
	if (!m) fail("E_USAGE", `--udp takes HOST:PORT, not "${text}"`);
	return { host: m[1].replace(/^\[(.*)\]$/, "$1") || "127.0.0.1", port: Number(m[2]) };
}

export function udpLink(address: string): SmpLink {
	const { host, port } = parseHostPort(address);
	const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
	const link: SmpLink = {
		mtu: host.includes(":") ? 1452 : 1472,
		maxMtu: host.includes(":") ? 65527 : 65507,
		send: (packet) => socket.send(packet, port, host),
		onPacket: () => {},
		close: () => socket.close(),
	};
	socket.on("message", (message) => link.onPacket(new Uint8Array(message)));
	socket.on("error", () => {}); // ICMP port unreachable and the like: the request times out and is retried
	return link;
}

/** A serial device, `PATH[,BAUD]`: the console framing over a tty or pty, in raw mode. */
export function serialLink(spec: string): SmpLink {
	const [path, baud] = spec.split(",");
	if (!fs.existsSync(path)) fail("E_IO", `no serial device ${path}`);
	try {
		execFileSync("stty", ["-F", path, "raw", "-echo", ...(baud ? [baud] : [])], { stdio: "ignore" });
	} catch {
		// not a tty (a FIFO or file in tests): nothing to configure
	}
	const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
	const decoder = new SerialFrameDecoder({ maxPacket: 65535 });
	// a tty through net.Socket (non-blocking): a pending fs read on a tty would hold the process open
	const input: NodeJS.ReadableStream & { destroy(): void } = tty.isatty(fd) ? new tty.ReadStream(fd) : fs.createReadStream("", { fd, autoClose: false });
	const link: SmpLink = {
		mtu: 2048,
		maxMtu: 65533,
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
