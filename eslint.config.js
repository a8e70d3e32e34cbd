// Lint rules: typescript-eslint's recommended set, plus the one rule that keeps device code
// portable: nothing under modules/ may import a Node built-in (it must run unchanged on XS).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

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
		files: ["modules/**/*.ts"],
		rules: {
			"no-restricted-imports": ["error", { patterns: [{ group: ["node:*", "fs", "crypto", "path", "os", "buffer", "util", "stream"], message: "device code runs on XS: no Node built-ins" }] }],
			"no-restricted-globals": ["error", "Buffer", "process", "require"],
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
