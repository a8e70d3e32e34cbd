/** serve: an HTTP server handing each device its own image of a fleet release (host/serve/server.ts). */
import { fail } from "sealdrop/image";
import { FORMAT, parseInteger, type CommandSpec } from "../args.js";
import { startServer, type RunningServer } from "../../serve/server.js";

export const serve: CommandSpec = {
	name: "serve",
	summary: "Serve sealed images over HTTP: each device's image assembled on request from a release's shared ciphertext and its own tail, with Range, ETag and HEAD.",
	usage: "serve [--release DIR ...] [--images DIR] [--host ADDR] [--port N] [--quiet] [-f json]",
	options: [
		{ long: "release", short: "r", metavar: "DIR", repeat: true, help: "a folder written by `seal --fleet` (fleet.json, shared.bin + tails.bin or <id>.bin); repeatable, served under its folder name" },
		{ long: "images", metavar: "DIR", help: "also serve the files of DIR as /images/<file>" },
		{ long: "host", metavar: "ADDR", help: "address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)" },
		{ long: "port", short: "p", metavar: "N", help: "port (default 8080; 0 picks a free one)" },
		{ long: "quiet", short: "q", arity: 0, help: "no log line per request" },
		FORMAT,
	],
	notes: `Paths:
  GET|HEAD /devices/<id>/image                     <id>'s image in the newest release that lists it
  GET|HEAD /releases/<release>/devices/<id>/image  <id>'s image in that release
  GET|HEAD /images/<file>                          a file of --images DIR
  GET      /index.json                             the releases and images served
Unknown devices get 404. One range per request (Range: bytes=N-, bytes=A-B, bytes=-N) is answered
206 with Content-Range; If-Range is honoured; the ETag of a device's image is its SHA-256.
The first line on stdout says where it listens (JSON with -f json); then one line per request on
stderr. Stops on SIGINT or SIGTERM.
Example:
  sealdrop seal --fleet fleet.txt --out-dir rel-1.2.0 --layout split release.bin
  sealdrop serve --release rel-1.2.0 --port 8080
  sealdrop sim pull --dir dev1 http://127.0.0.1:8080/devices/dev-0001/image`,
	async run(args) {
		if (args.positionals.length) fail("E_USAGE", "serve takes no positional arguments (give --release DIR or --images DIR)");
		const releases = args.all("release").map(([dir]) => dir);
		const images = args.get("images");
		if (!releases.length && images === undefined) fail("E_USAGE", "give at least one --release DIR or --images DIR");
		const port = parseInteger(args.get("port") ?? "8080", "--port");
		if (port < 0 || port > 65535) fail("E_USAGE", "--port must be between 0 and 65535");
		let server: RunningServer;
		try {
			server = await startServer({
				releases, ...(images === undefined ? {} : { images }), host: args.get("host") ?? "127.0.0.1", port,
				...(args.flag("quiet") ? {} : { log: (line: string) => process.stderr.write(line + "\n") }),
			});
		} catch (e) {
			const code = (e as NodeJS.ErrnoException).code;
			if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") fail("E_IO", `cannot listen on ${args.get("host") ?? "127.0.0.1"}:${port} (${code})`);
			throw e;
		}
		const devices = server.catalog.releases.reduce((n, r) => n + r.devices.size, 0);
		if (args.get("format") === "json") process.stdout.write(JSON.stringify({ url: server.url, releases: server.catalog.releases.map((r) => r.name), devices }) + "\n");
		else process.stdout.write(`serving ${server.catalog.releases.length} release(s), ${devices} device(s)${images === undefined ? "" : `, images of ${images}`} on ${server.url}\n`);
		await new Promise<void>((resolve) => {
			process.once("SIGINT", resolve);
			process.once("SIGTERM", resolve);
		});
		await server.close();
		return 0;
	},
};
