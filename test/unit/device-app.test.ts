/**
 * The device app (modules/app) on the Linux XS host, as a board runs it: a simulated device
 * (boards/sim) with a factory image takes an update on trial; the app then boots (provisioning,
 * agent, health check), confirms the trial image, and serves SMP on the console UART in the
 * serial framing: an echo, an image state read (which must show the image confirmed) and a reset.
 * An unhealthy boot (the device key's storage lost) leaves the trial image unconfirmed, and the
 * next reset reverts it.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { decodeCbor, encodeCbor, type CborMap } from "../../modules/transport/smp/cbor.js";
import { decodeSmpHeader, encodeSmpPacket } from "../../modules/transport/smp/header.js";
import { encodeSerialFrame, SerialFrameDecoder } from "../../modules/transport/smp/serial-framing.js";
import { deviceProcess } from "../../host/cli/sim-device.js";
import { tempDir, cliOk } from "../helpers/cli.js";

const work = tempDir("sealdrop-app-");
after(() => work.cleanup());

const ok = (...args: string[]) => cliOk(work.dir, ...args);
const json = (...args: string[]) => JSON.parse(ok(...args, "-f", "json")) as Record<string, unknown>;

interface AppRun {
	status: number | null;
	/** The app's boot report (stderr {"app": ...}). */
	boot: { deviceKey: Record<string, unknown>; health: { trial: boolean; confirmed: boolean; problem?: string }; running: { version: string; state: string } | null };
	bootMemory: Record<string, number>;
	resetMemory?: Record<string, number>;
	responses: { header: ReturnType<typeof decodeSmpHeader>; body: CborMap }[];
	console: string;
}

/** Runs `device.js app` for the device in `dir`, writes `requests` (framed) to its UART, then closes it (or waits for the reset). */
function runApp(dir: string, requests: Uint8Array[], expectResponses: number): Promise<AppRun> {
	const p = deviceProcess(path.join(work.dir, dir), ["app"]);
	const child = spawn(p.file, p.args, { env: p.env, stdio: ["pipe", "pipe", "pipe"] });
	const decoder = new SerialFrameDecoder({ maxPacket: 4096 });
	const responses: AppRun["responses"] = [];
	let stderr = "";
	let consoleText = "";
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => { child.kill("SIGKILL"); reject(new Error(`the app did not finish: ${stderr}`)); }, 30_000);
		child.stdout.on("data", (d: Buffer) => {
			consoleText += d.toString("latin1");
			for (const packet of decoder.push(new Uint8Array(d))) {
				const header = decodeSmpHeader(packet);
				responses.push({ header, body: header.length ? decodeCbor(packet.subarray(8, 8 + header.length)) as CborMap : {} });
			}
			if (responses.length >= expectResponses) child.stdin.end();
		});
		child.stderr.on("data", (d: Buffer) => { stderr += d.toString("utf8"); });
		child.stdin.on("error", () => {});
		for (const r of requests) child.stdin.write(encodeSerialFrame(r));
		if (expectResponses === 0) child.stdin.end();
		child.on("close", (status) => {
			clearTimeout(timer);
			const lines = stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
			const booted = lines.find((l) => l.app);
			if (!booted) return reject(new Error(`the app did not boot (exit ${status}): ${stderr}`));
			const reset = lines.find((l) => l.memory && !l.app);
			resolve({
				status, boot: booted.app as AppRun["boot"], bootMemory: booted.memory as Record<string, number>,
				...(reset ? { resetMemory: reset.memory as Record<string, number> } : {}), responses, console: consoleText,
			});
		});
	});
}

const packet = (op: number, group: number, command: number, body: CborMap, sequence: number) =>
	encodeSmpPacket({ op, version: 1, flags: 0, group, sequence, command }, encodeCbor(body));

before(() => {
	fs.writeFileSync(work.file("app-1.0.bin"), Buffer.alloc(20_000, 0x3c));
	fs.writeFileSync(work.file("app-1.1.bin"), Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 7) & 0xff)));
	ok("keygen", "-k", "sign.pem", "-t", "ecdsa-p256");
	ok("sign", "-k", "sign.pem", "-v", "1.0.0", "-H", "0x200", "--pad-header", "-S", "0x60000", "app-1.0.bin", "factory.bin");
	ok("sign", "-k", "sign.pem", "-v", "1.1.0", "-H", "0x200", "--pad-header", "-S", "0x60000", "app-1.1.bin", "inner.bin");
	ok("wrap", "-k", "sign.pem", "-S", "0x61000", "inner.bin", "release.bin");
	for (const d of ["dev", "sick"]) {
		ok("sim", "init", "--dir", d, "--trust", "sign.pem", "--factory-image", "factory.bin");
		ok("sim", "pubkey", "--dir", d, "-o", `${d}.pub.pem`);
		ok("seal", "--device-pub", `${d}.pub.pem`, "-o", `${d}-sealed.bin`, "release.bin");
		ok("sim", "install", "--dir", d, `${d}-sealed.bin`);
		const booted = json("sim", "reboot", "--dir", d);
		assert.deepEqual([(booted.running as AppRun["boot"]["running"])!.version, (booted.running as AppRun["boot"]["running"])!.state], ["1.1.0+0", "trial"]);
	}
});

test("the app confirms a healthy trial image and serves SMP on the console UART (echo, state read, reset)", async () => {
	const run = await runApp("dev", [
		packet(2, 0, 0, { d: "hello board" }, 1),
		packet(0, 1, 0, {}, 2),
		packet(0, 64, 0, {}, 3),
		packet(2, 0, 5, {}, 4),
	], 4);
	assert.equal(run.boot.deviceKey.created, false, "the key made by init's first boot is reused, not made again");
	assert.equal(run.boot.deviceKey.exportable, false);
	assert.deepEqual(run.boot.health, { trial: true, confirmed: true });
	assert.equal(run.boot.running?.state, "confirmed");
	assert.deepEqual(run.responses.map((r) => [r.header.op, r.header.group, r.header.sequence]), [[3, 0, 1], [1, 1, 2], [1, 64, 3], [3, 0, 4]]);
	assert.deepEqual(run.responses[0].body, { r: "hello board" });
	const images = run.responses[1].body.images as CborMap[];
	const active = images.find((i) => i.active === true)!;
	assert.equal(active.version, "1.1.0");
	assert.equal(active.confirmed, true, "the state read shows the image the app confirmed");
	assert.equal(run.responses[2].body.kind, "p256");
	assert.equal(run.status, 3, "an SMP reset ends the run with the simulator's reset status, after the answer");
	assert.ok(run.resetMemory && run.resetMemory.slotsPeak > 0, "the app reports its XS memory at the reset");
	// the confirmation is in flash: the next reset keeps 1.1.0
	const after = json("sim", "reboot", "--dir", "dev");
	assert.deepEqual([(after.running as { version: string; state: string }).version, (after.running as { state: string }).state], ["1.1.0+0", "confirmed"]);
	// a second boot of the app: nothing on trial, nothing to confirm
	const again = await runApp("dev", [], 0);
	assert.deepEqual(again.boot.health, { trial: false, confirmed: false });
	assert.equal(again.status, 0, "the app ends when its UART's input ends");
});

test("an unhealthy boot leaves the trial image unconfirmed and the next reset reverts it", async () => {
	// the device key's storage is lost (PSA's key files in the state folder): the lock names a key that is gone
	for (const f of fs.readdirSync(work.file("sick/state"))) fs.rmSync(path.join(work.file("sick/state"), f), { recursive: true, force: true });
	const run = await runApp("sick", [packet(2, 0, 0, { d: "still serving" }, 9)], 1);
	assert.equal(run.boot.health.trial, true);
	assert.equal(run.boot.health.confirmed, false);
	assert.match(run.boot.health.problem ?? "", /device key: E_KEY_STORE/);
	assert.deepEqual(run.responses[0].body, { r: "still serving" }, "SMP is served even when unhealthy, so the device can be inspected");
	const after = json("sim", "reboot", "--dir", "sick");
	assert.equal((after.running as { version: string }).version, "1.0.0+0", "MCUboot reverted the unconfirmed image");
});
