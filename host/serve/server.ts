/**
 * The HTTP server of `sealdrop serve` (node:http):
 *   GET|HEAD /devices/<id>/image                    the device's image in the newest release listing it
 *   GET|HEAD /releases/<release>/devices/<id>/image the device's image in that release
 *   GET|HEAD /images/<file>                         a file of the plain image folder
 *   GET      /index.json                            the releases and images served
 * Images answer Range (RFC 9110 §14.2, one range → 206 with Content-Range §14.4, unsatisfiable →
 * 416), If-Range (§13.1.5), and carry a strong ETag (§8.8.3) and Last-Modified (§8.8.2). Bodies
 * are streamed from the files, never loaded whole. Unknown devices and paths get 404.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { Catalog, sliceSegments, type Resource, type Segment } from "./catalog.js";
import { contentRange, ifRangeHolds, selectRange } from "./range.js";

export interface ServeOptions {
	releases: string[];
	images?: string;
	host?: string;
	/** 0 picks a free port. */
	port?: number;
	/** One line per request (default: none). */
	log?: (line: string) => void;
}

export interface ServeStats {
	requests: number;
	/** Body bytes written to clients. */
	bytes: number;
}

export interface RunningServer {
	url: string;
	catalog: Catalog;
	stats: ServeStats;
	close(): Promise<void>;
}

const DEVICE = /^\/(?:releases\/([A-Za-z0-9._-]+)\/)?devices\/([A-Za-z0-9._-]+)\/image$/;
const IMAGE = /^\/images\/([^/]+)$/;
const CHUNK = 64 * 1024;
const read = promisify(fs.read);

function plain(res: http.ServerResponse, status: number, message: string, headers: http.OutgoingHttpHeaders = {}): void {
	res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(message) + 1, ...headers });
	res.end(message + "\n");
}

/** Answers a GET or HEAD of one image resource. */
async function sendResource(req: http.IncomingMessage, res: http.ServerResponse, resource: Resource): Promise<void> {
	const headers: http.OutgoingHttpHeaders = {
		"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes", ETag: resource.etag, "Last-Modified": resource.lastModified, "Cache-Control": "no-cache",
	};
	// Range is defined for GET only (§14.2); If-Range that does not match means "send it all"
	const range = req.method === "GET" && ifRangeHolds(req.headers["if-range"] as string | undefined, resource.etag, resource.lastModified)
		? selectRange(req.headers.range, resource.size) : { status: 200 as const };
	if (range.status === 416) return plain(res, 416, "range not satisfiable", { ...headers, "Content-Range": `bytes */${resource.size}` });
	const [start, end] = range.status === 206 ? [range.start, range.end] : [0, resource.size - 1];
	res.writeHead(range.status, { ...headers, "Content-Length": end - start + 1, ...(range.status === 206 ? { "Content-Range": contentRange(start, end, resource.size) } : {}) });
	if (req.method === "HEAD") return void res.end();
	await sendSegments(res, sliceSegments(resource.segments, start, end));
}

/** Resolves when `res` wants more, or is closed. */
function drained(res: http.ServerResponse): Promise<void> {
	return new Promise((resolve) => {
		const done = () => {
			res.off("drain", done);
			res.off("close", done);
			resolve();
		};
		res.on("drain", done);
		res.on("close", done);
	});
}

/**
 * CHUNK-sized buffers reused across responses: a buffer goes back once the socket is done with
 * it (its write callback), so a steady stream of responses reads into the same few buffers.
 */
const pool: Buffer[] = [];
const POOL_MAX = 64;
const takeBuffer = () => pool.pop() ?? Buffer.allocUnsafe(CHUNK);
const giveBuffer = (buffer: Buffer) => {
	if (pool.length < POOL_MAX) pool.push(buffer);
};

/** A read of `length` bytes at `position` of `fd` into a pooled buffer. */
async function readChunk(fd: number, position: number, length: number): Promise<Buffer> {
	const buffer = takeBuffer();
	try {
		const { bytesRead } = await read(fd, buffer, 0, length, position);
		if (bytesRead !== length) throw new Error("a file is shorter than its catalog entry");
	} catch (e) {
		giveBuffer(buffer);
		throw e;
	}
	return buffer;
}

/**
 * Streams segments of files that stay open (shared.bin, tails.bin) with one read ahead: the next
 * chunk is read while the socket takes this one; writes wait for `drain` when the client is slow.
 * (Not fs.createReadStream on the shared descriptor: a stream destroyed by a client that went
 * away closes its descriptor, autoClose or not; and it allocates a buffer per chunk.)
 */
async function sendSegments(res: http.ServerResponse, segments: Segment[]): Promise<void> {
	const chunks: { fd: number; position: number; length: number }[] = [];
	for (const s of segments) for (let at = 0; at < s.length; at += CHUNK) chunks.push({ fd: s.fd, position: s.offset + at, length: Math.min(CHUNK, s.length - at) });
	const start = (k: number) => readChunk(chunks[k].fd, chunks[k].position, chunks[k].length);
	let ahead = chunks.length ? start(0) : undefined;
	try {
		for (let k = 0; k < chunks.length && !res.destroyed; k++) {
			const buffer = await ahead!;
			ahead = k + 1 < chunks.length ? start(k + 1) : undefined;
			const { length } = chunks[k];
			if (!res.write(length === CHUNK ? buffer : buffer.subarray(0, length), () => giveBuffer(buffer))) await drained(res);
		}
	} finally {
		// a client gone mid-response: the read already in flight still returns its buffer
		ahead?.then(giveBuffer, () => {});
	}
	res.end();
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
	const catalog = new Catalog(options.releases, options.images);
	const stats: ServeStats = { requests: 0, bytes: 0 };
	const log = options.log;
	const server = http.createServer((req, res) => {
		const started = performance.now();
		const remote = req.socket.remoteAddress;
		stats.requests++;
		let sent = 0;
		// counts what reaches the socket: body bytes only (headers are written separately)
		const write = res.write.bind(res);
		res.write = ((chunk: Uint8Array, ...rest: never[]) => {
			sent += chunk.length;
			stats.bytes += chunk.length;
			return write(chunk, ...rest);
		}) as typeof res.write;
		res.on("close", () => {
			log?.(`${new Date().toISOString()} ${remote} "${req.method} ${req.url}" ${res.statusCode} ${sent} ${(performance.now() - started).toFixed(1)}ms${res.writableFinished ? "" : " aborted"}`);
		});
		let resource: Resource | undefined;
		const done = () => resource?.release?.();
		handle(req, res).catch(() => res.destroy()).finally(done);

		async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
			const url = (req.url ?? "/").split("?")[0];
			if (req.method !== "GET" && req.method !== "HEAD") return plain(res, 405, "only GET and HEAD", { Allow: "GET, HEAD" });
			let m: RegExpExecArray | null;
			if (url === "/index.json") {
				const body = JSON.stringify(catalog.index(), null, 2) + "\n";
				res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-cache" });
				return void res.end(req.method === "HEAD" ? undefined : body);
			}
			if ((m = DEVICE.exec(url))) {
				resource = catalog.device(m[2], m[1]);
				if (!resource) return plain(res, 404, m[1] ? `no device ${m[2]} in release ${m[1]}` : `no device ${m[2]}`);
			} else if ((m = IMAGE.exec(url))) {
				let name: string;
				try {
					name = decodeURIComponent(m[1]);
				} catch {
					return plain(res, 400, "bad path");
				}
				resource = catalog.image(name);
				if (!resource) return plain(res, 404, `no image ${name}`);
			} else return plain(res, 404, "not found (try /index.json)");
			await sendResource(req, res, resource);
		}
	});
	await new Promise<void>((resolve, reject) => {
		server.once("error", reject);
		server.listen(options.port ?? 8080, options.host ?? "127.0.0.1", () => resolve());
	});
	const address = server.address() as AddressInfo;
	const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
	return {
		url: `http://${host}:${address.port}`,
		catalog,
		stats,
		close: () => new Promise<void>((resolve) => {
			server.close(() => {
				catalog.close();
				resolve();
			});
			server.closeAllConnections();
		}),
	};
}
