/**
 * sealdrop/app — the program a board runs out of the box (ARCHITECTURE.md "The life of an update"),
 * the same on every board and in the simulator:
 *
 * 1. first-boot provisioning of the device key (modules/keys provision(): made once, then locked);
 * 2. the update agent, opening sealed images with the DeviceKeyRing (the locked key, and a
 *    rotation's new key while one is in progress);
 * 3. a health check, then confirming the running image if the bootloader started it on trial
 *    (MCUboot test swap, or ESP-IDF's PENDING_VERIFY). An unhealthy image stays unconfirmed and
 *    the bootloader reverts it at the next reset;
 * 4. the SMP server (OS, image and Sealdrop groups) on a UART in the serial console framing.
 *
 * Nothing here knows the platform: the caller gives the board configuration, the trusted signing
 * keys, how to open the UART and how to reset. modules/app/main.ts does that on a Moddable board,
 * host/sim/device.ts (command `app`) on the Linux XS host. Apps that embed Sealdrop import the
 * modules (sealdrop/keys, sealdrop/update, sealdrop/transport/...) instead, or call startDeviceApp
 * with their own health check.
 */
import { fail, SealdropError } from "sealdrop/image";
import { DeviceKeyRing, deviceKeyInfo, provision, rotateDeviceKey, type DeviceKeyInfo } from "sealdrop/keys";
import { UpdateAgent, type BoardConfig, type TrustAnchor } from "sealdrop/update";
import type { DeviceKeyKind } from "sealdrop/native/device-key";
import { ImageGroup } from "../transport/smp/groups/image.js";
import { OsGroup } from "../transport/smp/groups/os.js";
import { SealdropGroup } from "../transport/smp/groups/sealdrop.js";
import { SmpGroupId, SmpOp, encodeSmpPacket, decodeSmpHeader } from "../transport/smp/header.js";
import { decodeCbor, encodeCbor, type CborMap } from "../transport/smp/cbor.js";
import { encodeSerialFrame, SerialFrameDecoder } from "../transport/smp/serial-framing.js";
import { SmpServer } from "../transport/smp/server.js";

/** Bytes the UART loop reads at a time: a few console lines (each at most 127 bytes). */
const UART_READ_BYTES = 512;

/** The console UART in the shape of ECMA-419's embedded:io/serial (format "buffer"). */
export interface UartPort {
	/**
	 * With a buffer: reads what waits into it, up to its length, and returns the count (ECMA-419's
	 * read(buffer), as Moddable's serial has it on ESP32, Zephyr, nRF52 and Pico). Without: what
	 * waits, in a new ArrayBuffer (Moddable's Linux and Windows serial have only this: given a
	 * buffer, they take it for a count of 0 and return an empty ArrayBuffer). Undefined when
	 * nothing waits.
	 */
	read(buffer?: ArrayBuffer | ArrayBufferView): number | ArrayBuffer | undefined;
	write(data: ArrayBuffer): void;
	close(): void;
}

/** What the health check is told, and may use. */
export interface HealthContext {
	agent: UpdateAgent;
	server: SmpServer;
	/** The device key, or the provisioning error. */
	deviceKey: DeviceKeyInfo | SealdropError;
}

export interface DeviceAppOptions {
	board: BoardConfig;
	/** Keys (or key hashes) trusted to sign firmware. */
	trust: TrustAnchor[];
	/** The key kind made at first boot (default p256). */
	keyKind?: DeviceKeyKind;
	newerOnly?: boolean;
	/** esp-idf boards: the running OTA app index, when the platform knows it better than otadata. */
	runningApp?: number;
	/** Opens the console UART; `onReadable` is called when bytes wait. */
	openUart(onReadable: () => void): UartPort;
	/** Resets the device. Called after the response to an SMP reset has been written. */
	reset(): void;
	/**
	 * The app's own health check, run after the built-in one passed: undefined when healthy, else
	 * why not. A throw counts as unhealthy.
	 */
	healthCheck?: (context: HealthContext) => string | undefined;
	/** SMP buf_size / buf_count (default 1024 / 2: what a 2 KiB UART buffer takes). */
	bufSize?: number;
	bufCount?: number;
	/** Where the app reports what it did (default: nothing). */
	log?: (line: string) => void;
}

export interface HealthReport {
	/** Whether the running image was on trial when the app started. */
	trial: boolean;
	/** undefined when healthy. */
	problem?: string;
	/** Whether this boot confirmed the running image. */
	confirmed: boolean;
}

export interface DeviceApp {
	deviceKey: DeviceKeyInfo | SealdropError;
	/** Whether this boot made the device key. */
	created: boolean;
	health: HealthReport;
	agent: UpdateAgent;
	server: SmpServer;
	close(): void;
}

/** SMP parameters of the app's UART: one packet per 1 KiB, two buffered. */
export const APP_BUF_SIZE = 1024;
export const APP_BUF_COUNT = 2;

const ECHO_PROBE = "sealdrop-health";

/**
 * The built-in health check: the device key is provisioned and matches its lock, the running
 * image is readable in its slot, and the SMP server answers an echo (its parser, CBOR codec and
 * groups work). Returns why not, or undefined.
 */
export function builtInHealthCheck(context: HealthContext): string | undefined {
	if (context.deviceKey instanceof SealdropError) return `the device key: ${context.deviceKey.code}: ${context.deviceKey.message}`;
	if (!context.agent.running(0)) return "no running image in image 0's slot";
	const request = encodeSmpPacket({ op: SmpOp.WRITE, version: 1, flags: 0, group: SmpGroupId.OS, sequence: 0, command: 0 }, encodeCbor({ d: ECHO_PROBE }));
	const [response] = context.server.process(request);
	if (!response) return "the SMP server did not answer an echo";
	const header = decodeSmpHeader(response);
	const body = decodeCbor(response.subarray(8, 8 + header.length)) as CborMap;
	if (header.op !== SmpOp.WRITE_RSP || body.r !== ECHO_PROBE) return "the SMP server answered an echo wrongly";
	return undefined;
}

function checkHealth(context: HealthContext, own: DeviceAppOptions["healthCheck"]): string | undefined {
	try {
		return builtInHealthCheck(context) ?? own?.(context);
	} catch (e) {
		return `the health check threw: ${(e as Error)?.message ?? e}`;
	}
}

export interface DeviceSmpOptions {
	agent: UpdateAgent;
	board: BoardConfig;
	/** The keys trusted to sign firmware: they sign key rotation requests too. */
	trust: TrustAnchor[];
	/** SMP buf_size and buf_count (OS params). */
	bufSize: number;
	bufCount: number;
}

/**
 * The SMP server a device runs — OS, image and Sealdrop groups over the agent and the board's
 * device key — and its serving in the serial console framing on a UART. The device app and the
 * simulator's bare `serve` command both use it.
 */
export class DeviceSmp {
	readonly server: SmpServer;
	readonly #bufSize: number;
	#resetRequested = false;

	constructor(options: DeviceSmpOptions) {
		const { agent, board, bufSize } = options;
		const keys = board.keys;
		this.#bufSize = bufSize;
		this.server = new SmpServer({
			bufSize,
			groups: [
				new OsGroup({ bufSize, bufCount: options.bufCount, reset: () => (this.#resetRequested = true) }),
				new ImageGroup({ agent, board }),
				new SealdropGroup({
					agent,
					deviceKey: {
						info: () => deviceKeyInfo(keys ?? fail("E_UNSUPPORTED", "this board keeps no device key")),
						rotate: (request) => rotateDeviceKey(request, { partition: keys ?? fail("E_UNSUPPORTED", "this board keeps no device key"), trust: options.trust }),
					},
				}),
			],
		});
	}

	/**
	 * Serves SMP on the UART `openUart` opens. An SMP reset is answered first; then the UART is
	 * closed and `onReset` runs. Returns the UART (close it to stop).
	 */
	listen(openUart: (onReadable: () => void) => UartPort, onReset: () => void): UartPort {
		// as Zephyr's serial transport: the packet, its length and CRC within buf_size (serial-framing.ts)
		const decoder = new SerialFrameDecoder({ maxLine: 128, bufSize: this.#bufSize });
		// The UART is read into one buffer and each packet served where the decoder assembled it:
		// a request costs no buffer of its own (a new ArrayBuffer per read and a copy per packet
		// were most of a device's garbage per upload request).
		const received = new Uint8Array(UART_READ_BYTES);
		let uart: UartPort | undefined = undefined;
		let closed = false;
		const serve = (frame: Uint8Array, offset: number, length: number) => {
			if (closed) return;
			const port = uart!;
			for (const response of this.server.process(frame, offset, length)) port.write(encodeSerialFrame(response).buffer as ArrayBuffer);
			if (this.#resetRequested) {
				closed = true;
				port.close();
				onReset();
			}
		};
		let readsInto = true; // until the platform shows it has no read(buffer)
		uart = openUart(() => {
			while (!closed && uart) {
				const got = readsInto ? uart.read(received) : uart.read();
				if (got === undefined || got === 0) return;
				if (typeof got === "number") {
					decoder.decode(received, 0, got, serve);
					continue;
				}
				// an ArrayBuffer: read() as asked, or read(buffer) on a platform without it (the buffer
				// taken for a count: nothing read, so ask again without it)
				const asked = !readsInto;
				readsInto = false;
				if (got.byteLength) decoder.decode(new Uint8Array(got), 0, got.byteLength, serve);
				else if (asked) return; // nothing waits (a platform that answers so with an empty buffer)
			}
		});
		return uart;
	}
}

/**
 * Step 1 of every boot: provisions the device key on the board's keys partition the first time,
 * checks it against its lock afterwards. A refusal (broken entropy, a store that disagrees with
 * its lock, no keys partition) is returned, not thrown: the device still boots and serves.
 */
export function bootDeviceKey(board: BoardConfig, kind: DeviceKeyKind): { deviceKey: DeviceKeyInfo | SealdropError; created: boolean } {
	try {
		if (!board.keys) throw new SealdropError("E_USAGE", `board ${board.name} has no "keys" partition for the device key's lock record`);
		const { info, created } = provision({ partition: board.keys, kind, slot: board.deviceKeySlot ?? 0 });
		return { deviceKey: info, created };
	} catch (e) {
		if (!(e instanceof SealdropError)) throw e;
		return { deviceKey: e, created: false };
	}
}

/** Boots the app: provisioning, agent, health check and confirmation, then the SMP server on the UART. */
export function startDeviceApp(options: DeviceAppOptions): DeviceApp {
	const log = options.log ?? (() => {});
	const { board } = options;
	const keys = board.keys;

	// 1. the device key, once (a broken entropy source is reported, and the next boot tries again)
	const { deviceKey, created } = bootDeviceKey(board, options.keyKind ?? "p256");
	log(deviceKey instanceof SealdropError ? `no device key: ${deviceKey.code}: ${deviceKey.message}` : created ? "device key made" : "device key locked");

	// 2. the agent (the DeviceKeyRing needs a locked key to name its slots)
	const agent = new UpdateAgent({
		board, trust: options.trust, newerOnly: options.newerOnly ?? false,
		...(keys && !(deviceKey instanceof SealdropError) ? { deviceKeys: new DeviceKeyRing(keys) } : {}),
		...(options.runningApp === undefined ? {} : { runningApp: options.runningApp }),
	});

	// 4 (built before 3: the health check exercises it)
	const smp = new DeviceSmp({ agent, board, trust: options.trust, bufSize: options.bufSize ?? APP_BUF_SIZE, bufCount: options.bufCount ?? APP_BUF_COUNT });
	const server = smp.server;

	// 3. health check, then confirm a trial image
	const health: HealthReport = { trial: agent.running(0)?.state === "trial", confirmed: false };
	if (health.trial) {
		const problem = checkHealth({ agent, server, deviceKey }, options.healthCheck);
		if (problem === undefined) {
			agent.confirm(0);
			health.confirmed = true;
			log("running image confirmed");
		} else {
			health.problem = problem;
			log(`running image left unconfirmed (the bootloader reverts it at the next reset): ${problem}`);
		}
	}

	const uart = smp.listen(options.openUart, () => {
		agent.close();
		options.reset();
	});

	return {
		deviceKey, created, health, agent, server,
		close() {
			uart.close();
			agent.close();
		},
	};
}
