/**
 * Sealing one release for a fleet: the ciphertext is computed once, only the ECIES per device,
 * spread over worker threads (one per core by default).
 *
 * Fleet list format (text, UTF-8): one device per line, `<device-id> <public-key>`, where the key
 * is a path to a public key file (any getpub encoding: pem, raw, lang-c, lang-rust; relative to
 * the list file) or the key inline in base64: of its SubjectPublicKeyInfo DER, or of what
 * `getpub -e raw` writes (the same DER for P-256 and X25519, PKCS#1 RSAPublicKey for RSA).
 * Blank lines and lines starting with # are ignored. Ids use letters, digits, '.', '_' and '-'.
 *
 * Each entry is parsed once, into what sealing needs (FleetKey): an inline P-256 or X25519 key is
 * read off its DER without a KeyObject (Node's DER import costs about two ECDH agreements), its
 * point checked on the curve. Base64 of such a SubjectPublicKeyInfo is always taken as the key
 * itself; other text is looked up as a file first.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { fail, SealdropError } from "sealdrop/image";
import { rawFromSpki } from "sealdrop/keys/encoding";
import { eciesWrap, encKindFor, encTlvType, wrapKey, type EncKind } from "./crypto.js";
import type { WorkItem } from "./fleet-worker.js";
import { parseKey, rawPublicKey, readKeyFile, spkiDer, type Key } from "./keys.js";
import type { SealRun } from "./seal.js";

/** A device key as sealing uses it: its ENC TLV kind, the bytes the wrap takes, its SubjectPublicKeyInfo DER. */
export interface FleetKey {
	kind: EncKind;
	/** The raw public key ECIES takes (04‖X‖Y, or 32 bytes); SubjectPublicKeyInfo DER for RSA. */
	wire: Uint8Array;
	spki: Uint8Array;
	/** The parsed key, for RSA (OAEP through Node's KeyObject). */
	key?: Key;
}

export interface FleetDevice {
	id: string;
	key: Key | FleetKey;
}

/** What sealing needs of a key, from a parsed Key. */
export function fleetKey(key: Key | FleetKey): FleetKey {
	if ("wire" in key) return key;
	const kind = encKindFor(key);
	const spki = spkiDer(key);
	return { kind, wire: kind === "rsa2048" ? spki : rawPublicKey(key), spki, ...(kind === "rsa2048" ? { key } : {}) };
}

/** P-256's field prime p and curve coefficient b (SEC 2 §2.4.2; a = −3). */
const P256_P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

/**
 * Whether 04‖X‖Y is a point of P-256: SEC 1 §3.2.2.1's checks, x and y in [0, p − 1] and
 * y² ≡ x³ − 3x + b (mod p); the encoding cannot name the point at infinity, and the cofactor is 1,
 * so no order check. What a DER import would check, at a few µs instead of ~200 (BigInt).
 */
function onP256(raw: Uint8Array): boolean {
	const hex = Buffer.from(raw.buffer, raw.byteOffset, raw.length);
	const x = BigInt(`0x${hex.toString("hex", 1, 33)}`), y = BigInt(`0x${hex.toString("hex", 33, 65)}`);
	return x < P256_P && y < P256_P && (y * y - (x * x * x - 3n * x + P256_B)) % P256_P === 0n;
}

/**
 * An inline key (base64): a P-256 or X25519 SubjectPublicKeyInfo is taken as it is, the P-256
 * point checked on the curve (onP256); anything else goes through
 * parseKey (RSA's SubjectPublicKeyInfo or getpub's PKCS#1, PEM pasted as base64, ...).
 */
function inlineKey(der: Buffer, source: string): Key | FleetKey {
	const device = rawFromSpki(der);
	if (!device) return parseKey(der, source);
	if (device.kind === "p256" && !onP256(device.raw)) fail("E_KEY_FORMAT", `${source}: the P-256 public key is not a point on the curve`);
	return { kind: device.kind === "p256" ? "ec256" : "x25519", wire: device.raw, spki: der };
}

const ID = /^[A-Za-z0-9._-]{1,128}$/;

export function readFleetList(listPath: string): FleetDevice[] {
	let text: string;
	try {
		text = fs.readFileSync(listPath, "utf8");
	} catch (e) {
		fail("E_IO", `${listPath}: cannot read fleet list (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
	}
	const devices: FleetDevice[] = [];
	const seen = new Set<string>();
	text.split(/\r?\n/).forEach((raw, index) => {
		const line = raw.trim();
		if (!line || line.startsWith("#")) return;
		const where = `${listPath}:${index + 1}`;
		const [id, keyText, extra] = line.split(/\s+/);
		if (!keyText || extra !== undefined) fail("E_USAGE", `${where}: expected "<device-id> <public-key-file-or-base64>"`);
		if (!ID.test(id) || id === "." || id === "..") fail("E_USAGE", `${where}: device id "${id}" may use only letters, digits, '.', '_' and '-'`);
		if (seen.has(id)) fail("E_USAGE", `${where}: device id "${id}" is listed twice`);
		seen.add(id);
		// base64 of a P-256 or X25519 SubjectPublicKeyInfo is a key whatever files exist (no path
		// lookup per device of a 10,000-line list); any other text is a path first
		const der = /^[A-Za-z0-9+/]{40,}={0,2}$/.test(keyText) ? Buffer.from(keyText, "base64") : undefined;
		const keyPath = der && rawFromSpki(der) ? undefined : path.resolve(path.dirname(listPath), keyText);
		let key: Key | FleetKey;
		if (!keyPath) key = inlineKey(der!, `${where} (${id})`);
		else if (fs.existsSync(keyPath)) key = readKeyFile(keyPath);
		else if (/^[A-Za-z0-9+/]+=*$/.test(keyText)) key = parseKey(Buffer.from(keyText, "base64"), `${where} (${id})`);
		else fail("E_KEY_READ", `${where}: ${keyText} is neither a key file nor a base64 key`);
		if ("privateKey" in key && key.privateKey) fail("E_KEY_TYPE", `${where}: fleet lists hold device PUBLIC keys; ${id} is given a private key`);
		// refuses key types that cannot receive images, before any work starts
		devices.push({ id, key: fleetKey(key) });
	});
	if (!devices.length) fail("E_USAGE", `${listPath}: the fleet list names no devices`);
	return devices;
}

export type FleetLayout = "full" | "split" | "both";

export interface FleetOptions {
	outDir: string;
	layout: FleetLayout;
	jobs?: number;
	onProgress?: (done: number, total: number) => void;
}

export interface FleetDeviceRecord {
	id: string;
	fingerprint: string;
	encTlv: string;
	imageSize: number;
	imageSha256: string;
	image?: string;
	/** Where this device's tail lies in tails.bin (layout split/both). */
	tailOffset?: number;
	tailSize: number;
}

export interface FleetManifest {
	format: "sealdrop-fleet/1";
	version: string;
	aesKeyBits: number;
	shared: { file?: string; size: number; sha256: string };
	tails?: { file: string; size: number };
	devices: FleetDeviceRecord[];
}

type EncTlv = { type: number; value: Buffer };

/**
 * ENC TLVs for every device, computed by worker threads. `onResult` sees each one as its batch
 * comes back, so the caller's file writing overlaps the workers' ECIES.
 */
export async function wrapForFleet(run: SealRun, devices: FleetDevice[], jobs: number, onResult: (index: number, tlv: EncTlv) => void): Promise<void> {
	const keys = devices.map((d) => fleetKey(d.key));
	if (jobs <= 1 || devices.length < 64) {
		keys.forEach((k, i) => onResult(i, { type: encTlvType(k.kind), value: k.key ? wrapKey(k.kind, k.key, run.aesKey) : eciesWrap(k.kind as Exclude<EncKind, "rsa2048">, k.wire, run.aesKey) }));
		return;
	}
	const batch = 128;
	let next = 0;
	const workerUrl = new URL("./fleet-worker.js", import.meta.url);
	// Each worker keeps two batches queued, so it never waits while the main thread writes results.
	const runWorker = () => new Promise<void>((resolve, reject) => {
		const worker = new Worker(workerUrl, { workerData: { aesKey: run.aesKey } });
		let inFlight = 0;
		const send = () => {
			if (next >= devices.length) return;
			const start = next;
			next = Math.min(next + batch, devices.length);
			const items: WorkItem[] = keys.slice(start, next).map((k) => ({ kind: k.kind, key: k.wire }));
			worker.postMessage({ start, items });
			inFlight++;
		};
		const stop = (error?: unknown) => {
			void worker.terminate();
			if (error) reject(error);
			else resolve();
		};
		worker.on("message", (m: { start: number; tlvs: { type: number; value: Uint8Array }[] } | { error: { code: string; message: string }; index?: number }) => {
			if ("error" in m) return stop(new SealdropError(m.error.code as never, `${m.index === undefined ? "" : `${devices[m.index].id}: `}${m.error.message}`));
			inFlight--;
			send();
			try {
				m.tlvs.forEach((t, i) => onResult(m.start + i, { type: t.type, value: Buffer.from(t.value) }));
			} catch (e) {
				return stop(e);
			}
			if (inFlight === 0) stop();
		});
		worker.on("error", reject);
		worker.on("exit", () => {
			if (inFlight > 0) reject(new SealdropError("E_IO", "a sealing worker thread stopped before it finished"));
		});
		send();
		send();
	});
	// no more workers than there are pairs of batches, so each starts with work
	await Promise.all(Array.from({ length: Math.min(jobs, Math.ceil(devices.length / (2 * batch))) }, runWorker));
}

const ENC_NAMES: Record<number, string> = { 0x30: "ENC_RSA2048", 0x32: "ENC_EC256", 0x33: "ENC_X25519", 0x34: "ENC_X25519_SHA512" };

/**
 * Seals for every device and writes `outDir`: `<id>.bin` per device (layout full), and/or
 * `shared.bin` + `tails.bin` (layout split) from which a download server assembles images; always
 * `fleet.json` describing it all. Each device's image = shared.bin ‖
 * tails.bin[tailOffset, tailOffset + tailSize).
 */
export async function sealFleet(run: SealRun, devices: FleetDevice[], o: FleetOptions): Promise<FleetManifest> {
	const write = (file: string, data: Uint8Array) => {
		try {
			fs.writeFileSync(path.join(o.outDir, file), data);
		} catch (e) {
			fail("E_IO", `${o.outDir}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
		}
	};
	try {
		fs.mkdirSync(o.outDir, { recursive: true });
	} catch (e) {
		fail("E_IO", `${o.outDir}: cannot create (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
	}
	if (o.layout !== "full") write("shared.bin", run.shared);
	const tails: Buffer[] = [];
	let tailOffset = 0;
	const sharedHash = crypto.createHash("sha256").update(run.shared);
	const records: FleetDeviceRecord[] = new Array(devices.length);
	let done = 0;
	const fleet = devices.map((d) => ({ id: d.id, key: fleetKey(d.key) })); // each key in its sealing form, once
	await wrapForFleet(run, fleet, o.jobs ?? os.availableParallelism(), (i, encTlv) => {
		const device = fleet[i];
		const tail = run.tail(encTlv);
		const record: FleetDeviceRecord = {
			// fingerprint(): SHA-256 of the SubjectPublicKeyInfo DER
			id: device.id, fingerprint: crypto.createHash("sha256").update(device.key.spki).digest("hex"), encTlv: ENC_NAMES[encTlv.type],
			imageSize: run.shared.length + tail.length, imageSha256: sharedHash.copy().update(tail).digest("hex"), tailSize: tail.length,
		};
		if (o.layout !== "split") write((record.image = `${device.id}.bin`), Buffer.concat([run.shared, tail]));
		records[i] = record;
		if (o.layout !== "full") {
			tails[i] = tail;
		}
		o.onProgress?.(++done, devices.length);
	});
	if (o.layout !== "full") {
		// one file for all tails: 10,000 small files cost more to write than the sealing itself
		records.forEach((record, i) => {
			record.tailOffset = tailOffset;
			tailOffset += tails[i].length;
		});
		write("tails.bin", Buffer.concat(tails));
	}
	const v = run.release.layout.header.version;
	const manifest: FleetManifest = {
		format: "sealdrop-fleet/1",
		version: `${v.major}.${v.minor}.${v.revision}+${v.build}`,
		aesKeyBits: run.release.keyBits,
		shared: { ...(o.layout !== "full" ? { file: "shared.bin" } : {}), size: run.shared.length, sha256: sharedHash.digest("hex") },
		...(o.layout !== "full" ? { tails: { file: "tails.bin", size: tailOffset } } : {}),
		devices: records,
	};
	fs.writeFileSync(path.join(o.outDir, "fleet.json"), JSON.stringify(manifest, null, 2) + "\n");
	return manifest;
}
