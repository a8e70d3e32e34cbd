/**
 * sealdrop/image against every imgtool image, as device code: runs under node:test and on the
 * Linux XS host (test/xs-runner.ts). The streaming parser must give the same structure for any
 * chunk size, including 1 byte.
 */
import { dependencies, findEncTlv, findHashTlv, formatVersion, ImageStreamParser, parseImage, securityCounter, type ImageEvent } from "sealdrop/image";
import { equal, readVector, test } from "../harness.js";

interface Sidecar {
	name: string;
	expected: {
		version: string;
		flags: number;
		header_size: number;
		img_size: number;
		hash_tlv: string;
		enc_tlv_len: number | null;
		security_counter: number | null;
		dependencies: { image_id: number; min_version: number[] }[];
	};
}

const json = async <T>(path: string): Promise<T> => JSON.parse(new TextDecoder().decode(await readVector(path))) as T;

/** The events as text, adjacent data ranges joined, so runs with different chunk sizes compare. */
function streamed(image: Uint8Array, chunk: number): string {
	const parser = new ImageStreamParser();
	const parts: string[] = [];
	let data: { region: string; start: number; end: number } | undefined;
	const flush = () => {
		if (data) parts.push(`${data.region}:${data.start}-${data.end}`);
		data = undefined;
	};
	const take = (events: ImageEvent[]) => {
		for (const e of events) {
			if (e.kind === "data") {
				if (data && data.region === e.region && data.end === e.offset) data.end += e.bytes.length;
				else {
					flush();
					data = { region: e.region, start: e.offset, end: e.offset + e.bytes.length };
				}
				continue;
			}
			flush();
			parts.push(e.kind === "tlvs" ? `tlvs:${e.tlvs.map((t) => t.type).join(",")}` : e.kind);
		}
	};
	for (let at = 0; at < image.length; at += chunk) take(parser.push(image.subarray(at, at + chunk)));
	parser.finish();
	flush();
	return parts.join(" ");
}

const cases = await json<{ name: string }[]>("imgtool/index.json");

for (const [index, { name }] of cases.entries()) {
	test(`image: imgtool ${name}`, async () => {
		const sidecar = await json<Sidecar>(`imgtool/images/${name}.json`);
		const image = await readVector(`imgtool/images/${name}.bin`);
		const layout = parseImage(image);
		const x = sidecar.expected;
		equal(formatVersion(layout.header.version), x.version.includes("+") ? x.version : `${x.version}+0`, "version");
		equal(layout.header.flags, x.flags, "flags");
		equal(layout.header.hdrSize, x.header_size, "header size");
		equal(layout.header.imgSize, x.img_size, "image size");
		equal(findHashTlv(layout).alg, x.hash_tlv.toLowerCase(), "hash TLV");
		equal(findEncTlv(layout)?.value.length ?? null, x.enc_tlv_len, "ENC TLV length");
		equal(securityCounter(layout), x.security_counter, "security counter");
		equal(JSON.stringify(dependencies(layout).map((d) => [d.imageId, formatVersion(d.minVersion)])), JSON.stringify(x.dependencies.map((d) => [d.image_id, `${d.min_version[0]}.${d.min_version[1]}.${d.min_version[2]}+${d.min_version[3]}`])), "dependencies");
		const whole = streamed(image, image.length);
		// 1-byte chunks for one image only: every image would take minutes on XS
		for (const chunk of index === 0 ? [1, 7, 4096] : [7, 4096]) equal(streamed(image, chunk), whole, `chunks of ${chunk}`);
	});
}
