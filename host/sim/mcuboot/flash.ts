/**
 * The flash under the MCUboot model: a partition as bootutil's `struct flash_area` (MCUboot's
 * flash_map_backend: flash_area_read, _write, _erase, _align, _erased_val), erasing as
 * bootutil_area.c boot_erase_region does (one flash_area_erase per sector), boot_scramble_slot,
 * and bootutil_public.c bootutil_buffer_is_erased. Every other file of the model touches flash
 * only through this one, so the sequence of flash operations, which is what a power-cut test
 * counts, is MCUboot's.
 */
import Flash from "sealdrop/native/flash";
import { fail } from "sealdrop/image";

/** loader.c BUF_SZ: boot_copy_region moves data in chunks of this many bytes, one write each. */
export const COPY_CHUNK = 1024;

/** One flash partition, as MCUboot sees a flash area: uniform sectors of the flash's erase block. */
export class Area {
	readonly name: string;
	readonly size: number;
	readonly sectorSize: number;
	/** flash_area_align(): the write size. */
	readonly align: number;
	readonly erasedVal: number;
	readonly #flash: Flash;

	constructor(name: string) {
		this.name = name;
		try {
			this.#flash = Flash.open({ path: name });
		} catch (e) {
			fail("E_FLASH", `cannot open flash partition "${name}": ${(e as Error).message}`);
		}
		const status = this.#flash.status();
		this.size = status.size;
		this.sectorSize = status.blockLength;
		this.align = status.writeAlign;
		this.erasedVal = status.eraseValue;
	}

	get sectorCount(): number {
		return this.size / this.sectorSize;
	}

	/** boot_img_sector_off(): all sectors have the same size on this flash. */
	sectorOff(index: number): number {
		if (index < 0 || index >= this.sectorCount) fail("E_STATE", `MCUboot would read past the sectors of "${this.name}" (sector ${index})`);
		return index * this.sectorSize;
	}

	read(offset: number, length: number): Uint8Array {
		const out = new Uint8Array(length);
		this.readInto(out, offset);
		return out;
	}

	/** Fills `into` from `offset` without allocating. */
	readInto(into: Uint8Array, offset: number): void {
		if (into.length === 0) return;
		if (offset < 0 || offset + into.length > this.size) fail("E_FLASH", `read of ${into.length} bytes at ${offset} is outside "${this.name}"`);
		this.#flash.read(into, offset);
	}

	write(offset: number, bytes: Uint8Array): void {
		try {
			this.#flash.write(bytes, offset);
		} catch (e) {
			fail("E_FLASH", `flash write of ${bytes.length} bytes at ${offset} of "${this.name}" failed: ${(e as Error).message}`);
		}
	}

	/** flash_area_erase() of one sector. */
	eraseSector(offset: number): void {
		try {
			this.#flash.eraseBlock(offset / this.sectorSize);
		} catch (e) {
			fail("E_FLASH", `flash erase at ${offset} of "${this.name}" failed: ${(e as Error).message}`);
		}
	}

	/** bootutil_buffer_is_erased: every byte is the erased value, and an empty buffer is not erased. */
	isErased(bytes: Uint8Array): boolean {
		if (bytes.length === 0) return false;
		for (let i = 0; i < bytes.length; i++) if (bytes[i] !== this.erasedVal) return false;
		return true;
	}

	close(): void {
		this.#flash.close();
	}
}

/**
 * boot_erase_region (bootutil_area.c): erases every sector touching [off, off + size), one
 * flash_area_erase per sector, from the lowest up or, with `backwards`, from the highest down.
 * On NOR flash boot_scramble_region is the same call.
 */
export function eraseRegion(area: Area, off: number, size: number, backwards = false): void {
	if (size === 0) return; // boot_scramble_region skips empty ranges; boot_erase_region is never called with one
	if (off >= area.size || area.size - off < size) fail("E_FLASH", `erase of ${size} bytes at ${off} is outside "${area.name}"`);
	const first = Math.floor(off / area.sectorSize);
	const last = Math.floor((off + size - 1) / area.sectorSize);
	if (backwards) for (let s = last; s >= first; s--) area.eraseSector(s * area.sectorSize);
	else for (let s = first; s <= last; s++) area.eraseSector(s * area.sectorSize);
}

/** boot_scramble_slot (bootutil_area.c) without MCUBOOT_MINIMAL_SCRAMBLE: the whole area, forwards. */
export function scrambleSlot(area: Area): void {
	eraseRegion(area, 0, area.size, false);
}
