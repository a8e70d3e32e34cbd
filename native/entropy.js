/* Health-tested entropy from the platform source (native/entropy.c, native/<platform>/entropy-<platform>.c). */
export function fill(buffer) { return native("xs_entropy_fill").call(undefined, buffer); }
