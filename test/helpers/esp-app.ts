/**
 * ESP-IDF app images made in Node the way esptool's elf2image lays them out (header, segments,
 * 16-byte aligned XOR checksum, appended SHA-256), so the device code is checked against an
 * independent writer. Used by the ESP-IDF model tests and the esp-idf installer's tests.
 */
import { createHash } from "node:crypto";

export interface ImageSpec {
	version?: string;
	project?: string;
	secureVersion?: number;
	chipId?: number;
	hashAppended?: boolean;
	/** Data length of each segment; segment 0 starts with the 256-byte esp_app_desc_t. */
	segments?: number[];
	/** Overrides the header's segment count. */
	segmentCount?: number;
	/** Overrides one segment header's data_len (the data itself keeps its real length). */
	lengthOverride?: { index: number; value: number };
	descMagic?: number;
	/** XOR-ed into the stored checksum byte (the hash is then computed over the wrong byte). */
	checksumDelta?: number;
	seed?: number;
}

/** Filler bytes that differ per image and segment (a small LCG). */
function filler(length: number, seed: number): Buffer {
	const out = Buffer.alloc(length);
	let x = seed >>> 0;
	for (let i = 0; i < length; i++) {
		x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
		out[i] = x >>> 24;
	}
	return out;
}

function appDescription(spec: ImageSpec): Buffer {
	const desc = Buffer.alloc(256);
	desc.writeUInt32LE(spec.descMagic ?? 0xabcd5432, 0);
	desc.writeUInt32LE(spec.secureVersion ?? 0, 4);
	desc.write(spec.version ?? "1.0.0", 16, 32, "latin1"); // char[32]: a 32-character version has no NUL
	desc.write(spec.project ?? "sealdrop-app", 48, 32, "latin1");
	desc.write("12:00:00", 80, 15, "latin1");
	desc.write("Jan  1 2026", 96, 15, "latin1");
	desc.write("v5.4", 112, 31, "latin1");
	return desc;
}

export function makeEspApp(spec: ImageSpec = {}): Buffer {
	const lengths = spec.segments ?? [1024, 2048, 512];
	const header = Buffer.alloc(24);
	header[0] = 0xe9;
	header[1] = spec.segmentCount ?? lengths.length;
	header[2] = 2; // DIO
	header[3] = 0x20; // 4 MB, 40 MHz
	header.writeUInt32LE(0x40081000, 4);
	header[8] = 0xee; // wp_pin disabled
	header.writeUInt16LE(spec.chipId ?? 0, 12);
	header.writeUInt16LE(399, 17); // max_chip_rev_full, as esptool writes for the ESP32
	header[23] = spec.hashAppended === false ? 0 : 1;
	const parts: Buffer[] = [header];
	let checksum = 0xef;
	lengths.forEach((length, index) => {
		const data = filler(length, (spec.seed ?? 1) * 101 + index);
		if (index === 0) appDescription(spec).copy(data, 0, 0, Math.min(256, length));
		const segmentHeader = Buffer.alloc(8);
		segmentHeader.writeUInt32LE(index === 0 ? 0x3f400020 : 0x40080000 + index * 0x1000, 0);
		segmentHeader.writeUInt32LE(spec.lengthOverride?.index === index ? spec.lengthOverride.value : length, 4);
		for (const byte of data) checksum ^= byte;
		parts.push(segmentHeader, data);
	});
	const body = Buffer.concat(parts);
	const block = Buffer.alloc(((body.length + 1 + 15) & ~15) - body.length); // esptool: align to 15 mod 16, then the checksum byte
	block[block.length - 1] = checksum ^ (spec.checksumDelta ?? 0);
	const image = Buffer.concat([body, block]);
	return spec.hashAppended === false ? image : Buffer.concat([image, createHash("sha256").update(image).digest()]);
}

