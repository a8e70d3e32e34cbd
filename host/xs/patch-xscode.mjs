// Writes a copy of XS 13.3's xsCode.c with one upstream fix applied (build/ only, never the repo).
// fxClassNodeCode runs a class's static initializers before its instance-field initializer is
// defined, so `class P { static BASE = new P(); x = 0 }` (as in @noble/curves) throws
// "get ?: not initialized yet". Moddable fixed it by emitting the instance initializer first.
import { readFileSync, writeFileSync } from "node:fs";

const [source, target] = process.argv.slice(2);
const code = readFileSync(source, "utf8");
const staticInit = /\tif \(self->constructorInit\) \{\n(?:\t\t.*\n)+?\t\}\n/;
const instanceInit = /\tif \(self->instanceInit\) \{\n(?:\t\t.*\n)+?\t\}\n/;
const a = code.match(staticInit);
const b = code.match(instanceInit);
if (!a || !b || b.index !== a.index + a[0].length) {
	console.error("patch-xscode: xsCode.c is not the XS 13.3 this patch was written for; update host/xs/patch-xscode.mjs");
	process.exit(1);
}
writeFileSync(target, code.slice(0, a.index) + b[0] + a[0] + code.slice(b.index + b[0].length));
