/**
 * SMP image management, group 1 (smp-protocol.md §5), on the update agent: state read and write
 * (cmd 0), upload (cmd 1), erase (cmd 5), slot info (cmd 6).
 *
 * Upload follows Zephyr's algorithm (§5.3, checklist §11.2-§11.5): the response's `off` is the
 * offset the agent wants next, which clients follow, so the agent's order (header, TLV areas,
 * body) just works; a wrong offset is answered with the wanted one; `sha` is the session id, so
 * the same upload resumes in this run and, through the agent's journal, after a reset.
 * `match` is never sent: the agent verifies the image itself (hash TLV over the plaintext and
 * signature) and receives it out of order, so it never hashes the file as sent (§5.3 makes
 * `match` optional). An upload is not marked pending: state write (test / confirm) does that.
 */
import { compareVersions, decodeVersion, equalBytes, fromHex, IMAGE_HEADER_SIZE, IMAGE_MAGIC, parseVersion, SealdropError, u32, type ErrorCode } from "sealdrop/image";
import type { BoardConfig, SlotState, UpdateAgent } from "sealdrop/update";
import Flash from "sealdrop/native/flash";
import type { CborMap } from "../cbor.js";
import { groupFail, smpFail, SmpRc } from "../errors.js";
import { optionalBool, optionalBytes, optionalUint } from "../fields.js";
import { SmpGroupId, SmpOp } from "../header.js";
import type { SmpGroup, SmpRequest } from "../server.js";

/** `img_mgmt_ret_code_t` (§3.2) and the SMP v1 code each translates to. */
export const ImgRc = {
	UNKNOWN: [1, SmpRc.UNKNOWN], NO_IMAGE: [3, SmpRc.NOENT], INVALID_TLV: [5, SmpRc.UNKNOWN], HASH_NOT_FOUND: [8, SmpRc.UNKNOWN],
	NO_FREE_SLOT: [9, SmpRc.BADSTATE], FLASH_WRITE_FAILED: [12, SmpRc.UNKNOWN], INVALID_SLOT: [14, SmpRc.INVAL],
	INVALID_OFFSET: [20, SmpRc.INVAL], INVALID_LENGTH: [21, SmpRc.INVAL], INVALID_IMAGE_HEADER: [22, SmpRc.INVAL],
	INVALID_IMAGE_HEADER_MAGIC: [23, SmpRc.UNKNOWN], INVALID_HASH: [24, SmpRc.INVAL], CURRENT_VERSION_IS_NEWER: [27, SmpRc.BADSTATE],
	INVALID_IMAGE_TOO_LARGE: [30, SmpRc.UNKNOWN], INVALID_IMAGE_DATA_OVERRUN: [31, SmpRc.UNKNOWN],
	IMAGE_SETTING_TEST_TO_ACTIVE_DENIED: [33, SmpRc.BADSTATE],
} as const satisfies Record<string, readonly [number, number]>;

function imageFail(code: readonly [number, number], message: string): never {
	return groupFail(SmpGroupId.IMAGE, code[0], code[1], message);
}

/** The nearest image-group code for an agent's refusal; the full code and message stay in the agent's status (Sealdrop group). */
const AGENT_ERRORS: Partial<Record<ErrorCode, readonly [number, number]>> = {
	E_BAD_MAGIC: ImgRc.INVALID_IMAGE_HEADER_MAGIC, E_TRUNCATED: ImgRc.INVALID_IMAGE_HEADER, E_HEADER_SIZE: ImgRc.INVALID_IMAGE_HEADER,
	E_TOO_LARGE: ImgRc.INVALID_IMAGE_TOO_LARGE, E_RANGE: ImgRc.INVALID_IMAGE_DATA_OVERRUN, E_DOWNGRADE: ImgRc.CURRENT_VERSION_IS_NEWER,
	E_FLASH: ImgRc.FLASH_WRITE_FAILED, E_NO_HASH: ImgRc.HASH_NOT_FOUND, E_TLV_OVERRUN: ImgRc.INVALID_TLV, E_TLV_VALUE: ImgRc.INVALID_TLV,
	E_PROT_SIZE: ImgRc.INVALID_TLV, E_STATE: ImgRc.NO_FREE_SLOT, E_NO_IMAGE: ImgRc.NO_IMAGE,
};

/** Runs an agent call; a refusal becomes the nearest image-group error. */
function agentCall<T>(call: () => T): T {
	try {
		return call();
	} catch (e) {
		if (!(e instanceof SealdropError)) throw e;
		return imageFail(AGENT_ERRORS[e.code] ?? ImgRc.UNKNOWN, `${e.code}: ${e.message}`);
	}
}

/** "1.2.3+4" (the agent's form) as MCUmgr shows it: "1.2.3.4", or "1.2.3" when the build is 0 (§5.1). */
export function smpVersionString(version: string): string {
	const v = parseVersion(version);
	return `${v.major}.${v.minor}.${v.revision}${v.build ? `.${v.build}` : ""}`;
}

export interface ImageGroupOptions {
	agent: UpdateAgent;
	board: BoardConfig;
}

export class ImageGroup implements SmpGroup {
	readonly id = SmpGroupId.IMAGE;
	readonly #agent: UpdateAgent;
	readonly #board: BoardConfig;
	/** The upload this run knows about (its `sha`, size and image number). */
	#upload: { sha: Uint8Array; size: number; image: number } | undefined;

	constructor(options: ImageGroupOptions) {
		this.#agent = options.agent;
		this.#board = options.board;
	}

	handle({ header, body }: SmpRequest): CborMap {
		const write = header.op === SmpOp.WRITE;
		switch (header.command) {
			case 0: return write ? this.#stateWrite(body) : this.#stateRead();
			case 1: if (write) return this.#uploadChunk(body); break;
			case 5: if (write) return this.#erase(body); break;
			case 6: if (!write) return this.#slotInfo(); break;
		}
		return smpFail(SmpRc.NOTSUP, `image group: no command ${header.command} for op ${header.op}`);
	}

	get #imageCount(): number {
		return this.#board.installer === "esp-idf" ? 1 : this.#board.images!.length;
	}

	// --- state (§5.1, §5.2) ---

	#stateRead(): CborMap {
		const several = this.#imageCount > 1;
		return {
			images: this.#agent.slots().map((s) => ({
				...(several ? { image: s.image } : {}), slot: s.slot, version: smpVersionString(s.version), hash: fromHex(s.hash),
				bootable: s.bootable, pending: s.pending, confirmed: s.confirmed, active: s.active, permanent: s.permanent,
			})),
			splitStatus: 0,
		};
	}

	#stateWrite(body: CborMap): CborMap {
		const hash = optionalBytes(body, "hash");
		const confirm = optionalBool(body, "confirm") ?? false;
		if (hash && hash.length !== 32) imageFail(ImgRc.INVALID_HASH, `a state hash has 32 bytes, not ${hash.length}`);
		if (!hash) {
			if (!confirm) imageFail(ImgRc.INVALID_HASH, "marking an image for test needs its hash");
			agentCall(() => this.#agent.confirm(0));
			return this.#stateRead();
		}
		const slot: SlotState | undefined = this.#agent.slots().find((s) => equalBytes(fromHex(s.hash), hash));
		if (!slot) imageFail(ImgRc.HASH_NOT_FOUND, "no slot holds an image with this hash");
		if (slot.active) {
			if (!confirm) imageFail(ImgRc.IMAGE_SETTING_TEST_TO_ACTIVE_DENIED, "the running image cannot be marked for test");
			agentCall(() => this.#agent.confirm(slot.image));
		} else agentCall(() => this.#agent.markPending(slot.image, confirm));
		return this.#stateRead();
	}

	// --- upload (§5.3) ---

	#uploadChunk(body: CborMap): CborMap {
		const off = optionalUint(body, "off");
		if (off === undefined) imageFail(ImgRc.INVALID_OFFSET, "an upload chunk needs \"off\"");
		const data = optionalBytes(body, "data");
		if (!data) smpFail(SmpRc.INVAL, "an upload chunk needs \"data\" (a byte string)");
		const receiving = this.#agent.receiving;
		if (off === 0) {
			const next = this.#start(body, data, receiving);
			if (next !== 0) return { off: next };
		} else {
			// no session (a reset, another client): off 0 makes the client start over with len and sha (§11.2)
			if (!receiving || !this.#upload) return { off: receiving ? this.#agent.status().nextOffset : 0 };
			if (off + data.length > this.#upload.size) imageFail(ImgRc.INVALID_IMAGE_DATA_OVERRUN, `${data.length} bytes at ${off} run past the ${this.#upload.size}-byte image`);
		}
		const next = agentCall(() => this.#agent.write(off, data));
		if (!this.#agent.receiving) {
			this.#upload = undefined;
			agentCall(() => this.#agent.finish()); // the verdict: a refusal answers this last chunk
		}
		return { off: next };
	}

	/** The first chunk (off 0): checks it, then resumes the session `sha` names or begins a new one. Returns the offset to answer with, or 0 to write the chunk. */
	#start(body: CborMap, data: Uint8Array, receiving: boolean): number {
		if (data.length < IMAGE_HEADER_SIZE) imageFail(ImgRc.INVALID_IMAGE_HEADER, `the first chunk has ${data.length} bytes, less than an image header`);
		const size = optionalUint(body, "len");
		if (size === undefined) imageFail(ImgRc.INVALID_LENGTH, "the first chunk needs \"len\"");
		if (u32(data, 0) !== IMAGE_MAGIC) imageFail(ImgRc.INVALID_IMAGE_HEADER_MAGIC, "not an MCUboot image (magic mismatch)");
		const sha = optionalBytes(body, "sha") ?? new Uint8Array(0);
		if (sha.length > 32) imageFail(ImgRc.INVALID_HASH, `"sha" has ${sha.length} bytes (at most 32)`);
		const image = optionalUint(body, "image") ?? 0;
		if (image >= this.#imageCount) imageFail(ImgRc.INVALID_SLOT, `this board has no image ${image}`);
		const u = this.#upload;
		if (receiving && u && sha.length > 0 && equalBytes(sha, u.sha) && u.size === size && u.image === image) return this.#agent.status().nextOffset;
		if (optionalBool(body, "upgrade")) this.#checkNewer(data, image);
		if (receiving) this.#agent.abort(); // a new upload replaces the one in progress
		this.#upload = undefined;
		const started = agentCall(() => this.#agent.begin({ size, image, sessionId: sha, pending: "none" }));
		this.#upload = { sha: sha.slice(), size, image }; // kept: a copy, not a view of this request
		return started.resumed ? started.nextOffset : 0;
	}

	/** `upgrade: true`: refuse an image not newer than the running one (x.y.z, §5.3). */
	#checkNewer(data: Uint8Array, image: number): void {
		const running = this.#agent.running(image);
		if (running && compareVersions(decodeVersion(data, 20), parseVersion(running.version)) <= 0)
			imageFail(ImgRc.CURRENT_VERSION_IS_NEWER, `the image is not newer than the running ${running.version}`);
	}

	// --- erase (§5.4) and slot info (§5.5) ---

	#erase(body: CborMap): CborMap {
		const slot = optionalUint(body, "slot") ?? 1;
		const partition = this.#partitions(0)[slot];
		if (partition === undefined) imageFail(ImgRc.INVALID_SLOT, `image 0 has no slot ${slot}`);
		const held = this.#agent.slots().find((s) => s.image === 0 && s.slot === slot);
		if (held && (held.active || held.pending || held.confirmed)) imageFail(ImgRc.NO_FREE_SLOT, `slot ${slot} is in use (${held.active ? "active" : held.pending ? "pending" : "confirmed"})`);
		if (this.#agent.receiving) this.#agent.abort();
		this.#upload = undefined;
		const flash = Flash.open({ path: partition });
		try {
			flash.eraseBlock(0, flash.status().blocks);
		} catch (e) {
			imageFail(ImgRc.FLASH_WRITE_FAILED, `erasing ${partition}: ${(e as Error).message}`);
		} finally {
			flash.close();
		}
		return {};
	}

	#slotInfo(): CborMap {
		const images = [];
		for (let image = 0; image < this.#imageCount; image++) {
			const slots = this.#partitions(image).map((path, slot) => {
				const flash = Flash.open({ path, mode: "r" });
				try {
					return { slot, size: flash.status().size };
				} finally {
					flash.close();
				}
			});
			images.push({ image, slots });
		}
		return { images };
	}

	/** Partition names by slot number: MCUboot's primary and secondary, or the OTA app partitions. */
	#partitions(image: number): string[] {
		if (this.#board.installer === "esp-idf") return image === 0 ? this.#board.ota!.apps : [];
		const pair = this.#board.images![image];
		return pair ? [pair.primary, pair.secondary] : [];
	}
}
