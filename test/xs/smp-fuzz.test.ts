/**
 * SMP fuzzing on XS against the real agent (test/fuzz/smp-agent.ts), short: a fixed seed and a
 * fixed number of inputs, so a failure replays exactly. Runs in a process of its own with the
 * driver's stack allowance (../fuzz/stack-allowance.ts), so the device code meets a board's stack. `npm run fuzz:smp` runs it for longer with
 * fresh seeds. The count is printed as a TAP comment. Needs boards/sim/layout.json's flash
 * (scripts/test.mjs's shared device-side run); leaves the partitions it used erased.
 */
import Flash from "sealdrop/native/flash";
import { memory, now } from "sealdrop/xs-host";
import type { TrustAnchor } from "sealdrop/update";
import { SmpGroupId } from "../../modules/transport/smp/header.js";
import type { SmpGroup } from "../../modules/transport/smp/server.js";
import { equal, ok, readVector, test } from "../harness.js";
import { fuzzSmpOnAgent, type AgentFuzzOptions } from "../fuzz/smp-agent.js";
import { pemDer } from "./pem.js";

const text = async (path: string) => new TextDecoder().decode(await readVector(path));

async function inputs(seed: number, count: number): Promise<AgentFuzzOptions> {
	const trust: TrustAnchor[] = [{ publicKey: pemDer(await text("imgtool/keys/sign-ecdsa-p256.pub.pem")) }, { publicKey: pemDer(await text("imgtool/keys/sign-ed25519.pub.pem")) }];
	return {
		image: await readVector("imgtool/images/signed_ecdsa_p256.bin"), running: await readVector("imgtool/images/signed_odd_len.bin"),
		trust, seed, inputs: count, now, stackSlots: () => memory().stackSlots,
	};
}

function wipeAll(): void {
	for (const path of ["primary", "secondary", "scratch", "journal", "storage"]) {
		const flash = Flash.open({ path });
		flash.eraseBlock(0, flash.status().blocks);
		flash.close();
	}
}

test("SMP fuzz on the real agent: random and mutated frames, whole and through the serial framing; no flash write outside an upload session", async () => {
	try {
		const r = fuzzSmpOnAgent(await inputs(0x5eed, 1500));
		console.log(`# smp fuzz on XS: ${JSON.stringify(r)}`);
		equal(r.violations.join("\n"), "", "violations");
		equal(r.violationCount, 0);
		// the run really exercised what the oracle watches
		equal(r.inputs, 1500);
		ok(r.packets > 1000 && r.viaSerial > 300, `packets ${r.packets}, via serial ${r.viaSerial}`);
		ok(r.sessionsStarted > 0 && r.uploadsCompleted > 0 && r.flashOperations.upload > 0, "uploads started, wrote, completed");
		ok(r.flashOperations.stateWrite > 0, "an uploaded image was marked pending through SMP");
		ok(r.quietOutsideSession > 50, `requests outside a session: ${r.quietOutsideSession}`);
	} finally {
		wipeAll();
	}
});

test("the oracle catches a group that writes flash outside an upload session", async () => {
	// a stand-in group (the Sealdrop group's id) that erases the scratch partition on every request
	const leaky: SmpGroup = {
		id: SmpGroupId.SEALDROP,
		handle() {
			const flash = Flash.open({ path: "scratch" });
			flash.eraseBlock(0);
			flash.close();
			return {};
		},
	};
	try {
		const r = fuzzSmpOnAgent({ ...(await inputs(7, 300)), extraGroups: [leaky] });
		ok(r.violationCount > 0, "violations found");
		ok(/flash operation\(s\) outside an upload session/.test(r.violations[0]), r.violations[0]);
	} finally {
		wipeAll();
	}
});
