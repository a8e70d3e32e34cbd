/**
 * Reading fields of a request map with the types SMP allows (smp-protocol.md §11.6): any key
 * order, extra keys ignored, integers of any width, `hash`/`sha`/`data` as byte strings.
 * A field of the wrong type is an SMP-level EINVAL.
 */
import type { CborMap } from "./cbor.js";
import { smpFail, SmpRc } from "./errors.js";

export function optionalUint(body: CborMap, key: string): number | undefined {
	const v = body[key];
	if (v === undefined) return undefined;
	if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) smpFail(SmpRc.INVAL, `"${key}" must be an unsigned integer`);
	return v;
}

export function optionalBytes(body: CborMap, key: string): Uint8Array | undefined {
	const v = body[key];
	if (v === undefined) return undefined;
	if (!(v instanceof Uint8Array)) smpFail(SmpRc.INVAL, `"${key}" must be a byte string`);
	return v;
}

export function optionalBool(body: CborMap, key: string): boolean | undefined {
	const v = body[key];
	if (v === undefined) return undefined;
	if (typeof v !== "boolean") smpFail(SmpRc.INVAL, `"${key}" must be a boolean`);
	return v;
}

export function optionalText(body: CborMap, key: string): string | undefined {
	const v = body[key];
	if (v === undefined) return undefined;
	if (typeof v !== "string") smpFail(SmpRc.INVAL, `"${key}" must be a text string`);
	return v;
}
