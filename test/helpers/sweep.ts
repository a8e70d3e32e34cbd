/**
 * Long sweeps (a power cut at every flash operation, many cuts of one large install) and their
 * samples. `npm run test:long` (SEALDROP_TEST_LONG=1) runs every sweep whole; `npm test` runs a
 * fixed sample of each, the same points on every run, so a failure replays: the edges of the
 * sweep, the points a sweep treats differently (`keep`: an install sweep tries another image after
 * every tenth cut) and a seeded spread in between.
 */

/** Set by `npm run test:long` (scripts/test.mjs --long): every sweep whole. */
export const LONG = process.env.SEALDROP_TEST_LONG === "1";

/** A seed from a label (FNV-1a), so each sweep samples its own points and always the same ones. */
function seedOf(label: string): number {
	let h = 0x811c9dc5;
	for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
	return h || 1;
}

/**
 * The points 1..`points` a sweep tries: all of them under test:long; otherwise the first and last
 * three, those `keep` names, and points drawn with a seed from `label` until there are `size` or
 * more (all of them when there are no more than `size`). Ascending.
 */
export function sweepPoints(points: number, label: string, size = 12, keep: (k: number) => boolean = () => false): number[] {
	const all = Array.from({ length: points }, (_, i) => i + 1);
	if (LONG || points <= size) return all;
	const chosen = new Set(all.filter((k) => k <= 3 || k > points - 3 || keep(k)));
	let state = seedOf(label);
	while (chosen.size < size) {
		state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
		chosen.add(1 + Math.floor((state / 2 ** 32) * points));
	}
	return [...chosen].sort((a, b) => a - b);
}
