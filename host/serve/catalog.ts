/**
 * What `sealdrop serve` can hand out: the releases a fleet sealing run wrote (host/cli/fleet.ts:
 * fleet.json, and shared.bin + tails.bin for layout split/both, or one <id>.bin per device for
 * layout full) and a folder of plain image files.
 *
 * A device's image of a split release is never stored whole: it is shared.bin followed by the
 * device's range of tails.bin, and a response streams those two pieces (or the part a Range asks
 * for) straight from the files, which stay open while the server runs.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { compareVersions, fail, parseVersion } from "sealdrop/image";
import type { FleetDeviceRecord, FleetManifest } from "../cli/fleet.js";

/** Bytes [offset, offset + length) of an open file. */
export interface Segment {
	fd: number;
	offset: number;
	length: number;
}

/** One representation to serve: its bytes as segments of open files, and its validators (RFC 9110 §8.8). */
export interface Resource {
	size: number;
	/** A strong entity tag, quoted (RFC 9110 §8.8.3). */
	etag: string;
	/** An HTTP-date (RFC 9110 §8.8.2). */
	lastModified: string;
	segments: Segment[];
	/** Closes what was opened for this resource alone (plain files), once the response is done. */
	release?: () => void;
}

export interface Release {
	name: string;
	dir: string;
	manifest: FleetManifest;
	devices: Map<string, FleetDeviceRecord>;
	lastModified: string;
	shared?: number;
	tails?: number;
}

const NAME = /^[A-Za-z0-9._-]{1,128}$/;

function openFile(file: string, size?: number): number {
	let fd: number;
	try {
		fd = fs.openSync(file, "r");
	} catch (e) {
		fail("E_IO", `${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
	}
	if (size !== undefined && fs.fstatSync(fd).size !== size) {
		fs.closeSync(fd);
		fail("E_IO", `${file}: holds ${fs.statSync(file).size} bytes, fleet.json says ${size}`);
	}
	return fd;
}

function sha256OfFile(fd: number, size: number): string {
	const hash = crypto.createHash("sha256");
	const buffer = Buffer.alloc(1 << 20);
	for (let at = 0; at < size;) {
		const n = fs.readSync(fd, buffer, 0, Math.min(buffer.length, size - at), at);
		if (n === 0) break;
		hash.update(buffer.subarray(0, n));
		at += n;
	}
	return hash.digest("hex");
}

/** Opens a release folder written by `sealdrop seal --fleet`; checks shared.bin against fleet.json. */
export function openRelease(dir: string): Release {
	const file = path.join(dir, "fleet.json");
	let manifest: FleetManifest;
	try {
		manifest = JSON.parse(fs.readFileSync(file, "utf8")) as FleetManifest;
	} catch (e) {
		fail("E_IO", `${file}: cannot read a fleet manifest (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
	}
	if (manifest.format !== "sealdrop-fleet/1" || !Array.isArray(manifest.devices)) fail("E_IO", `${file}: not a sealdrop-fleet/1 manifest`);
	const name = path.basename(path.resolve(dir));
	if (!NAME.test(name)) fail("E_USAGE", `release folder name "${name}" may use only letters, digits, '.', '_' and '-'`);
	const release: Release = {
		name, dir, manifest, devices: new Map(manifest.devices.map((d) => [d.id, d])),
		lastModified: fs.statSync(file).mtime.toUTCString(),
	};
	if (manifest.shared.file && manifest.tails) {
		release.shared = openFile(path.join(dir, manifest.shared.file), manifest.shared.size);
		if (sha256OfFile(release.shared, manifest.shared.size) !== manifest.shared.sha256) fail("E_IO", `${path.join(dir, manifest.shared.file)}: SHA-256 differs from fleet.json`);
		release.tails = openFile(path.join(dir, manifest.tails.file), manifest.tails.size);
	}
	return release;
}

/** A device's image in a release: assembled from shared.bin and its tail, or its own file. */
function deviceResource(release: Release, device: FleetDeviceRecord): Resource {
	const common = { size: device.imageSize, etag: `"${device.imageSha256}"`, lastModified: release.lastModified };
	if (release.shared !== undefined && release.tails !== undefined && device.tailOffset !== undefined) {
		return {
			...common,
			segments: [{ fd: release.shared, offset: 0, length: release.manifest.shared.size }, { fd: release.tails, offset: device.tailOffset, length: device.tailSize }],
		};
	}
	if (!device.image) fail("E_IO", `release ${release.name}: no image for device ${device.id}`);
	const fd = openFile(path.join(release.dir, device.image), device.imageSize);
	return { ...common, segments: [{ fd, offset: 0, length: device.imageSize }], release: () => fs.closeSync(fd) };
}

export class Catalog {
	readonly releases: Release[];
	readonly imagesDir?: string;

	constructor(releaseDirs: string[], imagesDir?: string) {
		this.releases = releaseDirs.map(openRelease);
		const names = new Set<string>();
		for (const r of this.releases) {
			if (names.has(r.name)) fail("E_USAGE", `two releases are named ${r.name}: release folders need distinct names`);
			names.add(r.name);
		}
		if (imagesDir !== undefined) {
			if (!fs.statSync(imagesDir, { throwIfNoEntry: false })?.isDirectory()) fail("E_IO", `${imagesDir}: not a folder`);
			this.imagesDir = imagesDir;
		}
	}

	/** The device's image in the named release, or in the newest release that lists the device. */
	device(id: string, releaseName?: string): Resource | undefined {
		let best: { release: Release; record: FleetDeviceRecord } | undefined;
		for (const release of this.releases) {
			if (releaseName !== undefined && release.name !== releaseName) continue;
			const record = release.devices.get(id);
			if (!record) continue;
			if (!best || compareVersions(parseVersion(release.manifest.version), parseVersion(best.release.manifest.version), true) >= 0) best = { release, record };
		}
		return best && deviceResource(best.release, best.record);
	}

	/**
	 * A file of the image folder. Its entity tag is made from its size and modification time
	 * (as common servers do): a file replaced in place gets a new tag.
	 */
	image(name: string): Resource | undefined {
		if (this.imagesDir === undefined || !NAME.test(name) || name.startsWith(".")) return undefined;
		let fd: number;
		try {
			fd = fs.openSync(path.join(this.imagesDir, name), "r");
		} catch {
			return undefined;
		}
		const stat = fs.fstatSync(fd);
		if (!stat.isFile()) {
			fs.closeSync(fd);
			return undefined;
		}
		return {
			size: stat.size, etag: `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`, lastModified: stat.mtime.toUTCString(),
			segments: [{ fd, offset: 0, length: stat.size }], release: () => fs.closeSync(fd),
		};
	}

	/** The JSON index: releases (version, devices, shared ciphertext) and plain images. */
	index(): unknown {
		return {
			releases: this.releases.map((r) => ({
				name: r.name, version: r.manifest.version, devices: r.devices.size, aesKeyBits: r.manifest.aesKeyBits,
				shared: { size: r.manifest.shared.size, sha256: r.manifest.shared.sha256 },
				image: `/releases/${r.name}/devices/{id}/image`,
			})),
			images: this.imagesDir === undefined ? [] : fs.readdirSync(this.imagesDir, { withFileTypes: true })
				.filter((e) => e.isFile() && NAME.test(e.name) && !e.name.startsWith("."))
				.map((e) => ({ name: e.name, size: fs.statSync(path.join(this.imagesDir!, e.name)).size, url: `/images/${e.name}` })),
		};
	}

	close(): void {
		for (const r of this.releases) {
			if (r.shared !== undefined) fs.closeSync(r.shared);
			if (r.tails !== undefined) fs.closeSync(r.tails);
		}
	}
}

/** The segments holding bytes [start, end] (inclusive) of a resource. */
export function sliceSegments(segments: Segment[], start: number, end: number): Segment[] {
	const out: Segment[] = [];
	let at = 0;
	for (const s of segments) {
		const from = Math.max(start, at);
		const to = Math.min(end + 1, at + s.length);
		if (from < to) out.push({ fd: s.fd, offset: s.offset + (from - at), length: to - from });
		at += s.length;
	}
	return out;
}
