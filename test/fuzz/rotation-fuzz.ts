/**
 * `npm run fuzz:rotation [SECONDS] [SEED]`, in two halves of SECONDS each (default 10), printing
 * one JSON object {node, xs} with the counts; exit 1 when either half finds a violation.
 * - node: random and mutated key rotation requests and answers to their parsers
 *   (modules/keys/rotation-format.ts, which `sealdrop rotate check` runs): only E_ROTATION may
 *   come out, and what parses is re-encoded to the same bytes.
 * - xs: ./rotation-fuzz-xs.ts on the Linux XS host, in a state folder and on a flash file of its
 *   own: mutated requests against the device's rotateDeviceKey, the key store and PSA, where only
 *   refusal codes come out, a refusal writes nothing and only valid requests are accepted
 *   (./rotation-requests.ts has the oracle). test/xs/rotation-fuzz.test.ts runs a short,
 *   fixed-seed version of it in `npm test`.
 */
import crypto from "node:crypto";
import { SealdropError } from "sealdrop/image";
import { encodeRotationAnswer, encodeRotationRequestBody, parseRotationAnswer, parseRotationRequest } from "sealdrop/keys/rotation-format";
import { fuzzer } from "./prng.js";
import { runXsFuzz } from "./xs-half.js";

const seconds = Number(process.argv[2] ?? 10);
const startSeed = Number(process.argv[3] ?? Date.now() % 1e9) >>> 0;
const { random, int, bytes, mutate } = fuzzer(startSeed);

const p256Point = () => crypto.createECDH("prime256v1").generateKeys() as Uint8Array;
const x25519Point = () => new Uint8Array(crypto.createPublicKey(crypto.generateKeyPairSync("x25519").privateKey).export({ format: "der", type: "spki" }).subarray(12));
const area = (n: number) => Uint8Array.from([0x07, 0x69, n & 0xff, n >> 8, ...bytes(n - 4)]);
const seeds: Uint8Array[] = [
	Buffer.concat([encodeRotationRequestBody("p256", 1, bytes(32), p256Point()), area(80)]),
	Buffer.concat([encodeRotationRequestBody("x25519", 0xffffffff, bytes(32), x25519Point()), area(40)]),
	Buffer.concat([encodeRotationAnswer("p256", 7, p256Point()), bytes(32)]),
	Buffer.concat([encodeRotationAnswer("x25519", 7, x25519Point()), bytes(32)]),
];

const counts = { inputs: 0, requestsParsed: 0, answersParsed: 0, refused: 0 };
const violations: string[] = [];
/** Only E_ROTATION may come out of a parser. */
function parse<T>(input: Uint8Array, parser: (b: Uint8Array) => T): T | undefined {
	try {
		return parser(input);
	} catch (e) {
		if (!(e instanceof SealdropError) || e.code !== "E_ROTATION") violations.push(`${parser.name} threw ${String(e)} on ${Buffer.from(input).toString("hex")}`);
		counts.refused++;
		return undefined;
	}
}

const deadline = Date.now() + seconds * 1000;
while (Date.now() < deadline && violations.length === 0) {
	const input = random() < 0.2 ? bytes(int(200)) : mutate(seeds[int(seeds.length)], 43);
	counts.inputs++;
	const request = parse(input, parseRotationRequest);
	if (request) {
		counts.requestsParsed++;
		if (!Buffer.from(encodeRotationRequestBody(request.kind, request.counter, request.fingerprint, request.ephemeral)).equals(request.body)) violations.push(`a request body that does not re-encode: ${Buffer.from(input).toString("hex")}`);
	}
	const answer = parse(input, parseRotationAnswer);
	if (answer) {
		counts.answersParsed++;
		if (!Buffer.from(encodeRotationAnswer(answer.kind, answer.counter, answer.publicKey)).equals(answer.body)) violations.push(`an answer body that does not re-encode: ${Buffer.from(input).toString("hex")}`);
	}
}
const node = { seed: startSeed, seconds, ...counts, violations };

const xs = runXsFuzz("rotation-fuzz-xs.js", seconds, startSeed);
console.log(JSON.stringify({ node, xs }));
if (violations.length || xs.violationCount) process.exitCode = 1;
