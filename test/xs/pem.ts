/** Just enough PEM for tests on XS (no Buffer, no atob): key bytes out of imgtool's key files. */
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

export function pemDer(pem: string): Uint8Array {
	const body = pem.replace(/-----[^-]+-----/g, "").replace(/[^A-Za-z0-9+/]/g, "");
	const out: number[] = [];
	let bits = 0;
	let value = 0;
	for (const c of body) {
		value = (value << 6) | ALPHABET.indexOf(c);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out.push((value >> bits) & 0xff);
		}
	}
	return new Uint8Array(out);
}

function after(der: Uint8Array, pattern: number[]): Uint8Array {
	for (let i = 0; i + pattern.length + 32 <= der.length; i++) {
		if (pattern.every((b, j) => der[i + j] === b)) return der.slice(i + pattern.length, i + pattern.length + 32);
	}
	throw new Error("key not found in PEM");
}

/** The raw 32-byte private key of a P-256 (SEC1 or PKCS #8) or X25519 (PKCS #8) PEM. */
export function pemPrivateScalar(pem: string): Uint8Array {
	const der = pemDer(pem);
	// ECPrivateKey: INTEGER 1, OCTET STRING(32); X25519 PKCS #8: OCTET STRING { OCTET STRING(32) }
	try {
		return after(der, [0x02, 0x01, 0x01, 0x04, 0x20]);
	} catch {
		return after(der, [0x04, 0x22, 0x04, 0x20]);
	}
}

/** The raw public key of a SubjectPublicKeyInfo PEM: 04‖X‖Y for P-256, 32 bytes for X25519. */
export function pemPublicKey(pem: string): Uint8Array {
	const der = pemDer(pem);
	return der.length > 80 ? der.slice(der.length - 65) : der.slice(der.length - 32);
}
