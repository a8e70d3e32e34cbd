/*
 * The ECIES unwrap of MCUboot's ENC_EC256 / ENC_X25519 TLVs (mcuboot-image-format.md §C.2) in
 * plain C over PSA Crypto, without XS: native/device-key.c calls it for DeviceKey.unwrap, and
 * bench/c/install-loop.c links native/device-key-unwrap.c so its baseline runs the device's own
 * derivation.
 */
#ifndef SEALDROP_DEVICE_KEY_UNWRAP_H
#define SEALDROP_DEVICE_KEY_UNWRAP_H

#include <psa/crypto.h>
#include <stddef.h>
#include <stdint.h>

/* The device keys' algorithm: ECDH whose secret feeds HKDF-SHA256 directly. */
#define SEALDROP_ECIES_ALG PSA_ALG_KEY_AGREEMENT(PSA_ALG_ECDH, PSA_ALG_HKDF(PSA_ALG_SHA_256))

/*
 * Opens encTlv (the ephemeral public key of pointLength bytes, a 32-byte HMAC-SHA256 tag, the
 * encrypted image key of keyLength bytes: 16 or 32) with deviceKey: HKDF-SHA256 (info
 * "MCUBoot_ECIES_v1") of the ECDH secret gives the AES key-encryption key and the HMAC key as PSA
 * keys, psa_mac_verify checks the tag, AES-CTR decrypts the image key, which is imported as an
 * AES-CTR PSA key into *imageKey (the caller's to destroy). Returns PSA_SUCCESS, or the failing
 * status with *step naming where ("key agreement", "HKDF", "tag", "key decryption", "image key").
 * No secret is left in memory.
 */
psa_status_t sealdropEciesUnwrap(psa_key_id_t deviceKey, const uint8_t* encTlv, size_t pointLength, size_t keyLength, psa_key_id_t* imageKey, const char** step);

/* An HKDF output (operation's next bytes) as a PSA key of that type, bits, usage and algorithm;
   *status says whether it worked. */
psa_key_id_t sealdropDeriveKey(psa_key_derivation_operation_t* operation, psa_key_type_t type, size_t bits, psa_key_usage_t usage, psa_algorithm_t algorithm, psa_status_t* status);

/* Zeroes memory that held secrets in a way the compiler may not elide. */
void sealdropZeroize(void* data, size_t size);

#endif
