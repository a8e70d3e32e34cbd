/**
 * The stored security counters, one per image number, in the board's storage partition: the
 * rollback protection MCUboot keeps in hardware (MCUBOOT_HW_ROLLBACK_PROT), kept by the agent.
 * A counter only rises: each update appends the new value and reading takes the largest, so a
 * torn record or a power cut can never lower it.
 */
import { putU32, u32 } from "sealdrop/image";
import { RecordLog } from "sealdrop/base/record-log";

const COUNTER = 0x10;

export class SecurityCounters {
	readonly #log: RecordLog;
	readonly #values = new Map<number, number>();

	constructor(partition: string) {
		this.#log = new RecordLog(partition, { types: [COUNTER], snapshot: (keep) => {
			for (const [i, v] of this.#values) keep(COUNTER, encode(i, v));
		} });
		for (const r of this.#log.takeRecords()) {
			if (r.type !== COUNTER || r.payload.length !== 5) continue;
			const image = r.payload[0];
			this.#values.set(image, Math.max(this.#values.get(image) ?? 0, u32(r.payload, 1)));
		}
	}

	/** The stored counter of an image (0 when none was ever stored). */
	get(image: number): number {
		return this.#values.get(image) ?? 0;
	}

	/** Raises the counter of `image` to `value`; a lower or equal value changes nothing. */
	raise(image: number, value: number): void {
		if (value <= this.get(image)) return;
		this.#log.append(COUNTER, encode(image, value));
		this.#values.set(image, value);
	}

	close(): void {
		this.#log.close();
	}
}

function encode(image: number, value: number): Uint8Array {
	const payload = new Uint8Array(5);
	payload[0] = image;
	putU32(payload, 1, value);
	return payload;
}
