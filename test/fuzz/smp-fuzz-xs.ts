/**
 * The long XS half of `npm run fuzz:smp` (test/fuzz/smp-fuzz.ts starts it on a flash file of its
 * own, laid out by boards/sim/layout.json):
 *   sealdrop-xs --state DIR build/js/test/fuzz/smp-fuzz-xs.js SECONDS SEED
 * Runs ./smp-agent.ts (SMP frames against the real SmpServer, UpdateAgent and flash) for SECONDS
 * and prints its report as one JSON line; exit 1 on a violation.
 */
import { argv, exit, memory, now } from "sealdrop/xs-host";
import { readVector } from "../harness.js";
import { pemDer } from "../xs/pem.js";
import { fuzzSmpOnAgent } from "./smp-agent.js";

const seconds = Number(argv[1] ?? 10);
const seed = Number(argv[2] ?? 1);
const text = async (path: string) => new TextDecoder().decode(await readVector(path));
const deadline = now() + seconds * 1000;
const report = fuzzSmpOnAgent({
	image: await readVector("imgtool/images/signed_ecdsa_p256.bin"),
	running: await readVector("imgtool/images/signed_odd_len.bin"),
	trust: [{ publicKey: pemDer(await text("imgtool/keys/sign-ecdsa-p256.pub.pem")) }, { publicKey: pemDer(await text("imgtool/keys/sign-ed25519.pub.pem")) }],
	seed, now, until: () => now() > deadline, stackSlots: () => memory().stackSlots,
});
console.log(JSON.stringify({ seconds, ...report }));
exit(report.violationCount ? 1 : 0);
