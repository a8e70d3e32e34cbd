/*
 * Verify: the signature checks of MCUboot images (mcuboot-image-format.md §B.2) over a 32-byte
 * SHA-256 image digest, through PSA Crypto:
 * - ECDSA P-256: the ECDSASIG TLV (0x22) is DER SEQUENCE { INTEGER r, INTEGER s }; PSA wants
 *   r‖s, 32 bytes each, so a strict DER parser converts it here. Public key: SubjectPublicKeyInfo
 *   DER (id-ecPublicKey, prime256v1; imgtool's getpub and PUBKEY TLV) or the raw 65-byte
 *   uncompressed point 04‖X‖Y.
 * - RSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt, 2048- and 3072-bit keys (RSA2048 0x20,
 *   RSA3072 0x23; the signature as long as the modulus). Public key: PKCS#1 RSAPublicKey DER
 *   (imgtool's getpub and PUBKEY TLV) or SubjectPublicKeyInfo DER (rsaEncryption). Both are reduced
 *   to RSAPublicKey here, the one form every PSA implementation imports. PSA_ALG_RSA_PSS means
 *   "salt length = hash length" = 32, and implementations that also know PSA_ALG_RSA_PSS_ANY_SALT
 *   (the lax variant) enforce it when verifying: Debian's mbedTLS 2.28.3 refuses salt 20 and 0
 *   (test/xs/verify.test.ts). Older mbedTLS accepted any salt length under PSA_ALG_RSA_PSS, so a
 *   PSA without PSA_ALG_RSA_PSS_ANY_SALT does not build this file.
 *
 * Results: true for a good signature; false for a bad one, which includes any signature that is
 * malformed (DER with trailing bytes, bad lengths, negative, zero or oversized integers; an RSA
 * signature not as long as the modulus or not below it): signatures come from the image. Arguments
 * the caller controls throw: TypeError for a non-buffer, RangeError for a digest that is not 32
 * bytes or a public key that is malformed, of another type or size, or not on the curve.
 * imgtool's --pad-sig zero bytes after the DER are refused too: strip them first (the DER length
 * is 2 + signature[1]).
 */
#include "sealdrop-native.h"

#ifndef PSA_ALG_RSA_PSS_ANY_SALT
	#error "this PSA Crypto may accept any RSA-PSS salt length under PSA_ALG_RSA_PSS; MCUboot requires 32"
#endif

#define DIGEST_SIZE 32
#define P256_SIZE 32

/* DER (X.690 §10), strictly: definite minimal lengths, nothing left over */

enum {
	DER_INTEGER = 0x02,
	DER_BIT_STRING = 0x03,
	DER_NULL = 0x05,
	DER_OID = 0x06,
	DER_SEQUENCE = 0x30,
};

typedef struct {
	const uint8_t* p;
	const uint8_t* end;
} Der;

static int derDone(const Der* der)
{
	return der->p == der->end;
}

/* The next element, which must have `tag` and a length in its shortest form (up to 0xffff) that
   fits in what is left; its contents go to `contents`. */
static int derNext(Der* der, uint8_t tag, Der* contents)
{
	const uint8_t* p = der->p;
	size_t left = (size_t)(der->end - p);
	size_t length;
	if (left < 2 || p[0] != tag)
		return -1;
	if (p[1] < 0x80) {
		length = p[1];
		p += 2;
	}
	else if (0x81 == p[1]) {
		if (left < 3 || p[2] < 0x80) /* would fit the short form */
			return -1;
		length = p[2];
		p += 3;
	}
	else if (0x82 == p[1]) {
		if (left < 4 || 0 == p[2]) /* would fit one byte */
			return -1;
		length = ((size_t)p[2] << 8) | p[3];
		p += 4;
	}
	else
		return -1; /* indefinite, or longer than anything here */
	if ((size_t)(der->end - p) < length)
		return -1;
	contents->p = p;
	contents->end = p + length;
	der->p = p + length;
	return 0;
}

/* A non-negative INTEGER in its shortest form (§8.3.2): its magnitude without the 0x00 that
   keeps the sign bit clear. Refuses empty, negative and zero-padded encodings. */
static int derUnsigned(Der* der, const uint8_t** value, size_t* size)
{
	Der integer;
	if (derNext(der, DER_INTEGER, &integer))
		return -1;
	const uint8_t* p = integer.p;
	size_t n = (size_t)(integer.end - p);
	if (0 == n || (p[0] & 0x80))
		return -1;
	if (0 == p[0] && n > 1) {
		if (!(p[1] & 0x80))
			return -1;
		p++;
		n--;
	}
	*value = p;
	*size = n;
	return 0;
}

/* The next element is exactly these bytes (tag, length and contents). */
static int derExpect(Der* der, const uint8_t* bytes, size_t size)
{
	if ((size_t)(der->end - der->p) < size || c_memcmp(der->p, bytes, size))
		return -1;
	der->p += size;
	return 0;
}

/* SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) and nothing after it: `algorithm` is the
   AlgorithmIdentifier's contents (OID and parameters), `key` the BIT STRING's bytes. */
static int derSubjectPublicKeyInfo(const uint8_t* data, size_t size, Der* algorithm, Der* key)
{
	Der der = { data, data + size }, info, bits;
	if (derNext(&der, DER_SEQUENCE, &info) || !derDone(&der))
		return -1;
	if (derNext(&info, DER_SEQUENCE, algorithm) || derNext(&info, DER_BIT_STRING, &bits) || !derDone(&info))
		return -1;
	if (bits.p == bits.end || 0 != bits.p[0]) /* unused bits: none in a key */
		return -1;
	key->p = bits.p + 1;
	key->end = bits.end;
	return 0;
}

/* ECDSA-Sig-Value (RFC 3279 §2.2.3) → r‖s for P-256. */
static int ecdsaSignatureToRaw(const uint8_t* data, size_t size, uint8_t raw[2 * P256_SIZE])
{
	Der der = { data, data + size }, sequence;
	if (derNext(&der, DER_SEQUENCE, &sequence) || !derDone(&der))
		return -1;
	for (int i = 0; i < 2; i++) {
		const uint8_t* value;
		size_t n;
		if (derUnsigned(&sequence, &value, &n) || n > P256_SIZE)
			return -1;
		if (1 == n && 0 == value[0]) /* r and s are in [1, n-1] */
			return -1;
		uint8_t* out = raw + i * P256_SIZE;
		c_memset(out, 0, P256_SIZE - n);
		c_memcpy(out + P256_SIZE - n, value, n);
	}
	return derDone(&sequence) ? 0 : -1;
}

/* Verification, free of XS calls so that a key is never left behind by a throw */

typedef enum {
	OUTCOME_VALID,
	OUTCOME_INVALID, /* the signature is bad or malformed */
	OUTCOME_BAD_KEY, /* `problem` says why */
	OUTCOME_PSA_ERROR, /* `status` says which */
} Outcome;

typedef struct {
	const char* problem;
	psa_status_t status;
} Report;

static Outcome verifyWithKey(psa_key_type_t type, size_t bits, psa_algorithm_t alg, const uint8_t* key, size_t keySize,
	const uint8_t* digest, const uint8_t* signature, size_t signatureSize, Report* report)
{
	psa_key_attributes_t attributes = PSA_KEY_ATTRIBUTES_INIT;
	psa_key_id_t id = 0;
	psa_set_key_type(&attributes, type);
	psa_set_key_bits(&attributes, bits);
	psa_set_key_usage_flags(&attributes, PSA_KEY_USAGE_VERIFY_HASH);
	psa_set_key_algorithm(&attributes, alg);
	psa_status_t status = psa_import_key(&attributes, key, keySize, &id);
	psa_reset_key_attributes(&attributes);
	if (PSA_SUCCESS != status) {
		report->status = status;
		if (PSA_ERROR_INVALID_ARGUMENT == status || PSA_ERROR_NOT_SUPPORTED == status) {
			report->problem = PSA_KEY_TYPE_IS_ECC(type) ? "public key is not a point on P-256" : "public key refused by PSA";
			return OUTCOME_BAD_KEY;
		}
		return OUTCOME_PSA_ERROR;
	}
	status = psa_verify_hash(id, alg, digest, DIGEST_SIZE, signature, signatureSize);
	psa_destroy_key(id);
	if (PSA_SUCCESS == status)
		return OUTCOME_VALID;
	/* key and digest passed their checks: what PSA still finds wrong is the signature's
	   (a bad one; an RSA signature not below the modulus comes back as INVALID_ARGUMENT) */
	if (PSA_ERROR_INVALID_SIGNATURE == status || PSA_ERROR_INVALID_ARGUMENT == status || PSA_ERROR_INVALID_PADDING == status)
		return OUTCOME_INVALID;
	report->status = status;
	return OUTCOME_PSA_ERROR;
}

static const uint8_t OID_EC_PUBLIC_KEY[] = { DER_OID, 7, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 }; /* 1.2.840.10045.2.1 */
static const uint8_t OID_PRIME256V1[] = { DER_OID, 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 }; /* 1.2.840.10045.3.1.7 */
static const uint8_t OID_RSA_ENCRYPTION[] = { DER_OID, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 }; /* 1.2.840.113549.1.1.1 */
static const uint8_t NULL_PARAMETERS[] = { DER_NULL, 0 };

static Outcome ecdsaP256(const uint8_t* key, size_t keySize, const uint8_t* digest, const uint8_t* signature, size_t signatureSize, Report* report)
{
	const uint8_t* point = key;
	size_t pointSize = keySize;
	if (1 + 2 * P256_SIZE != keySize) {
		Der algorithm, bits;
		if (derSubjectPublicKeyInfo(key, keySize, &algorithm, &bits)) {
			report->problem = "public key is neither a SubjectPublicKeyInfo nor a 65-byte point";
			return OUTCOME_BAD_KEY;
		}
		if (derExpect(&algorithm, OID_EC_PUBLIC_KEY, sizeof(OID_EC_PUBLIC_KEY)) || derExpect(&algorithm, OID_PRIME256V1, sizeof(OID_PRIME256V1)) || !derDone(&algorithm)) {
			report->problem = "public key is not a P-256 key (id-ecPublicKey, prime256v1)";
			return OUTCOME_BAD_KEY;
		}
		point = bits.p;
		pointSize = (size_t)(bits.end - bits.p);
	}
	if (1 + 2 * P256_SIZE != pointSize || 0x04 != point[0]) {
		report->problem = "public key is not an uncompressed P-256 point (04||X||Y)";
		return OUTCOME_BAD_KEY;
	}
	uint8_t raw[2 * P256_SIZE];
	if (ecdsaSignatureToRaw(signature, signatureSize, raw))
		return OUTCOME_INVALID;
	return verifyWithKey(PSA_KEY_TYPE_ECC_PUBLIC_KEY(PSA_ECC_FAMILY_SECP_R1), 256, PSA_ALG_ECDSA(PSA_ALG_SHA_256),
		point, pointSize, digest, raw, sizeof(raw), report);
}

/* RSAPublicKey (RFC 8017 §A.1.1) = SEQUENCE { INTEGER n, INTEGER e }, exactly `size` bytes;
   the modulus must have 2048 or 3072 bits. Gives its byte length. */
static const char* rsaPublicKey(const uint8_t* data, size_t size, size_t* modulusSize)
{
	Der der = { data, data + size }, sequence;
	const uint8_t *n, *e;
	size_t nSize, eSize;
	if (derNext(&der, DER_SEQUENCE, &sequence) || !derDone(&der) || derUnsigned(&sequence, &n, &nSize) || derUnsigned(&sequence, &e, &eSize) || !derDone(&sequence))
		return "public key is not a DER RSAPublicKey";
	if ((256 != nSize && 384 != nSize) || !(n[0] & 0x80))
		return "RSA public key is not 2048 or 3072 bits";
	*modulusSize = nSize;
	return NULL;
}

static Outcome rsaPss(const uint8_t* key, size_t keySize, const uint8_t* digest, const uint8_t* signature, size_t signatureSize, Report* report)
{
	Der der = { key, key + keySize }, sequence;
	if (derNext(&der, DER_SEQUENCE, &sequence) || sequence.p == sequence.end) {
		report->problem = "public key is neither an RSAPublicKey nor a SubjectPublicKeyInfo";
		return OUTCOME_BAD_KEY;
	}
	if (DER_SEQUENCE == sequence.p[0]) { /* SubjectPublicKeyInfo: AlgorithmIdentifier first */
		Der algorithm, bits;
		if (derSubjectPublicKeyInfo(key, keySize, &algorithm, &bits)) {
			report->problem = "public key is not a DER SubjectPublicKeyInfo";
			return OUTCOME_BAD_KEY;
		}
		if (derExpect(&algorithm, OID_RSA_ENCRYPTION, sizeof(OID_RSA_ENCRYPTION)) || derExpect(&algorithm, NULL_PARAMETERS, sizeof(NULL_PARAMETERS)) || !derDone(&algorithm)) {
			report->problem = "public key is not an RSA key (rsaEncryption)";
			return OUTCOME_BAD_KEY;
		}
		key = bits.p;
		keySize = (size_t)(bits.end - bits.p);
	}
	size_t modulusSize = 0;
	report->problem = rsaPublicKey(key, keySize, &modulusSize);
	if (report->problem)
		return OUTCOME_BAD_KEY;
	if (signatureSize != modulusSize)
		return OUTCOME_INVALID;
	return verifyWithKey(PSA_KEY_TYPE_RSA_PUBLIC_KEY, 8 * modulusSize, PSA_ALG_RSA_PSS(PSA_ALG_SHA_256),
		key, keySize, digest, signature, signatureSize, report);
}

/* JS */

static void requireBuffer(xsMachine* the, const char* function, const char* name, int argument)
{
	if (xsmcArgc <= argument || xsReferenceType != xsmcTypeOf(xsArg(argument))
		|| !(xsmcIsInstanceOf(xsArg(argument), xsArrayBufferPrototype) || xsmcIsInstanceOf(xsArg(argument), xsTypedArrayPrototype) || xsmcIsInstanceOf(xsArg(argument), xsDataViewPrototype)))
		xsTypeError("%s: %s must be an ArrayBuffer, Uint8Array or DataView", function, name);
}

typedef Outcome (*Verifier)(const uint8_t* key, size_t keySize, const uint8_t* digest, const uint8_t* signature, size_t signatureSize, Report* report);

/* (publicKey, digest, signature) → boolean */
static void verify(xsMachine* the, const char* function, Verifier verifier)
{
	const uint8_t *key, *digest, *signature;
	size_t keySize, digestSize, signatureSize;
	Report report = { NULL, PSA_SUCCESS };

	sealdropPsaInit(the);
	requireBuffer(the, function, "publicKey", 0);
	requireBuffer(the, function, "digest", 1);
	requireBuffer(the, function, "signature", 2);
	sealdropGetBytes(the, &xsArg(0), &key, &keySize);
	sealdropGetBytes(the, &xsArg(1), &digest, &digestSize);
	sealdropGetBytes(the, &xsArg(2), &signature, &signatureSize);
	if (DIGEST_SIZE != digestSize)
		xsRangeError("%s: digest must be 32 bytes (SHA-256), not %d", function, (int)digestSize);
	/* no XS call until the outcome: the three pointers stay valid */
	Outcome outcome = verifier(key, keySize, digest, signature, signatureSize, &report);
	switch (outcome) {
	case OUTCOME_VALID:
		xsmcSetTrue(xsResult);
		break;
	case OUTCOME_INVALID:
		xsmcSetFalse(xsResult);
		break;
	case OUTCOME_BAD_KEY:
		if (PSA_SUCCESS != report.status)
			xsRangeError("%s: %s (%s)", function, report.problem, sealdropPsaStatusName(report.status));
		xsRangeError("%s: %s", function, report.problem);
		break;
	default:
		sealdropPsaThrow(the, function, report.status);
	}
}

/* ecdsaP256(publicKey, digest, signature) */
void xs_verify_ecdsaP256(xsMachine* the)
{
	verify(the, "ecdsaP256", ecdsaP256);
}

/* rsaPss(publicKey, digest, signature) */
void xs_verify_rsaPss(xsMachine* the)
{
	verify(the, "rsaPss", rsaPss);
}
