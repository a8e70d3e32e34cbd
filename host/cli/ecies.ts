/**
 * MCUboot's ECIES key wrap (ENC_EC256, ENC_X25519, ENC_X25519_SHA512; imgtool's image.py
 * create_ecies, reference §C), on Node's crypto alone: fleet sealing's worker threads load this
 * module and nothing more (host/cli/fleet-worker.ts), since each worker's imports are CPU spent
 * again per worker; crypto.ts re-exports it.
 */
import crypto from "node:crypto";
import { fail } from "sealdrop/base/errors";

export type EciesKind = "ec256" | "x25519" | "x25519-sha512";

export const ECIES_INFO = Buffer.from("MCUBoot_ECIES_v1");

/**
 * HKDF (RFC 5869 §2.2-2.3) with an empty salt, i.e. HashLen zero bytes. Written on createHmac
 * because crypto.hkdfSync costs about three times as much per call, which shows in fleet sealing.
 */
export function hkdf(alg: "sha256" | "sha512", ikm: Uint8Array, info: Uint8Array, length: number): Buffer {
	const hashLength = alg === "sha256" ? 32 : 64;
	const prk = crypto.createHmac(alg, Buffer.alloc(hashLength)).update(ikm).digest();
	const blocks: Buffer[] = [];
	let previous = Buffer.alloc(0);
	for (let i = 1; blocks.length * hashLength < length; i++) {
		previous = crypto.createHmac(alg, prk).update(previous).update(info).update(Uint8Array.of(i)).digest();
		blocks.push(previous);
	}
	prk.fill(0);
	const okm = Buffer.concat(blocks);
	blocks.forEach((b) => b.fill(0));
	return okm.subarray(0, length);
}

/** HKDF → AES-CTR-encrypt the key (counter block 0) → HMAC over the encrypted key (§C.2 steps 2-5). */
function eciesSeal(shared: Uint8Array, aesKey: Uint8Array, macAlg: "sha256" | "sha512"): { encryptedKey: Buffer; tag: Buffer } {
	const macLength = macAlg === "sha256" ? 32 : 64;
	const okm = hkdf(macAlg, shared, ECIES_INFO, aesKey.length + macLength);
	const kek = okm.subarray(0, aesKey.length);
	const macKey = okm.subarray(aesKey.length);
	const encryptedKey = crypto.createCipheriv(kek.length === 16 ? "aes-128-ctr" : "aes-256-ctr", kek, Buffer.alloc(16)).update(aesKey);
	const tag = crypto.createHmac(macAlg, macKey).update(encryptedKey).digest();
	okm.fill(0);
	return { encryptedKey, tag };
}

let p256: crypto.ECDH | undefined;

const X25519_JWK_PLACEHOLDER = "A".repeat(43);

/**
 * X25519 private keys drawn 64 at a time: crypto.randomBytes(32) costs about as much as a third
 * of an X25519 agreement per call. Each key's bytes are zeroed once it is made.
 */
const pool = Buffer.alloc(32 * 64);
let poolAt = pool.length;
function randomScalar(): Buffer {
	if (poolAt === pool.length) {
		crypto.randomFillSync(pool);
		poolAt = 0;
	}
	poolAt += 32;
	return pool.subarray(poolAt - 32, poolAt);
}

/**
 * ECIES for a device's raw public key (04‖X‖Y or 32 bytes). Each call makes a fresh ephemeral
 * key: P-256 through one reused ECDH object (generateKeys() replaces its key pair), which
 * avoids most of the per-key object cost when sealing for a fleet.
 */
export function eciesWrap(kind: EciesKind, devicePoint: Uint8Array, aesKey: Uint8Array): Buffer {
	let ephemeral: Buffer, shared: Buffer;
	try {
		if (kind === "ec256") {
			p256 ??= crypto.createECDH("prime256v1");
			ephemeral = p256.generateKeys(); // uncompressed 04‖X‖Y
			shared = p256.computeSecret(devicePoint);
		} else {
			// Not generateKeyPairSync: under GC pressure in a worker thread, Node 20 can deadlock
			// destroying its key-generation jobs (seen in fleet sealing). Any 32 random bytes are an
			// X25519 private key (RFC 7748 §5 clamps them), so the key is built from them instead,
			// through JWK (PKCS #8 DER import costs ~10x more). OpenSSL imports `d` alone and
			// derives the public key itself; `x` only has to be present.
			const scalar = randomScalar();
			const privateKey = crypto.createPrivateKey({ key: { kty: "OKP", crv: "X25519", d: scalar.toString("base64url"), x: X25519_JWK_PLACEHOLDER }, format: "jwk" });
			scalar.fill(0);
			ephemeral = Buffer.from(crypto.createPublicKey(privateKey).export({ format: "jwk" }).x!, "base64url");
			const device = crypto.createPublicKey({ key: { kty: "OKP", crv: "X25519", x: Buffer.from(devicePoint).toString("base64url") }, format: "jwk" });
			shared = crypto.diffieHellman({ privateKey, publicKey: device });
		}
	} catch {
		fail("E_KEY_FORMAT", "the device public key is not a valid point on its curve");
	}
	const { encryptedKey, tag } = eciesSeal(shared, aesKey, kind === "x25519-sha512" ? "sha512" : "sha256");
	shared.fill(0);
	return Buffer.concat([ephemeral, tag, encryptedKey]);
}
