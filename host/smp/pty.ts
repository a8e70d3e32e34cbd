/**
 * A pseudo-terminal for `sealdrop sim serve --pty`. Node cannot open one without native code,
 * so a few lines of Python (its standard `pty` module) hold the pair: the slave, in raw mode, is
 * what a serial client opens; the master's bytes are relayed over the helper's stdin/stdout.
 */
import { spawn } from "node:child_process";
import { SealdropError } from "sealdrop/image";

const HELPER = `
import os, pty, sys, tty, select
master, slave = pty.openpty()
tty.setraw(slave)
sys.stdout.write(os.ttyname(slave) + "\\n"); sys.stdout.flush()
out = sys.stdout.fileno(); inp = sys.stdin.fileno()
while True:
    ready, _, _ = select.select([master, inp], [], [])
    if master in ready:
        try: data = os.read(master, 4096)
        except OSError: data = b""
        if data: os.write(out, data)
    if inp in ready:
        data = os.read(inp, 4096)
        if not data: break
        os.write(master, data)
`;

export interface Pty {
	/** The path a serial client opens (/dev/pts/N). */
	path: string;
	write(bytes: Uint8Array): void;
	onData: (bytes: Buffer) => void;
	close(): void;
}

export function openPty(): Promise<Pty> {
	return new Promise((resolve, reject) => {
		const helper = spawn("python3", ["-u", "-c", HELPER], { stdio: ["pipe", "pipe", "inherit"] });
		let path = "";
		const pty: Pty = {
			path: "",
			write: (bytes) => { helper.stdin.write(bytes); },
			onData: () => {},
			close: () => { helper.stdin.end(); },
		};
		helper.on("error", (e) => reject(new SealdropError("E_IO", `--pty needs python3 (its pty module): ${e.message}`)));
		helper.stdout.on("data", (d: Buffer) => {
			if (pty.path) return pty.onData(d);
			path += d.toString("latin1");
			const nl = path.indexOf("\n");
			if (nl < 0) return;
			pty.path = path.slice(0, nl);
			resolve(pty);
			if (nl + 1 < d.length) pty.onData(Buffer.from(path.slice(nl + 1), "latin1"));
		});
	});
}
