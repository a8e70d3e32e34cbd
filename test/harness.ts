/**
 * The test API of device-side tests, which run both under node:test and on the Linux XS host
 * (test/xs-runner.ts). No Node built-in is imported unless the file runs in Node.
 */
import { equalBytes, fromHex as hexBytes, toHex as hexString } from "sealdrop/image";

type TestFn = () => void | Promise<void>;

const inNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === "string";
const nodeTest = inNode ? (await import("node:test")).test : undefined;
const queue: { name: string; fn: TestFn }[] = [];

/** Registers a test: node:test runs it in Node; on XS the runner runs the queue in order. */
export function test(name: string, fn: TestFn): void {
	if (nodeTest) nodeTest(name, fn);
	else queue.push({ name, fn });
}

/** Runs the queued tests (XS), printing TAP lines; returns how many passed and failed. */
export async function runQueued(print: (line: string) => void): Promise<{ passed: number; failed: number }> {
	let passed = 0;
	let failed = 0;
	for (const [i, { name, fn }] of queue.entries()) {
		try {
			await fn();
			passed++;
			print(`ok ${i + 1} - ${name}`);
		} catch (e) {
			failed++;
			print(`not ok ${i + 1} - ${name}`);
			const error = e as { stack?: string; message?: string };
			for (const line of String(error?.stack ?? error?.message ?? e).split("\n")) print(`  # ${line}`);
		}
	}
	queue.length = 0;
	return { passed, failed };
}

export class AssertionError extends Error {
	override name = "AssertionError";
}

function show(value: unknown): string {
	if (value instanceof Uint8Array) return `<${toHex(value)}>`;
	if (typeof value === "string") return JSON.stringify(value);
	return String(value);
}

export function ok(value: unknown, message?: string): asserts value {
	if (!value) throw new AssertionError(message ?? `expected a truthy value, got ${show(value)}`);
}

export function equal<T>(actual: T, expected: T, message?: string): void {
	if (!Object.is(actual, expected)) throw new AssertionError(`${message ? message + ": " : ""}expected ${show(expected)}, got ${show(actual)}`);
}

type Bytes = Uint8Array | ArrayBuffer;

function asBytes(b: Bytes): Uint8Array {
	return b instanceof Uint8Array ? b : new Uint8Array(b);
}

export function bytesEqual(actual: Bytes, expected: Bytes, message?: string): void {
	const a = asBytes(actual);
	const b = asBytes(expected);
	if (!equalBytes(a, b)) {
		throw new AssertionError(`${message ? message + ": " : ""}bytes differ\n  expected ${toHex(b)}\n  got      ${toHex(a)}`);
	}
}

/** What a thrown error must look like: a class, a message pattern, or both. */
export interface Expected {
	type?: new (...args: never[]) => Error;
	message?: RegExp;
	/** The stable error code (SealdropError.code). */
	code?: string;
}

function check(error: unknown, expected: Expected | RegExp | undefined, message?: string): void {
	const want: Expected = expected instanceof RegExp ? { message: expected } : expected ?? {};
	if (want.type && !(error instanceof want.type)) throw new AssertionError(`${message ? message + ": " : ""}expected a ${want.type.name}, got ${show(error)}`);
	const text = (error as Error)?.message ?? String(error);
	if (want.message && !want.message.test(text)) throw new AssertionError(`${message ? message + ": " : ""}error message ${JSON.stringify(text)} does not match ${want.message}`);
	const code = (error as { code?: unknown })?.code;
	if (want.code && code !== want.code) throw new AssertionError(`${message ? message + ": " : ""}expected error code ${want.code}, got ${String(code)} (${text})`);
}

export function throws(fn: () => unknown, expected?: Expected | RegExp, message?: string): void {
	try {
		fn();
	} catch (e) {
		if (e instanceof AssertionError) throw e;
		check(e, expected, message);
		return;
	}
	throw new AssertionError(`${message ? message + ": " : ""}expected an exception`);
}

export async function rejects(fn: () => Promise<unknown>, expected?: Expected | RegExp, message?: string): Promise<void> {
	try {
		await fn();
	} catch (e) {
		check(e, expected, message);
		return;
	}
	throw new AssertionError(`${message ? message + ": " : ""}expected a rejection`);
}

export function toHex(bytes: Bytes): string {
	return hexString(asBytes(bytes));
}

/** Hex to bytes; whitespace is allowed, so published vectors can be pasted as printed. */
export function fromHex(hex: string): Uint8Array {
	return hexBytes(hex.replace(/\s+/g, ""));
}

/** The repository root: this file is build/js/test/harness.js. */
function repositoryRoot(): string {
	const meta = import.meta as unknown as { url?: string; uri?: string };
	const path = meta.uri ?? decodeURIComponent((meta.url ?? "").replace(/^file:\/\//, ""));
	return path.split("/").slice(0, -4).join("/");
}

/** Bytes of a file under test/vectors/ (Node's fs in Node, the XS host's readFile on XS). */
export async function readVector(relative: string): Promise<Uint8Array> {
	const path = `${repositoryRoot()}/test/vectors/${relative}`;
	if (inNode) {
		const fs = await import("node:fs");
		return new Uint8Array(fs.readFileSync(path));
	}
	const host = await import("sealdrop/xs-host");
	return host.readFile(path);
}
