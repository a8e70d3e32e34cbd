/**
 * Installs the web globals device modules use — TextEncoder, TextDecoder, setTimeout and
 * clearTimeout — from Moddable's modules when the build does not provide them (Moddable ships
 * them as the modules "text/encoder", "text/decoder" and "timer", documented in the SDK's
 * documentation/base/timer.md and modules/data/text; the Linux XS host installs them itself).
 * main.ts imports this first, before any module that uses them runs; modules that create an
 * encoder when they load (the SMP CBOR codec) are therefore not preloaded.
 */
import TextDecoder from "text/decoder";
import TextEncoder from "text/encoder";
import Timer from "timer";

const g = globalThis as Record<string, unknown>;
g.TextEncoder ??= TextEncoder;
g.TextDecoder ??= TextDecoder;
g.setTimeout ??= (callback: () => void, ms?: number) => Timer.set(callback, ms ?? 0);
g.clearTimeout ??= (id: unknown) => {
	if (id !== undefined && id !== null) Timer.clear(id as ReturnType<typeof Timer.set>);
};
