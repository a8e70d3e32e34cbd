/**
 * SlotWriter (modules/update/slot-writer.ts) on XS: bytes handed over as (buffer, offset, length)
 * ranges of any size and alignment land in flash as written, each block reported once with the
 * SHA-256 of its bytes. Writes the "scratch" partition of boards/sim/layout.json (4 KiB blocks,
 * 8-byte write units), erasing it first.
 */
import Flash from "sealdrop/native/flash";
import { SlotWriter } from "sealdrop/update/slot-writer";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesEqual, equal, test } from "../harness.js";

test("slot writer: ranges of odd sizes and offsets are written as given, a block digest per whole block", () => {
	const flash = Flash.open({ path: "scratch" });
	try {
		const { blockLength, blocks } = flash.status();
		flash.eraseBlock(0, blocks);
		const data = new Uint8Array(3 * blockLength + 1000).map((_, i) => (i * 151 + 17) & 0xff);
		// a buffer holding the data from offset 5, so no range starts at its start
		const buffer = new Uint8Array(data.length + 10);
		buffer.set(data, 5);
		const reported: [number, Uint8Array][] = [];
		const writer = new SlotWriter(flash, 0, (block, digest) => reported.push([block, digest.slice()]));
		const sizes = [1, 3, 7, 8, 13, 4093, 9, 4096, 5000];
		let at = 0;
		for (let i = 0; at < data.length; i++) {
			const n = Math.min(sizes[i % sizes.length], data.length - at);
			writer.write(buffer, 5 + at, n);
			at += n;
			equal(writer.position, at);
		}
		writer.flush();
		writer.close();
		bytesEqual(new Uint8Array(flash.read(data.length, 0)), data, "the bytes in flash");
		bytesEqual(new Uint8Array(flash.read(8, data.length)), new Uint8Array(8).fill(0xff), "nothing past them but the last unit's padding");
		equal(reported.length, 3, "one report per whole block, none for the partial last one");
		for (const [k, [block, digest]] of reported.entries()) {
			equal(block, k);
			bytesEqual(digest, sha256(data.subarray(k * blockLength, (k + 1) * blockLength)), `block ${k}'s digest`);
		}
		flash.eraseBlock(0, blocks);
	} finally {
		flash.close();
	}
});
