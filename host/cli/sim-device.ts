/**
 * Running the simulated device (host/sim/device.ts on the Linux XS host) for the CLI: one process
 * per command, in the device's folder (`sealdrop sim`, and `sim serve` in host/smp/sim-serve.ts).
 * Its own module so that the two share it without importing each other.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { fail, SealdropError, type ErrorCode } from "sealdrop/image";
import type { ParsedArgs } from "./args.js";
import type { HttpBridgeHost } from "../sim/http-bridge.js";

/** The XS host's exit status when SEALDROP_FLASH_CUT cuts the power (native/lin/flash-lin.c). */
export const POWER_CUT_EXIT = 99;

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const xsHost = path.join(root, "build", "xs", "release", "sealdrop-xs");
const deviceProgram = path.join(root, "build", "js", "host", "sim", "device.js");

export type DeviceOutput = Record<string, unknown>;

/** The XS host and the device program, or E_IO saying how to build them (an installed package ships no binary). */
function requireXsHost(): void {
	if (!fs.existsSync(xsHost) || !fs.existsSync(deviceProgram)) fail("E_IO", `the simulated device runs on the Linux XS host, which is not built yet (${xsHost}): run \`npx sealdrop build-xs\` once (needs cc, make and libmbedtls-dev; a minute or two)`);
}

/** The device folder of a sim command; every one runs the device, so the XS host is checked first, before the folder is touched. */
export function deviceDir(args: ParsedArgs, mustExist = true): string {
	requireXsHost();
	const dir = path.resolve(args.require("dir"));
	if (mustExist && !fs.existsSync(path.join(dir, "device.json"))) fail("E_IO", `${dir} is not a simulated device (no device.json): run \`sealdrop sim init --dir ${args.require("dir")}\` first`);
	return dir;
}

/** How to start the device program (host/sim/device.ts) for `command` in the device folder `dir`. */
export function deviceProcess(dir: string, command: string[], env: NodeJS.ProcessEnv = process.env): { file: string; args: string[]; env: NodeJS.ProcessEnv } {
	requireXsHost();
	return {
		file: xsHost,
		args: ["--state", path.join(dir, "state"), deviceProgram, path.join(dir, "device.json"), ...command],
		env: { ...env, SEALDROP_LAYOUT: path.join(dir, "layout.json"), SEALDROP_FLASH: path.join(dir, "flash.bin") },
	};
}

/**
 * One run of the device program. Progress lines on its stderr go to `onProgress`, other stderr
 * passes through; a refusal ({"error": ...}) becomes a SealdropError with the device's code.
 * With `bridge`, the device's stdin and stdout carry the HTTP bridge (sim pull) until it is done.
 */
export function runDevice(dir: string, command: string[], onProgress?: (p: { phase: string; bytes: number; total: number }) => void, bridge?: HttpBridgeHost): Promise<DeviceOutput> {
	return new Promise((resolve, reject) => {
		const device = deviceProcess(dir, command);
		const child = spawn(device.file, device.args, { env: device.env, stdio: [bridge ? "pipe" : "ignore", "pipe", "pipe"] });
		let stdout = "";
		let stderr = "";
		let pendingLine = "";
		if (bridge) bridge.start(child.stdin!);
		child.stdout!.on("data", (d: Buffer) => { if (bridge) bridge.receive(d); else stdout += d.toString("utf8"); });
		child.stderr!.on("data", (d: Buffer) => {
			const lines = (pendingLine + d.toString("utf8")).split("\n");
			pendingLine = lines.pop()!;
			for (const line of lines) {
				if (line.startsWith("{\"progress\":")) onProgress?.((JSON.parse(line) as { progress: { phase: string; bytes: number; total: number } }).progress);
				else stderr += line + "\n";
			}
		});
		child.on("error", (e) => reject(new SealdropError("E_IO", `cannot run the XS host: ${e.message}`)));
		child.on("close", (status) => {
			stderr += pendingLine;
			if (bridge) {
				bridge.stop();
				stdout = bridge.text();
			}
			const last = stdout.trim().split("\n").pop() ?? "";
			let out: DeviceOutput | undefined;
			try {
				out = last.startsWith("{") ? JSON.parse(last) as DeviceOutput : undefined;
			} catch {
				out = undefined;
			}
			const error = out?.error as { code: ErrorCode; message: string } | undefined;
			if (error) reject(new SealdropError(error.code, error.message));
			// a simulated power cut is the device's flash failing, not ours: run the command again to resume
			else if (status === POWER_CUT_EXIT) reject(new SealdropError("E_FLASH", `${stderr.trim().split("\n").pop()?.replace(/^sealdrop-xs: /, "") ?? "power cut"}: the device stopped; run the command again to resume`));
			else if (status !== 0 || !out) reject(new Error(`the simulated device stopped (exit ${status}): ${stderr.trim().split("\n").slice(-3).join(" | ")}`));
			else resolve(out);
		});
	});
}
