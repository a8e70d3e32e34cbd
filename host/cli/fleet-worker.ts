/** Worker thread of fleet sealing: wraps the run's key K for batches of device public keys. */
import { parentPort, workerData } from "node:worker_threads";
import { SealdropError } from "sealdrop/image";
import { encKindFor, encTlvType, wrapKey } from "./crypto.js";
import { parseKey } from "./keys.js";

const aesKey: Uint8Array = workerData.aesKey;

parentPort!.on("message", (m: { start: number; keys: Uint8Array[] }) => {
	try {
		const tlvs = m.keys.map((spki, i) => {
			const device = parseKey(Buffer.from(spki), `device #${m.start + i + 1}`);
			const kind = encKindFor(device);
			return { type: encTlvType(kind), value: wrapKey(kind, device, aesKey) };
		});
		parentPort!.postMessage({ start: m.start, tlvs });
	} catch (e) {
		const error = e instanceof SealdropError ? { code: e.code, message: e.message } : { code: "E_IO", message: String(e) };
		parentPort!.postMessage({ error });
	}
});
