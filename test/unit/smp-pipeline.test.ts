/**
 * Pipelined uploads (host/smp/client.ts): with a device whose OS params report buf_count N, the
 * client keeps N − 1 upload requests in flight (at most MAX_WINDOW), each at the offset after the
 * one before; a device that jumps elsewhere (Sealdrop's agent wants the TLV areas before the
 * body) gets its bytes anyway; a request that goes unanswered drops the upload to one request at
 * a time; a device without OS params (MCUboot's recovery) gets one at a time. Checked against a
 * device in this process that takes chunks only at the offset it wants, as img_mgmt does.
 */
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { decodeCbor, encodeCbor, type CborMap } from "../../modules/transport/smp/cbor.js";
import { decodeSmpHeader, encodeSmpPacket, SMP_HEADER_SIZE } from "../../modules/transport/smp/header.js";
import { MAX_WINDOW, SmpClient, uploadWindow } from "../../host/smp/client.js";
import type { SmpLink } from "../../host/smp/links.js";
import { repoRoot } from "../helpers/vectors.js";

interface DeviceOptions {
	bufCount?: number;
	/** The order the device wants the image in: [from, to) ranges, the first starting at 0. */
	order?: (size: number) => [number, number][];
	/** Upload requests (counted from 1) dropped without an answer. */
	drop?: number[];
}

/** A device answering one request at a time, later (setImmediate), each in the order received. */
function device(options: DeviceOptions) {
	let image = new Uint8Array(0);
	let ranges: [number, number][] = [];
	let wanted = 0;
	let inFlight = 0;
	let uploads = 0;
	const queue: Uint8Array[] = [];
	let closed = false;
	const stats = { maxInFlight: 0, ignored: 0, starts: 0, afterWhole: 0 };
	const answer = (packet: Uint8Array) => {
		const h = decodeSmpHeader(packet);
		const body = decodeCbor(packet.subarray(SMP_HEADER_SIZE)) as CborMap;
		let reply: CborMap;
		if (h.group === 0 && h.command === 6 && options.bufCount !== undefined) reply = { buf_size: 2048, buf_count: options.bufCount };
		else if (h.group === 1 && h.command === 1) {
			const data = body.data as Uint8Array;
			// once the image is whole the upload is closed, as Zephyr 4.4's img_mgmt and Sealdrop's image
			// group do: a chunk at any offset but 0 gets off 0 (zephyr-4.4-upload.json), one at 0 starts anew
			if (closed && body.off !== 0) {
				stats.afterWhole++;
				return encodeSmpPacket({ op: h.op + 1, version: h.version, flags: 0, group: h.group, sequence: h.sequence, command: h.command }, encodeCbor({ rc: 0, off: 0 }));
			}
			if (closed) {
				closed = false;
				wanted = 0;
			}
			if (body.off === 0 && wanted === 0) {
				stats.starts++;
				image = new Uint8Array(body.len as number);
				ranges = options.order?.(image.length) ?? [[0, image.length]];
			}
			if (body.off === wanted) {
				image.set(data, wanted);
				wanted += data.length;
				if (wanted >= ranges[0][1]) {
					ranges.shift();
					wanted = ranges.length ? ranges[0][0] : image.length;
					closed = !ranges.length;
				}
			} else stats.ignored++;
			reply = { rc: 0, off: wanted };
		} else reply = { rc: 8 };
		return encodeSmpPacket({ op: h.op + 1, version: h.version, flags: 0, group: h.group, sequence: h.sequence, command: h.command }, encodeCbor(reply));
	};
	const link: SmpLink & { image: () => Uint8Array; stats: typeof stats } = {
		name: "fake", framing: 0, mtu: 2048, maxMtu: 65507, image: () => image, stats,
		onPacket: () => {},
		close: () => {},
		send(packet) {
			const h = decodeSmpHeader(packet);
			if (h.group === 1 && h.command === 1 && options.drop?.includes(++uploads)) return;
			queue.push(packet);
			stats.maxInFlight = Math.max(stats.maxInFlight, ++inFlight);
			if (queue.length === 1) setImmediate(serve);
		},
	};
	const serve = () => {
		const packet = queue.shift()!;
		inFlight--;
		link.onPacket(answer(packet));
		if (queue.length) setImmediate(serve);
	};
	return link;
}

const image = crypto.randomBytes(20_000);

test("pipelined upload: buf_count N puts N − 1 requests in flight, at most MAX_WINDOW", async () => {
	assert.equal(uploadWindow(undefined), 1);
	assert.equal(uploadWindow(1), 1);
	assert.equal(uploadWindow(4), 3);
	assert.equal(uploadWindow(64), MAX_WINDOW);
	for (const [bufCount, window] of [[4, 3], [2, 1], [16, MAX_WINDOW]]) {
		const link = device({ bufCount });
		const result = await new SmpClient(link).upload(image, { chunkSize: 512 });
		assert.deepEqual(link.image(), new Uint8Array(image), `buf_count ${bufCount}`);
		assert.equal(link.stats.maxInFlight, window, `buf_count ${bufCount}`);
		assert.equal(result.window, window);
		assert.equal(link.stats.ignored, 0, "in order, nothing sent in vain");
	}
});

test("pipelined upload: a device that wants the end before the body gets every byte", async () => {
	// as Sealdrop's agent: the header, then the TLV areas at the end, then the body between
	const order = (size: number): [number, number][] => [[0, 512], [size - 1500, size], [512, size - 1500]];
	const link = device({ bufCount: 4, order });
	const progress: number[] = [];
	const result = await new SmpClient(link).upload(image, { chunkSize: 512, onProgress: (held) => progress.push(held) });
	assert.deepEqual(link.image(), new Uint8Array(image));
	assert.equal(link.stats.maxInFlight, 3);
	// the TLV areas are three chunks: none is sent past them, nor again after the body
	assert.equal(link.stats.ignored, 0, "nothing sent that the device did not want");
	const taken = order(image.length).reduce((n, [from, to]) => n + Math.ceil((to - from) / 512), 0);
	assert.equal(result.chunks, taken, "every request answered once");
	assert.equal(progress.at(-1), image.length);
	assert.ok(progress.every((p, i) => i === 0 || p >= progress[i - 1]), "progress never goes back");
});

test("pipelined upload: nothing is sent past the TLV areas the device already holds, so a device that closes the whole upload is not made to start over", { timeout: 20_000 }, async () => {
	// Sealdrop's agent over UDP once answered chunks sent past the image's end with off 0, and the
	// client began the upload again, without end (the old window ran on into the TLV areas)
	const order = (size: number): [number, number][] => [[0, 512], [size - 1500, size], [512, size - 1500]];
	for (const chunkSize of [512, 700, 1500]) {
		const link = device({ bufCount: 4, order });
		const result = await new SmpClient(link).upload(image, { chunkSize });
		assert.deepEqual(link.image(), new Uint8Array(image), `chunks of ${chunkSize}`);
		assert.equal(link.stats.starts, 1, `one upload, not begun again (chunks of ${chunkSize})`);
		assert.equal(link.stats.afterWhole, 0, `no request after the image was whole (chunks of ${chunkSize})`);
		assert.equal(result.window, 3);
	}
	// a device that resumes mid-body holds the end already: the answers that follow "whole" are not news
	const resumed = device({ bufCount: 4, order: (size) => [[0, 512], [4096, size]] });
	await new SmpClient(resumed).upload(image, { chunkSize: 512 });
	assert.equal(resumed.stats.starts, 1);
});

test("pipelined upload: an unanswered request drops to one at a time, and the upload completes", async () => {
	const link = device({ bufCount: 4, drop: [5] });
	const notices: string[] = [];
	const result = await new SmpClient(link).upload(image, { chunkSize: 512, timeout: 100, onNotice: (m) => notices.push(m) });
	assert.deepEqual(link.image(), new Uint8Array(image));
	assert.equal(notices.length, 1);
	assert.match(notices[0], /one at a time/);
	assert.equal(result.finalPacketSize, result.packetSize, "no smaller packets: one at a time was enough");
	assert.equal(result.window, 3, "three were in flight before");
});

test("upload: a device without OS params gets one request at a time", async () => {
	const link = device({});
	const result = await new SmpClient(link).upload(image, { chunkSize: 512 });
	assert.deepEqual(link.image(), new Uint8Array(image));
	assert.equal(link.stats.maxInFlight, 1);
	assert.equal(result.window, 1);
});

/** What the real Zephyr 4.4 smp_server did (test/vectors/smp-peers/README.md). */
const zephyr = JSON.parse(fs.readFileSync(path.join(repoRoot, "test", "vectors", "smp-peers", "zephyr-4.4-upload.json"), "utf8")) as {
	imageBytes: number;
	upload: { result: Record<string, number>; exchange: { dir: "request" | "response"; group: number; command: number; sequence: number; body: CborMap; packetBytes?: number }[] };
	misplacedChunks: { size: number; cases: { label: string; request?: { off: number; data: { bytes: number } }; answer?: CborMap }[] };
};

test("replayed against Zephyr 4.4's answers, the pipelined upload sends the requests the real exchange had, in its order and packet sizes", async () => {
	const log = zephyr.upload.exchange;
	let at = 0;
	const ours = new Map<number, { sequence: number; op: number }>(); // the recorded request's sequence → ours
	const mismatches: string[] = [];
	const link: SmpLink = {
		name: "replay", framing: 4, mtu: 1020, maxMtu: 1020, close: () => {}, onPacket: () => {},
		send(packet) {
			const h = decodeSmpHeader(packet);
			const body = decodeCbor(packet.subarray(SMP_HEADER_SIZE)) as CborMap;
			const recorded = log[at++];
			const seen = { group: h.group, command: h.command, off: body.off, data: (body.data as Uint8Array | undefined)?.length, len: body.len, packetBytes: packet.length };
			const want = recorded && { group: recorded.group, command: recorded.command, off: recorded.body.off, data: (recorded.body.data as { bytes: number } | undefined)?.bytes, len: recorded.body.len, packetBytes: recorded.packetBytes };
			if (recorded?.dir !== "request" || JSON.stringify(seen) !== JSON.stringify(want)) {
				mismatches.push(`request ${at}: sent ${JSON.stringify(seen)}, Zephyr's exchange had ${JSON.stringify(want)}`);
				return;
			}
			ours.set(recorded.sequence, { sequence: h.sequence, op: h.op });
			// the answers Zephyr sent before the client's next request, in their order
			const answers: Uint8Array[] = [];
			while (log[at]?.dir === "response") {
				const r = log[at++];
				const request = ours.get(r.sequence)!;
				answers.push(encodeSmpPacket({ op: request.op + 1, version: 1, flags: 0, group: r.group, sequence: request.sequence, command: r.command }, encodeCbor(r.body)));
			}
			setImmediate(() => { for (const a of answers) link.onPacket(a); });
		},
	};
	const bytes = crypto.randomBytes(zephyr.imageBytes);
	const result = await new SmpClient(link).upload(bytes, { timeout: 200 });
	assert.deepEqual(mismatches, []);
	assert.equal(at, log.length, "every recorded request sent, every answer used");
	assert.deepEqual({ chunks: result.chunks, window: result.window, packetSize: result.packetSize }, { chunks: zephyr.upload.result.chunks, window: zephyr.upload.result.window, packetSize: zephyr.upload.result.packetSize });
});

test("the test device answers misplaced chunks as Zephyr 4.4 did: the offset it wants, and off 0 once the image is whole", async () => {
	const link = device({ bufCount: 4 });
	const client = new SmpClient(link);
	const bytes = crypto.randomBytes(zephyr.misplacedChunks.size);
	let checked = 0;
	for (const c of zephyr.misplacedChunks.cases) {
		if (!c.request) {
			// "(the rest sent in order)"
			let off = 1800;
			while (off < bytes.length) off = (await client.write(1, 1, { off, data: bytes.subarray(off, off + 900) })).off as number;
			continue;
		}
		const { off, data } = c.request;
		const fields: CborMap = off === 0 ? { image: 0, len: bytes.length, sha: new Uint8Array(32), off } : { off };
		const answer = await client.write(1, 1, { ...fields, data: bytes.subarray(off, off + data.bytes) });
		assert.deepEqual({ off: answer.off }, c.answer, c.label);
		checked++;
	}
	assert.equal(checked, 6);
});
