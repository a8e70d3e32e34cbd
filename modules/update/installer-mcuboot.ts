/**
 * The MCUboot installers (`mcuboot`, `mcuboot-encrypted`): a primary and a secondary slot per
 * image number, boot selection through the slots' trailers (bootutil_public.c: boot_set_pending,
 * boot_set_confirmed, the swap-type table), as MCUmgr's image group reports them.
 *
 * Which payload lands in the secondary slot:
 * - `mcuboot-encrypted`: the image as received (stored; a sealed image stays ciphertext, and MCUboot
 *   decrypts it during the swap with the device key through its key hook), AES size as built;
 * - `mcuboot`: a sealed release's inner signed image in plaintext (nested), a plain image as received.
 */
import type AesCtr from "sealdrop/native/aes-ctr";
import Flash from "sealdrop/native/flash";
import { aesKeyBits, fail, ImageFlag, SwapType, swapTypeFor, toHex, type ImageHeader } from "sealdrop/image";
import type { RunningImage, SlotState } from "./agent-types.js";
import { maxImageSize, readSlotTrailer, setConfirmed, setPending, trailerFirstBlock } from "./bootutil.js";
import type { Incoming, Installer, InstallerContext, Payload, Target, VerifiedInstall } from "./installer.js";
import { NestedPayload } from "./payload-nested.js";
import { StoredPayload } from "./payload-stored.js";
import { readSlotAreas, readSlotImage, startsWithImageMagic, verifySlot, type SlotImage } from "./slot-image.js";

export class McubootInstaller implements Installer {
	readonly #ctx: InstallerContext;

	constructor(ctx: InstallerContext) {
		this.#ctx = ctx;
	}

	get imageCount(): number {
		return this.#ctx.board.images?.length ?? 0;
	}

	get #maxAlign(): number {
		return this.#ctx.board.maxAlign ?? 8;
	}

	running(image: number): RunningImage | undefined {
		return this.#withSlot("primary", image, (flash) => {
			const found = readSlotImage(flash);
			if (!found) return undefined;
			return { image, version: found.version, hash: found.hash, state: this.#trialTrailer(flash) ? "trial" : "confirmed", securityCounter: found.securityCounter };
		});
	}

	/** Trial: swapped in for a test (magic and copy_done written by the bootloader), not confirmed: REVERT at the next reset. */
	#trialTrailer(flash: Flash): boolean {
		const { state } = readSlotTrailer(flash, this.#maxAlign);
		return state.magic === "good" && state.imageOk === "unset" && state.copyDone === "set";
	}

	confirm(image: number): RunningImage {
		const running = this.running(image);
		if (!running) fail("E_NO_IMAGE", `image ${image}: the primary slot holds no image to confirm`);
		this.#withSlot("primary", image, (flash) => setConfirmed(flash, this.#maxAlign));
		return running;
	}

	slots(): SlotState[] {
		const out: SlotState[] = [];
		for (let image = 0; image < this.imageCount; image++) {
			const type = this.#swapType(image);
			(["primary", "secondary"] as const).forEach((which, slot) => {
				const found = this.#withSlot(which, image, readSlotImage);
				if (!found) return;
				const pending = slot === 1 && (type === SwapType.TEST || type === SwapType.PERM);
				out.push({
					image, slot, version: found.version, hash: found.hash, bootable: !(found.header.flags & ImageFlag.NON_BOOTABLE),
					pending, confirmed: slot === 0 ? type === SwapType.NONE || type === SwapType.TEST || type === SwapType.PERM : type === SwapType.REVERT,
					active: slot === 0, permanent: slot === 1 && type === SwapType.PERM,
				});
			});
		}
		return out;
	}

	pendingState(image: number) {
		const type = this.#swapType(image);
		return type === SwapType.TEST ? "pending-test" as const : type === SwapType.PERM ? "pending-permanent" as const : undefined;
	}

	onTrial(image: number): boolean {
		// running()'s answer, cheapest test first and without the image's strings (most of what
		// running() costs): every begin() asks
		return this.#withSlot("primary", image, (flash) => startsWithImageMagic(flash) && this.#trialTrailer(flash) && readSlotAreas(flash) !== undefined);
	}

	runningRelease(image: number): ImageHeader | undefined {
		return this.#withSlot("primary", image, readSlotImage)?.header;
	}

	installedImage(image: number): SlotImage | undefined {
		if (!this.#ctx.board.images?.[image]) return undefined;
		return this.#withSlot(this.pendingState(image) ? "secondary" : "primary", image, readSlotImage);
	}

	openTarget(image: number): Target {
		const flash = this.#open("secondary", image);
		const { board } = this.#ctx;
		const maxAlign = this.#maxAlign;
		const status = flash.status();
		const trailerBlock = trailerFirstBlock(board, flash);
		return {
			flash, name: `slot ${image}`, room: maxImageSize(board, flash), erasedFrom: trailerBlock * status.blockLength,
			// erasing the secondary slot's trailer cancels anything pending there; blocks already erased are left alone
			prepare: () => {
				for (let b = trailerBlock; b < status.blocks; b++) {
					if (!isErased(flash, b * status.blockLength, status.blockLength, status.eraseValue, this.#ctx.scratch)) flash.eraseBlock(b);
				}
			},
			select: (image, permanent) => setPending(flash, maxAlign, image, permanent),
		};
	}

	heldIdentity(verified: VerifiedInstall): string | undefined {
		return this.#withSlot("secondary", verified.image, readSlotImage)?.hash;
	}

	payloadFor(incoming: Incoming, target: Target): Payload {
		const { board, scratch } = this.#ctx;
		const keyBits = aesKeyBits(incoming.layout.header.flags);
		if (board.installer === "mcuboot-encrypted") {
			// the bootloader decrypts at the swap, with the one AES size it was built for
			const bootKeyBits = board.aesKeyBits ?? 128;
			if (keyBits && keyBits !== bootKeyBits) fail("E_UNSUPPORTED", `the image's AES-${keyBits} key is not one board ${board.name}'s MCUboot decrypts: it is built for AES-${bootKeyBits}`);
		} else if (keyBits) {
			return new NestedPayload(incoming.layout, target, scratch, (inner, digest) => this.#ctx.checkImage(inner, digest, incoming.image), board.name);
		}
		return new StoredPayload(incoming, target, scratch);
	}

	/** After SMP's upload with no pending mark: the slot hashed again (opened with the device key when sealed), then marked. */
	markPending(verified: VerifiedInstall | undefined, image: number, permanent: boolean): void {
		this.#withSlot("secondary", image, (flash) => {
			const found = readSlotImage(flash);
			if (!found || !verified || verified.image !== image || found.hash !== toHex(verified.identity))
				fail("E_STATE", `image ${image}: the secondary slot holds no image this agent verified`);
			const keyBits = aesKeyBits(found.header.flags);
			const cipher: AesCtr | undefined = keyBits ? this.#ctx.openImageKey(found, keyBits) : undefined;
			try {
				verifySlot(flash, found, this.#ctx.scratch, cipher);
			} finally {
				cipher?.close();
			}
			setPending(flash, this.#maxAlign, image, permanent);
		});
	}

	#open(which: "primary" | "secondary", image: number): Flash {
		const pair = this.#ctx.board.images?.[image];
		if (!pair) fail("E_RANGE", `board ${this.#ctx.board.name} has no image ${image}`);
		return Flash.open({ path: pair[which] });
	}

	#withSlot<T>(which: "primary" | "secondary", image: number, use: (flash: Flash) => T): T {
		const flash = this.#open(which, image);
		try {
			return use(flash);
		} finally {
			flash.close();
		}
	}

	#swapType(image: number): number {
		const primary = this.#withSlot("primary", image, (flash) => readSlotTrailer(flash, this.#maxAlign).state);
		const secondary = this.#withSlot("secondary", image, (flash) => readSlotTrailer(flash, this.#maxAlign).state);
		return swapTypeFor(primary, secondary);
	}
}

function isErased(flash: Flash, offset: number, length: number, erased: number, scratch: Uint8Array): boolean {
	for (let at = offset; at < offset + length; at += scratch.length) {
		const piece = scratch.subarray(0, Math.min(scratch.length, offset + length - at));
		flash.read(piece, at);
		for (let i = 0; i < piece.length; i++) if (piece[i] !== erased) return false;
	}
	return true;
}
