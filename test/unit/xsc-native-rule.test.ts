/**
 * The lint rule that holds our code to what the Moddable SDK's xsc takes of native(…) and
 * Native(…): one string literal (xs/sources/xsSyntaxical.c binds the call to a C function at build
 * time). The Linux XS host resolves native() at run time and takes anything, so without the rule
 * a call xsc refuses passes every test here and breaks `mcconfig` only: modules/base/crc32.ts once
 * named its bound C function `native` and called it with the CRC's arguments.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Linter } from "eslint";

const plugin = (await import(new URL("../../../../scripts/eslint-floors.mjs", import.meta.url).href)).default;
const config = [{ plugins: { sealdrop: plugin }, rules: { "sealdrop/xsc-native": "error" as const } }];
const problems = (code: string) => new Linter({ configType: "flat" }).verify(code, config).map((m) => m.ruleId);

test("xsc-native: one string literal is what xsc binds", () => {
	assert.deepEqual(problems(`const f = native("xs_crc32"); class A extends Native("xs_a_destructor") {}`), []);
	assert.deepEqual(problems(`let bound; bound ??= native("xs_x"); other.native(a, b);`), [], "only a bare native(…) is xsc's");
});

test("xsc-native: what xsc refuses is refused here", () => {
	// modules/base/crc32.ts as it broke mcconfig: a variable named native, called with arguments
	assert.deepEqual(problems(`let native; function crc32(b, c) { return native ? native(b, 0, b.length, c) : 0; }`), ["sealdrop/xsc-native"]);
	for (const call of [`native(name)`, `native()`, `native("a", "b")`, "native(`xs_${x}`)", `Native(name)`, `native(1)`])
		assert.deepEqual(problems(call), ["sealdrop/xsc-native"], call);
});
