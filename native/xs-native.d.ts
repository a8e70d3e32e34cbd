/*
 * The two functions Moddable's XS gives JavaScript to reach C (XS in C, "Native"): mcconfig's
 * xsc binds them at build time, the Linux XS host (host/xs/main.c) at run time.
 */
/** Base class whose instances are host objects released by the named C destructor. */
declare function Native(destructor: string): { new (): object };
/** The C function `name` (xs_*), to be called with `.call(this, ...args)`. */
declare function native(name: string): (this: unknown, ...args: unknown[]) => unknown;
