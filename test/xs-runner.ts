/**
 * Runs device-side test files on the Linux XS host:
 *   sealdrop-xs build/js/test/xs-runner.js FILE.js...
 * Each file registers tests through test/harness.ts; they run in order, TAP lines on stdout.
 * Exit code 1 if any test fails or a file fails to load.
 */
import { argv, exit, startDirectory } from "sealdrop/xs-host";
import { runQueued } from "./harness.js";

const print = (line: string) => console.log(line);
let passed = 0;
let failed = 0;
for (const file of argv.slice(1)) {
	print(`# ${file.split("/").slice(-2).join("/")}`);
	try {
		await import(file.startsWith("/") ? file : `${startDirectory}/${file}`);
	} catch (e) {
		failed++;
		print(`not ok - ${file} did not load: ${(e as Error)?.stack ?? e}`);
		continue;
	}
	const result = await runQueued(print);
	passed += result.passed;
	failed += result.failed;
}
print(`# xs: ${passed} passed, ${failed} failed`);
exit(failed ? 1 : 0);
