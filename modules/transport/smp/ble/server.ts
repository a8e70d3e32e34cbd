/**
 * DEVICE-ONLY: SMP over BLE GATT (smp-protocol.md §8) for Moddable's BLE server. Not run by the
 * tests here (there is no BLE on the Linux host); kept thin on purpose: GATT in, whole SMP
 * packets out to the same SmpServer the UDP and serial paths use.
 *
 * The app includes ./manifest.json (Moddable's BLE server, and bleservices/smp.json: MCUmgr's
 * service 8D53DC1D-… and characteristic DA2E7828-…, write-without-response + notify), then:
 *   new SmpBleServer({ server, deviceName: "sealdrop" });
 * Requests may span several writes (reassembly by the SMP header's length, §8); responses are
 * notified in pieces of ATT_MTU − 3 bytes. Pairing/bonding policy is the app's (Zephyr requires an
 * encrypted link by default).
 */
import BLEServer from "bleserver";
import type { Characteristic } from "gatt";
import { uuid } from "btutils";
import { completeSmpPacketLength } from "../header.js";
import type { SmpServer } from "../server.js";

export const SMP_SERVICE_UUID = "8D53DC1D-1DB7-4CD3-868B-8A527460AA84";

export interface SmpBleOptions {
	server: SmpServer;
	deviceName: string;
}

export class SmpBleServer extends BLEServer {
	readonly #smp: SmpServer;
	readonly #name: string;
	#mtu = 23;
	#notify: Characteristic | undefined;
	#pending = new Uint8Array(0);

	constructor(options: SmpBleOptions) {
		super();
		this.#smp = options.server;
		this.#name = options.deviceName;
	}

	override onReady(): void {
		this.deviceName = this.#name;
		this.#advertise();
	}

	override onConnected(): void {
		this.stopAdvertising();
	}

	override onDisconnected(): void {
		this.#notify = undefined;
		this.#pending = new Uint8Array(0);
		this.#mtu = 23;
		this.#advertise();
	}

	/* onMTUExchanged and onCharacteristicNotifyDisabled are BLEServer callbacks (Moddable's
	   documentation/network/ble/ble.md) that @moddable/typings 5.6.0 does not declare: no override. */
	onMTUExchanged(_device: unknown, mtu: number): void {
		this.#mtu = mtu;
	}

	override onCharacteristicNotifyEnabled(characteristic: Characteristic): void {
		this.#notify = characteristic;
	}

	onCharacteristicNotifyDisabled(): void {
		this.#notify = undefined;
	}

	override onCharacteristicWritten(characteristic: Characteristic, value: ArrayBuffer): void {
		if (characteristic.name !== "smp") return;
		const joined = new Uint8Array(this.#pending.length + value.byteLength);
		joined.set(this.#pending);
		joined.set(new Uint8Array(value), this.#pending.length);
		if (joined.length > this.#smp.bufSize) {
			this.#pending = new Uint8Array(0); // larger than buf_size: dropped, as a full netbuf would
			return;
		}
		const length = completeSmpPacketLength(joined);
		if (length === 0) {
			this.#pending = joined;
			return;
		}
		this.#pending = joined.slice(length);
		for (const response of this.#smp.process(joined.subarray(0, length))) this.#send(response);
	}

	#send(packet: Uint8Array): void {
		const notify = this.#notify;
		if (!notify) return;
		const piece = Math.max(20, this.#mtu - 3);
		for (let at = 0; at < packet.length; at += piece) this.notifyValue(notify, packet.slice(at, at + piece).buffer);
	}

	#advertise(): void {
		this.startAdvertising({ advertisingData: { flags: 6, completeName: this.#name, completeUUID128List: [uuid`8D53DC1D-1DB7-4CD3-868B-8A527460AA84`] } });
	}
}
