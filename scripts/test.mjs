// `npm test`: type-check and build (scripts/setup.mjs ran just before), lint, then every test.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

function step(title, cmd, args) {
	console.error(`\n== ${title}`);
	const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
	if (r.status !== 0) {
		console.error(`\n${title} failed`);
		process.exit(r.status || 1);
	}
}

step("type-check", process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", ".", "--noEmit"]);
step("lint", process.execPath, [join(root, "node_modules", "eslint", "bin", "eslint.js"), "."]);
step("unit and interop tests (Node)", process.execPath, ["--test", "--test-reporter=spec", "build/js/test/"]);
