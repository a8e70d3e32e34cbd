/**
 * The Flash native module (native/flash.c, native/lin/flash-lin.c) on the Linux XS host.
 *
 * The runner must set, in the environment of sealdrop-xs:
 *   SEALDROP_LAYOUT=boards/sim/layout.json  (the tests compare status() with that file)
 *   SEALDROP_FLASH=<a scratch file>          (created erased when missing; these tests erase what
 *                                            they use, so earlier contents do not matter)
 * and not SEALDROP_FLASH_FAIL_AT. E.g.
 *   SEALDROP_FLASH=/tmp/f.bin SEALDROP_LAYOUT=boards/sim/layout.json \
 *     build/xs/debug/sealdrop-xs build/js/test/xs-runner.js build/js/test/xs/flash.test.js
 * The tests write to the "scratch" and "journal" partitions only.
 */
import Flash from "sealdrop/native/flash";
import { readFile } from "sealdrop/xs-host";
import { bytesEqual, equal, ok, test, throws } from "../harness.js";

interface LayoutFile {
	flash: { size: number; blockLength: number; writeAlign: number; eraseValue?: number };
	partitions: { name: string; offset: number; size: number }[];
}

/** boards/sim/layout.json, read with JSON.parse (this file is build/js/test/xs/flash.test.js). */
function simLayout(): LayoutFile {
	const meta = import.meta as unknown as { url?: string; uri?: string };
	const here = meta.uri ?? decodeURIComponent((meta.url ?? "").replace(/^file:\/\//, ""));
	const root = here.split("/").slice(0, -5).join("/");
	return JSON.parse(new TextDecoder().decode(readFile(`${root}/boards/sim/layout.json`))) as LayoutFile;
}

function filled(length: number, value: number): Uint8Array {
	return new Uint8Array(length).fill(value);
}

function readBytes(flash: Flash, length: number, offset: number): Uint8Array {
	return new Uint8Array(flash.read(length, offset));
}

/** Runs fn on a freshly opened partition and closes it whatever happens. */
function withFlash(path: string, fn: (flash: Flash) => void): void {
	const flash = Flash.open({ path });
	try {
		fn(flash);
	} finally {
		flash.close();
	}
}

test("flash: new Flash() throws TypeError; open() is the way in", () => {
	const Constructor = Flash as unknown as new () => Flash;
	throws(() => new Constructor(), { type: TypeError });
	const flash = Flash.open({ path: "scratch" });
	ok(flash instanceof Flash);
	equal(flash.format, "buffer");
	throws(() => {
		flash.format = "number" as "buffer";
	}, { type: RangeError });
	flash.close();
});

test("flash: open refuses unknown partitions and bad options", () => {
	throws(() => Flash.open({ path: "nonesuch" }), /no partition "nonesuch"/);
	throws(() => Flash.open({ path: "" }), { type: RangeError });
	throws(() => Flash.open({ path: "x".repeat(200) }), { type: RangeError });
	const open = Flash.open as (options?: unknown) => Flash;
	throws(() => open(), { type: TypeError });
	throws(() => open(null), { type: TypeError });
	throws(() => open("scratch"), { type: TypeError });
	throws(() => open({}), { type: TypeError });
	throws(() => open({ path: 7 }), { type: TypeError });
	throws(() => open({ path: "scratch", mode: "w" }), { type: RangeError });
	throws(() => open({ path: "scratch", mode: 1 }), { type: RangeError });
});

test("flash: status() of every partition matches the board layout", () => {
	const layout = simLayout();
	for (const partition of layout.partitions) {
		withFlash(partition.name, (flash) => {
			const status = flash.status();
			equal(status.size, partition.size, `${partition.name} size`);
			equal(status.blockLength, layout.flash.blockLength, `${partition.name} blockLength`);
			equal(status.blocks, partition.size / layout.flash.blockLength, `${partition.name} blocks`);
			equal(status.writeAlign, layout.flash.writeAlign, `${partition.name} writeAlign`);
			equal(status.eraseValue, layout.flash.eraseValue ?? 0xff, `${partition.name} eraseValue`);
			ok(status !== flash.status(), "a fresh object each time");
		});
	}
});

test("flash: NOR rules: erase gives eraseValue, 1→0 writes, 0→1 refused", () => {
	withFlash("scratch", (flash) => {
		const { blockLength, eraseValue } = flash.status();
		equal(eraseValue, 0xff);
		flash.eraseBlock(0);
		bytesEqual(readBytes(flash, blockLength, 0), filled(blockLength, 0xff), "erased block");

		flash.write(filled(8, 0x0f), 0);
		bytesEqual(readBytes(flash, 8, 0), filled(8, 0x0f));
		flash.write(filled(8, 0x0e), 0); // clears one more bit: allowed
		flash.write(filled(8, 0x0e), 0); // the same bits again: allowed
		bytesEqual(readBytes(flash, 8, 0), filled(8, 0x0e));
		throws(() => flash.write(filled(8, 0x1e), 0), /needs an erase/, "0 → 1 without an erase");
		bytesEqual(readBytes(flash, 8, 0), filled(8, 0x0e), "a refused write changes nothing");

		// a write is refused as a whole: its good first half is not applied either
		flash.write(filled(8, 0x00), 16);
		const mixed = new Uint8Array(16);
		mixed.fill(0x00, 0, 8).fill(0x1f, 8, 16); // fine over erased bytes 8-15, not over 16-23
		throws(() => flash.write(mixed, 8), /needs an erase/);
		bytesEqual(readBytes(flash, 24, 0), new Uint8Array([...filled(8, 0x0e), ...filled(8, 0xff), ...filled(8, 0x00)]));

		flash.eraseBlock(0);
		bytesEqual(readBytes(flash, 16, 0), filled(16, 0xff), "erase restores eraseValue");
		flash.write(filled(8, 0xf0), 0);
		bytesEqual(readBytes(flash, 8, 0), filled(8, 0xf0), "writable again after the erase");
		flash.eraseBlock(0);
	});
});

test("flash: eraseBlock erases whole blocks, exactly the ones named", () => {
	withFlash("scratch", (flash) => {
		const { blockLength, blocks } = flash.status();
		ok(blocks >= 4);
		flash.eraseBlock(0, 4);
		const zeros = filled(8, 0);
		for (let block = 0; block < 4; block++) {
			flash.write(zeros, block * blockLength);
			flash.write(zeros, (block + 1) * blockLength - 8);
		}
		flash.eraseBlock(1);
		bytesEqual(readBytes(flash, blockLength, blockLength), filled(blockLength, 0xff), "block 1 erased");
		bytesEqual(readBytes(flash, 8, blockLength - 8), zeros, "end of block 0 kept");
		bytesEqual(readBytes(flash, 8, 2 * blockLength), zeros, "start of block 2 kept");

		flash.eraseBlock(2, 4); // end is exclusive
		bytesEqual(readBytes(flash, 2 * blockLength, 2 * blockLength), filled(2 * blockLength, 0xff), "blocks 2 and 3 erased");
		bytesEqual(readBytes(flash, 8, 0), zeros, "block 0 kept");
		flash.eraseBlock(0, undefined);
		bytesEqual(readBytes(flash, blockLength, 0), filled(blockLength, 0xff), "end undefined: one block");

		// the partition's last block, and a partition's erase does not reach its neighbour
		flash.eraseBlock(blocks - 1, blocks);
		withFlash("journal", (journal) => {
			journal.eraseBlock(0);
			journal.write(zeros, 0);
			flash.eraseBlock(blocks - 1);
			bytesEqual(readBytes(journal, 8, 0), zeros, "the next partition is untouched");
			journal.eraseBlock(0);
		});
	});
});

test("flash: reads, writes and erases past the end are refused", () => {
	withFlash("scratch", (flash) => {
		const { size, blocks, blockLength } = flash.status();
		flash.eraseBlock(blocks - 1);
		equal(readBytes(flash, 8, size - 8).length, 8, "the last bytes read");
		equal(flash.read(0, size).byteLength, 0, "an empty read at the end");
		throws(() => flash.read(1, size), { type: RangeError });
		throws(() => flash.read(16, size - 8), { type: RangeError });
		throws(() => flash.read(size + 1, 0), { type: RangeError });
		throws(() => flash.read(8, 2 ** 32 - 4), { type: RangeError });
		throws(() => flash.read(new Uint8Array(16), size - 8), { type: RangeError });

		flash.write(filled(8, 0x55), size - 8);
		throws(() => flash.write(filled(8, 0), size), { type: RangeError });
		throws(() => flash.write(filled(16, 0), size - 8), { type: RangeError });
		throws(() => flash.write(filled(8, 0), 2 ** 32 - 8), { type: RangeError });

		throws(() => flash.eraseBlock(blocks), { type: RangeError });
		throws(() => flash.eraseBlock(0, blocks + 1), { type: RangeError });
		throws(() => flash.eraseBlock(2, 2), { type: RangeError }, "an empty range");
		throws(() => flash.eraseBlock(3, 2), { type: RangeError }, "a backwards range");
		throws(() => flash.eraseBlock(2 ** 32 - 1), { type: RangeError });
		bytesEqual(readBytes(flash, 8, size - 8), filled(8, 0x55), "nothing erased");
		flash.eraseBlock(blocks - 1);
		equal(blockLength * blocks, size);
	});
});

test("flash: write offsets and lengths must be multiples of writeAlign", () => {
	withFlash("scratch", (flash) => {
		const { writeAlign } = flash.status();
		equal(writeAlign, 8);
		flash.eraseBlock(0);
		throws(() => flash.write(filled(writeAlign, 0), writeAlign / 2), /byteOffset 4 is not a multiple of writeAlign 8/);
		throws(() => flash.write(filled(writeAlign / 2, 0), 0), /length 4 is not a multiple of writeAlign 8/);
		throws(() => flash.write(filled(writeAlign + 1, 0), 0), { type: RangeError });
		throws(() => flash.write(filled(1, 0), 0), { type: RangeError });
		bytesEqual(readBytes(flash, 16, 0), filled(16, 0xff), "nothing written");
		flash.write(filled(2 * writeAlign, 0xa5), writeAlign);
		bytesEqual(readBytes(flash, 4 * writeAlign, 0), new Uint8Array([...filled(writeAlign, 0xff), ...filled(2 * writeAlign, 0xa5), ...filled(writeAlign, 0xff)]));
		flash.write(new Uint8Array(0), 0); // nothing to write: fine
		// reads have no alignment
		bytesEqual(readBytes(flash, 3, writeAlign - 1), new Uint8Array([0xff, 0xa5, 0xa5]));
		flash.eraseBlock(0);
	});
});

test("flash: write(buffer, byteOffset, bufferOffset, length) programs that range of the buffer", () => {
	withFlash("scratch", (flash) => {
		flash.eraseBlock(0);
		const data = Uint8Array.from({ length: 40 }, (_, i) => i);
		flash.write(data, 8, 4, 16);
		bytesEqual(readBytes(flash, 32, 0), new Uint8Array([...filled(8, 0xff), ...data.subarray(4, 20), ...filled(8, 0xff)]));
		flash.write(data, 32, 24); // bufferOffset alone: to the end of the buffer
		bytesEqual(readBytes(flash, 16, 32), data.subarray(24));
		flash.write(data.subarray(8), 48, 8, 8); // a range of a view is taken from the view's start
		bytesEqual(readBytes(flash, 8, 48), data.subarray(16, 24));
		throws(() => flash.write(data, 64, 36, 8), { type: RangeError }, "range past the buffer's end");
		throws(() => flash.write(data, 64, 41), { type: RangeError }, "bufferOffset past the end");
		throws(() => flash.write(data, 64, 0, 4), /length 4 is not a multiple of writeAlign 8/, "the length programmed must be aligned");
		throws(() => flash.write(data, 64, "0" as never, 8), { type: TypeError });
		bytesEqual(readBytes(flash, 16, 64), filled(16, 0xff), "refused writes wrote nothing");
		flash.eraseBlock(0);
	});
});

test("flash: read into a caller's buffer, views included", () => {
	withFlash("scratch", (flash) => {
		flash.eraseBlock(0);
		const data = Uint8Array.from({ length: 32 }, (_, i) => i);
		flash.write(data, 0);
		const into = new Uint8Array(16);
		equal(flash.read(into, 8), 16);
		bytesEqual(into, data.subarray(8, 24));
		const backing = new Uint8Array(24).fill(0xee);
		equal(flash.read(backing.subarray(4, 12), 0), 8, "into a subarray");
		bytesEqual(backing, new Uint8Array([...filled(4, 0xee), ...data.subarray(0, 8), ...filled(12, 0xee)]));
		const view = new DataView(new ArrayBuffer(8));
		equal(flash.read(view, 24), 8);
		equal(view.getUint8(7), 31);
		const buffer = new ArrayBuffer(4);
		equal(flash.read(buffer, 1), 4);
		bytesEqual(new Uint8Array(buffer), data.subarray(1, 5));
		// writes take views too: a DataView over erased bytes
		flash.write(new DataView(new Uint8Array(8).buffer), 32);
		bytesEqual(readBytes(flash, 8, 32), filled(8, 0));
		flash.eraseBlock(0);
	});
});

test("flash: read(buffer, byteOffset, bufferOffset, length) fills that range of the buffer, and no other byte", () => {
	withFlash("scratch", (flash) => {
		flash.eraseBlock(0);
		const data = Uint8Array.from({ length: 32 }, (_, i) => i);
		flash.write(data, 0);
		const into = new Uint8Array(16).fill(0xee);
		equal(flash.read(into, 3, 5, 6), 6, "the bytes read");
		bytesEqual(into, new Uint8Array([...filled(5, 0xee), ...data.subarray(3, 9), ...filled(5, 0xee)]));
		equal(flash.read(into, 20, 12), 4, "bufferOffset alone: to the end of the buffer");
		bytesEqual(into.subarray(12), data.subarray(20, 24));
		const backing = new Uint8Array(12).fill(0xee);
		equal(flash.read(backing.subarray(4), 0, 2, 3), 3, "a range of a view is taken from the view's start");
		bytesEqual(backing, new Uint8Array([...filled(6, 0xee), ...data.subarray(0, 3), ...filled(3, 0xee)]));
		equal(flash.read(into, 0, 16, 0), 0, "an empty range at the end");
		into.fill(0xee);
		throws(() => flash.read(into, 0, 10, 7), { type: RangeError }, "a range past the buffer's end");
		throws(() => flash.read(into, 0, 17), { type: RangeError }, "bufferOffset past the end");
		throws(() => flash.read(into, flash.status().size - 2, 0, 4), { type: RangeError }, "a range past the partition's end");
		throws(() => flash.read(into, 0, "1" as never, 2), { type: TypeError });
		bytesEqual(into, filled(16, 0xee), "refused reads filled nothing");
		flash.eraseBlock(0);
	});
});

test("flash: wrong argument types are TypeErrors, bad numbers RangeErrors", () => {
	withFlash("scratch", (flash) => {
		const anyFlash = flash as unknown as Record<string, (...args: unknown[]) => unknown>;
		const read = (...args: unknown[]) => anyFlash.read.apply(flash, args);
		const write = (...args: unknown[]) => anyFlash.write.apply(flash, args);
		const eraseBlock = (...args: unknown[]) => anyFlash.eraseBlock.apply(flash, args);
		throws(() => read(), { type: TypeError });
		throws(() => read(8), { type: TypeError }, "no byteOffset");
		throws(() => read("8", 0), { type: TypeError });
		throws(() => read(8, "0"), { type: TypeError });
		throws(() => read(8, { valueOf: () => 0 }), { type: TypeError });
		throws(() => read(8n, 0), { type: TypeError });
		throws(() => read(null, 0), { type: TypeError });
		throws(() => read({}, 0), { type: TypeError });
		throws(() => read(new Uint32Array(2), 0), { type: TypeError });
		throws(() => read(-1, 0), { type: RangeError });
		throws(() => read(1.5, 0), { type: RangeError });
		throws(() => read(8, NaN), { type: RangeError });
		throws(() => read(8, -8), { type: RangeError });
		throws(() => read(8, Infinity), { type: RangeError });
		throws(() => write("abcdefgh", 0), { type: TypeError });
		throws(() => write([0, 0, 0, 0, 0, 0, 0, 0], 0), { type: TypeError });
		throws(() => write(new Uint16Array(4), 0), { type: TypeError });
		throws(() => write(filled(8, 0), undefined), { type: TypeError });
		throws(() => write(filled(8, 0), 8.5), { type: RangeError });
		throws(() => eraseBlock(), { type: TypeError });
		throws(() => eraseBlock("0"), { type: TypeError });
		throws(() => eraseBlock(0, "1"), { type: TypeError });
		throws(() => eraseBlock(0.5), { type: RangeError });
		throws(() => eraseBlock(-1), { type: RangeError });

		// another host object is no buffer, whatever byteLength it claims
		withFlash("journal", (other) => {
			Object.defineProperty(other, "byteLength", { value: 1 << 20 });
			throws(() => write(other, 0), { type: TypeError });
			throws(() => read(other, 0), { type: TypeError });
		});
		// nor is a Flash method called on something else
		throws(() => (Flash.prototype.read as (...args: unknown[]) => unknown).call({}, 8, 0));
		throws(() => Flash.prototype.status.call(new Uint8Array(8)));
		flash.read(8, 0); // still usable
	});
});

test("flash: a closed handle throws; close() again does nothing", () => {
	const flash = Flash.open({ path: "scratch" });
	flash.close();
	throws(() => flash.read(8, 0), { message: /closed/, code: "E_STATE" });
	throws(() => flash.read(new Uint8Array(8), 0), { message: /closed/, code: "E_STATE" });
	throws(() => flash.write(filled(8, 0), 0), { message: /closed/, code: "E_STATE" });
	throws(() => flash.eraseBlock(0), { message: /closed/, code: "E_STATE" });
	throws(() => flash.status(), { message: /closed/, code: "E_STATE" });
	flash.close();
	const again = Flash.open({ path: "scratch" });
	equal(again.read(8, 0).byteLength, 8, "the partition opens again");
	again.close();
});

test("flash: mode \"r\" reads but refuses writes and erases", () => {
	const reader = Flash.open({ path: "scratch", mode: "r" });
	try {
		withFlash("scratch", (writer) => {
			writer.eraseBlock(0);
			writer.write(filled(8, 0x3c), 0);
			bytesEqual(readBytes(reader, 8, 0), filled(8, 0x3c), "one flash behind both handles");
			throws(() => reader.write(filled(8, 0), 8), { message: /read-only/, code: "E_STATE" });
			throws(() => reader.eraseBlock(0), { message: /read-only/, code: "E_STATE" });
			bytesEqual(readBytes(writer, 8, 0), filled(8, 0x3c));
			writer.eraseBlock(0);
		});
	} finally {
		reader.close();
	}
	const explicit = Flash.open({ path: "scratch", mode: "r+" });
	explicit.eraseBlock(0);
	explicit.close();
});

test("flash: operations counts the writes and erases that reach the flash", () => {
	withFlash("scratch", (flash) => {
		const before = Flash.operations;
		equal(typeof before, "number");
		flash.eraseBlock(0, 2);
		equal(Flash.operations, before + 1, "one per eraseBlock call");
		flash.write(filled(16, 0), 0);
		equal(Flash.operations, before + 2, "one per write call");
		throws(() => flash.write(filled(8, 0xff), 0), /needs an erase/);
		equal(Flash.operations, before + 3, "a refused NOR write reached the flash");
		throws(() => flash.write(filled(4, 0), 0), { type: RangeError });
		throws(() => flash.eraseBlock(1 << 20), { type: RangeError });
		flash.write(new Uint8Array(0), 0);
		flash.read(16, 0);
		equal(Flash.operations, before + 3, "argument errors, empty writes and reads do not count");
		flash.eraseBlock(0);
		throws(() => {
			(Flash as unknown as { operations: number }).operations = 0;
		});
	});
});
