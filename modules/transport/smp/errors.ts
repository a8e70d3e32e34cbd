/**
 * How an SMP handler refuses a request (smp-protocol.md §2, §3): an SMP-level `rc`, or a group
 * error with its group code and the SMP v1 code it translates to.
 */
import { SmpRc } from "./header.js";

export class SmpError extends Error {
	override name = "SmpError";
	/** The SMP-level code (`mcumgr_err_t`) a v1 reply carries. */
	readonly rc: number;
	/** For a group error: the group and its own code, which a v2 reply carries as `err`. */
	readonly group: { id: number; rc: number } | undefined;

	constructor(rc: number, message: string, group?: { id: number; rc: number }) {
		super(message);
		this.rc = rc;
		this.group = group;
	}
}

/** An SMP-level error: always `{"rc": N}`, in v1 and v2. */
export function smpFail(rc: number, message: string): never {
	throw new SmpError(rc, message);
}

/** A group error: `{"err": {group, rc}}` in v2, `{"rc": v1Rc, "rsn": message}` in v1. */
export function groupFail(group: number, rc: number, v1Rc: number, message: string): never {
	throw new SmpError(v1Rc, message, { id: group, rc });
}

export { SmpRc };
