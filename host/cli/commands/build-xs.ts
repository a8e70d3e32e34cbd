/**
 * build-xs: builds the Linux XS host that `sealdrop sim` runs the device code on
 * (scripts/xs-host.mjs, which setup.mjs runs in a clone). An installed package ships the sources
 * but no binary, so the first simulator command says to run this once.
 */
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { fail } from "sealdrop/image";
import type { CommandSpec } from "../args.js";

const root = fileURLToPath(new URL("../../../../../", import.meta.url));

interface XsHostScript {
	buildXsHost(options: { flavors: string[]; force: boolean; log: (line: string) => void }): void;
}

export const buildXs: CommandSpec = {
	name: "build-xs",
	summary: "Build the Linux XS host the simulator runs on (once; needs cc, make and libmbedtls-dev).",
	usage: "build-xs [--force]",
	options: [{ long: "force", arity: 0, help: "rebuild even if it is up to date" }],
	notes: `Compiles XS 13.3 (its sources from the @agoric/xsnap npm package's tarball, fetched with npm pack
and checked against a pinned hash) with Sealdrop's native modules into build/xs/release/sealdrop-xs
of this package. Takes a minute or two; running it again rebuilds only what changed.
On Debian/Ubuntu: sudo apt-get install -y build-essential libmbedtls-dev`,
	async run(args) {
		// a plain script, shared with setup.mjs, so it is loaded by path rather than imported
		const script = pathToFileURL(path.join(root, "scripts", "xs-host.mjs")).href;
		const { buildXsHost } = await import(script) as XsHostScript;
		try {
			buildXsHost({ flavors: ["release"], force: args.flag("force"), log: (line) => process.stderr.write(`sealdrop: ${line}\n`) });
		} catch (e) {
			fail("E_IO", (e as Error).message);
		}
		process.stderr.write(`sealdrop: the XS host is ready: ${path.join(root, "build", "xs", "release", "sealdrop-xs")}\n`);
		return 0;
	},
};
