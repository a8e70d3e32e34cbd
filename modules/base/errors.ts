/**
 * Every failure Sealdrop reports carries a stable code (for machines, tests and docs) and a
 * one-line message (for people). Codes never change meaning once published; see README.md.
 */
export type ErrorCode =
	| "E_TRUNCATED"     // input ends inside a region (header, body, TLV area)
	| "E_BAD_MAGIC"     // not an MCUboot image (header or TLV info magic)
	| "E_HEADER_SIZE"   // ih_hdr_size below 32
	| "E_PROT_SIZE"     // protected TLV area size disagrees with ih_protect_tlv_size
	| "E_TLV_OVERRUN"   // a TLV runs past the end of its area
	| "E_TLV_VALUE"     // a TLV of a known type has the wrong length or content
	| "E_FLAGS"         // a header flag combination that no bootloader accepts
	| "E_VERSION"       // a version string or field out of range
	| "E_TOO_LARGE"     // the image (plus trailer) does not fit the slot
	| "E_NO_HASH"       // no image hash TLV
	| "E_HASH"          // the image hash does not match
	| "E_NO_SIGNATURE"  // a key was given but the image carries no signature for it
	| "E_SIGNATURE"     // the signature does not verify
	| "E_WRONG_SIGNER"  // the image was signed, but not by the given key
	| "E_ENC_TLV"       // the encryption-key TLV is missing or malformed
	| "E_DEVICE_KEY"    // the ENC TLV does not open with this device key (wrong key or tampered tag)
	| "E_NOT_SEALABLE"  // a release cannot be sealed (not flagged for encryption, body not plaintext)
	| "E_KEY_READ"      // a key file cannot be read
	| "E_KEY_FORMAT"    // a key file is not a key Sealdrop understands
	| "E_KEY_TYPE"      // a key of the wrong type for this use
	| "E_USAGE"         // bad command-line usage
	| "E_IO"            // reading or writing a file failed
	| "E_HEX"           // an Intel HEX input is malformed (record syntax, checksum, conflicting bytes, no end record)
	| "E_TOOL"          // an external program the command needs (xz for sign --compression) is missing or failed
	// the update agent and the bootloader models (modules/update, host/sim)
	| "E_UNSUPPORTED"   // a valid image this device cannot take (hash or signature type, compression, RAM_LOAD...)
	| "E_STATE"         // the call does not fit the agent's state (begin during an update, write with no update...)
	| "E_RANGE"         // bytes past the announced size, or an announced size that disagrees with the image
	| "E_SECURITY_COUNTER" // the image's security counter is below the stored one
	| "E_DOWNGRADE"     // the newer-version-only policy refuses this version
	| "E_DEPENDENCY"    // an image this one depends on is missing or too old
	| "E_FLASH"         // a flash operation failed (the update is abandoned; the running image is untouched)
	| "E_NO_IMAGE"      // no bootable image (bootloader model)
	// the device key (modules/keys)
	| "E_ENTROPY"       // the entropy source failed its health checks: no key was made (the next boot tries again)
	| "E_KEY_STORE"     // the key store and its lock record disagree, or storing a key failed
	| "E_ROTATION"      // a key rotation request or answer is malformed, or its proof does not check
	| "E_REPLAY"        // a key rotation request's counter is not above the last one accepted
	// transports (modules/transport)
	| "E_NETWORK"       // the download failed after its retries (connection refused or dropped, timeouts)
	| "E_HTTP";         // the server's answer cannot be used (a status other than 200/206, a wrong Content-Range, an image that keeps changing)

export class SealdropError extends Error {
	/**
	 * A field, not `this.name = …`: a Moddable build freezes the built-ins when it preloads (xsl's
	 * fxFreezeBuiltIns), and assigning over Error.prototype's now read-only `name` throws
	 * ("set name: not writable"); a field defines its own property instead.
	 */
	override readonly name = "SealdropError";
	readonly code: ErrorCode;
	constructor(code: ErrorCode, message: string) {
		super(message);
		this.code = code;
	}
}

export function fail(code: ErrorCode, message: string): never {
	throw new SealdropError(code, message);
}

/**
 * The code of an error: a SealdropError's, or the one a native module set on the Error it threw
 * (native/native-common.c sealdropThrowCode). Failures are told apart by it, never by text.
 */
export function errorCode(e: unknown): ErrorCode | undefined {
	if (e instanceof SealdropError) return e.code;
	const code = (e as { code?: unknown } | null | undefined)?.code;
	return typeof code === "string" && /^E_[A-Z_]+$/.test(code) ? code as ErrorCode : undefined;
}

/** An error from a native module as a SealdropError: its own code (else `fallback`), `context` before its message. */
export function nativeError(e: unknown, fallback: ErrorCode, context: string): SealdropError {
	if (e instanceof SealdropError) return e;
	return new SealdropError(errorCode(e) ?? fallback, `${context}: ${(e as Error | undefined)?.message ?? String(e)}`);
}
