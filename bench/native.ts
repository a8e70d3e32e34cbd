/**
 * Native-module benchmark (`npm run bench:native`). Runs bench/xs/native.ts on the Linux XS host
 * (release build) and measures the same work with Node's crypto in this process. Prints JSON.
 *
 * - SHA-256 and AES-128-CTR throughput in 4 KiB chunks: native modules on XS, @noble on XS,
 *   Node's crypto (OpenSSL); ratios native/noble and native/Node.
 * - ECIES unwraps per second (ECDH + HKDF + HMAC check + key decryption), ENC_EC256 and
 *   ENC_X25519, on XS through DeviceKey and in Node through the CLI's unwrapKey.
 * - XS heap bytes allocated per 4 KiB chunk hashed and decrypted into caller buffers (goal 0),
 *   with the C functions bound once as on a device, and through the Linux host's run-time shims.
 */
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TlvType } from "sealdrop/image";
import { unwrapKey, wrapKey } from "../host/cli/crypto.js";
import { generateKey, type Key } from "../host/cli/keys.js";
import { rate as measure } from "./rate.js";

const MIN_MS = Number(process.env.BENCH_MIN_MS ?? 1000);
const CHUNK = 4096;
const root = fileURLToPath(new URL("../../..", import.meta.url));

const rate = (step: () => void): number => measure(step, MIN_MS, () => performance.now());
const mbPerSecond = (chunksPerSecond: number) => +((chunksPerSecond * CHUNK) / 1e6).toFixed(2);
const ratio = (a: number, b: number) => +(a / b).toFixed(3);

function privateScalar(key: Key): string {
	return Buffer.from(key.privateKey!.export({ format: "jwk" }).d!, "base64url").toString("hex");
}

// Inputs for the XS half: a device key of each kind and a TLV wrapped for it.
const devices = [
	{ kind: "p256" as const, key: generateKey("ecdsa-p256"), enc: "ec256" as const, type: TlvType.ENC_EC256 },
	{ kind: "x25519" as const, key: generateKey("x25519"), enc: "x25519" as const, type: TlvType.ENC_X25519 },
].map((d) => ({ ...d, tlv: wrapKey(d.enc, d.key, crypto.randomBytes(16)) }));

const work = fs.mkdtempSync(path.join(os.tmpdir(), "sealdrop-bench-native-"));
let xs: {
	sha256MBps: { native: number; nobleOnXs: number };
	aesCtrMBps: { native: number; nobleOnXs: number };
	unwrapsPerSecond: Record<string, number>;
	heapBytesPerChunk: Record<string, number>;
	heapInUse: Record<string, number>;
};
try {
	const inputsPath = path.join(work, "inputs.json");
	fs.writeFileSync(inputsPath, JSON.stringify({
		minMilliseconds: MIN_MS,
		unwrap: devices.map((d) => ({ kind: d.kind, privateKey: privateScalar(d.key), encTlv: d.tlv.toString("hex"), keyBits: 128 })),
	}));
	const binary = path.join(root, "build", "xs", "release", "sealdrop-xs");
	const run = spawnSync(binary, ["--state", work, path.join(root, "build", "js", "bench", "xs", "native.js"), inputsPath], { encoding: "utf8", env: { ...process.env, SEALDROP_ENTROPY: "" } });
	if (run.status !== 0) {
		process.stderr.write(run.stderr);
		throw new Error(`the XS half of the benchmark exited with ${run.status}`);
	}
	xs = JSON.parse(run.stdout.trim().split("\n").pop()!);
} finally {
	fs.rmSync(work, { recursive: true, force: true });
}

const chunk = crypto.randomBytes(CHUNK);
const hash = crypto.createHash("sha256");
const nodeSha = mbPerSecond(rate(() => hash.update(chunk)));
const aes = crypto.createCipheriv("aes-128-ctr", crypto.randomBytes(16), Buffer.alloc(16));
const nodeAes = mbPerSecond(rate(() => aes.update(chunk)));
const nodeUnwraps: Record<string, number> = {};
for (const d of devices) {
	nodeUnwraps[d.kind === "p256" ? "ENC_EC256" : "ENC_X25519"] = Math.round(rate(() => unwrapKey({ type: d.type, value: d.tlv }, d.key, 128)));
}

const results = {
	cpu: os.cpus()[0]?.model,
	chunkBytes: CHUNK,
	sha256MBps: {
		...xs.sha256MBps, node: nodeSha,
		nativeOverNoble: ratio(xs.sha256MBps.native, xs.sha256MBps.nobleOnXs),
		nativeOverNode: ratio(xs.sha256MBps.native, nodeSha),
	},
	aesCtrMBps: {
		...xs.aesCtrMBps, node: nodeAes,
		nativeOverNoble: ratio(xs.aesCtrMBps.native, xs.aesCtrMBps.nobleOnXs),
		nativeOverNode: ratio(xs.aesCtrMBps.native, nodeAes),
	},
	unwrapsPerSecond: Object.fromEntries(Object.entries(xs.unwrapsPerSecond).map(([name, onXs]) => [name, {
		xsNative: onXs, node: nodeUnwraps[name], xsOverNode: ratio(onXs, nodeUnwraps[name]),
	}])),
	heapBytesPerChunk: xs.heapBytesPerChunk,
	heapInUse: xs.heapInUse,
};
process.stdout.write(JSON.stringify(results, null, 2) + "\n");
