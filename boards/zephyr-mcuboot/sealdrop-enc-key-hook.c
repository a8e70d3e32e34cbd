/*
 * MCUboot side of the mcuboot-encrypted installer (boards/nucleo_l4a6zg): unwrapping an image's
 * ENC_EC256 TLV (mcuboot-image-format.md §C.2) with the DEVICE key, a persistent PSA key made on
 * the device (native/device-key.c: ids 0x00534400 + slot, usage DERIVE, algorithm
 * ECDH into HKDF-SHA256, never exportable), read by MCUboot through the same PSA ITS store the app
 * uses (Zephyr secure storage over ZMS in the "storage" partition; MCUboot built with
 * CONFIG_BOOT_ECDSA_PSA and CONFIG_SECURE_STORAGE, boards/nucleo_l4a6zg/mcuboot.conf).
 *
 * How it gets into MCUboot without patching it (checked against MCUboot v2.4.0 and main 2d4bacc3):
 * - MCUboot unwraps an image's key in one function, `int boot_decrypt_key(const uint8_t *buf,
 *   uint8_t *enckey)` (boot/bootutil/include/bootutil/enc_key.h). On PSA builds it is defined in
 *   boot/bootutil/src/encrypted_psa.c (boot_decrypt_key), unconditionally, with a private key
 *   built into the bootloader (bootutil_enc_key, boot/zephyr/keys.c, from
 *   CONFIG_BOOT_ENCRYPTION_KEY_FILE). encrypted.c's own definition is compiled out there
 *   (its `#if !defined(CONFIG_BOOT_ED25519_PSA) && !defined(CONFIG_BOOT_ECDSA_PSA)`).
 * - It is called from two other translation units only: boot/bootutil/src/encrypted.c
 *   (boot_enc_load: the ENC TLV of the image being swapped in) and boot/bootutil/src/bootutil_misc.c
 *   (boot_read_enc_key: the ENC TLV saved in the trailer, MCUBOOT_SWAP_SAVE_ENCTLV, when a swap
 *   resumes after a reset). encrypted_psa.c never calls it.
 * - So GNU ld's `--wrap=boot_decrypt_key` sends both calls here, to __wrap_boot_decrypt_key
 *   (--wrap rewrites undefined references, i.e. calls from other object files; a call inside
 *   encrypted_psa.c would have kept MCUboot's). MCUboot's own definition is then referenced by
 *   nothing, and the linker's --gc-sections (Zephyr links with -ffunction-sections and
 *   --gc-sections) drops it together with bootutil_enc_key, so no key is built in
 *   (CONFIG_BOOT_ENCRYPTION_KEY_FILE=""). CMakeLists.txt beside this file adds the option.
 * - The other ways in do not fit: boot_enc_retrieve_private_key() (encrypted.c, with
 *   MCUBOOT_ENC_BUILTIN_KEY) is not used by encrypted_psa.c at all and must return the private
 *   key's BYTES for MCUboot to parse, and the device key cannot be exported;
 *   MCUBOOT_USE_CUSTOM_CRYPTO (main) removes all of encrypted.c and asks for a whole crypto layer.
 * Everything else of the encryption (AES-CTR over the slot, the ENC TLV kept in the trailer)
 * stays MCUboot's. Proven by linking MCUboot v2.4.0's real bootutil this way on Linux
 * (boards/zephyr-mcuboot/README.md; recorded in test/vectors/mcuboot-bootutil/).
 *
 * Key rotation (modules/keys/rotation.ts): between `rotate` and the confirmation of an image
 * sealed for the new key, two device keys exist (the locked one and the new one, in two of the
 * four slots), and an image may be sealed for either. The ENC TLV does not say which, so the hook
 * tries every slot that holds a key: only the right key passes the HMAC check (constant-time
 * psa_mac_verify), so trying the wrong one first costs one ECDH and reveals nothing.
 *
 * PSA Crypto API: https://arm-software.github.io/psa-api/crypto/1.1/ (psa_key_derivation_*,
 * psa_mac_verify, psa_cipher_*).
 */
#include <stdint.h>
#include <string.h>
#include <psa/crypto.h>

#define SEALDROP_DEVICE_KEY_ID 0x00534400u
#define SEALDROP_DEVICE_KEY_SLOTS 4
#define EC_POINT 65
#define TAG 32
/* The AES key size MCUboot decrypts with (BOOT_ENC_KEY_SIZE, enc_key_public.h): AES-128 unless
   CONFIG_BOOT_ENCRYPT_ALG_AES_256 (Zephyr's autoconf.h is in every translation unit). */
#if defined(CONFIG_BOOT_ENCRYPT_ALG_AES_256) || defined(MCUBOOT_AES_256)
#define AES_KEY 32
#else
#define AES_KEY 16
#endif
#if defined(CONFIG_BOOT_ENCRYPT_X25519) || defined(CONFIG_BOOT_HMAC_SHA512)
#error "the Sealdrop key hook opens ENC_EC256 TLVs (P-256 device key, HKDF/HMAC-SHA256) only"
#endif
#define OKM (AES_KEY + 32)
#define INFO "MCUBoot_ECIES_v1"

static void wipe(void* p, size_t n)
{
	volatile uint8_t* v = p;
	while (n--)
		*v++ = 0;
}

static psa_key_id_t importVolatile(psa_key_type_t type, psa_algorithm_t alg, psa_key_usage_t usage, const uint8_t* bytes, size_t size)
{
	psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
	psa_key_id_t id = 0;
	psa_set_key_type(&a, type);
	psa_set_key_algorithm(&a, alg);
	psa_set_key_usage_flags(&a, usage);
	if (PSA_SUCCESS != psa_import_key(&a, bytes, size, &id))
		id = 0;
	psa_reset_key_attributes(&a);
	return id;
}

/* ECDH with the device key in `slot`, HKDF-SHA256 (no salt, info INFO) into okm. */
static psa_status_t derive(psa_key_id_t key, const uint8_t* ephemeral, uint8_t okm[OKM])
{
	psa_key_derivation_operation_t op = PSA_KEY_DERIVATION_OPERATION_INIT;
	psa_status_t s = psa_key_derivation_setup(&op, PSA_ALG_KEY_AGREEMENT(PSA_ALG_ECDH, PSA_ALG_HKDF(PSA_ALG_SHA_256)));
	if (PSA_SUCCESS == s)
		s = psa_key_derivation_key_agreement(&op, PSA_KEY_DERIVATION_INPUT_SECRET, key, ephemeral, EC_POINT);
	if (PSA_SUCCESS == s)
		s = psa_key_derivation_input_bytes(&op, PSA_KEY_DERIVATION_INPUT_INFO, (const uint8_t*)INFO, sizeof(INFO) - 1);
	if (PSA_SUCCESS == s)
		s = psa_key_derivation_output_bytes(&op, okm, OKM);
	psa_key_derivation_abort(&op);
	return s;
}

/* The HMAC over the wrapped key, then AES-CTR (zero counter) of it with the derived key. */
static int openWrapped(const uint8_t okm[OKM], const uint8_t* tag, const uint8_t* wrapped, uint8_t* enckey)
{
	int result = -1;
	psa_key_id_t mac = importVolatile(PSA_KEY_TYPE_HMAC, PSA_ALG_HMAC(PSA_ALG_SHA_256), PSA_KEY_USAGE_VERIFY_MESSAGE, okm + AES_KEY, 32);
	psa_key_id_t kek = importVolatile(PSA_KEY_TYPE_AES, PSA_ALG_CTR, PSA_KEY_USAGE_DECRYPT, okm, AES_KEY);
	if (mac && kek && PSA_SUCCESS == psa_mac_verify(mac, PSA_ALG_HMAC(PSA_ALG_SHA_256), wrapped, AES_KEY, tag, TAG)) {
		psa_cipher_operation_t c = PSA_CIPHER_OPERATION_INIT;
		static const uint8_t iv[16];
		size_t n = 0, m = 0;
		if (PSA_SUCCESS == psa_cipher_decrypt_setup(&c, kek, PSA_ALG_CTR) && PSA_SUCCESS == psa_cipher_set_iv(&c, iv, sizeof(iv))
			&& PSA_SUCCESS == psa_cipher_update(&c, wrapped, AES_KEY, enckey, AES_KEY, &n) && PSA_SUCCESS == psa_cipher_finish(&c, enckey + n, AES_KEY - n, &m)
			&& AES_KEY == n + m)
			result = 0;
		psa_cipher_abort(&c);
	}
	if (mac)
		psa_destroy_key(mac);
	if (kek)
		psa_destroy_key(kek);
	return result;
}

int __wrap_boot_decrypt_key(const uint8_t* buf, uint8_t* enckey);

/*
 * MCUboot's boot_decrypt_key, reached through `--wrap=boot_decrypt_key` (above).
 * buf: the ENC_EC256 TLV's value (ephemeral point, tag, wrapped key); enckey: AES_KEY bytes out.
 * 0 when a device key opened it, -1 otherwise (MCUboot then refuses the image).
 */
int __wrap_boot_decrypt_key(const uint8_t* buf, uint8_t* enckey)
{
	uint8_t okm[OKM];
	if (PSA_SUCCESS != psa_crypto_init())
		return -1;
	for (unsigned slot = 0; slot < SEALDROP_DEVICE_KEY_SLOTS; slot++) {
		psa_key_id_t key = SEALDROP_DEVICE_KEY_ID + slot;
		psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
		if (PSA_SUCCESS != psa_get_key_attributes(key, &a))
			continue; /* no key in this slot */
		psa_reset_key_attributes(&a);
		int opened = PSA_SUCCESS == derive(key, buf, okm) && 0 == openWrapped(okm, buf + EC_POINT, buf + EC_POINT + TAG, enckey);
		wipe(okm, sizeof(okm));
		if (opened)
			return 0;
	}
	wipe(enckey, AES_KEY);
	return -1;
}
