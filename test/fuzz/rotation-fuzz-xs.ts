/**
 * The long XS half of `npm run fuzz:rotation` (test/fuzz/rotation-fuzz.ts starts it in a state
 * folder and on a flash file of its own, laid out by boards/sim/layout.json):
 *   sealdrop-xs --state DIR build/js/test/fuzz/rotation-fuzz-xs.js SECONDS SEED
 * Runs ./rotation-requests.ts (mutated key rotation requests against rotateDeviceKey, the key
 * store and PSA) for SECONDS and prints its report as one JSON line; exit 1 on a violation.
 */
import { argv, exit, now } from "sealdrop/xs-host";
import { readVector } from "../harness.js";
import { pemPrivateScalar } from "../xs/pem.js";
import { fuzzRotationRequests, p256Signer } from "./rotation-requests.js";

const seconds = Number(argv[1] ?? 10);
const seed = Number(argv[2] ?? 1);
const scalar = async (name: string) => pemPrivateScalar(new TextDecoder().decode(await readVector(`imgtool/keys/${name}.pem`)));
const deadline = now() + seconds * 1000;
const report = fuzzRotationRequests({
	seed, signer: p256Signer(await scalar("sign-ecdsa-p256")), deviceKey: await scalar("enc-ec256"),
	now, until: () => now() > deadline,
});
console.log(JSON.stringify({ seconds, ...report }));
exit(report.violationCount ? 1 : 0);
