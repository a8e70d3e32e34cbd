/* Signature checks over a SHA-256 digest through PSA Crypto (native/verify.c). */
export function ecdsaP256(publicKey, digest, signature) { return native("xs_verify_ecdsaP256").call(undefined, publicKey, digest, signature); }
export function rsaPss(publicKey, digest, signature) { return native("xs_verify_rsaPss").call(undefined, publicKey, digest, signature); }
