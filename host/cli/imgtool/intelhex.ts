/**
 * Intel HEX in and out, as imgtool 2.4 uses it through the Python `intelhex` package (2.3.0):
 * `IntelHex(path).tobinarray()` to read (gaps filled with 0xff, starting at the lowest address) and
 * `IntelHex.write_hex_file()` to write (16-byte data records that stop at holes and 64 KiB
 * boundaries, a type-04 extended linear address record before each 64 KiB segment when any
 * address is above 0xffff, no start address record, ":00000001FF" at the end, "\n" line ends).
 */
import { fail } from "sealdrop/image";

/** Sparse memory: address → byte, the model `intelhex` keeps. */
export type HexMemory = Map<number, number>;

/** Whether a file name means Intel HEX to imgtool (image.py load/save: extension "hex", any case). */
export function isHexPath(path: string): boolean {
	return /\.hex$/i.test(path);
}

/**
 * Parses Intel HEX (record types 00-05) as `intelhex` does. Malformed text, a bad checksum, a byte
 * written twice with different values or a missing end record is refused with HEX_ERROR.
 */
export function parseIntelHex(text: string, source: string): HexMemory {
	const memory: HexMemory = new Map();
	let base = 0;
	let sawEof = false;
	const lines = text.split(/\r?\n/);
	for (let n = 0; n < lines.length; n++) {
		const line = lines[n].trim();
		if (!line) continue;
		const where = `${source}:${n + 1}`;
		if (sawEof) break; // intelhex stops reading at the EOF record
		if (!/^:([0-9a-fA-F]{2})+$/.test(line) || line.length < 11) fail(HEX_ERROR, `${where}: not an Intel HEX record`);
		const rec = Buffer.from(line.slice(1), "hex");
		const length = rec[0];
		if (rec.length !== length + 5) fail(HEX_ERROR, `${where}: record length ${length} disagrees with the line`);
		if (rec.reduce((s, b) => (s + b) & 0xff, 0) !== 0) fail(HEX_ERROR, `${where}: bad checksum`);
		const offset = rec.readUInt16BE(1);
		const type = rec[3];
		const data = rec.subarray(4, 4 + length);
		switch (type) {
			case 0:
				for (let i = 0; i < length; i++) {
					const address = base + offset + i;
					if (memory.has(address) && memory.get(address) !== data[i]) fail(HEX_ERROR, `${where}: address 0x${address.toString(16)} is written twice`);
					memory.set(address, data[i]);
				}
				break;
			case 1:
				sawEof = true;
				break;
			case 2:
				if (length !== 2) fail(HEX_ERROR, `${where}: bad extended segment address record`);
				base = data.readUInt16BE(0) * 16;
				break;
			case 4:
				if (length !== 2) fail(HEX_ERROR, `${where}: bad extended linear address record`);
				base = data.readUInt16BE(0) * 65536;
				break;
			case 3: case 5:
				if (length !== 4) fail(HEX_ERROR, `${where}: bad start address record`);
				break; // a start address: imgtool does not carry it into its output
			default:
				fail(HEX_ERROR, `${where}: unknown record type ${type}`);
		}
	}
	if (!sawEof) fail(HEX_ERROR, `${source}: no end-of-file record`);
	return memory;
}

/** The error code for malformed Intel HEX: bad input, like a malformed image. */
const HEX_ERROR = "E_HEX" as const;

/** `tobinarray()`: the bytes from the lowest to the highest address, gaps filled with 0xff; and that lowest address. */
export function hexToBinary(memory: HexMemory): { data: Buffer; baseAddr: number } {
	if (memory.size === 0) return { data: Buffer.alloc(0), baseAddr: 0 };
	const addresses = [...memory.keys()];
	const min = Math.min(...addresses);
	const max = Math.max(...addresses);
	const data = Buffer.alloc(max - min + 1, 0xff);
	for (const [a, b] of memory) data[a - min] = b;
	return { data, baseAddr: min };
}

/** `frombytes(bytes, offset)` / `puts(address, bytes)`. */
export function putBytes(memory: HexMemory, address: number, bytes: Uint8Array): void {
	bytes.forEach((b, i) => memory.set(address + i, b));
}

function record(bytes: number[]): string {
	const sum = bytes.reduce((s, b) => s + b, 0);
	return ":" + Buffer.from([...bytes, (-sum) & 0xff]).toString("hex").toUpperCase() + "\n";
}

/** `write_hex_file(f, byte_count=16)`, record for record. */
export function formatIntelHex(memory: HexMemory): string {
	const addresses = [...memory.keys()].sort((a, b) => a - b);
	const out: string[] = [];
	if (addresses.length) {
		const maxaddr = addresses[addresses.length - 1];
		const needOffsetRecord = maxaddr > 0xffff;
		let curAddr = addresses[0];
		let curIx = 0;
		outer: while (curAddr <= maxaddr) {
			let highOfs = 0;
			if (needOffsetRecord) {
				highOfs = Math.floor(curAddr / 65536);
				out.push(record([2, 0, 0, 4, highOfs >> 8, highOfs & 0xff]));
			}
			for (;;) {
				const lowAddr = curAddr & 0xffff;
				const span = Math.min(15, 0xffff - lowAddr, maxaddr - curAddr);
				// bytes present from curAddr on, up to span + 1 of them, stopping at the first hole
				let chain = 0;
				while (chain <= span && memory.has(curAddr + chain)) chain++;
				const data: number[] = [];
				for (let i = 0; i < chain; i++) data.push(memory.get(curAddr + i)!);
				out.push(record([chain, lowAddr >> 8, lowAddr & 0xff, 0, ...data]));
				curIx += chain;
				if (curIx >= addresses.length) break outer;
				curAddr = addresses[curIx];
				if (Math.floor(curAddr / 65536) > highOfs) break;
			}
		}
	}
	out.push(":00000001FF\n");
	return out.join("");
}
