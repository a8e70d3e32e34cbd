/**
 * The fault-injection harness (test/faults/harness.ts) on every installer and swap mode: a power
 * cut at flash operations of an install, the bootloader's test swap, the revert and the confirm,
 * each followed by a reset. `npm run test:long` cuts at every operation; `npm test` at a fixed
 * sample of each phase's (test/helpers/sweep.ts). Prints how many cut points each phase tried.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { tempDir } from "../helpers/cli.js";
import { ALL_CONFIGS, configName, runPowercut, triesAnotherImage } from "../faults/harness.js";
import { LONG, sweepPoints } from "../helpers/sweep.js";

const tmp = tempDir("sealdrop-powercut-");
after(() => tmp.cleanup());

// two at a time: each run is one XS process, and CI has two cores
describe("power cuts on the simulated device", { concurrency: 2 }, () => {
for (const config of ALL_CONFIGS) {
	test(`power cut at flash operations: ${configName(config)}`, async (t) => {
		const report = await runPowercut(config, tmp.file(configName(config).replace("/", "-")), undefined, (phase, operations) =>
			// the sample keeps the cuts after which the harness tries another image
			sweepPoints(operations, `${configName(config)} ${phase}`, 12, (k) => phase === "install" && triesAnotherImage(k)));
		const phases = [report.install, report.testSwap, report.revert, report.confirm];
		const tried = (p: { points: number; operations: number }) => `${p.points} of ${p.operations}`;
		t.diagnostic(`${report.config}: install ${tried(report.install)} cut points (${report.install.resumedMidBody} resumed mid-body), test swap ${tried(report.testSwap)}, revert ${tried(report.revert)}, confirm ${tried(report.confirm)}; outcomes ${JSON.stringify({ install: report.install.outcomes, testSwap: report.testSwap.outcomes, confirm: report.confirm.outcomes })}`);
		assert.deepEqual(phases.flatMap((p) => p.failures), []);
		const revertible = config.swap !== "overwrite";
		assert.ok(report.install.operations > 10 && report.install.points > 10 && report.testSwap.points > 0, JSON.stringify(report));
		if (revertible) assert.ok(report.revert.points > 0 && report.confirm.points > 0, JSON.stringify(report));
		// a cut followed by another image starts over by design; of the rest, more than a third resume
		// in the whole sweep, and a quarter or more in the sample, whose first and last three cuts land
		// before the first durable block or after the body (test/helpers/sweep.ts keeps the edges)
		const sameImageCuts = report.install.points - report.install.anotherImage;
		const resumed = report.install.resumedMidBody;
		assert.ok(LONG ? resumed > sameImageCuts / 3 : resumed >= sameImageCuts / 4, `install cuts resume after durable blocks (${resumed} of ${sameImageCuts} retried with the same image)`);
	});
}
});
