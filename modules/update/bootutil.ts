/**
 * The trailer writes an application makes to talk to MCUboot, byte for byte as bootutil makes
 * them (bootutil_public.c boot_set_next, boot_write_magic, boot_write_trailer_flag; reference
 * §D.1-D.4), and the room a slot must leave for the trailer.
 *
 * Each field is written on its own, padded with the erased value to the flash's write size
 * (boot_write_trailer), in bootutil's order: magic, then image_ok, then swap_info. A power cut
 * between them leaves a state bootutil also reaches and handles: magic alone reads as a TEST
 * swap (the image was verified, so a test swap of it is safe).
 */
import Flash from "sealdrop/native/flash";
import { alignUp, FLAG_SET, magicBlock, readTrailer, trailerFieldBytes, trailerLayout, type TrailerLayout, type TrailerState } from "sealdrop/image";
import { DEFAULT_MAX_IMG_SECTORS, type BoardConfig } from "./board.js";

/** BOOT_STATUS_STATE_COUNT per upgrade strategy (bootutil_area.h): scratch 3, move 3. */
const STATUS_STATES = 3;

export interface SlotTrailer {
	layout: TrailerLayout;
	state: TrailerState;
}

/** Reads a slot's trailer fields. */
export function readSlotTrailer(flash: Flash, maxAlign: number): SlotTrailer {
	const status = flash.status();
	const layout = trailerLayout({ slotSize: status.size, maxAlign });
	const tail = new Uint8Array(status.size - layout.swapSizeOffset);
	flash.read(tail, layout.swapSizeOffset);
	return { layout, state: readTrailer(tail, layout, status.eraseValue) };
}

/** Writes one trailer field padded to the write size (boot_write_trailer). */
function writeField(flash: Flash, offset: number, bytes: Uint8Array): void {
	const status = flash.status();
	flash.write(trailerFieldBytes(bytes, status.writeAlign, status.eraseValue), offset);
}

/**
 * boot_set_pending_multi(image, permanent) on the secondary slot. Does nothing if the slot's
 * magic is already good (bootutil's rule: it is pending already).
 */
export function setPending(secondary: Flash, maxAlign: number, image: number, permanent: boolean): void {
	const { layout, state } = readSlotTrailer(secondary, maxAlign);
	if (state.magic === "good") return;
	if (state.magic === "bad") throw new Error("secondary trailer magic is corrupt"); // the agent erases the trailer first, so this is a bug
	secondary.write(magicBlock(layout, secondary.status().eraseValue), layout.magicBlockOffset);
	if (permanent) writeField(secondary, layout.imageOkOffset, Uint8Array.of(FLAG_SET));
	writeField(secondary, layout.swapInfoOffset, Uint8Array.of(((image & 0x0f) << 4) | (permanent ? 3 : 2)));
}

/**
 * boot_set_confirmed_multi on the primary slot: image_ok = 1 when the magic is good and image_ok
 * is unset; nothing otherwise. Returns whether it wrote.
 */
export function setConfirmed(primary: Flash, maxAlign: number): boolean {
	const { layout, state } = readSlotTrailer(primary, maxAlign);
	if (state.magic !== "good" || state.imageOk !== "unset") return false;
	writeField(primary, layout.imageOkOffset, Uint8Array.of(FLAG_SET));
	return true;
}

/**
 * BOOT_ENC_TLV_SIZE at its largest (ENC_EC256 with AES-256: point, MAC, key). An encrypting
 * MCUboot build saves the TLV twice in the trailer (MCUBOOT_SWAP_SAVE_ENCTLV) to resume a swap.
 */
const MAX_ENC_TLV = 65 + 32 + 32;

/**
 * The largest image a slot takes under the board's bootloader: bootutil_max_image_size, which
 * image_validate.c checks every image against.
 * - overwrite-only: up to swap_info (boot_swap_info_off).
 * - swap-using-move (swap_move.c app_max_size): the slot less its trailer rounded up to whole
 *   sectors, less one sector of room for the move.
 * - swap-using-scratch (swap_scratch.c app_max_size_adjust_to_trailer): up to the trailer, which
 *   may share its first sector with the image's end; less padding when that sector holds less
 *   than the scratch's own trailer, which must fit beside the image when the sector is swapped.
 * The trailer is boot_trailer_sz: the status area (STATUS_STATES entries of one write unit for
 * each of BOOT_MAX_IMG_SECTORS sectors) and boot_trailer_info_sz. An encrypting build's two saved
 * ENC TLVs are counted at their largest, so the answer never exceeds MCUboot's whatever the key
 * kind. The primary and secondary slots have the same geometry on every Sealdrop board.
 */
export function maxImageSize(board: BoardConfig, slot: Flash): number {
	const t = trailerSizes(board, slot);
	if (board.swap === "overwrite") return t.layout.swapInfoOffset;
	if (board.swap === "move") return t.size - alignUp(t.trailer, t.sector) - t.sector;
	const trailerOffset = t.size - t.trailer;
	const firstTrailerSectorEnd = t.size - (Math.ceil(t.trailer / t.sector) - 1) * t.sector;
	const padding = Math.max(0, t.entry + t.info - (firstTrailerSectorEnd - trailerOffset));
	return trailerOffset - padding;
}

/**
 * The first erase block holding trailer bytes (boot_get_first_trailer_sector): the agent erases
 * it and those after it to cancel anything pending. It may also hold the image's end, which the
 * slot writer then writes without erasing it again.
 */
export function trailerFirstBlock(board: BoardConfig, slot: Flash): number {
	const t = trailerSizes(board, slot);
	return Math.floor((t.size - t.trailer) / t.sector);
}

/** boot_trailer_sz and its parts for the board's build and this slot's geometry (reference §D.1). */
function trailerSizes(board: BoardConfig, slot: Flash) {
	const { size, blockLength, writeAlign } = slot.status();
	const maxAlign = board.maxAlign ?? 8;
	const layout = trailerLayout({ slotSize: size, maxAlign });
	const info = size - layout.infoOffset + (board.installer === "mcuboot-encrypted" ? 2 * alignUp(MAX_ENC_TLV, maxAlign) : 0);
	const entry = board.swap === "overwrite" ? 0 : STATUS_STATES * writeAlign; // overwrite-only keeps no swap status
	return { size, sector: blockLength, layout, info, entry, trailer: (board.maxImgSectors ?? DEFAULT_MAX_IMG_SECTORS) * entry + info };
}
