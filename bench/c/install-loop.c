/*
 * The C floor of `npm run bench:install` (bench/install.ts compiles it into build/bench/ and
 * runs it): the native calls the update agent makes to install a sealed image with the
 * mcuboot-encrypted installer (image stored as received, decrypted on the fly to verify), made
 * from a plain C loop over the same image in memory, with the same chunk size, the same PSA
 * Crypto calls, and a flash file that costs what the Linux XS host's does
 * (native/lin/flash-lin.c: an erase writes the erased value over the block; a write first reads
 * the bytes it programs to check the NOR rule, then writes them).
 *
 * One install, in the agent's order (modules/update/agent.ts, slot-writer.ts, journal.ts,
 * record-log.ts, bootutil.ts, slot-image.ts):
 *  1. begin: the slot's trailer blocks are read and those not erased are erased; the journal
 *     is cleared (a fresh block) when it holds a session.
 *  2. the ENC_EC256 TLV is opened with the device key by the device's own code
 *     (native/device-key-unwrap.c, compiled in: ECDH + HKDF-SHA256 into PSA keys, HMAC check, key
 *     decryption, image key into PSA);
 *     the journal gets a fresh block holding the session record.
 *  3. the header area is written to the slot and hashed.
 *  4. per body chunk: AES-CTR decryption, SHA-256 of the plaintext, the ciphertext written
 *     through an erase-ahead writer that never writes across a block and hashes each block;
 *     per completed block a chained digest and a 32-byte journal record (a fresh journal block
 *     with the session and last block records when one is full).
 *  5. the TLV areas written (last unit padded), the hash compared, the ECDSA P-256 signature
 *     verified (PSA, as native/verify.c).
 *  6. read back: the slot's header and TLV areas read, the image hashed again from flash with the
 *     body decrypted, in chunks of the same size.
 *  7. a DONE journal record; pending: the trailer's magic and swap_info writes.
 * Not done here, on purpose: the JavaScript-side work the ratio measures (parsing the header and
 * TLVs, which bench/install.ts passes as arguments; CRC-32 of journal records; the agent's
 * bookkeeping). The device key is imported once as a volatile PSA key; the agent opens its
 * persistent key (a small file read) once per install.
 *
 * Arguments, name=value: image flash flashSize blockLength writeAlign slot=OFFSET:SIZE
 * journal=OFFSET:SIZE trailerFirstBlock magicBlockOffset swapInfoOffset hdrSize imgSize
 * protectTlvSize chunk minMs deviceKey=HEX encTlv=HEX signer=HEX (04||X||Y)
 * signature=HEX (r||s) hash=HEX [installs=K]. Prints one JSON line: installs per second, by
 * wall and by the process's CPU time (timed as bench/rate.ts times: until minMs of each have
 * passed), and the flash operations of one install. With installs=K: the two counted installs and
 * K more, untimed (bench/install.ts counts instructions under valgrind for two K).
 */
#include <errno.h>
#include <fcntl.h>
#include <psa/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "device-key-unwrap.h"

#define MAX_CHUNK 65536
#define MAX_BLOCK 65536

static void die(const char* what, long code)
{
	fprintf(stderr, "install-loop: %s (%ld)\n", what, code);
	exit(1);
}

static void check(psa_status_t status, const char* what)
{
	if (PSA_SUCCESS != status)
		die(what, (long)status);
}

/* Arguments */

static int gArgc;
static char** gArgv;

static const char* arg(const char* name)
{
	size_t n = strlen(name);
	for (int i = 1; i < gArgc; i++)
		if (!strncmp(gArgv[i], name, n) && gArgv[i][n] == '=')
			return gArgv[i] + n + 1;
	fprintf(stderr, "install-loop: missing argument %s=\n", name);
	exit(64);
}

static const char* optionalArg(const char* name)
{
	size_t n = strlen(name);
	for (int i = 1; i < gArgc; i++)
		if (!strncmp(gArgv[i], name, n) && gArgv[i][n] == '=')
			return gArgv[i] + n + 1;
	return NULL;
}

static uint32_t number(const char* name)
{
	return (uint32_t)strtoul(arg(name), NULL, 0);
}

static void range(const char* name, uint32_t* offset, uint32_t* size)
{
	if (sscanf(arg(name), "%u:%u", offset, size) != 2)
		die("bad offset:size argument", 0);
}

static size_t hex(const char* name, uint8_t* out, size_t room)
{
	const char* text = arg(name);
	size_t n = strlen(text) / 2;
	if (n > room)
		die("hex argument too long", (long)n);
	for (size_t i = 0; i < n; i++) {
		unsigned byte;
		if (sscanf(text + 2 * i, "%2x", &byte) != 1)
			die("bad hex argument", (long)i);
		out[i] = (uint8_t)byte;
	}
	return n;
}

/* The flash file, costed as native/lin/flash-lin.c does it */

static struct {
	int fd;
	uint32_t blockLength, writeAlign;
	uint32_t erases, writes;
} gFlash;

static void readAt(uint32_t at, void* data, uint32_t size)
{
	if (pread(gFlash.fd, data, size, at) != (ssize_t)size)
		die("flash read", errno);
}

static void eraseBlock(uint32_t at)
{
	static uint8_t erased[MAX_BLOCK];
	memset(erased, 0xff, gFlash.blockLength);
	if (pwrite(gFlash.fd, erased, gFlash.blockLength, at) != (ssize_t)gFlash.blockLength)
		die("flash erase", errno);
	gFlash.erases++;
}

static void writeAt(uint32_t at, const uint8_t* data, uint32_t size)
{
	static uint8_t old[MAX_BLOCK];
	if (at % gFlash.writeAlign || size % gFlash.writeAlign || size > sizeof(old))
		die("misaligned flash write", (long)at);
	readAt(at, old, size);
	for (uint32_t i = 0; i < size; i++)
		if ((old[i] ^ data[i]) & (old[i] ^ 0xff))
			die("flash write needs an erase at", (long)(at + i));
	if (pwrite(gFlash.fd, data, size, at) != (ssize_t)size)
		die("flash write", errno);
	gFlash.writes++;
}

static int isErased(uint32_t at, uint32_t size)
{
	static uint8_t bytes[MAX_BLOCK];
	readAt(at, bytes, size);
	for (uint32_t i = 0; i < size; i++)
		if (bytes[i] != 0xff)
			return 0;
	return 1;
}

static uint32_t alignUp(uint32_t n, uint32_t align)
{
	return (n + align - 1) / align * align;
}

/* The journal's record log: records appended to the active block, a fresh block when full */

static struct {
	uint32_t offset, blocks, active, append;
	int empty;
	uint32_t sessionRecord; /* bytes of the SESSION record (header and TLV areas) */
	int hasBlockRecord;
} gJournal;

static uint32_t recordSize(uint32_t payload)
{
	return alignUp(6 + payload + 4, gFlash.writeAlign);
}

static void journalWrite(uint32_t at, uint32_t size)
{
	static uint8_t record[MAX_BLOCK];
	memset(record, 0x5a, size);
	writeAt(gJournal.offset + gJournal.active * gFlash.blockLength + at, record, size);
}

/* A fresh block holding `session` (and the newest block record), committed by its header. */
static void journalRotate(int session)
{
	gJournal.active = gJournal.empty ? 0 : (gJournal.active + 1) % gJournal.blocks;
	gJournal.empty = 0;
	eraseBlock(gJournal.offset + gJournal.active * gFlash.blockLength);
	uint32_t at = recordSize(4);
	if (session) {
		journalWrite(at, gJournal.sessionRecord);
		at += gJournal.sessionRecord;
		if (gJournal.hasBlockRecord) {
			journalWrite(at, recordSize(20));
			at += recordSize(20);
		}
	}
	journalWrite(0, recordSize(4));
	gJournal.append = at;
}

static void journalAppend(uint32_t payload)
{
	if (gJournal.append + recordSize(payload) > gFlash.blockLength)
		journalRotate(1);
	journalWrite(gJournal.append, recordSize(payload));
	gJournal.append += recordSize(payload);
}

/* The slot writer: erase ahead, never across a block, a hash per block, a journal record per block */

static struct {
	uint32_t offset; /* the slot in the flash file */
	uint32_t position, erasedUpTo, carried;
	uint8_t carry[64];
	psa_hash_operation_t blockHash, chain;
	uint8_t chainValue[32];
} gSlot;

static void eraseAhead(uint32_t position)
{
	while (position >= gSlot.erasedUpTo) {
		eraseBlock(gSlot.offset + gSlot.erasedUpTo);
		gSlot.erasedUpTo += gFlash.blockLength;
	}
}

static void completeBlock(void)
{
	uint8_t digest[32];
	size_t length;
	check(psa_hash_finish(&gSlot.blockHash, digest, sizeof(digest), &length), "block hash");
	check(psa_hash_setup(&gSlot.blockHash, PSA_ALG_SHA_256), "block hash");
	check(psa_hash_update(&gSlot.chain, gSlot.chainValue, 32), "chain");
	check(psa_hash_update(&gSlot.chain, digest, 32), "chain");
	check(psa_hash_finish(&gSlot.chain, gSlot.chainValue, 32, &length), "chain");
	check(psa_hash_setup(&gSlot.chain, PSA_ALG_SHA_256), "chain");
	journalAppend(4 + 16);
	gJournal.hasBlockRecord = 1;
}

static void writeInBlock(const uint8_t* bytes, uint32_t size)
{
	uint32_t align = gFlash.writeAlign, at = 0;
	if (gSlot.carried) {
		uint32_t n = align - gSlot.carried < size ? align - gSlot.carried : size;
		memcpy(gSlot.carry + gSlot.carried, bytes, n);
		gSlot.carried += n;
		at = n;
		if (gSlot.carried == align) {
			uint32_t unit = gSlot.position + n - align;
			eraseAhead(unit);
			writeAt(gSlot.offset + unit, gSlot.carry, align);
			check(psa_hash_update(&gSlot.blockHash, gSlot.carry, align), "block hash");
			gSlot.carried = 0;
		}
	}
	uint32_t whole = (size - at) / align * align;
	if (whole) {
		eraseAhead(gSlot.position + at);
		writeAt(gSlot.offset + gSlot.position + at, bytes + at, whole);
		check(psa_hash_update(&gSlot.blockHash, bytes + at, whole), "block hash");
		at += whole;
	}
	if (at < size) {
		memcpy(gSlot.carry + gSlot.carried, bytes + at, size - at);
		gSlot.carried += size - at;
	}
	gSlot.position += size;
	if (gSlot.position % gFlash.blockLength == 0 && !gSlot.carried)
		completeBlock();
}

static void slotWrite(const uint8_t* bytes, uint32_t size)
{
	while (size) {
		uint32_t blockEnd = (gSlot.position / gFlash.blockLength + 1) * gFlash.blockLength;
		uint32_t n = blockEnd - gSlot.position < size ? blockEnd - gSlot.position : size;
		writeInBlock(bytes, n);
		bytes += n;
		size -= n;
	}
}

static void slotFlush(void)
{
	if (gSlot.carried) {
		memset(gSlot.carry + gSlot.carried, 0xff, gFlash.writeAlign - gSlot.carried);
		uint32_t unit = gSlot.position - gSlot.carried;
		eraseAhead(unit);
		writeAt(gSlot.offset + unit, gSlot.carry, gFlash.writeAlign);
		check(psa_hash_update(&gSlot.blockHash, gSlot.carry, gSlot.carried), "block hash");
		gSlot.carried = 0;
	}
	psa_hash_abort(&gSlot.blockHash);
	check(psa_hash_setup(&gSlot.blockHash, PSA_ALG_SHA_256), "block hash");
}

/* Crypto: the device key's unwrap itself, and the calls native/aes-ctr.c and native/verify.c make */

/* ENC_EC256 (65-byte point, 32-byte tag, 16-byte key) into an AES-128-CTR PSA key: the device's
   own unwrap (native/device-key-unwrap.c, linked in), not a copy of it. */
static psa_key_id_t unwrap(psa_key_id_t deviceKey, const uint8_t* tlv)
{
	psa_key_id_t key = 0;
	const char* step = "";
	psa_status_t status = sealdropEciesUnwrap(deviceKey, tlv, 65, 16, &key, &step);
	if (PSA_SUCCESS != status)
		die(step, (long)status);
	return key;
}

/* A CTR operation at stream offset 0 (MCUboot's counter block starts at zero). */
static void ctrStart(psa_cipher_operation_t* cipher, psa_key_id_t key)
{
	static const uint8_t zeroCounter[16] = { 0 };
	psa_cipher_abort(cipher);
	check(psa_cipher_decrypt_setup(cipher, key, PSA_ALG_CTR), "AES-CTR");
	check(psa_cipher_set_iv(cipher, zeroCounter, sizeof(zeroCounter)), "AES-CTR");
}

static void ctr(psa_cipher_operation_t* cipher, const uint8_t* in, uint8_t* out, size_t size)
{
	size_t written;
	check(psa_cipher_update(cipher, in, size, out, size, &written), "AES-CTR");
}

static int verifySignature(const uint8_t* signer, const uint8_t* digest, const uint8_t* signature)
{
	psa_key_attributes_t attributes = PSA_KEY_ATTRIBUTES_INIT;
	psa_set_key_type(&attributes, PSA_KEY_TYPE_ECC_PUBLIC_KEY(PSA_ECC_FAMILY_SECP_R1));
	psa_set_key_bits(&attributes, 256);
	psa_set_key_usage_flags(&attributes, PSA_KEY_USAGE_VERIFY_HASH);
	psa_set_key_algorithm(&attributes, PSA_ALG_ECDSA(PSA_ALG_SHA_256));
	psa_key_id_t id = 0;
	check(psa_import_key(&attributes, signer, 65, &id), "signer key");
	psa_status_t status = psa_verify_hash(id, PSA_ALG_ECDSA(PSA_ALG_SHA_256), digest, 32, signature, 64);
	psa_destroy_key(id);
	return PSA_SUCCESS == status;
}

/* One install */

static struct {
	const uint8_t* bytes;
	uint32_t size, hdrSize, imgSize, protectTlvSize, chunk;
	uint32_t slotSize, trailerFirstBlock, magicBlockOffset, swapInfoOffset;
	uint8_t encTlv[113], signer[65], signature[64], hash[32];
	psa_key_id_t deviceKey;
} gImage;

static void install(void)
{
	static uint8_t scratch[MAX_CHUNK];
	uint32_t block = gFlash.blockLength, tlvOffset = gImage.hdrSize + gImage.imgSize;
	uint8_t digest[32];
	size_t length;

	/* 1. begin */
	for (uint32_t b = gImage.trailerFirstBlock; b < gImage.slotSize / block; b++)
		if (!isErased(gSlot.offset + b * block, block))
			eraseBlock(gSlot.offset + b * block);
	if (!gJournal.empty)
		journalRotate(0);
	gJournal.hasBlockRecord = 0;

	/* 2. the key, the journal's session */
	psa_key_id_t imageKey = unwrap(gImage.deviceKey, gImage.encTlv);
	journalRotate(1);

	/* 3. the header area */
	psa_hash_operation_t hash = PSA_HASH_OPERATION_INIT;
	gSlot.blockHash = psa_hash_operation_init();
	gSlot.chain = psa_hash_operation_init();
	check(psa_hash_setup(&hash, PSA_ALG_SHA_256), "hash");
	check(psa_hash_setup(&gSlot.blockHash, PSA_ALG_SHA_256), "hash");
	check(psa_hash_setup(&gSlot.chain, PSA_ALG_SHA_256), "hash");
	memset(gSlot.chainValue, 0, 32);
	gSlot.position = gSlot.erasedUpTo = gSlot.carried = 0;
	slotWrite(gImage.bytes, gImage.hdrSize);
	check(psa_hash_update(&hash, gImage.bytes, gImage.hdrSize), "hash");

	/* 4. the body, chunk by chunk */
	psa_cipher_operation_t cipher = PSA_CIPHER_OPERATION_INIT;
	ctrStart(&cipher, imageKey);
	for (uint32_t at = gImage.hdrSize; at < tlvOffset; at += gImage.chunk) {
		uint32_t n = tlvOffset - at < gImage.chunk ? tlvOffset - at : gImage.chunk;
		ctr(&cipher, gImage.bytes + at, scratch, n);
		check(psa_hash_update(&hash, scratch, n), "hash");
		slotWrite(gImage.bytes + at, n);
	}

	/* 5. TLV areas, hash, signature */
	check(psa_hash_update(&hash, gImage.bytes + tlvOffset, gImage.protectTlvSize), "hash");
	check(psa_hash_finish(&hash, digest, sizeof(digest), &length), "hash");
	if (memcmp(digest, gImage.hash, 32))
		die("the image hash does not match", 0);
	if (!verifySignature(gImage.signer, digest, gImage.signature))
		die("the signature does not verify", 0);
	slotWrite(gImage.bytes + tlvOffset, gImage.size - tlvOffset);
	slotFlush();

	/* 6. read back and hash again, the body decrypted */
	readAt(gSlot.offset, scratch, 32);
	readAt(gSlot.offset + tlvOffset, scratch, gImage.size - tlvOffset);
	check(psa_hash_setup(&hash, PSA_ALG_SHA_256), "hash");
	uint32_t end = tlvOffset + gImage.protectTlvSize;
	ctrStart(&cipher, imageKey);
	for (uint32_t at = 0; at < end;) {
		uint32_t n = end - at < gImage.chunk ? end - at : gImage.chunk;
		if (at < gImage.hdrSize && at + n > gImage.hdrSize)
			n = gImage.hdrSize - at;
		if (at < tlvOffset && at + n > tlvOffset)
			n = tlvOffset - at;
		readAt(gSlot.offset + at, scratch, n);
		if (at >= gImage.hdrSize && at < tlvOffset)
			ctr(&cipher, scratch, scratch, n);
		check(psa_hash_update(&hash, scratch, n), "hash");
		at += n;
	}
	check(psa_hash_finish(&hash, digest, sizeof(digest), &length), "hash");
	if (memcmp(digest, gImage.hash, 32))
		die("the image read back does not hash to its hash TLV", 0);
	psa_cipher_abort(&cipher);
	psa_destroy_key(imageKey);
	psa_hash_abort(&gSlot.blockHash);
	psa_hash_abort(&gSlot.chain);

	/* 7. done, pending */
	journalAppend(1 + 32);
	readAt(gSlot.offset + gImage.swapInfoOffset - gFlash.writeAlign, scratch, gImage.slotSize - gImage.swapInfoOffset + gFlash.writeAlign);
	uint8_t magic[16] = { 0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f, 0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80 };
	writeAt(gSlot.offset + gImage.magicBlockOffset, magic, sizeof(magic));
	uint8_t swapInfo[64];
	memset(swapInfo, 0xff, gFlash.writeAlign);
	swapInfo[0] = 0x02; /* image 0, BOOT_SWAP_TYPE_TEST */
	writeAt(gSlot.offset + gImage.swapInfoOffset, swapInfo, gFlash.writeAlign);
}

static double milliseconds(clockid_t clock)
{
	struct timespec t;
	clock_gettime(clock, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void openFlash(const char* path, uint32_t size)
{
	gFlash.fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (gFlash.fd < 0)
		die("cannot open the flash file", errno);
	for (uint32_t at = 0; at < size; at += gFlash.blockLength)
		eraseBlock(at);
	gFlash.erases = 0;
}

static void readImage(const char* path)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st))
		die("cannot open the image", errno);
	uint8_t* bytes = malloc((size_t)st.st_size);
	if (!bytes || read(fd, bytes, (size_t)st.st_size) != st.st_size)
		die("cannot read the image", errno);
	close(fd);
	gImage.bytes = bytes;
	gImage.size = (uint32_t)st.st_size;
}

int main(int argc, char** argv)
{
	gArgc = argc;
	gArgv = argv;
	gFlash.blockLength = number("blockLength");
	gFlash.writeAlign = number("writeAlign");
	gImage.chunk = number("chunk");
	if (gFlash.blockLength > MAX_BLOCK || gFlash.writeAlign > 64 || gImage.chunk > MAX_CHUNK)
		die("block, write unit or chunk too large", 0);
	readImage(arg("image"));
	openFlash(arg("flash"), number("flashSize"));
	range("slot", &gSlot.offset, &gImage.slotSize);
	uint32_t journalSize;
	range("journal", &gJournal.offset, &journalSize);
	gJournal.blocks = journalSize / gFlash.blockLength;
	gJournal.empty = 1;
	gImage.trailerFirstBlock = number("trailerFirstBlock");
	gImage.magicBlockOffset = number("magicBlockOffset");
	gImage.swapInfoOffset = number("swapInfoOffset");
	gImage.hdrSize = number("hdrSize");
	gImage.imgSize = number("imgSize");
	gImage.protectTlvSize = number("protectTlvSize");
	/* SESSION: format, image, pending, size, id length (no id), header area, TLV areas */
	gJournal.sessionRecord = recordSize(1 + 1 + 1 + 4 + 1 + 2 + gImage.hdrSize + 2 + (gImage.size - gImage.hdrSize - gImage.imgSize));
	if (hex("encTlv", gImage.encTlv, sizeof(gImage.encTlv)) != 113 || hex("signer", gImage.signer, 65) != 65
		|| hex("signature", gImage.signature, 64) != 64 || hex("hash", gImage.hash, 32) != 32)
		die("bad ENC TLV, signer, signature or hash", 0);

	check(psa_crypto_init(), "psa_crypto_init");
	uint8_t scalar[32];
	if (hex("deviceKey", scalar, sizeof(scalar)) != 32)
		die("the device key must be a 32-byte P-256 scalar", 0);
	psa_key_attributes_t attributes = PSA_KEY_ATTRIBUTES_INIT;
	psa_set_key_type(&attributes, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
	psa_set_key_bits(&attributes, 256);
	psa_set_key_usage_flags(&attributes, PSA_KEY_USAGE_DERIVE);
	psa_set_key_algorithm(&attributes, SEALDROP_ECIES_ALG);
	check(psa_import_key(&attributes, scalar, sizeof(scalar), &gImage.deviceKey), "device key");

	/* the first install on an erased flash, counted; then installs over the previous one, timed
	   as bench/rate.ts times (one to warm up, then batches of 8 until minMs have passed) */
	install();
	uint32_t firstErases = gFlash.erases, firstWrites = gFlash.writes;
	gFlash.erases = gFlash.writes = 0;
	install();
	uint32_t repeatErases = gFlash.erases, repeatWrites = gFlash.writes;
	if (optionalArg("installs")) {
		uint32_t count = number("installs");
		for (uint32_t i = 0; i < count; i++)
			install();
		printf("{\"installs\":%u}\n", count);
		return 0;
	}
	double minMs = number("minMs"), start = milliseconds(CLOCK_MONOTONIC), cpuStart = milliseconds(CLOCK_PROCESS_CPUTIME_ID);
	double elapsed = 0, cpuElapsed = 0;
	unsigned installs = 0;
	while (elapsed < minMs || cpuElapsed < minMs) {
		for (int i = 0; i < 8; i++)
			install();
		installs += 8;
		elapsed = milliseconds(CLOCK_MONOTONIC) - start;
		cpuElapsed = milliseconds(CLOCK_PROCESS_CPUTIME_ID) - cpuStart;
	}
	printf("{\"installs\":%u,\"milliseconds\":%.3f,\"cpuMilliseconds\":%.3f,\"installsPerSecond\":%.3f,\"installsPerCpuSecond\":%.3f,"
		   "\"imageBytes\":%u,\"flash\":{\"first\":{\"erases\":%u,\"writes\":%u},\"repeat\":{\"erases\":%u,\"writes\":%u}}}\n",
		installs, elapsed, cpuElapsed, installs / (elapsed / 1000), installs / (cpuElapsed / 1000), gImage.size,
		firstErases, firstWrites, repeatErases, repeatWrites);
	return 0;
}
