/**
 * Key rotation requests on XS against the real device code (test/fuzz/rotation-requests.ts): every
 * malformed or out-of-range field gets its code and changes nothing; low-order X25519 ephemeral
 * keys are refused; and a short fuzz (fixed seed, so a failure replays exactly) where only codes
 * come out and only valid requests are accepted. `npm run fuzz:rotation` runs the fuzz for longer.
 * Needs a state folder and a flash of its own (scripts/test.mjs): it wipes the keys partition and
 * the key slots.
 */
import Flash from "sealdrop/native/flash";
import { SealdropError } from "sealdrop/image";
import { deviceKeyInfo, rotateDeviceKey } from "sealdrop/keys";
import { now } from "sealdrop/xs-host";
import { equal, ok, readVector, test } from "../harness.js";
import { fuzzer } from "../fuzz/prng.js";
import { answerProblem, fieldCases, freshDevice, fuzzRotationRequests, p256Signer, signedRequest, validRequest, withEphemeral } from "../fuzz/rotation-requests.js";
import { pemPrivateScalar } from "./pem.js";

const scalar = async (name: string) => pemPrivateScalar(new TextDecoder().decode(await readVector(`imgtool/keys/${name}.pem`)));
const signer = p256Signer(await scalar("sign-ecdsa-p256"));
const stranger = p256Signer(await scalar("enc-ec256"));
const trust = [{ publicKey: signer.spki }];
const rotate = (request: Uint8Array) => rotateDeviceKey(request, { partition: "keys", trust });

function codeOf(run: () => unknown): string {
	try {
		run();
	} catch (e) {
		return e instanceof SealdropError ? e.code : `not a SealdropError: ${String(e)}`;
	}
	return "accepted";
}

test("rotation requests: each malformed or out-of-range field gets its code, and changes nothing", async () => {
	const f = fuzzer(21);
	const device = freshDevice("p256", await scalar("enc-ec256"));
	const first = validRequest(device, signer, 1, f);
	equal(answerProblem(rotate(first.request), first, device), undefined, "a valid request's answer");
	const cases = fieldCases(device, signer, stranger, 1, f);
	ok(cases.length > 25, `${cases.length} cases`);
	for (const c of cases) {
		const operations = Flash.operations;
		equal(codeOf(() => rotate(c.request)), c.code, c.name);
		equal(Flash.operations, operations, `${c.name}: no flash operation`);
		equal(deviceKeyInfo("keys").rotating?.counter, 1, `${c.name}: the pending rotation is the first one`);
	}
	const next = validRequest(device, signer, 2, f);
	equal(answerProblem(rotate(next.request), next, device), undefined, "then a valid request is still accepted");
});

test("rotation requests on an X25519 device: a low-order ephemeral key (whose shared secret anyone knows) is refused", async () => {
	const f = fuzzer(7748);
	const device = freshDevice("x25519", await scalar("enc-x25519"));
	const p = 2n ** 255n - 19n;
	const lowOrder = [0n, 1n, 325606250916557431795983626356110631294008115727848805560023387167927233504n, 39382357235489614581723060781553021112529911719440698176882885853963445705823n, p - 1n];
	// the same points as u + p (when below 2^255) and with the top bit set, which RFC 7748 §5 ignores
	const encodings = lowOrder.flatMap((u) => [u, ...(u + p < 2n ** 255n ? [u + p] : []), u + 2n ** 255n]);
	for (const u of encodings) {
		const point = Uint8Array.from({ length: 32 }, (_, i) => Number((u >> BigInt(8 * i)) & 0xffn));
		const request = signedRequest(device, signer, f, 1, withEphemeral(point));
		equal(codeOf(() => rotate(request.request)), "E_ROTATION", `u = ${u}`);
	}
	equal(deviceKeyInfo("keys").rotating, undefined, "no rotation started");
	const valid = validRequest(device, signer, 1, f);
	equal(answerProblem(rotate(valid.request), valid, device), undefined, "a valid X25519 request's answer");
});

test("rotation request fuzz: mutated and random requests get only refusal codes, write nothing when refused, and only valid ones are accepted", async () => {
	const r = fuzzRotationRequests({ seed: 0x5eed, inputs: 2000, signer, deviceKey: await scalar("enc-ec256"), now });
	console.log(`# rotation fuzz on XS: ${JSON.stringify(r)}`);
	equal(r.violations.join("\n"), "", "violations");
	equal(r.violationCount, 0);
	// the run reached the checks behind the parser, and rotated
	equal(r.inputs, 2000);
	for (const code of ["E_ROTATION", "E_SIGNATURE", "E_REPLAY", "E_WRONG_SIGNER"]) ok((r.refused[code] ?? 0) > 0, `refused with ${code}: ${JSON.stringify(r.refused)}`);
	ok(r.rotations > 10 && r.accepted > r.rotations, `rotations ${r.rotations}, accepted ${r.accepted}`);
});
