/*
 * DeviceKey: the device's own key pair (P-256 or X25519) as a persistent PSA key that cannot be
 * exported, and the ECIES unwrap of MCUboot's ENC_EC256 / ENC_X25519 TLVs
 * (mcuboot-image-format.md §C.2) done entirely inside PSA (device-key-unwrap.c, plain C that the
 * install benchmark links too): the ECDH secret feeds HKDF-SHA256 directly, the key-encryption
 * and HMAC keys are derived as PSA keys, the tag is checked by psa_mac_verify (constant time), and
 * the image key becomes the PSA key of an AesCtr. No shared secret, derived key or image key is
 * ever a JS value.
 *
 * Keys live at PSA key ids DEVICE_KEY_ID + slot (slot 0 by default, a second slot for rotation).
 * On the Linux host PSA keeps them in files in the working directory (the device's state folder).
 */
#include "sealdrop-native.h"

#define DEVICE_KEY_ID 0x00534400u /* "SD": inside PSA's user key id range (1 to 0x3fffffff) */
#define DEVICE_KEY_SLOTS 4

enum { KIND_P256 = 1, KIND_X25519 = 2 };

typedef struct {
	psa_key_id_t id;
	int kind;
} xsDeviceKeyRecord, *xsDeviceKey;

void xs_devicekey_destructor(void* data)
{
	if (data)
		c_free(data);
}

static int parseKind(xsMachine* the, xsSlot* slot)
{
	if (xsStringType != xsmcTypeOf(*slot))
		xsTypeError("kind must be \"p256\" or \"x25519\"");
	const char* kind = xsmcToString(*slot);
	if (!c_strcmp(kind, "p256"))
		return KIND_P256;
	if (!c_strcmp(kind, "x25519"))
		return KIND_X25519;
	xsTypeError("kind must be \"p256\" or \"x25519\"");
	return 0;
}

/* The PSA key id of options.slot (0 when absent). */
static psa_key_id_t keyId(xsMachine* the, int argument)
{
	int slot = 0;
	if (xsmcArgc > argument && xsmcTest(xsArg(argument))) {
		xsmcVars(1);
		if (xsReferenceType != xsmcTypeOf(xsArg(argument)))
			xsTypeError("options must be an object");
		if (xsmcHas(xsArg(argument), xsID_slot)) {
			xsmcGet(xsVar(0), xsArg(argument), xsID_slot);
			slot = xsmcToInteger(xsVar(0));
		}
	}
	if (slot < 0 || slot >= DEVICE_KEY_SLOTS)
		xsRangeError("slot must be 0 to %d", DEVICE_KEY_SLOTS - 1);
	return DEVICE_KEY_ID + (psa_key_id_t)slot;
}

static int storedKind(psa_key_id_t id)
{
	psa_key_attributes_t attributes = PSA_KEY_ATTRIBUTES_INIT;
	if (PSA_SUCCESS != psa_get_key_attributes(id, &attributes))
		return 0;
	psa_key_type_t type = psa_get_key_type(&attributes);
	psa_reset_key_attributes(&attributes);
	if (type == PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1))
		return KIND_P256;
	if (type == PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_MONTGOMERY))
		return KIND_X25519;
	return -1;
}

/* Persistent, usable only for ECDH into HKDF-SHA256, never exportable (no EXPORT usage flag). */
static psa_status_t importPrivate(psa_key_id_t id, int kind, const uint8_t* scalar, size_t size)
{
	psa_key_attributes_t attributes = PSA_KEY_ATTRIBUTES_INIT;
	psa_set_key_id(&attributes, id);
	psa_set_key_lifetime(&attributes, PSA_KEY_LIFETIME_PERSISTENT);
	psa_set_key_type(&attributes, kind == KIND_P256 ? PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1) : PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_MONTGOMERY));
	psa_set_key_bits(&attributes, kind == KIND_P256 ? 256 : 255);
	psa_set_key_usage_flags(&attributes, PSA_KEY_USAGE_DERIVE);
	psa_set_key_algorithm(&attributes, SEALDROP_ECIES_ALG);
	psa_key_id_t created = 0;
	return psa_import_key(&attributes, scalar, size, &created);
}

/* exists([options]): whether a device key is stored in that slot. */
void xs_devicekey_exists(xsMachine* the)
{
	sealdropPsaInit(the);
	xsmcSetBoolean(xsResult, storedKind(keyId(the, 0)) != 0);
}

/* generate(kind, [options]): a new key from the health-checked entropy source. */
void xs_devicekey_generate(xsMachine* the)
{
	sealdropPsaInit(the);
	int kind = parseKind(the, &xsArg(0));
	psa_key_id_t id = keyId(the, 1);
	if (storedKind(id))
		sealdropThrowCode(the, "E_STATE", "a device key already exists in this slot");
	uint8_t scalar[32];
	psa_status_t status = PSA_ERROR_INVALID_ARGUMENT;
	/* A P-256 scalar must lie in [1, n-1]: PSA refuses the rest (probability ~2^-32), so draw again. */
	for (int attempt = 0; attempt < 4 && PSA_ERROR_INVALID_ARGUMENT == status; attempt++) {
		const char* why = NULL;
		if (sealdropEntropyFill(scalar, sizeof(scalar), &why)) {
			sealdropZeroize(scalar, sizeof(scalar));
			sealdropThrowCode(the, "E_ENTROPY", "entropy source failed its health check: %s", why ? why : "unknown");
		}
		status = importPrivate(id, kind, scalar, sizeof(scalar));
	}
	sealdropZeroize(scalar, sizeof(scalar));
	if (PSA_SUCCESS != status)
		sealdropPsaThrow(the, "device key generate", status);
}

/* import(kind, privateKey, [options]): factory injection of a raw 32-byte private key. */
void xs_devicekey_import(xsMachine* the)
{
	sealdropPsaInit(the);
	int kind = parseKind(the, &xsArg(0));
	psa_key_id_t id = keyId(the, 2);
	if (storedKind(id))
		sealdropThrowCode(the, "E_STATE", "a device key already exists in this slot");
	const uint8_t* scalar;
	size_t size;
	sealdropGetBytes(the, &xsArg(1), &scalar, &size);
	if (size != 32)
		sealdropThrowCode(the, "E_KEY_FORMAT", "a %s private key is 32 bytes", kind == KIND_P256 ? "P-256" : "X25519");
	size_t same = 1;
	while (same < size && scalar[same] == scalar[0])
		same++;
	if (same == size)
		sealdropThrowCode(the, "E_KEY_FORMAT", "weak private key (all bytes equal)");
	psa_status_t status = importPrivate(id, kind, scalar, size);
	if (PSA_ERROR_INVALID_ARGUMENT == status)
		sealdropThrowCode(the, "E_KEY_FORMAT", "malformed private key (not a valid %s scalar)", kind == KIND_P256 ? "P-256" : "X25519");
	if (PSA_SUCCESS != status)
		sealdropPsaThrow(the, "device key import", status);
}

/* new DeviceKey([options]): opens the stored key of a slot. */
void xs_devicekey(xsMachine* the)
{
	sealdropPsaInit(the);
	psa_key_id_t id = keyId(the, 0);
	int kind = storedKind(id);
	if (kind == 0)
		sealdropThrowCode(the, "E_DEVICE_KEY", "no device key in this slot");
	if (kind < 0)
		sealdropThrowCode(the, "E_KEY_STORE", "the key in this slot is not a device key");
	xsDeviceKey key = c_calloc(1, sizeof(xsDeviceKeyRecord));
	if (!key)
		sealdropThrowCode(the, "E_KEY_STORE", "no memory");
	key->id = id;
	key->kind = kind;
	xsmcSetHostData(xsThis, key);
}

static xsDeviceKey openKey(xsMachine* the)
{
	return xsmcGetHostDataValidate(xsThis, xs_devicekey_destructor);
}

void xs_devicekey_get_kind(xsMachine* the)
{
	xsmcSetString(xsResult, openKey(the)->kind == KIND_P256 ? "p256" : "x25519");
}

/* publicKey(): 65 bytes 04‖X‖Y for P-256, 32 bytes for X25519. */
void xs_devicekey_publicKey(xsMachine* the)
{
	xsDeviceKey key = openKey(the);
	uint8_t point[65];
	size_t length = 0;
	psa_status_t status = psa_export_public_key(key->id, point, sizeof(point), &length);
	if (PSA_SUCCESS != status)
		sealdropPsaThrow(the, "device public key", status);
	xsmcSetArrayBuffer(xsResult, point, length);
}

/* isExportable(): asks PSA to export the private key, keeps nothing; false is the answer wanted. */
void xs_devicekey_isExportable(xsMachine* the)
{
	xsDeviceKey key = openKey(the);
	uint8_t scratch[32];
	size_t length = 0;
	psa_status_t status = psa_export_key(key->id, scratch, sizeof(scratch), &length);
	sealdropZeroize(scratch, sizeof(scratch));
	xsmcSetBoolean(xsResult, PSA_SUCCESS == status);
}

/* unwrap(encTlv, kind, keyBits, aesCtr): opens an ENC TLV into aesCtr's key. */
void xs_devicekey_unwrap(xsMachine* the)
{
	xsDeviceKey key = openKey(the);
	if (xsStringType != xsmcTypeOf(xsArg(1)))
		xsTypeError("kind must be \"ec256\" or \"x25519\"");
	const char* kindName = xsmcToString(xsArg(1));
	int kind = !c_strcmp(kindName, "ec256") ? KIND_P256 : !c_strcmp(kindName, "x25519") ? KIND_X25519 : 0;
	if (!kind)
		xsTypeError("kind must be \"ec256\" or \"x25519\"");
	if (kind != key->kind)
		sealdropThrowCode(the, "E_DEVICE_KEY", "ENC_%s TLV, but the device key is %s", kind == KIND_P256 ? "EC256" : "X25519", key->kind == KIND_P256 ? "P-256" : "X25519");
	int bits = xsmcToInteger(xsArg(2));
	if (bits != 128 && bits != 256)
		xsRangeError("keyBits must be 128 or 256");
	size_t keyLength = bits / 8;
	size_t pointLength = kind == KIND_P256 ? 65 : 32;
	const uint8_t* tlv;
	size_t tlvLength;
	sealdropGetBytes(the, &xsArg(0), &tlv, &tlvLength);
	if (tlvLength != pointLength + 32 + keyLength)
		sealdropThrowCode(the, "E_ENC_TLV", "ENC TLV is %u bytes, expected %u", (unsigned)tlvLength, (unsigned)(pointLength + 32 + keyLength));
	/* copy: the TLV may move if anything below allocated in the XS heap (nothing does, but PSA
	   must not depend on it) */
	uint8_t encTlv[65 + 32 + 32];
	c_memcpy(encTlv, tlv, tlvLength);
	psa_key_id_t imageKey = 0;
	const char* step = "";
	psa_status_t status = sealdropEciesUnwrap(key->id, encTlv, pointLength, keyLength, &imageKey, &step);
	sealdropZeroize(encTlv, sizeof(encTlv));
	if (PSA_ERROR_INVALID_SIGNATURE == status)
		sealdropThrowCode(the, "E_DEVICE_KEY", "ENC TLV does not open with this device key (tag mismatch: another device's image, or altered)");
	if (PSA_SUCCESS != status) {
		if (PSA_ERROR_INVALID_ARGUMENT == status && !c_strcmp(step, "key agreement"))
			sealdropThrowCode(the, "E_ENC_TLV", "ENC TLV's ephemeral public key is not a valid point");
		char what[32];
		c_snprintf(what, sizeof(what), "unwrap (%s)", step);
		sealdropPsaThrow(the, what, status);
	}
	sealdropAesCtrAdopt(the, &xsArg(3), imageKey);
}

/*
 * prove(peerPublicKey, message): HMAC-SHA256 over message, keyed by HKDF-SHA256 (info
 * ROTATION_INFO) of ECDH(device key, peerPublicKey). A key rotation's proof of continuity: only
 * the holder of this device key and the holder of the peer's private key can compute it. The
 * shared secret and the HMAC key stay inside PSA, as in unwrap.
 */
#define ROTATION_INFO "Sealdrop_rotation_v1"
void xs_devicekey_prove(xsMachine* the)
{
	xsDeviceKey key = openKey(the);
	size_t pointLength = key->kind == KIND_P256 ? 65 : 32;
	const uint8_t* peer;
	size_t peerLength;
	sealdropGetBytes(the, &xsArg(0), &peer, &peerLength);
	if (peerLength != pointLength)
		sealdropThrowCode(the, "E_ROTATION", "the peer's public key is %u bytes, expected %u", (unsigned)peerLength, (unsigned)pointLength);
	uint8_t point[65];
	c_memcpy(point, peer, peerLength);
	const uint8_t* message;
	size_t messageLength;
	sealdropGetBytes(the, &xsArg(1), &message, &messageLength);
	uint8_t* copy = c_malloc(messageLength ? messageLength : 1);
	if (!copy)
		sealdropThrowCode(the, "E_KEY_STORE", "out of memory");
	c_memcpy(copy, message, messageLength);

	uint8_t mac[32];
	size_t macLength = 0;
	psa_key_id_t macKey = 0;
	psa_key_derivation_operation_t derivation = PSA_KEY_DERIVATION_OPERATION_INIT;
	psa_status_t status = psa_key_derivation_setup(&derivation, SEALDROP_ECIES_ALG);
	if (PSA_SUCCESS == status)
		status = psa_key_derivation_key_agreement(&derivation, PSA_KEY_DERIVATION_INPUT_SECRET, key->id, point, pointLength);
	if (PSA_SUCCESS == status)
		status = psa_key_derivation_input_bytes(&derivation, PSA_KEY_DERIVATION_INPUT_INFO, (const uint8_t*)ROTATION_INFO, sizeof(ROTATION_INFO) - 1);
	if (PSA_SUCCESS == status)
		macKey = sealdropDeriveKey(&derivation, PSA_KEY_TYPE_HMAC, 256, PSA_KEY_USAGE_SIGN_MESSAGE | PSA_KEY_USAGE_SIGN_HASH, PSA_ALG_HMAC(PSA_ALG_SHA_256), &status);
	psa_key_derivation_abort(&derivation);
	if (PSA_SUCCESS == status)
		status = psa_mac_compute(macKey, PSA_ALG_HMAC(PSA_ALG_SHA_256), copy, messageLength, mac, sizeof(mac), &macLength);
	if (macKey)
		psa_destroy_key(macKey);
	c_free(copy);
	if (PSA_SUCCESS != status) {
		if (PSA_ERROR_INVALID_ARGUMENT == status)
			sealdropThrowCode(the, "E_ROTATION", "the peer's public key is not a valid point");
		sealdropPsaThrow(the, "device key prove", status);
	}
	xsmcSetArrayBuffer(xsResult, mac, macLength);
}

/* destroy(): erases the stored key; the object is closed. */
void xs_devicekey_destroy(xsMachine* the)
{
	xsDeviceKey key = openKey(the);
	psa_status_t status = psa_destroy_key(key->id);
	xsmcSetHostData(xsThis, NULL);
	xsmcSetHostDestructor(xsThis, NULL);
	c_free(key);
	if (PSA_SUCCESS != status)
		sealdropPsaThrow(the, "device key destroy", status);
}

void xs_devicekey_close(xsMachine* the)
{
	xsDeviceKey key = xsmcGetHostData(xsThis);
	if (!key)
		return;
	openKey(the);
	xsmcSetHostData(xsThis, NULL);
	xsmcSetHostDestructor(xsThis, NULL);
	c_free(key);
}
