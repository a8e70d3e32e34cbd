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
	/**
	 * A move of the log to a fresh block (which another owner's append may make, every hundred or
	 * so records of an install's journal where they share a partition) writes each counter again:
	 * encoded here, through a callback made once (keep() copies the record at once), so a move
	 * allocates nothing.
	 */
	readonly #moved = new Uint8Array(5);
	#keep: ((type: number, payload: Uint8Array) => void) | undefined;
	readonly #keepCounter = (value: number, image: number): void => {
		this.#keep!(COUNTER, encodeInto(this.#moved, image, value));
	};

	constructor(partition: string) {
		this.#log = new RecordLog(partition, { types: [COUNTER], snapshot: (keep) => {
			this.#keep = keep;
			try {
				this.#values.forEach(this.#keepCounter);
			} finally {
				this.#keep = undefined;
			}
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
		// a buffer of its own, not #moved: this append may move the log, which writes #moved
		this.#log.append(COUNTER, encodeInto(new Uint8Array(5), image, value));
		this.#values.set(image, value);
	}

	close(): void {
		this.#log.close();
	}
}

/** A COUNTER record's payload: the image number, then the counter (u32, little-endian). */
function encodeInto(payload: Uint8Array, image: number, value: number): Uint8Array {
	payload[0] = image;
	putU32(payload, 1, value);
	return payload;
}
