/**
 * Fleet sealing on worker threads: every device gets exactly one ENC TLV that opens, with its own
 * key, to the run's AES key, whatever the split of batches over workers (uneven splits once left
 * a worker with no batch, and sealing waiting forever).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import crypto from "node:crypto";
import { parseVersion } from "sealdrop/image";
import { buildImage } from "../../host/cli/build.js";
import { wrapForFleet } from "../../host/cli/fleet.js";
import { generateKey, type Key } from "../../host/cli/keys.js";
import { unwrapKey } from "../../host/cli/crypto.js";
import { openRelease, SealRun } from "../../host/cli/seal.js";

const signer = generateKey("ed25519");
const built = buildImage(crypto.randomBytes(4096), { key: signer, version: parseVersion("1.0.0"), headerSize: 0x20, padHeader: true, slotSize: 0x10000, sealable: true });
if (!("image" in built)) throw new Error("unreachable");
const release = openRelease(built.image);
const keys: Key[] = Array.from({ length: 300 }, (_, i) => generateKey(i % 3 ? "x25519" : "ecdsa-p256"));

for (const [count, jobs] of [[1, 2], [130, 2], [200, 3], [300, 2]] as const) {
	test(`${count} devices on ${jobs} workers: one ENC TLV each, all opening to the run's key`, async () => {
		const run = new SealRun(release);
		const devices = keys.slice(0, count).map((key, i) => ({ id: `d${i}`, key: { ...key, privateKey: undefined } }));
		const seen = new Map<number, { type: number; value: Buffer }>();
		await wrapForFleet(run, devices, jobs, (i, tlv) => {
			assert.ok(!seen.has(i), `device ${i} answered twice`);
			seen.set(i, tlv);
		});
		assert.equal(seen.size, count);
		for (const [i, tlv] of seen) assert.deepEqual(unwrapKey(tlv, keys[i], 128), run.aesKey, `device ${i}`);
		run.close();
	});
}
