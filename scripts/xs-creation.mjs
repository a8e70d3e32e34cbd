#!/usr/bin/env node
// Prints the C defines that give the Linux XS host a device build's machine limits, read from
// manifest.json's "creation" (host/xs/Makefile passes them to main.c): the same JS stack (in
// slots: a stack overflow on a board is one here too) and the same heap and chunk sizes to start
// from and grow by (main.c adds room for the modules, which a board keeps in flash and the host
// compiles into its heap). Keys and the parser buffer stay the host's own: a board's modules are
// compiled and their keys made at build time, the host makes them at run time.
import { readFileSync } from "node:fs";

const manifest = JSON.parse(readFileSync(new URL("../manifest.json", import.meta.url), "utf8"));
const { stack, heap, chunk } = manifest.creation;
const defines = {
	SEALDROP_STACK_COUNT: stack,
	SEALDROP_HEAP_INITIAL: heap.initial,
	SEALDROP_HEAP_INCREMENTAL: heap.incremental,
	SEALDROP_CHUNK_INITIAL: chunk.initial,
	SEALDROP_CHUNK_INCREMENTAL: chunk.incremental,
};
for (const [name, value] of Object.entries(defines))
	if (!Number.isInteger(value) || value <= 0) throw new Error(`manifest.json creation: ${name} is ${value}`);
console.log(Object.entries(defines).map(([name, value]) => `-D${name}=${value}`).join(" "));
