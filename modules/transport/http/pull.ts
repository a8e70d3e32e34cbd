/**
 * HTTP pull: the device downloads its sealed image and feeds the update agent, resuming where the
 * agent wants the next byte — after a dropped connection, and after a reset through the agent's
 * journal (the session id is the SHA-256 of the image's validator, so the same image resumes and
 * a changed one starts over).
 *
 * One pull:
 * 1. HEAD learns the size and the validator: a strong ETag (RFC 9110 §8.8.3), else Last-Modified
 *    (§8.8.2). The agent's begin() answers where to start.
 * 2. GET with `Range: bytes=N-` (§14.2) and `If-Range` (§13.1.5) from the agent's next offset
 *    (from offset 0, only the first 4 KiB: the agent wants the TLV areas at the end next).
 *    A 206 is used only when its Content-Range (§14.4) starts at N and names the same size (after
 *    one that starts elsewhere, later GETs ask for the whole image and skip to N). A 200
 *    means the server ignored Range (or If-Range failed): with the same validator the body starts
 *    at byte 0 and is skipped up to N; with another, the image changed. Bytes are never written at
 *    an offset other than the one they have in the image.
 * 3. A failed or short response is retried from the agent's next offset after a backoff
 *    (doubling, bounded); `retries` consecutive attempts that bring no new byte end the pull with
 *    E_NETWORK. A changed image (another validator or size) aborts the agent's session and starts
 *    over, at most `restarts` times (then E_HTTP).
 * 4. Deadlines, so that a server that answers slowly or not at all cannot hold the device: each
 *    attempt waits at most `timeout` for the answer's head and `stallTimeout` for each next piece
 *    of its body (its progress deadline); the whole pull, retries and backoffs included, ends
 *    after `deadline` with E_NETWORK, saying what it received. A server that sends a little per
 *    request and then stalls makes progress each time, so only the deadline bounds it.
 * Device code: no Node built-ins; timers come from the options (defaults: the global ones).
 */
import { fail, SealdropError } from "sealdrop/image";
import type { BeginOptions, InstallResult, PendingMode } from "sealdrop/update";
import Sha256 from "sealdrop/native/sha256";
import type { HttpClient, HttpHead, HttpRequest } from "./client.js";

/** The part of UpdateAgent a transport drives. */
export interface PullAgent {
	begin(options: BeginOptions): { nextOffset: number; resumed: boolean };
	write(offset: number, bytes: Uint8Array): number;
	finish(): InstallResult;
	abort(): void;
}

export interface Timers {
	set(callback: () => void, ms: number): unknown;
	clear(handle: unknown): void;
}

export type PullEvent =
	| { type: "request"; method: "GET" | "HEAD"; offset: number; range: boolean }
	| { type: "progress"; offset: number; size: number }
	| { type: "retry"; failures: number; delay: number; reason: string }
	| { type: "restart"; reason: string };

export interface PullOptions {
	url: string;
	client: HttpClient;
	agent: PullAgent;
	image?: number;
	pending?: PendingMode;
	/** Consecutive attempts without a new byte before giving up (default 5). */
	retries?: number;
	/** Times the image may change under the download before giving up (default 2). */
	restarts?: number;
	/** First backoff delay in ms, doubled after each failure without progress (default 500). */
	backoff?: number;
	/** Longest backoff delay in ms (default 30000). */
	maxBackoff?: number;
	/** Longest wait in ms for the answer's head (default 15000). */
	timeout?: number;
	/** Longest wait in ms between two pieces of the body: the attempt's progress deadline (default: `timeout`). */
	stallTimeout?: number;
	/** The whole pull's limit in ms, retries and backoffs included (default 300000). */
	deadline?: number;
	timers?: Timers;
	onEvent?: (event: PullEvent) => void;
}

export interface PullResult extends InstallResult {
	/** Where this pull started in the image (above 0 after a reset: the agent's journal). */
	startedAt: number;
	requests: number;
	/** Body bytes received, and those of them skipped (a 200 answered from byte 0). */
	bytesReceived: number;
	bytesSkipped: number;
	retries: number;
	restarts: number;
	validator: string;
}

/** Bytes the agent may want ahead of the body being received that are skipped rather than asked for anew. */
const SKIP_AHEAD = 16 * 1024;
/** What the first request asks for: the header and some of the body (MCUboot headers are usually 32 bytes to 1 KiB). */
const FIRST_WINDOW = 4096;

const defaultTimers: Timers = {
	set: (callback, ms) => setTimeout(callback, ms),
	clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** The whole pull's limit by default: five minutes. */
const DEFAULT_DEADLINE = 300_000;

/** Why an attempt failed: try again, the image changed, or give up. */
class AttemptError extends Error {
	constructor(readonly kind: "retry" | "changed", message: string) {
		super(message);
	}
}

/** The representation being downloaded, as the first HEAD described it. */
interface Pinned {
	size: number;
	/** The strong ETag, else Last-Modified, else "" (nothing to pin: no If-Range, no resume after a reset). */
	validator: string;
	etag: boolean;
}

/** `bytes first-last/complete` (RFC 9110 §14.4), or undefined when it is not that. */
export function parseContentRange(value: string | undefined): { first: number; last: number; complete: number } | undefined {
	const m = value === undefined ? null : /^bytes (\d{1,15})-(\d{1,15})\/(\d{1,15})$/.exec(value.trim());
	if (!m) return undefined;
	const [first, last, complete] = [Number(m[1]), Number(m[2]), Number(m[3])];
	return first <= last && last < complete ? { first, last, complete } : undefined;
}

/** The validator a response carries, of the kind pinned (a weak ETag is no validator for ranges, §13.1.5). */
function validatorOf(head: HttpHead, etag: boolean): string {
	if (etag) return head.headers["etag"] ?? "";
	const tag = head.headers["etag"];
	if (tag && !tag.startsWith("W/")) return tag;
	return head.headers["last-modified"] ?? "";
}

/** The agent's session id: SHA-256 of the validator (≤ 32 bytes, as the journal keeps it). */
function sessionIdOf(validator: string): Uint8Array {
	const hash = new Sha256();
	try {
		hash.update(new TextEncoder().encode(validator));
		return new Uint8Array(hash.digest());
	} finally {
		hash.close();
	}
}

export class HttpPull {
	readonly #o: PullOptions;
	readonly #timers: Timers;
	readonly #stats = { requests: 0, bytesReceived: 0, bytesSkipped: 0, retries: 0, restarts: 0 };
	/** Cleared when the server ignores Range or answers another range than asked: then whole answers, skipped to the agent's offset. */
	#ranges = true;
	/** The offset the agent wants next, as its last write() said. */
	#next = 0;
	/** Set when the pull's deadline passed; `#interrupt` ends what is waiting then (a request or a backoff). */
	#expired: SealdropError | undefined;
	#interrupt: ((error: SealdropError) => void) | undefined;
	/** Why the last attempt failed, for the deadline's message. */
	#lastFailure = "";

	constructor(options: PullOptions) {
		this.#o = options;
		this.#timers = options.timers ?? defaultTimers;
	}

	/** Downloads and installs; resolves with what the agent installed, rejects with a SealdropError. */
	async run(): Promise<PullResult> {
		const deadline = this.#o.deadline ?? DEFAULT_DEADLINE;
		const deadlineTimer = this.#timers.set(() => {
			this.#expired = new SealdropError("E_NETWORK", `the download ran out of its ${deadline} ms deadline: ${this.#seen()}${this.#lastFailure ? `; last: ${this.#lastFailure}` : ""}`);
			this.#interrupt?.(this.#expired);
		}, deadline);
		const maxRestarts = this.#o.restarts ?? 2;
		try {
			// one loop here, not a helper: each async frame costs stack, and a board has a few hundred slots (manifest.json's creation.stack)
			for (;;) {
				const pinned = await this.#withRetries(() => this.#head());
				const started = this.#o.agent.begin({
					size: pinned.size, image: this.#o.image ?? 0, pending: this.#o.pending ?? "test",
					...(pinned.validator ? { sessionId: sessionIdOf(pinned.validator) } : {}),
				});
				try {
					this.#next = started.nextOffset;
					while (this.#next < pinned.size) await this.#withRetries(() => this.#get(pinned), () => this.#next);
					return { ...this.#o.agent.finish(), startedAt: started.nextOffset, ...this.#stats, validator: pinned.validator };
				} catch (e) {
					if (!(e instanceof AttemptError)) throw e; // a refusal: the agent ended the session itself
					this.#o.agent.abort();
					if (++this.#stats.restarts > maxRestarts) fail("E_HTTP", `the image kept changing during the download (${e.message})`);
					this.#o.onEvent?.({ type: "restart", reason: e.message });
				}
			}
		} finally {
			this.#timers.clear(deadlineTimer);
		}
	}

	/** What the pull saw so far, for a message: body bytes received and requests made. */
	#seen(): string {
		return `${this.#stats.bytesReceived} bytes received in ${this.#stats.requests} requests`;
	}

	/**
	 * Runs attempts until one succeeds; waits with a doubling backoff between failures and gives
	 * up after `retries` failures in a row that brought no new byte (`progress` tells).
	 */
	async #withRetries<T>(attempt: () => Promise<T>, progress: () => number = () => 0): Promise<T> {
		const retries = this.#o.retries ?? 5;
		let failures = 0;
		let mark = progress();
		for (;;) {
			try {
				if (this.#expired) throw this.#expired;
				return await attempt();
			} catch (e) {
				if (!(e instanceof AttemptError) || e.kind !== "retry") throw e;
				this.#lastFailure = e.message;
				if (progress() > mark) failures = 0;
				mark = progress();
				if (++failures > retries) fail("E_NETWORK", `download failed after ${retries} retries: ${e.message} (${this.#seen()})`);
				const delay = Math.min((this.#o.backoff ?? 500) * 2 ** (failures - 1), this.#o.maxBackoff ?? 30_000);
				this.#stats.retries++;
				this.#o.onEvent?.({ type: "retry", failures, delay, reason: e.message });
				await this.#sleep(delay);
			}
		}
	}

	/** Waits `ms` (a backoff); the deadline ends the wait. */
	#sleep(ms: number): Promise<void> {
		return new Promise<void>((resolve, reject) => {
			const timer = this.#timers.set(() => {
				this.#interrupt = undefined;
				resolve();
			}, ms);
			this.#interrupt = (error) => {
				this.#timers.clear(timer);
				reject(error);
			};
		});
	}

	/**
	 * One request. `onHead` checks the head (or throws); `onData` takes the body and returns false
	 * when it wants no more of it (the request is then dropped). Resolves with `result()` when the
	 * body ended or was no longer wanted.
	 */
	#request<T>(request: HttpRequest, onHead: (head: HttpHead) => void, onData: (bytes: Uint8Array) => boolean | void, result: () => T): Promise<T> {
		this.#stats.requests++;
		const timeout = this.#o.timeout ?? 15_000;
		const stallTimeout = this.#o.stallTimeout ?? timeout;
		return new Promise<T>((resolve, reject) => {
			let done = false;
			let timer: unknown;
			let call: { cancel(): void } | undefined = undefined;
			const finish = (error?: unknown, drop = false) => {
				if (done) return;
				done = true;
				this.#interrupt = undefined;
				this.#timers.clear(timer);
				if (error || drop) call?.cancel();
				if (error) return reject(error);
				try {
					resolve(result());
				} catch (e) {
					reject(e);
				}
			};
			const guard = (work: () => void) => {
				if (done) return;
				try {
					work();
				} catch (e) {
					finish(e);
				}
			};
			// the answer's head within `timeout`, then each piece of the body within `stallTimeout`
			const arm = (ms: number, why: string) => {
				this.#timers.clear(timer);
				timer = this.#timers.set(() => finish(new AttemptError("retry", `${why} for ${ms} ms`)), ms);
			};
			arm(timeout, "no answer");
			this.#interrupt = (error) => finish(error, true);
			call = this.#o.client.request(request, {
				onHead: (head) => guard(() => {
					arm(stallTimeout, "no byte of the body");
					onHead(head);
				}),
				onData: (bytes) => guard(() => {
					arm(stallTimeout, "no byte of the body");
					if (onData(bytes) === false) finish(undefined, true);
				}),
				onEnd: () => finish(),
				onError: (message) => finish(new AttemptError("retry", message)),
			});
			if (done) call.cancel(); // finished inside request(): nothing more is wanted
		});
	}

	#head(): Promise<Pinned> {
		let pinned: Pinned | undefined;
		this.#o.onEvent?.({ type: "request", method: "HEAD", offset: 0, range: false });
		return this.#request({ method: "HEAD", url: this.#o.url, headers: {} }, (head) => {
			this.#checkStatus(head.status);
			if (head.status !== 200) throw new AttemptError("retry", `HEAD answered ${head.status}`);
			const length = head.headers["content-length"];
			if (length === undefined || !/^\d{1,15}$/.test(length)) fail("E_HTTP", "the server does not say how large the image is (no Content-Length)");
			const tag = head.headers["etag"];
			const etag = !!tag && !tag.startsWith("W/");
			pinned = { size: Number(length), validator: validatorOf(head, etag), etag };
		}, () => {}, () => pinned!);
	}

	/** Statuses no retry can fix end the pull (§15.5: the client's request is wrong, or the image is gone). */
	#checkStatus(status: number): void {
		if (status === 200 || status === 206 || status === 408 || status === 416 || status === 429 || status >= 500) return;
		fail("E_HTTP", `the server answered ${status} for ${this.#o.url}`);
	}

	/** One GET from the agent's next offset; resolves when the body ended or the agent wants bytes it does not bring. */
	#get(pinned: Pinned): Promise<void> {
		const offset = this.#next;
		const ranged = this.#ranges;
		// from the start, a small window: the agent reads the header, then wants the TLV areas at the end
		const last = offset === 0 ? Math.min(FIRST_WINDOW, pinned.size) - 1 : pinned.size - 1;
		const headers: Record<string, string> = ranged ? { Range: `bytes=${offset}-${offset === 0 ? last : ""}` } : {};
		if (ranged && pinned.validator) headers["If-Range"] = pinned.validator;
		this.#o.onEvent?.({ type: "request", method: "GET", offset, range: ranged });
		let position = 0;
		let bodyEnd = pinned.size;
		let dropped = false;
		const { agent, onEvent } = this.#o;
		return this.#request({ method: "GET", url: this.#o.url, headers }, (head) => {
			this.#checkStatus(head.status);
			if (head.status === 416) throw new AttemptError("changed", `bytes ${offset}- are no longer in the image (416)`);
			if (head.status !== 200 && head.status !== 206) throw new AttemptError("retry", `the server answered ${head.status}`);
			const validator = validatorOf(head, pinned.etag);
			if (validator !== pinned.validator) throw new AttemptError("changed", `the validator changed from ${pinned.validator || "none"} to ${validator || "none"}`);
			if (head.status === 206) {
				const range = parseContentRange(head.headers["content-range"]);
				if (!range || range.complete !== pinned.size) throw new AttemptError("changed", `Content-Range "${head.headers["content-range"]}" does not describe the ${pinned.size}-byte image`);
				if (!ranged || range.first !== offset || range.last > last) {
					this.#ranges = false;
					throw new AttemptError("retry", `asked for ${ranged ? `bytes ${offset}-` : "the whole image"}, the server sent "${head.headers["content-range"]}"`);
				}
				position = offset;
				bodyEnd = range.last + 1;
			} else {
				const length = head.headers["content-length"];
				if (length !== undefined && Number(length) !== pinned.size) throw new AttemptError("changed", `the full answer holds ${length} bytes, not ${pinned.size}`);
				position = 0; // Range ignored: the whole image from its start; skip what the agent has
				this.#ranges = false;
			}
		}, (bytes) => {
			const start = position;
			const end = (position += bytes.length);
			if (end > bodyEnd) throw new AttemptError("retry", `the body runs past byte ${bodyEnd}`);
			this.#stats.bytesReceived += bytes.length;
			this.#stats.bytesSkipped += Math.min(Math.max(0, this.#next - start), bytes.length);
			// the agent may take part of a piece, and may want another offset next: it reads the
			// header, then the TLV areas at the end, then comes back for the body
			while (this.#next >= start && this.#next < end) {
				const wanted = this.#next;
				this.#next = agent.write(wanted, bytes.subarray(wanted - start));
				if (this.#next === wanted) throw new AttemptError("retry", `the agent took no bytes at ${wanted}`);
			}
			onEvent?.({ type: "progress", offset: this.#next, size: pinned.size });
			// a new request from the agent's offset when it lies behind, or well ahead while ranges work
			const more = this.#next < pinned.size && this.#next >= end && (this.#next - end <= SKIP_AHEAD || !this.#ranges);
			dropped = !more;
			return more;
		}, () => {
			if (!dropped && position < bodyEnd) throw new AttemptError("retry", `the body ended at byte ${position}, not ${bodyEnd}`);
		});
	}
}

/** Pulls `options.url` into the agent (see HttpPull). */
export function pull(options: PullOptions): Promise<PullResult> {
	return new HttpPull(options).run();
}
