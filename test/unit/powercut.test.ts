/**
 * The fault-injection harness (test/faults/harness.ts) on every installer and swap mode: a power
 * cut at every flash operation of an install, the bootloader's test swap, the revert and the
 * confirm, each followed by a reset. Prints how many cut points each phase tried.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { tempDir } from "../helpers/cli.js";
import { ALL_CONFIGS, configName, runPowercut } from "../faults/harness.js";

const tmp = tempDir("sealdrop-powercut-");
after(() => tmp.cleanup());

// two at a time: each run is one XS process, and CI has two cores
describe("power cuts on the simulated device", { concurrency: 2 }, () => {
for (const config of ALL_CONFIGS) {
	test(`power cut at every flash operation: ${configName(config)}`, async (t) => {
		const report = await runPowercut(config, tmp.file(configName(config).replace("/", "-")));
		const phases = [report.install, report.testSwap, report.revert, report.confirm];
		t.diagnostic(`${report.config}: install ${report.install.points} cut points (${report.install.resumedMidBody} resumed mid-body), test swap ${report.testSwap.points}, revert ${report.revert.points}, confirm ${report.confirm.points}; outcomes ${JSON.stringify({ install: report.install.outcomes, testSwap: report.testSwap.outcomes, confirm: report.confirm.outcomes })}`);
		assert.deepEqual(phases.flatMap((p) => p.failures), []);
		const revertible = config.swap !== "overwrite";
		assert.ok(report.install.points > 10 && report.testSwap.points > 0, JSON.stringify(report));
		if (revertible) assert.ok(report.revert.points > 0 && report.confirm.points > 0, JSON.stringify(report));
		assert.ok(report.install.resumedMidBody > report.install.points / 3, `most install cuts resume after durable blocks (${report.install.resumedMidBody} of ${report.install.points})`);
	});
}
});
