/**
 * The small HTTP client interface the pull transport (pull.ts) is written against. Implementations:
 * the simulator's bridge to a host-side client (bridge.ts), and Moddable's HTTP client on devices
 * (moddable.ts). One request at a time is all the transport needs; callbacks, not promises, so a
 * device client stays thin.
 */

export interface HttpRequest {
	method: "GET" | "HEAD";
	url: string;
	/** Request header fields, names as sent. */
	headers: Record<string, string>;
}

export interface HttpHead {
	status: number;
	/** Response header fields, names in lower case (repeated fields joined with ", "). */
	headers: Record<string, string>;
}

/** Called in order: onHead once, onData for each piece of the body, then onEnd or onError. */
export interface HttpHandlers {
	onHead(head: HttpHead): void;
	onData(bytes: Uint8Array): void;
	/** The body is complete (as the message framing says). */
	onEnd(): void;
	/** The request failed or the connection ended before the body was complete. */
	onError(message: string): void;
}

export interface HttpClient {
	/** Starts a request; `cancel()` drops it and no handler is called afterwards. */
	request(request: HttpRequest, handlers: HttpHandlers): { cancel(): void };
}
