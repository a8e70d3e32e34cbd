/**
 * README.md, followed top to bottom as a reader would (issue 19.4): every ```sh block runs, in
 * order, in one bash in a scratch folder, so files, the current folder and background servers
 * carry from block to block; every ```ts block is type-checked against the package's own types
 * (package.json exports → build/js/*.d.ts). A block a machine here cannot run is marked in the
 * README source only, with an HTML comment before it (rendered READMEs do not show them):
 *
 *   <!-- doc-test: skip: REASON -->       not run (a board, an SDK, an external tool); REASON is printed
 *   <!-- doc-test: new folder -->         run from a new empty folder (and stay there)
 *   <!-- doc-test: in the clone -->       run from the clone's root (the folder stays as it was after)
 *   <!-- doc-test: prints TEXT -->        the block's standard output holds TEXT (repeatable)
 *   <!-- doc-test: declare ... -->        a ts block's free names (its context, not shown to readers)
 *
 * How the blocks run, and what differs from a reader's terminal: `npx sealdrop` runs this clone's
 * bin/sealdrop.js directly, as npx does inside the clone, without npm's start-up for each of ~90
 * lines; the README's fixed ports (UDP 1337, TCP 8080) become free ones; a line ending in `&`
 * (a server) writes its output to a file of its own and the block goes on once the server has
 * printed its first line (where it listens), as a reader waits for it; servers still running at
 * the end are stopped. `set -e -o pipefail`: a command that fails, and is not announced as failing
 * (`|| echo ...`), stops the run, and the test names its block, line and output.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import dgram from "node:dgram";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { repoRoot } from "../helpers/cli.js";

interface Block {
	lang: string;
	line: number;
	text: string;
	skip?: string;
	folder?: "new" | "clone";
	prints: string[];
	declare: string[];
}

/** The fenced blocks of a Markdown text, with the doc-test marks written since the block before. */
export function readBlocks(markdown: string): Block[] {
	const lines = markdown.split("\n");
	const blocks: Block[] = [];
	let marks: Omit<Block, "lang" | "line" | "text"> = { prints: [], declare: [] };
	for (let i = 0; i < lines.length; i++) {
		const mark = /^\s*<!-- doc-test: ([\s\S]*?)\s*(-->)?$/.exec(lines[i]);
		if (mark) {
			let body = mark[1];
			// a multi-line mark (declare) runs to its -->
			if (!mark[2]) {
				while (++i < lines.length && !lines[i].includes("-->")) body += "\n" + lines[i];
				body += "\n" + (lines[i] ?? "").replace(/\s*-->.*$/, "");
			}
			body = body.trim();
			const kind = ["skip", "new folder", "in the clone", "prints", "declare"].find((k) => body.startsWith(k));
			const rest = body.slice(kind?.length ?? 0).replace(/^:?\s*/, "");
			if (kind === "skip") marks.skip = rest || "marked skip";
			else if (kind === "new folder") marks.folder = "new";
			else if (kind === "in the clone") marks.folder = "clone";
			else if (kind === "prints") marks.prints.push(rest);
			else if (kind === "declare") marks.declare.push(rest);
			else throw new Error(`README.md:${i + 1}: unknown doc-test mark "${body}"`);
			continue;
		}
		// a block may be indented (in a list item): its lines lose that indent
		const fence = /^(\s*)```(\w*)\s*$/.exec(lines[i]);
		if (!fence) continue;
		const start = i;
		while (++i < lines.length && !/^\s*```\s*$/.test(lines[i]));
		const text = lines.slice(start + 1, i).map((l) => (l.startsWith(fence[1]) ? l.slice(fence[1].length) : l)).join("\n");
		blocks.push({ lang: fence[2], line: start + 1, text, ...marks });
		marks = { prints: [], declare: [] };
	}
	return blocks;
}

// SEALDROP_TEST_README=path: that text instead (an older README, say)
const readme = fs.readFileSync(process.env.SEALDROP_TEST_README ?? path.join(repoRoot, "README.md"), "utf8");
const blocks = readBlocks(readme);
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "sealdrop-readme-"));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

async function freePort(kind: "udp" | "tcp"): Promise<number> {
	if (kind === "tcp") {
		const server = net.createServer();
		await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
		const { port } = server.address() as net.AddressInfo;
		await new Promise((resolve) => server.close(resolve));
		return port;
	}
	const socket = dgram.createSocket("udp4");
	await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
	const { port } = socket.address();
	await new Promise<void>((resolve) => socket.close(resolve));
	return port;
}

test("README.md's marks are well-formed, and every block is run, type-checked or skipped with a reason", () => {
	const sh = blocks.filter((b) => b.lang === "sh");
	assert.ok(sh.length >= 15, `${sh.length} shell blocks`);
	for (const b of blocks) {
		if (b.prints.length && (b.lang !== "sh" || b.skip)) assert.fail(`README.md:${b.line}: "prints" on a block that does not run`);
		if (b.declare.length && b.lang !== "ts") assert.fail(`README.md:${b.line}: "declare" on a block that is not TypeScript`);
	}
	console.log(`README.md: ${sh.filter((b) => !b.skip).length} shell blocks run, ${sh.filter((b) => b.skip).length} skipped (${sh.filter((b) => b.skip).map((b) => `line ${b.line}: ${b.skip}`).join("; ")}); ${blocks.filter((b) => b.lang === "ts").length} TypeScript blocks type-checked`);
});

test("every shell block of README.md runs, in order, as written", { timeout: 600_000 }, async () => {
	const udp = await freePort("udp");
	const tcp = await freePort("tcp");
	const bin = path.join(scratch, "bin");
	fs.mkdirSync(bin);
	const realNpx = spawnSync("sh", ["-c", "command -v npx"], { encoding: "utf8" }).stdout.trim();
	fs.writeFileSync(path.join(bin, "npx"), `#!/bin/sh\nif [ "$1" = sealdrop ]; then shift; exec "${process.execPath}" "${path.join(repoRoot, "bin", "sealdrop.js")}" "$@"; fi\nexec "${realNpx}" "$@"\n`, { mode: 0o755 });

	const script = [
		"set -e -o pipefail",
		`DOC=${JSON.stringify(scratch)}`,
		// a server: started, then waited for until it says where it listens (or dies)
		`doc_started() { for _ in $(seq 300); do [ -s "$1" ] && return 0; kill -0 "$2" 2>/dev/null || { echo "the server stopped: $(cat "$1.err")" >&2; return 1; }; sleep 0.1; done; echo "the server said nothing in 30 s" >&2; return 1; }`,
		`trap 'echo "::failed: $BASH_COMMAND (exit $?)" >&3' ERR`,
		// servers the README left running (it stops its own with `kill $!`)
		`trap 'set +e; trap - ERR; kill $(jobs -pr) 2>/dev/null; wait' EXIT`,
		`mkdir -p "$DOC/work" && cd "$DOC/work"`,
	];
	let servers = 0;
	const run = blocks.filter((b) => b.lang === "sh" && !b.skip);
	for (const [n, b] of run.entries()) {
		const body = b.text
			.replaceAll("127.0.0.1:1337", `127.0.0.1:${udp}`).replaceAll("127.0.0.1:8080", `127.0.0.1:${tcp}`).replaceAll("--port 8080", `--port ${tcp}`)
			.split("\n").map((line) => {
				const server = /^(.*[^&\s])\s*&(\s*#.*)?$/.exec(line);
				if (!server || server[1].endsWith("&")) return line;
				const out = `"$DOC/server-${++servers}"`;
				return `${server[1]} > ${out} 2> ${out}.err &\ndoc_started ${out} $!`;
			}).join("\n");
		if (b.folder === "new") script.push(`mkdir -p "$DOC/work-${n}" && cd "$DOC/work-${n}"`);
		script.push(`echo ${n} > "$DOC/current"`);
		// the clone's blocks in a subshell, so the folder is the reader's again after them
		const [open, close] = b.folder === "clone" ? [`( cd ${JSON.stringify(repoRoot)}`, ")"] : ["{", "}"];
		script.push(`${open}\n${body}\n${close} > "$DOC/out-${n}" 2> "$DOC/err-${n}"`);
	}
	script.push(`echo done > "$DOC/current"`);
	fs.writeFileSync(path.join(scratch, "readme.sh"), script.join("\n") + "\n");

	const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
	delete env.SEALDROP_DEBUG;
	env.PATH = `${bin}${path.delimiter}${env.PATH}`;
	const started = Date.now();
	const r = spawnSync("bash", ["-c", `bash "${path.join(scratch, "readme.sh")}" 3>&2`], { cwd: scratch, env, encoding: "utf8", timeout: 540_000 });
	const current = fs.readFileSync(path.join(scratch, "current"), "utf8").trim();
	if (current !== "done" || r.status !== 0) {
		const n = Number(current);
		const b = run[n];
		const read = (f: string) => (fs.existsSync(path.join(scratch, f)) ? fs.readFileSync(path.join(scratch, f), "utf8").slice(-3000) : "");
		assert.fail(`README.md:${b?.line ?? "?"}: the shell block failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ""})\n${r.stderr}\n--- its stdout:\n${read(`out-${n}`)}\n--- its stderr:\n${read(`err-${n}`)}`);
	}
	for (const [n, b] of run.entries()) {
		const out = fs.readFileSync(path.join(scratch, `out-${n}`), "utf8");
		for (const text of b.prints) assert.ok(out.includes(text), `README.md:${b.line}: the block's output has no "${text}":\n${out.slice(-2000)}`);
	}
	console.log(`README.md: ${run.length} shell blocks ran in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

test("every TypeScript block of README.md type-checks against the package's types", () => {
	const ts = blocks.filter((b) => b.lang === "ts");
	assert.ok(ts.length >= 3);
	// inside the clone, so "sealdrop/..." resolves as a consumer's does: package.json exports, their types
	const dir = fs.mkdtempSync(path.join(repoRoot, "build", "readme-ts-"));
	try {
		for (const b of ts) fs.writeFileSync(path.join(dir, `readme-${b.line}.ts`), `${b.text}\n\n// doc-test context (README.md's declare marks)\n${b.declare.join("\n")}\nexport {};\n`);
		fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({
			// device code: strict, ES2022, no Node types; of a Moddable device's globals, what the snippets use (globals.d.ts)
			compilerOptions: { strict: true, module: "nodenext", target: "es2022", lib: ["es2022"], types: [], noEmit: true, skipLibCheck: false },
			include: ["*.ts"],
		}));
		fs.writeFileSync(path.join(dir, "globals.d.ts"), "declare function trace(...items: unknown[]): void;\ndeclare function setTimeout(callback: () => void, ms?: number): unknown;\n");
		const r = spawnSync(process.execPath, [path.join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-p", dir], { encoding: "utf8", timeout: 120_000 });
		const errors = r.stdout.replace(/\S*readme-(\d+)\.ts\((\d+),(\d+)\)/g, (_, block: string, line: string) => `README.md:${Number(block) + Number(line)}`);
		assert.equal(r.status, 0, errors);
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
});
