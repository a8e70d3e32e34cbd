/**
 * SHA-256 of a whole buffer in one call, in native code (sealdrop/native/sha256: mbedTLS/PSA on
 * the host and on Zephyr, the ESP32's SHA accelerator through mbedTLS). Streaming callers use the
 * native class directly.
 */
import Sha256 from "sealdrop/native/sha256";

export function sha256(bytes: Uint8Array): Uint8Array {
	const hash = new Sha256();
	try {
		hash.update(bytes);
		return new Uint8Array(hash.digest());
	} finally {
		hash.close();
	}
}
