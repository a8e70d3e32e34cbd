/**
 * Key files as imgtool reads and writes them (reference §E.1-E.2): PKCS#8 PEM private keys, SPKI
 * PEM public keys, and the public-key bytes MCUboot embeds (SPKI DER, except PKCS#1 DER for RSA).
 * Device public keys are also accepted in every getpub encoding (pem, raw, lang-c, lang-rust).
 */
import crypto, { type KeyObject } from "node:crypto";
import fs from "node:fs";
import { fail, SealdropError } from "sealdrop/image";
import { publicKeySource, PUBLIC_KEY_ENCODINGS, spkiDer as deviceSpkiDer, type DeviceKeyKind } from "sealdrop/keys/encoding";

export const KEY_KINDS = ["ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048", "rsa-3072", "x25519"] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

export interface Key {
	kind: KeyKind;
	publicKey: KeyObject;
	privateKey?: KeyObject;
	/** Where it came from, for messages. */
	source: string;
}

function kindOf(key: KeyObject, source: string): KeyKind {
	const details = key.asymmetricKeyDetails ?? {};
	switch (key.asymmetricKeyType) {
		case "ec":
			if (details.namedCurve === "prime256v1") return "ecdsa-p256";
			if (details.namedCurve === "secp384r1") return "ecdsa-p384";
			break;
		case "rsa":
			if (details.modulusLength === 2048) return "rsa-2048";
			if (details.modulusLength === 3072) return "rsa-3072";
			break;
		case "ed25519":
		case "x25519":
			return key.asymmetricKeyType;
	}
	const what = [key.asymmetricKeyType, details.namedCurve, details.modulusLength].filter(Boolean).join(" ");
	fail("E_KEY_TYPE", `${source}: unsupported key type (${what}); Sealdrop uses ${KEY_KINDS.join(", ")}`);
}

function fromPrivate(privateKey: KeyObject, source: string): Key {
	return { kind: kindOf(privateKey, source), privateKey, publicKey: crypto.createPublicKey(privateKey), source };
}

function fromPublic(publicKey: KeyObject, source: string): Key {
	return { kind: kindOf(publicKey, source), publicKey, source };
}

/** C or Rust array text as getpub writes it: its 0x.. byte literals, in order. */
function arrayTextBytes(text: string): Buffer | undefined {
	const bytes = text.replace(/\/\*[\s\S]*?\*\//g, "").match(/\b0x[0-9a-fA-F]{1,2}\b/g);
	return bytes ? Buffer.from(bytes.map((b) => parseInt(b, 16))) : undefined;
}

/** Parses key bytes in any supported form; `source` names them in errors. */
export function parseKey(data: Buffer, source: string): Key {
	const text = data.toString("latin1");
	const attempts: (() => Key)[] = [];
	if (text.includes("-----BEGIN")) {
		if (/PRIVATE KEY-----/.test(text)) {
			if (/ENCRYPTED PRIVATE KEY/.test(text)) fail("E_KEY_FORMAT", `${source}: the key is password-protected; Sealdrop needs an unencrypted key file`);
			attempts.push(() => fromPrivate(crypto.createPrivateKey({ key: text, format: "pem" }), source));
		} else attempts.push(() => fromPublic(crypto.createPublicKey({ key: text, format: "pem" }), source));
	} else {
		const isText = /^[\t\n\r\x20-\x7e]*$/.test(text);
		const der = isText ? arrayTextBytes(text) : data;
		if (der) {
			const spki = () => fromPublic(crypto.createPublicKey({ key: der, format: "der", type: "spki" }), source);
			const pkcs8 = () => fromPrivate(crypto.createPrivateKey({ key: der, format: "der", type: "pkcs8" }), source);
			// a SubjectPublicKeyInfo opens with its AlgorithmIdentifier (a SEQUENCE), PKCS#8 and PKCS#1
			// with an INTEGER: try the likely one first (a fleet file holds thousands of public keys,
			// and a failed parse costs as much as a good one)
			attempts.push(...(looksLikeSpki(der) ? [spki, pkcs8] : [pkcs8, spki]),
				() => fromPublic(crypto.createPublicKey({ key: der, format: "der", type: "pkcs1" }), source),
				() => fromPrivate(crypto.createPrivateKey({ key: der, format: "der", type: "pkcs1" }), source),
			);
		}
	}
	for (const attempt of attempts) {
		try {
			return attempt();
		} catch (e) {
			if (e instanceof SealdropError) throw e;
		}
	}
	fail("E_KEY_FORMAT", `${source}: not a key file (expected PEM, DER, or getpub raw/lang-c/lang-rust output)`);
}

/** Whether DER's outer SEQUENCE starts with another SEQUENCE (SubjectPublicKeyInfo's AlgorithmIdentifier). */
function looksLikeSpki(der: Uint8Array): boolean {
	if (der.length < 4 || der[0] !== 0x30) return false;
	const lengthBytes = der[1] & 0x80 ? der[1] & 0x7f : 0; // long-form length: that many bytes follow
	return der[2 + lengthBytes] === 0x30;
}

/** A public key from SubjectPublicKeyInfo DER (what fleet workers receive). */
export function keyFromSpki(der: Uint8Array, source: string): Key {
	try {
		return fromPublic(crypto.createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" }), source);
	} catch (e) {
		if (e instanceof SealdropError) throw e;
		fail("E_KEY_FORMAT", `${source}: not a SubjectPublicKeyInfo public key`);
	}
}

export function readKeyFile(path: string): Key {
	let data: Buffer;
	try {
		data = fs.readFileSync(path);
	} catch (e) {
		fail("E_KEY_READ", `${path}: cannot read key file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
	}
	return parseKey(data, path);
}

/** Loads a key and checks its role: `private` for signing and device keys, any for public use. */
export function loadKey(path: string, need: { private?: boolean; kinds?: readonly KeyKind[]; role?: string } = {}): Key {
	const key = readKeyFile(path);
	const role = need.role ?? "key";
	if (need.private && !key.privateKey) fail("E_KEY_TYPE", `${path}: the ${role} must be a private key, this is a public key`);
	if (need.kinds && !need.kinds.includes(key.kind)) fail("E_KEY_TYPE", `${path}: ${key.kind} keys cannot be the ${role} (use ${need.kinds.join(", ")})`);
	return key;
}

/** The public-key bytes MCUboot embeds and hashes (KEYHASH/PUBKEY TLVs, getpub raw). */
export function publicKeyBytes(key: Key): Buffer {
	return key.kind.startsWith("rsa")
		? key.publicKey.export({ type: "pkcs1", format: "der" })
		: key.publicKey.export({ type: "spki", format: "der" });
}

/** Raw public point/key as ECIES uses it: 04‖X‖Y for P-256, 32 bytes for X25519 (via JWK: much faster than DER export). */
export function rawPublicKey(key: Key): Buffer {
	const jwk = key.publicKey.export({ format: "jwk" });
	const x = Buffer.from(jwk.x!, "base64url");
	return key.kind === "ecdsa-p256" ? Buffer.concat([Uint8Array.of(4), x, Buffer.from(jwk.y!, "base64url")]) : x;
}

/** A device's public key from the raw bytes the device reports (DeviceKey.publicKey(): 04‖X‖Y for P-256, 32 bytes for X25519). */
export function deviceKeyFromRaw(kind: DeviceKeyKind, raw: Uint8Array, source: string): Key {
	return keyFromSpki(deviceSpkiDer(kind, raw), source);
}

/** SubjectPublicKeyInfo DER of a public key (built from the raw key for the kinds devices hold: faster than a DER export). */
export function spkiDer(key: Key): Buffer {
	if (key.kind === "ecdsa-p256" || key.kind === "x25519") return Buffer.from(deviceSpkiDer(key.kind === "x25519" ? "x25519" : "p256", rawPublicKey(key)));
	return key.publicKey.export({ type: "spki", format: "der" });
}

export function generateKey(kind: KeyKind): Key {
	const [type, param] = kind.split("-") as [string, string | undefined];
	let pair: crypto.KeyPairKeyObjectResult;
	if (type === "ecdsa") pair = crypto.generateKeyPairSync("ec", { namedCurve: param === "p256" ? "prime256v1" : "secp384r1" });
	else if (type === "rsa") pair = crypto.generateKeyPairSync("rsa", { modulusLength: Number(param), publicExponent: 65537 });
	else if (type === "ed25519") pair = crypto.generateKeyPairSync("ed25519");
	else pair = crypto.generateKeyPairSync("x25519");
	return { kind, privateKey: pair.privateKey, publicKey: pair.publicKey, source: "generated" };
}

export function privateKeyPem(key: Key): string {
	return key.privateKey!.export({ type: "pkcs8", format: "pem" }) as string;
}

export const PUBLIC_ENCODINGS = PUBLIC_KEY_ENCODINGS;
export type PublicEncoding = (typeof PUBLIC_ENCODINGS)[number];

/** Name imgtool gives a key in generated source (keys/general.py): ecdsa, ecdsap384, rsa, ed25519, x25519. */
function shortName(kind: KeyKind): string {
	return kind === "ecdsa-p256" ? "ecdsa" : kind === "ecdsa-p384" ? "ecdsap384" : kind.startsWith("rsa") ? "rsa" : kind;
}

/** getpub output, byte for byte as imgtool 2.4 writes it. */
export function encodePublicKey(key: Key, encoding: PublicEncoding, nameSuffix = ""): Buffer {
	if (encoding === "pem") return Buffer.from(key.publicKey.export({ type: "spki", format: "pem" }) as string);
	const bytes = publicKeyBytes(key);
	if (encoding === "raw") return bytes;
	return Buffer.from(publicKeySource(`${shortName(key.kind)}_pub_key${nameSuffix}`, bytes, encoding));
}

/** SHA-256 of the SubjectPublicKeyInfo DER: how Sealdrop names a device key. */
export function fingerprint(key: Key): string {
	return crypto.createHash("sha256").update(spkiDer(key)).digest("hex");
}

/** getpubhash: SHA-256 of the embedded public-key bytes (keys/general.py emit_c_public_hash / emit_raw_public_hash). */
export function encodePublicKeyHash(key: Key, encoding: "lang-c" | "raw"): Buffer {
	const hash = crypto.createHash("sha256").update(publicKeyBytes(key)).digest();
	return encoding === "raw" ? hash : Buffer.from(publicKeySource(`${shortName(key.kind)}_pub_key_hash`, hash, "lang-c"));
}

/** Private-key DER formats getpriv offers per key kind, the first the default (keys/*.py _VALID_FORMATS). */
const PRIVATE_FORMATS: Partial<Record<KeyKind, ("pkcs8" | "openssl")[]>> = {
	"ecdsa-p256": ["pkcs8", "openssl"], "ecdsa-p384": ["pkcs8", "openssl"], "rsa-2048": ["openssl"], "rsa-3072": ["openssl"], x25519: ["pkcs8"],
};

/** An imgtool UsageError during getpriv (keys/*.py raise ECDSAUsageError & co., main.py turns them into usage errors). */
function privUsage(message: string): never {
	fail("E_USAGE", message);
}

/**
 * keys/ecdsa.py _build_minimal_ecdsa_privkey: the private key DER without its optional public key
 * ([1] BIT STRING), at the fixed offsets imgtool uses (laid out for P-256; other curves fail its checks).
 */
function minimalEcdsa(der: Buffer, format: "pkcs8" | "openssl"): Buffer {
	const bad = () => privUsage("Error parsing ecdsa key. Please submit an issue!");
	if (format === "pkcs8") {
		const offPub = 68;
		if (der[offPub] !== 0xa1) bad();
		const lenPub = der[offPub + 1] + 2;
		const b = Buffer.from(der.subarray(0, offPub));
		if (b[29] !== 0x30) bad();
		b[30] = (b[30] - lenPub) & 0xff;
		if (b[27] !== 0x04) bad();
		b[28] = (b[28] - lenPub) & 0xff;
		if (b[0] !== 0x30 || b[1] !== 0x81) bad();
		b[2] = (b[2] - lenPub) & 0xff;
		return b[2] < 0x80 ? Buffer.concat([b.subarray(0, 1), b.subarray(2)]) : b;
	}
	const offPub = 51;
	if (der[offPub] !== 0xa1) bad();
	const b = Buffer.from(der.subarray(0, offPub));
	b[1] = (b[1] - (der[offPub + 1] + 2)) & 0xff;
	return b;
}

/** keys/rsa.py _build_minimal_rsa_privkey: PKCS#1 DER cut after N, E, D, P, Q (no CRT values). */
function minimalRsa(der: Buffer): Buffer {
	const b = Buffer.from(der);
	let off = 7;
	if (b[off + 1] !== 0x82) privUsage("Error parsing N while minimizing");
	off += (b[off + 2] << 8) + b[off + 3] + 4;
	if (b[off + 1] !== 0x03) privUsage("Error parsing E while minimizing");
	off += b[off + 2] + 4;
	if (b[off + 1] !== 0x82) privUsage("Error parsing D while minimizing");
	off += (b[off + 2] << 8) + b[off + 3] + 4;
	if (b[off + 1] !== 0x81) privUsage("Error parsing P while minimizing");
	off += b[off + 2] + 3;
	if (b[off + 1] !== 0x81) privUsage("Error parsing Q while minimizing");
	off += b[off + 2] + 3;
	b[2] = ((off - 4) >> 8) & 0xff;
	b[3] = (off - 4) & 0xff;
	return b.subarray(0, off);
}

/** getpriv: the private key as the C array MCUboot's encryption code embeds (keys/general.py emit_private). */
export function encodePrivateKey(key: Key, minimal: boolean, format?: "pkcs8" | "openssl"): Buffer {
	if (key.kind === "ed25519" && key.privateKey) privUsage("Operation not supported with ed25519 keys");
	if (!key.privateKey) privUsage("Operation get_private_bytes requires private key");
	const formats = PRIVATE_FORMATS[key.kind] ?? [];
	const chosen = format ?? formats[0];
	if (!formats.includes(chosen)) privUsage(`${shortName(key.kind)} does not support ${chosen}`);
	let der: Buffer;
	if (key.kind.startsWith("ecdsa")) {
		der = key.privateKey.export({ type: chosen === "pkcs8" ? "pkcs8" : "sec1", format: "der" });
		if (minimal) der = minimalEcdsa(der, chosen);
	} else if (key.kind.startsWith("rsa")) {
		der = key.privateKey.export({ type: "pkcs1", format: "der" });
		if (minimal) der = minimalRsa(der);
	} else der = key.privateKey.export({ type: "pkcs8", format: "der" });
	return Buffer.from(publicKeySource("enc_priv_key", der, "lang-c"));
}
