// Lint rules: typescript-eslint's recommended set, plus the rules that keep the architecture:
// nothing under modules/ may import a Node built-in (it must run unchanged on XS), imports run
// down the floors of ARCHITECTURE.md and never in a loop, and native(…) takes what xsc takes
// (scripts/eslint-floors.mjs).
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import sealdrop from "./scripts/eslint-floors.mjs";

export default tseslint.config(
	{ ignores: ["build/**", "node_modules/**"] },
	js.configs.recommended,
	...tseslint.configs.recommended,
	{
		rules: {
			"@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
			"no-constant-condition": ["error", { checkLoops: false }],
		},
	},
	{
		files: ["modules/**/*.ts", "host/**/*.ts", "native/**/*.ts", "native/**/*.js"],
		plugins: { sealdrop },
		rules: { "sealdrop/floors": "error", "sealdrop/no-cycle": "error" },
	},
	{
		// everything xsc may compile for a board: the device code, the native shims, the boards' JS, the XS host's
		files: ["modules/**/*.ts", "native/**/*.js", "boards/**/*.js", "host/xs/**/*.ts", "host/smp/device-serve.ts", "host/sim/device*.ts", "test/xs/**/*.ts", "bench/xs/**/*.ts"],
		plugins: { sealdrop },
		rules: { "sealdrop/xsc-native": "error" },
	},
	{
		files: ["modules/**/*.ts"],
		rules: {
			"no-restricted-imports": ["error", { patterns: [{ group: ["node:*", "fs", "crypto", "path", "os", "buffer", "util", "stream"], message: "device code runs on XS: no Node built-ins" }] }],
			"no-restricted-globals": ["error", "Buffer", "process", "require"],
		},
	},
	{
		// the bootloader models check the device code, so they share none of its logic (issue 18):
		// a bug in the agent must not be read back the same way by the bootloader it has to satisfy
		files: ["host/sim/mcuboot.ts", "host/sim/mcuboot/**/*.ts", "host/sim/esp-bootloader.ts", "host/sim/esp/**/*.ts"],
		rules: {
			"no-restricted-imports": ["error", { patterns: [{ group: ["sealdrop/update", "sealdrop/update/*", "**/modules/update/*"], message: "a bootloader model imports nothing from the agent (modules/update)" }] }],
		},
	},
	{
		// native module shims: Moddable's Native()/native() reach the C half
		files: ["native/**/*.js", "boards/**/*.js"],
		languageOptions: { globals: { Native: "readonly", native: "readonly" } },
	},
	{
		files: ["scripts/**/*.mjs", "host/**/*.mjs", "bin/**/*.js", "eslint.config.js"],
		languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly" } },
	},
	{
		// loaded by the Moddable SDK's xsbug-log (CommonJS) through its XSBUG_LOGMACHINE hook
		files: ["scripts/**/*.cjs"],
		languageOptions: { sourceType: "commonjs", globals: { require: "readonly", exports: "writable", process: "readonly", console: "readonly" } },
		rules: { "@typescript-eslint/no-require-imports": "off" },
	},
);
