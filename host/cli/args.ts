/**
 * Command-line parsing in imgtool's style (click): `-k FILE`, `--key FILE`, `--key=FILE`, options
 * that take two values (`--custom-tlv TAG VALUE`), repeatable options, and `-h/--help` everywhere.
 */
import { fail } from "sealdrop/image";

export interface OptionSpec {
	long: string;
	short?: string;
	/** Number of values the option takes: 0 (a flag), 1 (default) or 2. */
	arity?: 0 | 1 | 2;
	repeat?: boolean;
	metavar?: string;
	/** One line; the default and choices, if any, belong in it. */
	help: string;
	choices?: readonly string[];
}

export interface CommandSpec {
	name: string;
	summary: string;
	usage: string;
	options: OptionSpec[];
	/** Extra help text after the options (examples, exit codes). */
	notes?: string;
	/** A command group (`sealdrop sim init ...`): the first argument names one of these. */
	subcommands?: CommandSpec[];
	run(args: ParsedArgs): Promise<number> | number;
}

export class ParsedArgs {
	readonly positionals: string[] = [];
	readonly #values = new Map<string, string[][]>();

	set(long: string, values: string[]): void {
		const list = this.#values.get(long) ?? [];
		list.push(values);
		this.#values.set(long, list);
	}
	has(long: string): boolean { return this.#values.has(long); }
	flag(long: string): boolean { return this.#values.has(long); }
	/** The last value given for a one-value option. */
	get(long: string): string | undefined {
		const list = this.#values.get(long);
		return list?.[list.length - 1][0];
	}
	require(long: string): string {
		const value = this.get(long);
		if (value === undefined) fail("E_USAGE", `missing required option --${long}`);
		return value;
	}
	all(long: string): string[][] { return this.#values.get(long) ?? []; }
}

/** `-f human|json`: output for people or for machines. */
export const FORMAT: OptionSpec = { long: "format", short: "f", choices: ["human", "json"], help: "output format (default human)" };

export const HELP: OptionSpec = { long: "help", short: "h", arity: 0, help: "show this help and exit" };

export function parseArgs(spec: CommandSpec, argv: string[]): ParsedArgs {
	const options = [...spec.options, HELP];
	const byLong = new Map(options.map((o) => [o.long, o]));
	const byShort = new Map(options.filter((o) => o.short).map((o) => [o.short!, o]));
	const out = new ParsedArgs();
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		if (arg === "--") {
			out.positionals.push(...argv.slice(i + 1));
			break;
		}
		let option: OptionSpec | undefined;
		let inline: string | undefined;
		if (arg.startsWith("--")) {
			const eq = arg.indexOf("=");
			const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
			if (eq >= 0) inline = arg.slice(eq + 1);
			option = byLong.get(name);
			if (!option) fail("E_USAGE", `unknown option ${arg.slice(0, eq < 0 ? undefined : eq)} for "${spec.name}" (see sealdrop ${spec.name} --help)`);
		} else if (arg.startsWith("-") && arg.length > 1 && !/^-\d/.test(arg)) {
			option = byShort.get(arg.slice(1, 2));
			if (!option) fail("E_USAGE", `unknown option ${arg.slice(0, 2)} for "${spec.name}" (see sealdrop ${spec.name} --help)`);
			if (arg.length > 2) inline = arg.slice(2);
		} else {
			out.positionals.push(arg);
			continue;
		}
		const arity = option.arity ?? 1;
		if (arity === 0) {
			if (inline !== undefined) fail("E_USAGE", `--${option.long} takes no value`);
			out.set(option.long, []);
			continue;
		}
		const values: string[] = [];
		if (inline !== undefined) values.push(inline);
		while (values.length < arity) {
			if (i + 1 >= argv.length) fail("E_USAGE", `--${option.long} needs ${arity === 1 ? "a value" : `${arity} values`}`);
			values.push(argv[++i]);
		}
		if (option.choices && !option.choices.includes(values[0]))
			fail("E_USAGE", `--${option.long} must be one of ${option.choices.join(", ")}, not "${values[0]}"`);
		out.set(option.long, values);
	}
	return out;
}

export function formatHelp(spec: CommandSpec): string {
	const rows = [...spec.options, HELP].map((o) => {
		const names = (o.short ? `-${o.short}, ` : "    ") + `--${o.long}`;
		const meta = o.arity === 0 ? "" : " " + (o.metavar ?? (o.choices ? o.choices.join("|") : "VALUE"));
		return [names + meta, o.help];
	});
	const width = Math.min(34, Math.max(...rows.map((r) => r[0].length)) + 2);
	const lines = [`Usage: sealdrop ${spec.usage}`, "", spec.summary, "", "Options:"];
	for (const [left, right] of rows) lines.push(left.length >= width ? `  ${left}\n  ${" ".repeat(width)}${right}` : `  ${left.padEnd(width)}${right}`);
	if (spec.notes) lines.push("", spec.notes.trim());
	return lines.join("\n") + "\n";
}

/** imgtool's integers: decimal, 0x hex, 0o octal, 0b binary. */
export function parseInteger(text: string, what: string): number {
	const t = text.trim();
	const value = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t.slice(2), 16)
		: /^0o[0-7]+$/i.test(t) ? parseInt(t.slice(2), 8)
		: /^0b[01]+$/i.test(t) ? parseInt(t.slice(2), 2)
		: /^\d+$/.test(t) ? parseInt(t, 10) : NaN;
	if (!Number.isSafeInteger(value)) fail("E_USAGE", `${what} must be an integer (decimal or 0x hex), not "${text}"`);
	return value;
}

/** parseInteger within [min, max]: a value out of range is E_USAGE, not a failure deeper down. */
export function parseIntegerIn(text: string, what: string, min: number, max: number): number {
	const value = parseInteger(text, what);
	if (value < min || value > max) fail("E_USAGE", `${what} takes ${min} to ${max}, not ${text}`);
	return value;
}
