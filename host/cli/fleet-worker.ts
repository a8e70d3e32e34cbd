/**
 * Worker thread of fleet sealing: wraps the run's key K for batches of device keys. It imports
 * ECIES alone (./ecies.js): each worker pays for its imports again, and RSA devices, which need
 * the key modules, are rare, so those load on the first one.
 */
import { parentPort, workerData } from "node:worker_threads";
import { SealdropError } from "sealdrop/base/errors";
import { eciesWrap } from "./ecies.js";
import type { EncKind } from "./crypto.js";

/** MCUboot's ENC TLV types (modules/image TlvType). */
const TLV_TYPES: Record<EncKind, number> = { rsa2048: 0x30, ec256: 0x32, x25519: 0x33, "x25519-sha512": 0x34 };

const aesKey: Uint8Array = workerData.aesKey;

/** One device: its ENC TLV kind and its raw public key (SubjectPublicKeyInfo DER for RSA). */
export interface WorkItem {
	kind: EncKind;
	key: Uint8Array;
}

let rsa: { wrapKey: typeof import("./crypto.js").wrapKey; keyFromSpki: typeof import("./keys.js").keyFromSpki } | undefined;

parentPort!.on("message", async (m: { start: number; items: WorkItem[] }) => {
	let index = m.start;
	try {
		if (!rsa && m.items.some((item) => item.kind === "rsa2048")) rsa = { ...await import("./crypto.js"), ...await import("./keys.js") };
		const tlvs = m.items.map((item, i) => {
			index = m.start + i;
			return {
				type: TLV_TYPES[item.kind],
				value: item.kind === "rsa2048" ? rsa!.wrapKey(item.kind, rsa!.keyFromSpki(item.key, `device #${m.start + i + 1}`), aesKey) : eciesWrap(item.kind, item.key, aesKey),
			};
		});
		parentPort!.postMessage({ start: m.start, tlvs });
	} catch (e) {
		const error = e instanceof SealdropError ? { code: e.code, message: e.message } : { code: "E_IO", message: String(e) };
		parentPort!.postMessage({ error, index }); // which device: the main thread names it
	}
});
