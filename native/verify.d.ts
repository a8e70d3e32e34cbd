declare module "sealdrop/native/verify" {
	type Bytes = ArrayBuffer | ArrayBufferView;

	/**
	 * Checks an ECDSA P-256 signature (MCUboot's ECDSASIG TLV, 0x22) over a 32-byte SHA-256
	 * digest, in C through PSA Crypto.
	 * @param publicKey SubjectPublicKeyInfo DER (id-ecPublicKey, prime256v1: imgtool getpub, the
	 *   PUBKEY TLV), or the raw 65-byte uncompressed point 04‖X‖Y.
	 * @param signature DER `SEQUENCE { INTEGER r, INTEGER s }`, parsed strictly: nothing may follow
	 *   it, so strip imgtool's `--pad-sig` zero padding first (the DER is `2 + signature[1]` bytes).
	 * @returns true for a good signature; false for a bad or malformed one (bad DER, negative,
	 *   zero or oversized integers, trailing bytes).
	 * @throws TypeError when an argument is not a byte buffer; RangeError when `digest` is not 32
	 *   bytes or `publicKey` is malformed, not P-256, compressed, or not a point on the curve.
	 */
	export function ecdsaP256(publicKey: Bytes, digest: Bytes, signature: Bytes): boolean;

	/**
	 * Checks an RSASSA-PSS signature (MCUboot's RSA2048 0x20 / RSA3072 0x23 TLVs: SHA-256,
	 * MGF1-SHA-256, salt length 32, enforced) over a 32-byte SHA-256 digest, in C through PSA
	 * Crypto.
	 * @param publicKey a 2048- or 3072-bit key as PKCS#1 RSAPublicKey DER (imgtool getpub, the
	 *   PUBKEY TLV) or SubjectPublicKeyInfo DER (rsaEncryption with NULL parameters).
	 * @param signature as many bytes as the modulus (256 or 384).
	 * @returns true for a good signature; false for a bad one, one of another length, or one made
	 *   with another salt length.
	 * @throws TypeError when an argument is not a byte buffer; RangeError when `digest` is not 32
	 *   bytes or `publicKey` is malformed, not RSA, or not 2048 or 3072 bits.
	 */
	export function rsaPss(publicKey: Bytes, digest: Bytes, signature: Bytes): boolean;
}
