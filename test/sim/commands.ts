/**
 * The command loop of the XS test programs in test/sim: runs each command, prints one JSON line
 * for it ({ cmd, ok: true, ...result } or { cmd, ok: false, code[, message] }), and exits 1 at
 * the first error that is not a SealdropError (a crash, which the tests must see as such).
 */
import { SealdropError } from "sealdrop/image";
import { exit } from "sealdrop/xs-host";

export function runCommands(commands: string[], run: (command: string) => Record<string, unknown>, { withMessage = true } = {}): void {
	for (const command of commands) {
		try {
			console.log(JSON.stringify({ cmd: command, ok: true, ...run(command) }));
		} catch (error) {
			if (!(error instanceof SealdropError)) {
				console.log(JSON.stringify({ cmd: command, ok: false, code: "CRASH", message: String(error) }));
				exit(1);
				return;
			}
			console.log(JSON.stringify({ cmd: command, ok: false, code: error.code, ...(withMessage ? { message: error.message } : {}) }));
		}
	}
}
