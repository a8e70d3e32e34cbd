/**
 * The image trailer at the end of a slot (reference §D): layout, magic, reading the fields of
 * imgtool's --pad --confirm image, the swap-type table and imgtool's trailer-size estimate.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
	BOOT_MAGIC_SIZE, bootMagic, FLAG_SET, imgtoolTrailerSize, parseImage, readTrailer, SwapType, swapTypeFor, swapTypeName,
	trailerLayout, type FlagState, type MagicState, type TrailerState,
} from "sealdrop/image";
import { expectCode, hex, unhex, vectorCase } from "../helpers/vectors.js";

const MAGIC8 = "77 c2 95 f3 60 d2 ef 7f 35 52 50 0f 2c b6 79 80";
const MAGIC_TAIL = "2d e1 5d 29 41 0b 8d 77 67 9c 11 0f 1f 8a";

test("boot magic: the fixed 16 bytes for max-align 8, u16 align + tail otherwise (§D.2)", () => {
	assert.equal(BOOT_MAGIC_SIZE, 16);
	assert.equal(hex(bootMagic()), hex(unhex(MAGIC8)));
	assert.equal(hex(bootMagic(8)), hex(unhex(MAGIC8)));
	assert.equal(hex(bootMagic(16)), hex(unhex("10 00" + MAGIC_TAIL)));
	assert.equal(hex(bootMagic(32)), hex(unhex("20 00" + MAGIC_TAIL)));
	assert.ok(hex(bootMagic(32)).startsWith("20002de1"));
	const a = bootMagic();
	a[0] = 0;
	assert.equal(hex(bootMagic()), hex(unhex(MAGIC8)), "bootMagic returns a copy");
	assert.equal(vectorCase("pad_confirm").sidecar.expected.trailer?.magic_hex, hex(bootMagic(8)));
});

test("trailer layout for max-align 8: magic S-16, image_ok S-24, copy_done S-32, swap_info S-40, swap_size S-48", () => {
	for (const S of [0x60000, 0x1000, 4096 * 3, 128]) {
		const l = trailerLayout({ slotSize: S });
		assert.equal(l.slotSize, S);
		assert.equal(l.maxAlign, 8);
		assert.equal(l.magicOffset, S - 16);
		assert.equal(l.magicBlockOffset, S - 16);
		assert.equal(l.imageOkOffset, S - 24);
		assert.equal(l.copyDoneOffset, S - 32);
		assert.equal(l.swapInfoOffset, S - 40);
		assert.equal(l.swapSizeOffset, S - 48);
		assert.equal(l.encKeyOffsets, null);
		assert.equal(l.infoOffset, S - 48);
		assert.equal(hex(l.magic), hex(unhex(MAGIC8)));
		assert.deepEqual(trailerLayout({ slotSize: S, maxAlign: 8 }), l);
	}
});

test("trailer layout for max-align 16 and 32 (image_ok at S-64 for 32)", () => {
	const S = 0x60000;
	const l16 = trailerLayout({ slotSize: S, maxAlign: 16 });
	assert.deepEqual(
		[l16.magicOffset, l16.magicBlockOffset, l16.imageOkOffset, l16.copyDoneOffset, l16.swapInfoOffset, l16.swapSizeOffset],
		[S - 16, S - 16, S - 32, S - 48, S - 64, S - 80],
	);
	assert.equal(hex(l16.magic), hex(unhex("10 00" + MAGIC_TAIL)));
	const l32 = trailerLayout({ slotSize: S, maxAlign: 32 });
	assert.deepEqual(
		[l32.magicOffset, l32.magicBlockOffset, l32.imageOkOffset, l32.copyDoneOffset, l32.swapInfoOffset, l32.swapSizeOffset],
		[S - 16, S - 32, S - 64, S - 96, S - 128, S - 160],
	);
	assert.equal(hex(l32.magic), hex(unhex("20 00" + MAGIC_TAIL)));
});

test("trailer layout with encryption keys: slot 0's key right below swap_size, slot 1's below that", () => {
	const S = 0x60000;
	assert.deepEqual(trailerLayout({ slotSize: S, encKeySize: 16 }).encKeyOffsets, [S - 64, S - 80]);
	assert.equal(trailerLayout({ slotSize: S, encKeySize: 16 }).infoOffset, S - 80);
	assert.deepEqual(trailerLayout({ slotSize: S, encKeySize: 32 }).encKeyOffsets, [S - 80, S - 112]);
	assert.deepEqual(trailerLayout({ slotSize: S, maxAlign: 32, encKeySize: 16 }).encKeyOffsets, [S - 192, S - 224]);
	assert.deepEqual(trailerLayout({ slotSize: S, maxAlign: 32, encKeySize: 32 }).encKeyOffsets, [S - 192, S - 224]);
	assert.equal(trailerLayout({ slotSize: S, encKeySize: 0 }).encKeyOffsets, null);
});

test("trailer layout rejects: max-align not 8/16/32 → E_USAGE; slot too small → E_TOO_LARGE", () => {
	for (const maxAlign of [1, 2, 4, 12, 64]) expectCode(() => trailerLayout({ slotSize: 0x1000, maxAlign }), "E_USAGE", `max-align ${maxAlign}`);
	expectCode(() => trailerLayout({ slotSize: 40 }), "E_TOO_LARGE", "40-byte slot");
	assert.equal(trailerLayout({ slotSize: 48 }).swapSizeOffset, 0);
	expectCode(() => trailerLayout({ slotSize: 64, encKeySize: 16 }), "E_TOO_LARGE", "64-byte slot with keys");
});

/** The pad_confirm vector: 0x60000 bytes, magic at S-16, image_ok 0x01 at S-24, the rest erased. */
function padConfirm(): { bytes: Uint8Array; S: number } {
	const c = vectorCase("pad_confirm");
	const bytes = c.bytes();
	assert.equal(bytes.length, c.sidecar.expected.slot_size);
	return { bytes, S: bytes.length };
}

test("pad_confirm vector: imgtool wrote magic and image_ok and nothing else after the image", () => {
	const { bytes, S } = padConfirm();
	const t = vectorCase("pad_confirm").sidecar.expected.trailer!;
	assert.equal(t.max_align, 8);
	assert.equal(hex(bytes.subarray(S - 16)), t.magic_hex);
	assert.equal(bytes[S - 24], t.image_ok);
	const end = parseImage(bytes).size;
	for (let i = end; i < S; i++) {
		if (i >= S - 16 || i === S - 24) continue;
		if (bytes[i] !== t.erased_val) assert.fail(`byte at ${i} is 0x${bytes[i].toString(16)}, expected erased`);
	}
});

test("readTrailer on the pad_confirm tail: magic good, image_ok set, the rest unset", () => {
	const { bytes, S } = padConfirm();
	const layout = trailerLayout({ slotSize: S, maxAlign: 8 });
	const expected: TrailerState = { magic: "good", imageOk: "set", copyDone: "unset", swapInfo: null, swapSize: null };
	for (const tailLength of [48, 64, 4096, S]) assert.deepEqual(readTrailer(bytes.subarray(S - tailLength), layout), expected, `tail of ${tailLength}`);
	// the tail must reach down to swap_size
	expectCode(() => readTrailer(bytes.subarray(S - 47), layout), "E_TRUNCATED", "47-byte tail");
	// read with a max-align 32 layout the magic is wrong
	assert.equal(readTrailer(bytes.subarray(S - 4096), trailerLayout({ slotSize: S, maxAlign: 32 })).magic, "bad");
});

test("pad_confirm in the secondary slot with an erased primary → BOOT_SWAP_TYPE_PERM", () => {
	const { bytes, S } = padConfirm();
	const layout = trailerLayout({ slotSize: S });
	const secondary = readTrailer(bytes.subarray(S - 64), layout);
	const primary = readTrailer(new Uint8Array(64).fill(0xff), layout);
	assert.deepEqual(primary, { magic: "unset", imageOk: "unset", copyDone: "unset", swapInfo: null, swapSize: null });
	assert.equal(swapTypeFor(primary, secondary), SwapType.PERM);
	assert.equal(SwapType.PERM, 3);
	assert.equal(swapTypeName(swapTypeFor(primary, secondary)), "PERM");
});

test("variants of the pad_confirm tail: --pad (image_ok erased) → TEST, image_ok 0x02 → bad → NONE, magic damaged → NONE", () => {
	const { bytes, S } = padConfirm();
	const layout = trailerLayout({ slotSize: S });
	const erased = readTrailer(new Uint8Array(48).fill(0xff), layout);
	const variant = (edit: (tail: Uint8Array) => void) => {
		const tail = bytes.slice(S - 48);
		edit(tail);
		return readTrailer(tail, layout);
	};
	const pending = variant((t) => (t[48 - 24] = 0xff));
	assert.equal(pending.imageOk, "unset");
	assert.equal(swapTypeFor(erased, pending), SwapType.TEST);
	const bad = variant((t) => (t[48 - 24] = 0x02));
	assert.equal(bad.imageOk, "bad");
	assert.equal(swapTypeFor(erased, bad), SwapType.NONE);
	const damaged = variant((t) => (t[47] ^= 1));
	assert.equal(damaged.magic, "bad");
	assert.equal(swapTypeFor(erased, damaged), SwapType.NONE);
});

test("readTrailer decodes copy_done, swap_info nibbles and the LE swap_size; erased value 0x00", () => {
	for (const erasedVal of [0xff, 0x00]) {
		const S = 0x2000;
		const layout = trailerLayout({ slotSize: S });
		const tail = new Uint8Array(256).fill(erasedVal);
		const base = S - tail.length;
		tail.set(unhex(MAGIC8), S - 16 - base);
		tail[S - 24 - base] = 0x01;
		tail[S - 32 - base] = 0x01;
		tail[S - 40 - base] = 0x13; // image 1, PERM
		tail.set(unhex("00 10 02 00"), S - 48 - base);
		assert.deepEqual(readTrailer(tail, layout, erasedVal), {
			magic: "good", imageOk: "set", copyDone: "set", swapInfo: { imageNumber: 1, swapType: 3 }, swapSize: 0x21000,
		}, `erased 0x${erasedVal.toString(16)}`);
		// the erased value itself reads as unset; a byte that is neither 0x01 nor erased is bad
		tail[S - 24 - base] = erasedVal;
		tail[S - 32 - base] = 0x7f;
		const state = readTrailer(tail, layout, erasedVal);
		assert.equal(state.imageOk, "unset");
		assert.equal(state.copyDone, "bad");
		// swap_size of all-zero bytes is 0 when erased is 0xff, but "unset" when erased is 0x00
		tail.fill(0, S - 48 - base, S - 44 - base);
		assert.equal(readTrailer(tail, layout, erasedVal).swapSize, erasedVal === 0 ? null : 0);
	}
	assert.equal(FLAG_SET, 0x01);
});

test("readTrailer with max-align 32 reads image_ok at S-64", () => {
	const S = 0x4000;
	const layout = trailerLayout({ slotSize: S, maxAlign: 32 });
	const tail = new Uint8Array(160).fill(0xff);
	tail.set(unhex("20 00" + MAGIC_TAIL), 160 - 16);
	tail[160 - 64] = 0x01;
	const state = readTrailer(tail, layout);
	assert.equal(state.magic, "good");
	assert.equal(state.imageOk, "set");
	tail[160 - 64] = 0xff;
	tail[160 - 24] = 0x01; // where max-align 8 would put it
	assert.equal(readTrailer(tail, layout).imageOk, "unset");
	expectCode(() => readTrailer(tail.subarray(1), layout), "E_TRUNCATED");
});

/* §D.5, transcribed: rows are tried in order, first match wins; null = any. Row 0 is swap-offset only. */
type Row = { pm: MagicState | null; sm: MagicState | null; pok: FlagState | null; sok: FlagState | null; pcd: FlagState | null; result: number };
const TABLE: Row[] = [
	{ pm: null, sm: "good", pok: null, sok: "unset", pcd: null, result: 2 },
	{ pm: null, sm: "good", pok: null, sok: "set", pcd: null, result: 3 },
	{ pm: "good", sm: null, pok: "unset", sok: null, pcd: "set", result: 4 },
];

function tableSwapType(p: TrailerState, s: TrailerState): number {
	for (const r of TABLE) {
		if ((r.pm === null || r.pm === p.magic) && (r.sm === null || r.sm === s.magic) && (r.pok === null || r.pok === p.imageOk)
			&& (r.sok === null || r.sok === s.imageOk) && (r.pcd === null || r.pcd === p.copyDone)) return r.result;
	}
	return 1;
}

test("swapTypeFor follows the §D.5 table for every combination of magic/image_ok/copy_done states", () => {
	const magics: MagicState[] = ["good", "unset", "bad"];
	const flags: FlagState[] = ["set", "unset", "bad"];
	let count = 0;
	for (const pm of magics) for (const sm of magics) for (const pok of flags) for (const sok of flags) for (const pcd of flags) for (const scd of flags) {
		const primary: TrailerState = { magic: pm, imageOk: pok, copyDone: pcd, swapInfo: null, swapSize: null };
		const secondary: TrailerState = { magic: sm, imageOk: sok, copyDone: scd, swapInfo: null, swapSize: null };
		assert.equal(swapTypeFor(primary, secondary), tableSwapType(primary, secondary), JSON.stringify({ primary, secondary }));
		count++;
	}
	assert.equal(count, 729);
});

test("swapTypeFor: named cases from §D.4/§D.5", () => {
	const st = (magic: MagicState, imageOk: FlagState, copyDone: FlagState = "unset"): TrailerState => ({ magic, imageOk, copyDone, swapInfo: null, swapSize: null });
	const erased = st("unset", "unset");
	assert.equal(swapTypeFor(erased, erased), SwapType.NONE, "nothing pending");
	assert.equal(swapTypeFor(erased, st("good", "unset")), SwapType.TEST, "--pad / boot_set_pending(0)");
	assert.equal(swapTypeFor(erased, st("good", "set")), SwapType.PERM, "--confirm / boot_set_pending(1)");
	assert.equal(swapTypeFor(st("good", "unset", "set"), erased), SwapType.REVERT, "swapped in a test image, not confirmed");
	assert.equal(swapTypeFor(st("good", "set", "set"), erased), SwapType.NONE, "confirmed after test");
	assert.equal(swapTypeFor(st("good", "unset", "unset"), erased), SwapType.NONE, "primary never swapped");
	assert.equal(swapTypeFor(st("good", "unset", "set"), st("good", "unset")), SwapType.TEST, "a pending secondary wins over revert");
	assert.equal(swapTypeFor(st("bad", "unset", "set"), erased), SwapType.NONE, "bad primary magic");
	assert.equal(swapTypeFor(erased, st("bad", "set")), SwapType.NONE, "bad secondary magic");
});

test("swap type constants and names (bootutil_public.h)", () => {
	assert.deepEqual({ ...SwapType }, { NONE: 1, TEST: 2, PERM: 3, REVERT: 4, FAIL: 5, PANIC: 0xff });
	for (const [name, value] of Object.entries(SwapType)) assert.equal(swapTypeName(value), name);
	assert.equal(swapTypeName(6), "0x6");
	assert.equal(swapTypeName(0), "0x0");
});

test("imgtoolTrailerSize: imgtool's _trailer_size (status 3×sectors×align, keys at align_up(16), 4 fields, magic)", () => {
	const cases: [Parameters<typeof imgtoolTrailerSize>[0], number][] = [
		[{}, 128 * 3 * 1 + 4 * 8 + 16], // 432
		[{ align: 1, maxAlign: 8 }, 432],
		[{ align: 4 }, 128 * 3 * 4 + 4 * 8 + 16], // 1584
		[{ align: 8 }, 128 * 3 * 8 + 4 * 8 + 16], // 3120
		[{ align: 16 }, 128 * 3 * 16 + 4 * 16 + 16], // max-align follows align: 6224
		[{ align: 32 }, 128 * 3 * 32 + 4 * 32 + 32], // 12448
		[{ maxAlign: 32 }, 128 * 3 + 4 * 32 + 32], // 544
		[{ encrypted: true }, 432 + 2 * 16], // 464
		[{ encrypted: true, maxAlign: 32 }, 544 + 2 * 32], // 608
		[{ maxSectors: 512, align: 4, encrypted: true }, 512 * 3 * 4 + 2 * 16 + 4 * 8 + 16], // 6224
		[{ maxSectors: 0 }, 48],
		[{ overwriteOnly: true }, 2 * 8 + 16], // 32
		[{ overwriteOnly: true, maxAlign: 32 }, 2 * 32 + 32], // 96
		[{ overwriteOnly: true, encrypted: true, align: 8 }, 32],
	];
	for (const [options, size] of cases) assert.equal(imgtoolTrailerSize(options), size, JSON.stringify(options));
	assert.equal(imgtoolTrailerSize(), 432);
});
