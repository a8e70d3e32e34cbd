/**
 * Image versions `maj.min.rev+build` (struct image_version, image.h:149-154; imgtool version.py).
 * Later parts are optional and default to 0; no leading zeros, as imgtool's regular expression.
 */
import { fail } from "sealdrop/base/errors";

export interface ImageVersion {
	major: number;    // u8
	minor: number;    // u8
	revision: number; // u16
	build: number;    // u32
}

export function parseVersion(text: string): ImageVersion {
	// a literal here, not a module-level constant: a preloaded module's objects live in ROM on a
	// Moddable build, and XS's RegExp exec writes its match state into the RegExp (the real lin
	// build crashed in fx_RegExp_prototype_exec with a shared one); this one is made per call
	const m = /^(0|[1-9]\d*)(?:\.(0|[1-9]\d*)(?:\.(0|[1-9]\d*)(?:\+(0|[1-9]\d*))?)?)?$/.exec(text.trim());
	if (!m) fail("E_VERSION", `bad version "${text}": expected maj.min.rev+build, e.g. 1.2.3+4`);
	const version = {
		major: Number(m[1]),
		minor: Number(m[2] ?? 0),
		revision: Number(m[3] ?? 0),
		build: Number(m[4] ?? 0),
	};
	checkVersion(version, text);
	return version;
}

export function checkVersion(v: ImageVersion, text = formatVersion(v)): void {
	const within = (n: number, max: number) => Number.isInteger(n) && n >= 0 && n <= max;
	if (!(within(v.major, 0xff) && within(v.minor, 0xff) && within(v.revision, 0xffff) && within(v.build, 0xffffffff)))
		fail("E_VERSION", `bad version "${text}": fields are limited to 255.255.65535+4294967295`);
}

export function formatVersion(v: ImageVersion): string {
	return `${v.major}.${v.minor}.${v.revision}+${v.build}`;
}

/**
 * Compares like bootutil's boot_version_cmp: major, minor, revision, and the build number only
 * when asked (MCUBOOT_VERSION_CMP_USE_BUILD_NUMBER). Returns -1, 0 or 1.
 */
export function compareVersions(a: ImageVersion, b: ImageVersion, useBuild = false): number {
	const fields: (keyof ImageVersion)[] = useBuild ? ["major", "minor", "revision", "build"] : ["major", "minor", "revision"];
	for (const f of fields) if (a[f] !== b[f]) return a[f] < b[f] ? -1 : 1;
	return 0;
}

/** The 8 bytes of a struct image_version. */
export function encodeVersion(v: ImageVersion, out = new Uint8Array(8), offset = 0): Uint8Array {
	checkVersion(v);
	out[offset] = v.major;
	out[offset + 1] = v.minor;
	out[offset + 2] = v.revision & 0xff;
	out[offset + 3] = v.revision >>> 8;
	out[offset + 4] = v.build & 0xff;
	out[offset + 5] = (v.build >>> 8) & 0xff;
	out[offset + 6] = (v.build >>> 16) & 0xff;
	out[offset + 7] = (v.build >>> 24) & 0xff;
	return out;
}

export function decodeVersion(bytes: Uint8Array, offset = 0): ImageVersion {
	return {
		major: bytes[offset],
		minor: bytes[offset + 1],
		revision: bytes[offset + 2] | (bytes[offset + 3] << 8),
		build: (bytes[offset + 4] | (bytes[offset + 5] << 8) | (bytes[offset + 6] << 16) | (bytes[offset + 7] << 24)) >>> 0,
	};
}
