/**
 * The XS half of the serial-framing figures of `npm run bench:smp`:
 *   sealdrop-xs build/js/bench/xs/framing.js MIN-MS PACKET-BYTES...
 * SMP's serial framing (modules/transport/smp/serial-framing.ts) on XS as the device runs it:
 * for each packet size, a stream of framed packets (what a client's upload requests become on
 * the UART) decoded by SerialFrameDecoder.push() in 512-byte reads, and the same packets framed
 * by encodeSerialFrame(). Prints one JSON object: microseconds per packet byte by CPU and wall.
 */
import { argv, exit, now } from "sealdrop/xs-host";
import { encodeSerialFrame, SerialFrameDecoder } from "../../modules/transport/smp/serial-framing.js";
import { measure } from "../rate.js";
import { cpuMs } from "./cpu.js";

const [, minText, ...sizes] = argv;
const MIN_MS = Number(minText);
/** What one read of a UART or pipe hands the device at a time. */
const READ = 512;
const PACKETS = 8;

const results = sizes.map(Number).map((size) => {
	const packets = Array.from({ length: PACKETS }, (_, k) => new Uint8Array(size).map((_, i) => (i * 31 + k * 7) & 0xff));
	const frames = packets.map((p) => encodeSerialFrame(p));
	const wire = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
	let at = 0;
	for (const f of frames) {
		wire.set(f, at);
		at += f.length;
	}
	const reads: Uint8Array[] = [];
	for (let i = 0; i < wire.length; i += READ) reads.push(wire.subarray(i, i + READ));
	const decoder = new SerialFrameDecoder({ maxPacket: size });
	const decode = () => {
		let got = 0;
		for (const r of reads) got += decoder.push(r).length;
		if (got !== PACKETS) throw new Error(`decoded ${got} of ${PACKETS} packets`);
	};
	const encode = () => {
		for (const p of packets) encodeSerialFrame(p);
	};
	const bytes = size * PACKETS;
	const perByte = (m: ReturnType<typeof measure>) => ({
		cpu: +((1e6 / m.perCpuSecond) / bytes).toFixed(4), wall: +((1e6 / m.perSecond) / bytes).toFixed(4),
	});
	return {
		packetBytes: size, wireBytesPerPacketByte: +(wire.length / bytes).toFixed(3),
		decodeUsPerByte: perByte(measure(decode, MIN_MS, now, cpuMs)),
		encodeUsPerByte: perByte(measure(encode, MIN_MS, now, cpuMs)),
	};
});
console.log(JSON.stringify({ readBytes: READ, results }));
exit(0);
