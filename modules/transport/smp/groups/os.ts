/**
 * SMP OS management, group 0 (smp-protocol.md §4): echo (cmd 0), reset (cmd 5), MCUmgr
 * parameters (cmd 6).
 */
import type { CborMap } from "../cbor.js";
import { smpFail, SmpRc } from "../errors.js";
import { optionalText } from "../fields.js";
import { SmpGroupId, SmpOp } from "../header.js";
import type { SmpGroup, SmpRequest } from "../server.js";

export interface OsGroupOptions {
	/**
	 * Asked to reset the device; `force` when the client insists. Reset only after the response
	 * has been sent (§11.10): note the request and act once the transport is done. Return false to
	 * refuse (the client gets EBUSY and may retry with force).
	 */
	reset(force: boolean): boolean;
	/** What cmd 6 reports: the largest SMP packet the device takes (buf_size), and how many it buffers (buf_count). */
	bufSize: number;
	bufCount: number;
}

export class OsGroup implements SmpGroup {
	readonly id = SmpGroupId.OS;
	readonly #options: OsGroupOptions;

	constructor(options: OsGroupOptions) {
		this.#options = options;
	}

	handle({ header, body }: SmpRequest): CborMap {
		const read = header.op === SmpOp.READ;
		switch (header.command) {
			case 0: return { r: optionalText(body, "d") ?? "" };
			case 5:
				if (read) break;
				if (!this.#options.reset(body.force === true || (typeof body.force === "number" && body.force !== 0)))
					smpFail(SmpRc.BUSY, "the device refuses to reset now (retry with force)");
				return {};
			case 6:
				if (!read) break;
				return { buf_size: this.#options.bufSize, buf_count: this.#options.bufCount };
		}
		return smpFail(SmpRc.NOTSUP, `OS group: no command ${header.command} for op ${header.op}`);
	}
}
