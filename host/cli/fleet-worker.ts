/** Worker thread of fleet sealing: wraps the run's key K for batches of device keys. */
import { parentPort, workerData } from "node:worker_threads";
import { SealdropError } from "sealdrop/image";
import { eciesWrap, encTlvType, wrapKey, type EncKind } from "./crypto.js";
import { keyFromSpki } from "./keys.js";

const aesKey: Uint8Array = workerData.aesKey;

/** One device: its ENC TLV kind and its raw public key (SubjectPublicKeyInfo DER for RSA). */
export interface WorkItem {
	kind: EncKind;
	key: Uint8Array;
}

parentPort!.on("message", (m: { start: number; items: WorkItem[] }) => {
	try {
		const tlvs = m.items.map((item, i) => ({
			type: encTlvType(item.kind),
			value: item.kind === "rsa2048" ? wrapKey(item.kind, keyFromSpki(item.key, `device #${m.start + i + 1}`), aesKey) : eciesWrap(item.kind, item.key, aesKey),
		}));
		parentPort!.postMessage({ start: m.start, tlvs });
	} catch (e) {
		const error = e instanceof SealdropError ? { code: e.code, message: e.message } : { code: "E_IO", message: String(e) };
		parentPort!.postMessage({ error });
	}
});
