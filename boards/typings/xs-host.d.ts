/**
 * The Linux XS host's console (host/xs/main.c installGlobals: log and info to stdout, warn and
 * error to stderr), which @moddable/typings does not declare (its mcpack.d.ts console has log only).
 */
declare const console: {
	log(...items: unknown[]): void;
	info(...items: unknown[]): void;
	warn(...items: unknown[]): void;
	error(...items: unknown[]): void;
};
