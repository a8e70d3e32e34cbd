/**
 * The `sealdrop` command. Every failure prints one line, `sealdrop: E_CODE: message`, on stderr
 * and exits with a code that says what kind of failure it was (see EXIT_CODES).
 */
import fs from "node:fs";
import { fail, SealdropError, type ErrorCode } from "sealdrop/image";
import { formatHelp, parseArgs, type CommandSpec } from "./args.js";

export const EXIT = { OK: 0, CHECK_FAILED: 1, USAGE: 2, BAD_INPUT: 3, IO: 4, INTERNAL: 70 } as const;

const EXIT_CODES: Record<ErrorCode, number> = {
	E_HASH: EXIT.CHECK_FAILED, E_NO_HASH: EXIT.CHECK_FAILED, E_SIGNATURE: EXIT.CHECK_FAILED, E_NO_SIGNATURE: EXIT.CHECK_FAILED,
	E_WRONG_SIGNER: EXIT.CHECK_FAILED, E_DEVICE_KEY: EXIT.CHECK_FAILED,
	E_USAGE: EXIT.USAGE, E_VERSION: EXIT.USAGE,
	E_TRUNCATED: EXIT.BAD_INPUT, E_BAD_MAGIC: EXIT.BAD_INPUT, E_HEADER_SIZE: EXIT.BAD_INPUT, E_PROT_SIZE: EXIT.BAD_INPUT,
	E_TLV_OVERRUN: EXIT.BAD_INPUT, E_TLV_VALUE: EXIT.BAD_INPUT, E_FLAGS: EXIT.BAD_INPUT, E_TOO_LARGE: EXIT.BAD_INPUT,
	E_ENC_TLV: EXIT.BAD_INPUT, E_NOT_SEALABLE: EXIT.BAD_INPUT, E_KEY_FORMAT: EXIT.BAD_INPUT, E_KEY_TYPE: EXIT.BAD_INPUT,
	E_KEY_READ: EXIT.IO, E_IO: EXIT.IO, E_HEX: EXIT.BAD_INPUT, E_TOOL: EXIT.IO,
	E_SECURITY_COUNTER: EXIT.CHECK_FAILED, E_DOWNGRADE: EXIT.CHECK_FAILED, E_DEPENDENCY: EXIT.CHECK_FAILED, E_NO_IMAGE: EXIT.CHECK_FAILED,
	E_UNSUPPORTED: EXIT.BAD_INPUT, E_STATE: EXIT.BAD_INPUT, E_RANGE: EXIT.BAD_INPUT, E_FLASH: EXIT.IO,
	E_NETWORK: EXIT.IO, E_HTTP: EXIT.IO,
	E_ENTROPY: EXIT.IO, E_KEY_STORE: EXIT.IO, E_ROTATION: EXIT.BAD_INPUT, E_REPLAY: EXIT.CHECK_FAILED,
};

/**
 * Every command, in the order --help lists them, and the module it lives in: a run loads only the
 * command it names. Loading them all cost ~100 ms of the CLI's ~190 ms start (54 modules), which
 * every invocation paid, whatever it did.
 */
const COMMANDS: Record<string, () => Promise<CommandSpec>> = {
	keygen: async () => (await import("./commands/keys.js")).keygen,
	getpub: async () => (await import("./commands/keys.js")).getpub,
	getpubhash: async () => (await import("./commands/keys.js")).getpubhash,
	getpriv: async () => (await import("./commands/keys.js")).getpriv,
	sign: async () => (await import("./commands/sign.js")).sign,
	create: async () => (await import("./commands/sign.js")).create,
	wrap: async () => (await import("./commands/sign.js")).wrap,
	seal: async () => (await import("./commands/seal.js")).seal,
	verify: async () => (await import("./commands/inspect.js")).verify,
	dumpinfo: async () => (await import("./commands/inspect.js")).dumpinfo,
	decrypt: async () => (await import("./commands/inspect.js")).decrypt,
	sim: async () => (await import("./commands/sim.js")).sim,
	smp: async () => (await import("./commands/smp.js")).smp,
	serve: async () => (await import("./commands/serve.js")).serve,
	rotate: async () => (await import("./commands/rotate.js")).rotate,
	"build-xs": async () => (await import("./commands/build-xs.js")).buildXs,
};

const loaded = new Map<string, CommandSpec>();

/** The command `name` names, loaded, or undefined. */
async function loadCommand(name: string): Promise<CommandSpec | undefined> {
	if (!Object.hasOwn(COMMANDS, name)) return undefined;
	const command = await COMMANDS[name]();
	loaded.set(name, command);
	return command;
}

/**
 * Loads every command. main() then starts any of them without waiting for its module, so a
 * command runs synchronously up to its own first await, as when they were all imported up front
 * (test/helpers/noble-cli.ts captures main()'s output for that part).
 */
export async function loadAllCommands(): Promise<CommandSpec[]> {
	return Promise.all(Object.keys(COMMANDS).map(async (name) => (await loadCommand(name))!));
}

async function usage(): Promise<string> {
	const commands = await loadAllCommands();
	const width = Math.max(...commands.map((c) => c.name.length)) + 2;
	return [
		"Usage: sealdrop COMMAND [options]",
		"",
		"Secure firmware updates for Moddable XS devices: MCUboot images signed once, sealed per device.",
		"imgtool-compatible: keygen, getpub, getpubhash, getpriv, sign (create), verify, dumpinfo take imgtool 2.4's options.",
		"",
		"Commands:",
		...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary.split(/(?<=\.) /)[0]}`),
		"",
		"Run `sealdrop COMMAND --help` for a command's options.",
		"Exit codes: 0 ok, 1 the image does not check out, 2 bad usage, 3 bad input, 4 file error, 70 internal error.",
		"",
	].join("\n");
}

function groupUsage(group: CommandSpec): string {
	const subs = group.subcommands!;
	const width = Math.max(...subs.map((c) => c.name.length)) + 2;
	return [
		`Usage: sealdrop ${group.usage}`, "", group.summary, "", "Commands:",
		...subs.map((c) => `  ${c.name.padEnd(width)}${c.summary.split(/(?<=\.) /)[0]}`),
		"", group.notes ?? "", "", `Run \`sealdrop ${group.name} COMMAND --help\` for a command's options.`, "",
	].join("\n");
}

/**
 * A group's arguments with the options typed before the command moved after it, as users type
 * them (`sealdrop smp --udp 127.0.0.1:1337 upload sealed.bin`): the first argument that is not an
 * option or an option's value names the command. Option arities come from the group's commands.
 */
export function commandFirst(group: CommandSpec, rest: string[]): string[] {
	const arity = new Map<string, number>();
	for (const sub of group.subcommands ?? []) for (const o of sub.options) {
		const n = o.arity ?? 1;
		arity.set(`--${o.long}`, Math.max(arity.get(`--${o.long}`) ?? 0, n));
		if (o.short) arity.set(`-${o.short}`, Math.max(arity.get(`-${o.short}`) ?? 0, n));
	}
	let i = 0;
	while (i < rest.length && rest[i].startsWith("-") && rest[i] !== "--" && !["-h", "--help"].includes(rest[i])) {
		const arg = rest[i];
		const inline = arg.startsWith("--") ? arg.includes("=") : arg.length > 2;
		i += 1 + (inline ? 0 : arity.get(arg) ?? 0);
	}
	if (i === 0 || i >= rest.length) return rest;
	return [rest[i], ...rest.slice(0, i), ...rest.slice(i + 1)];
}

/** The command `top` and its arguments `rest` name (a group's subcommand), or undefined. */
function resolve(top: CommandSpec | undefined, rest: string[]): { command: CommandSpec; args: string[] } | undefined {
	let command = top;
	let args = rest;
	while (command?.subcommands) {
		args = commandFirst(command, args);
		const sub: CommandSpec | undefined = command.subcommands.find((c) => c.name === args[0]);
		if (!sub) return undefined;
		command = sub;
		args = args.slice(1);
	}
	return command ? { command, args } : undefined;
}

/** Whether the command asked for `-f json` (and has it): its failures then print JSON on stdout too. */
function wantsJson(top: CommandSpec | undefined, rest: string[]): boolean {
	const found = resolve(top, rest);
	if (!found || !found.command.options.some((o) => o.long === "format")) return false;
	let json = false;
	const { args } = found;
	for (let i = 0; i < args.length; i++) {
		const a = args[i];
		if (a === "--") break;
		if (a === "-f" || a === "--format") json = args[++i] === "json";
		else if (a.startsWith("--format=")) json = a.slice(9) === "json";
		else if (a.startsWith("-f") && !a.startsWith("--")) json = a.slice(2) === "json";
	}
	return json;
}

/** Not async: a command that fails before its first await throws while main()'s caller still listens. */
function runCommand(command: CommandSpec, rest: string[]): Promise<number> | number {
	if (command.subcommands) {
		const [name, ...more] = commandFirst(command, rest);
		if (!name || name === "-h" || name === "--help" || name === "help") {
			process.stdout.write(groupUsage(command));
			if (name) return EXIT.OK;
			process.stderr.write(`sealdrop: E_USAGE: \`sealdrop ${command.name}\` needs a command\n`);
			return EXIT.USAGE;
		}
		const sub = command.subcommands.find((c) => c.name === name);
		if (!sub) fail("E_USAGE", `unknown command "${command.name} ${name}" (try sealdrop ${command.name} --help)`);
		return runCommand(sub, more);
	}
	const args = parseArgs(command, rest);
	if (args.flag("help")) {
		process.stdout.write(formatHelp(command));
		return EXIT.OK;
	}
	return command.run(args);
}

/** Runs the CLI; returns the exit code (never throws). */
export async function main(argv: string[]): Promise<number> {
	const [name, ...rest] = argv;
	let command: CommandSpec | undefined;
	try {
		if (!name) {
			process.stdout.write(await usage());
			process.stderr.write("sealdrop: E_USAGE: no command given\n");
			return EXIT.USAGE;
		}
		if (name === "-h" || name === "--help" || name === "help") {
			process.stdout.write(await usage());
			return EXIT.OK;
		}
		if (name === "version" || name === "--version") {
			const pkg = JSON.parse(fs.readFileSync(new URL("../../../../package.json", import.meta.url), "utf8"));
			process.stdout.write(`${pkg.version}\n`);
			return EXIT.OK;
		}
		command = loaded.get(name) ?? await loadCommand(name);
		if (!command) {
			process.stderr.write(`sealdrop: E_USAGE: unknown command "${name}" (try sealdrop --help)\n`);
			return EXIT.USAGE;
		}
		return await runCommand(command, rest);
	} catch (e) {
		// `-f json`: the failure as JSON on stdout too, so a script reading stdout sees it
		const json = (code: string, message: string) => {
			if (wantsJson(command, rest)) process.stdout.write(JSON.stringify({ ok: false, code, message }) + "\n");
		};
		if (e instanceof SealdropError) {
			process.stderr.write(`sealdrop: ${e.code}: ${e.message}\n`);
			json(e.code, e.message);
			return EXIT_CODES[e.code] ?? EXIT.INTERNAL;
		}
		const err = e as Error;
		json("E_INTERNAL", err?.message ?? String(e));
		process.stderr.write(`sealdrop: internal error: ${err?.message ?? String(e)}${process.env.SEALDROP_DEBUG ? `\n${err?.stack}` : " (set SEALDROP_DEBUG=1 for a stack trace)"}\n`);
		return EXIT.INTERNAL;
	}
}
