/**
 * The real `sealdrop/native/flash` under a second name, for bench/xs/counting-flash.ts: the
 * counting run of `npm run bench:install` maps "sealdrop/native/flash" to the counting stand-in
 * and this name to native/flash.js (a module map of its own, `sealdrop-xs --map`).
 */
declare module "sealdrop-bench/native-flash" {
	export * from "sealdrop/native/flash";
	export { default } from "sealdrop/native/flash";
}
