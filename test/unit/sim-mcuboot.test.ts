/**
 * The MCUboot model (host/sim/mcuboot.ts) on the Linux XS host, driven by test/sim/mcuboot-boot.ts:
 * for each strategy (overwrite-only, swap-using-move, swap-using-scratch) and for plain and
 * encrypted images (ENC_EC256 and ENC_X25519, the device key imported into the XS state folder):
 * a test swap boots the new image and an unconfirmed one is reverted at the next reset; a
 * permanent swap and a confirmed image stay; an invalid secondary image (bad hash, untrusted
 * signer, downgrade, wrong device key) is erased and the old image boots; and a power cut at every
 * flash operation of the swap (and of the revert) ends, after a reboot, booting the old or the new
 * image with exactly that image's plaintext bytes in the primary slot, never a mix.
 *
 * Images are made with the CLI in a temp dir; layouts have 4 KiB sectors and 64 KiB slots. The
 * images stay clear of the slots' last sector: with a one-sector scratch area MCUboot cannot
 * recover image bytes in the trailer's sector from a cut that erases half of the scratch sector
 * (see host/sim/mcuboot/swap-scratch.ts).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { repoRoot, tempDir, cliOk } from "../helpers/cli.js";
import { LONG, sweepPoints } from "../helpers/sweep.js";

const tmp = tempDir("sealdrop-mcuboot-");
after(() => tmp.cleanup());
const xs = path.join(repoRoot, "build", "xs", "release", "sealdrop-xs");
const program = path.join(repoRoot, "build", "js", "test", "sim", "mcuboot-boot.js");

const SECTOR = 4096;
const SLOT = 16 * SECTOR;
const OLD = "1.0.0+0";
const NEW = "1.1.0+0";

type Mode = "overwrite" | "move" | "scratch";
type Enc = "plain" | "ec256" | "x25519";
const MODES: Mode[] = ["overwrite", "move", "scratch"];
const ENCS: Enc[] = ["plain", "ec256", "x25519"];

interface Partition { offset: number; size: number }
interface Layout {
	file: string;
	parts: Record<string, Partition>;
}

/**
 * Writes a board layout for the model: the partitions in order, each `sizes[name]` bytes; the
 * journal and storage partitions the board config names are there too.
 */
function writeLayout(name: string, sealdrop: Record<string, unknown>, sizes: [string, number][]): Layout {
	const parts: Record<string, Partition> = {};
	let offset = 0;
	for (const [part, size] of [...sizes, ["journal", 2 * SECTOR], ["storage", 2 * SECTOR]] as [string, number][]) {
		parts[part] = { offset, size };
		offset += size;
	}
	const file = tmp.file(`layout-${name}.json`);
	fs.writeFileSync(file, JSON.stringify({
		name, sealdrop: { maxAlign: 8, journal: "journal", storage: "storage", ...sealdrop },
		flash: { size: offset, blockLength: SECTOR, writeAlign: 8, eraseValue: 255 },
		partitions: Object.entries(parts).map(([part, p]) => ({ name: part, ...p })),
	}));
	return { file, parts };
}

/** One image's primary, secondary and a one-sector scratch; swap-using-move gets one more primary sector. */
function makeLayout(mode: Mode, enc: Enc): Layout {
	return writeLayout(`test-${mode}-${enc}`, {
		installer: enc === "plain" ? "mcuboot" : "mcuboot-encrypted", swap: mode,
		images: [{ primary: "primary", secondary: "secondary" }], scratch: "scratch",
	}, [["primary", mode === "move" ? SLOT + SECTOR : SLOT], ["secondary", SLOT], ["scratch", SECTOR]]);
}

interface Run { status: number | null; stdout: string; stderr: string }

/** A simulated device: its board layout, its XS state folder (device key), the key its bootloader trusts. */
interface Rig {
	layout: Layout;
	state: string;
	trust: string;
	/** Commands before each boot (e.g. "aes256"). */
	bootPrefix: string[];
}

function runXs(rig: Rig, flash: string, args: string[], cut?: number): Promise<Run> {
	const env: NodeJS.ProcessEnv = {};
	for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("SEALDROP_")) env[k] = v;
	env.SEALDROP_LAYOUT = rig.layout.file;
	env.SEALDROP_FLASH = flash;
	if (cut !== undefined) env.SEALDROP_FLASH_CUT = String(cut);
	return new Promise((resolve) => {
		execFile(xs, ["--state", rig.state, program, rig.layout.file, ...args], { env, timeout: 60_000 }, (error, stdout, stderr) => {
			const status = error ? (typeof error.code === "number" ? error.code : null) : 0;
			resolve({ status, stdout: String(stdout), stderr: String(stderr) });
		});
	});
}

interface ImageReport {
	swapType: string;
	resumed: boolean;
	booted: { version: string; hash: string; slot: string } | null;
	confirmed: boolean;
	rejected: { code: string; message: string } | null;
	error: { code: string; message: string } | null;
}
interface Boot { report: { images: ImageReport[]; error: { code: string; message: string } | null }; operations: number }

const bootArgs = (rig: Rig) => [...rig.bootPrefix, "boot", rig.trust];

async function boot(rig: Rig, flash: string): Promise<Boot> {
	const r = await runXs(rig, flash, bootArgs(rig));
	assert.equal(r.status, 0, `boot failed: ${r.stderr}`);
	return JSON.parse(r.stdout.trim().split("\n").pop()!) as Boot;
}

/** Runs setup commands on a fresh (erased) flash file. */
async function setup(rig: Rig, flash: string, ...args: string[]): Promise<void> {
	fs.rmSync(flash, { force: true });
	const r = await runXs(rig, flash, args);
	assert.equal(r.status, 0, `setup failed: ${r.stderr}`);
}

/** Runs `fn` on every item, `workers` at a time (the machine has two cores; XS runs are single-threaded). */
async function pool<T>(items: T[], workers: number, fn: (item: T) => Promise<void>): Promise<void> {
	let next = 0;
	await Promise.all(Array.from({ length: workers }, async () => {
		while (next < items.length) await fn(items[next++]);
	}));
}

const cli = (...args: string[]) => cliOk(tmp.dir, ...args);

/** The image with its body replaced by the plaintext (imgtool zero-pads the body of encrypted images). */
function plaintextOf(image: Buffer, payload: Buffer): Buffer {
	const hdrSize = image.readUInt16LE(8);
	const imgSize = image.readUInt32LE(12);
	const out = Buffer.from(image);
	out.fill(0, hdrSize, hdrSize + imgSize);
	payload.copy(out, hdrSize);
	return out;
}

interface Combo extends Rig {
	mode: Mode;
	enc: Enc;
	name: string;
	/** Image files (paths) and the plaintext each leaves in a primary slot. */
	old: string;
	new: string;
	plain: Record<string, Buffer>;
}

const combos: Combo[] = [];
let cutPoints = 0;

before(async () => {
	cli("keygen", "-k", "sign.pem", "-t", "ecdsa-p256");
	cli("getpub", "-k", "sign.pem", "-e", "raw", "-o", "sign.raw");
	cli("keygen", "-k", "other.pem", "-t", "ecdsa-p256");
	// imgtool (and sign) pair the signing key's type with the encryption key's: X25519 goes with Ed25519
	cli("keygen", "-k", "sign-ed25519.pem", "-t", "ed25519");
	cli("getpub", "-k", "sign-ed25519.pem", "-e", "raw", "-o", "sign-ed25519.raw");
	cli("keygen", "-k", "other-ed25519.pem", "-t", "ed25519");
	const signer = (enc: string, who: "sign" | "other") => (enc === "x25519" ? `${who}-ed25519.pem` : `${who}.pem`);
	const newPayload = randomBytes(7000);
	fs.writeFileSync(tmp.file("old.payload"), randomBytes(5000));
	fs.writeFileSync(tmp.file("new.payload"), newPayload);
	const common = ["-H", "0x100", "--pad-header", "-S", String(SLOT), "-s", "auto"];
	const sign = (key: string, version: string, payload: string, out: string, ...extra: string[]) =>
		cli("sign", "-k", key, "-v", version, ...common, ...extra, payload, out);

	// device keys: the raw private key goes into the XS state folder, the public key to the CLI
	const deviceKeys: Record<string, { kind: string; encArgs: string[] }> = {};
	for (const enc of ["ec256", "x25519", "other-ec256"]) {
		const pair = enc === "x25519" ? generateKeyPairSync("x25519") : generateKeyPairSync("ec", { namedCurve: "P-256" });
		fs.writeFileSync(tmp.file(`device-${enc}.pub.pem`), pair.publicKey.export({ type: "spki", format: "pem" }));
		fs.writeFileSync(tmp.file(`device-${enc}.raw`), Buffer.from(String(pair.privateKey.export({ format: "jwk" }).d), "base64url"));
		deviceKeys[enc] = { kind: enc === "x25519" ? "x25519" : "p256", encArgs: ["-E", `device-${enc}.pub.pem`] };
	}

	for (const enc of ENCS) {
		const encArgs = enc === "plain" ? [] : deviceKeys[enc].encArgs;
		// the factory image is in plaintext (imgtool -E --clear: flagged and keyed, body in clear)
		sign(signer(enc, "sign"), "1.0.0", "old.payload", `old-${enc}.bin`, ...encArgs, ...(enc === "plain" ? [] : ["--clear"]));
		sign(signer(enc, "sign"), "1.1.0", "new.payload", `new-${enc}.bin`, ...encArgs);
		sign(signer(enc, "other"), "1.1.0", "new.payload", `untrusted-${enc}.bin`, ...encArgs);
		sign(signer(enc, "sign"), "0.9.0", "new.payload", `downgrade-${enc}.bin`, ...encArgs);
		const bad = fs.readFileSync(tmp.file(`new-${enc}.bin`));
		bad[bad.readUInt16LE(8) + 100] ^= 0x01; // one body bit: the hash of the plaintext no longer matches
		fs.writeFileSync(tmp.file(`badhash-${enc}.bin`), bad);
	}
	sign("sign.pem", "1.1.0", "new.payload", "new-other-ec256.bin", ...deviceKeys["other-ec256"].encArgs);
	sign("sign.pem", "1.1.0", "new.payload", "new-dep.bin", "-d", "(1, 1.1.0)");

	for (const enc of ENCS) {
		fs.mkdirSync(tmp.file(`state-${enc}`));
		for (const mode of MODES) {
			const c: Combo = {
				mode, enc, name: `${mode}/${enc}`, layout: makeLayout(mode, enc),
				state: tmp.file(`state-${enc}`), trust: tmp.file(enc === "x25519" ? "sign-ed25519.raw" : "sign.raw"), bootPrefix: [],
				old: tmp.file(`old-${enc}.bin`), new: tmp.file(`new-${enc}.bin`),
				plain: {
					[OLD]: fs.readFileSync(tmp.file(`old-${enc}.bin`)),
					[NEW]: enc === "plain" ? fs.readFileSync(tmp.file(`new-${enc}.bin`)) : plaintextOf(fs.readFileSync(tmp.file(`new-${enc}.bin`)), newPayload),
				},
			};
			combos.push(c);
		}
		if (enc !== "plain") {
			const c = combos[combos.length - 1];
			await setup(c, tmp.file(`keyflash-${enc}.bin`), "import-key", deviceKeys[enc].kind, tmp.file(`device-${enc}.raw`));
		}
	}
	// the flash files of the key imports are not needed
	for (const enc of ENCS) fs.rmSync(tmp.file(`keyflash-${enc}.bin`), { force: true });
});

function slotBytes(flash: string, slot: Partition, length: number): Buffer {
	return fs.readFileSync(flash).subarray(slot.offset, slot.offset + length);
}

/** What boots is `version`, and the primary slot (`primary`: its bytes) holds exactly that image's plaintext. */
function checkBooted(c: Combo, primary: Buffer, b: Boot, version: string, what: string): ImageReport {
	assert.equal(b.report.error, null, `${what}: ${JSON.stringify(b.report.error)}`);
	const image = b.report.images[0];
	assert.equal(image.booted?.version, version, `${what}: booted ${image.booted?.version}, expected ${version}`);
	const expected = c.plain[version];
	assert.ok(primary.subarray(0, expected.length).equals(expected), `${what}: the primary slot does not hold image ${version} byte for byte`);
	return image;
}

function expectBooted(c: Combo, flash: string, b: Boot, version: string, what: string): ImageReport {
	return checkBooted(c, slotBytes(flash, c.layout.parts.primary, c.layout.parts.primary.size), b, version, what);
}

function secondaryIsErased(c: Combo, flash: string): boolean {
	return slotBytes(flash, c.layout.parts.secondary, c.layout.parts.secondary.size).every((b) => b === 0xff);
}

/** Old image in the primary slot, `image` in the secondary, marked pending as boot_set_pending does. */
function pending(c: Combo, flash: string, image: string, kind: "test" | "perm"): Promise<void> {
	return setup(c, flash, "install", "primary", c.old, "install", "secondary", image, "pending", "0", kind);
}

/**
 * For flash operations k of a boot from the flash file `start` (every one under `npm run
 * test:long`, a fixed-seed sample of 16 in `npm test`, test/helpers/sweep.ts): cut the power at k, boot
 * again, and reset once more (both boots in one process, the primary slot dumped after each).
 * Each of the two boots must boot the old or the new image with exactly its bytes in the primary
 * slot; `judge` checks which. Returns the number of cut points.
 */
async function sweep(c: Combo, start: string, label: string, judge: (recovered: ImageReport, next: ImageReport) => void): Promise<number> {
	const name = `${c.mode}-${c.enc}-${label}`;
	const dry = tmp.file(`${name}-dry.bin`);
	fs.copyFileSync(start, dry);
	const operations = (await boot(c, dry)).operations;
	fs.rmSync(dry);
	assert.ok(operations > 0);
	const failures: string[] = [];
	const points = sweepPoints(operations, name, 16);
	await pool(points, 2, async (k) => {
		const flash = tmp.file(`${name}-cut${k}.bin`);
		const dumps = [1, 2].map((n) => `${flash}.primary${n}`);
		fs.copyFileSync(start, flash);
		try {
			const cut = await runXs(c, flash, bootArgs(c), k);
			assert.equal(cut.status, 99, `the power cut at operation ${k} did not happen: ${cut.stderr}`);
			const r = await runXs(c, flash, [...bootArgs(c), "dump", "primary", dumps[0], ...bootArgs(c), "dump", "primary", dumps[1]]);
			assert.equal(r.status, 0, `boot failed: ${r.stderr}`);
			const boots = r.stdout.trim().split("\n").map((line) => JSON.parse(line) as Boot);
			const images = boots.map((b, i) => {
				const version = b.report.images[0]?.booted?.version;
				assert.ok(version === OLD || version === NEW, `boot ${i + 1} after the cut: ${JSON.stringify(b.report)}`);
				return checkBooted(c, fs.readFileSync(dumps[i]), b, version, `boot ${i + 1} after the cut`);
			});
			judge(images[0], images[1]);
		} catch (e) {
			failures.push(`cut at operation ${k}: ${(e as Error).message}`);
		} finally {
			for (const f of [flash, ...dumps]) fs.rmSync(f, { force: true });
		}
	});
	cutPoints += points.length;
	assert.deepEqual(failures, [], `${failures.length} of ${points.length} cut points (of ${operations}) failed`);
	return points.length;
}

/** What the reset after a boot boots: an unconfirmed image is reverted (swap strategies), anything else stays. */
function afterReset(image: ImageReport): string {
	return image.booted!.version === NEW && !image.confirmed ? OLD : image.booted!.version;
}

for (const mode of MODES) {
	for (const enc of ENCS) {
		const name = `${mode}/${enc}`;
		const combo = () => combos.find((c) => c.name === name)!;
		const swapping = mode !== "overwrite";

		test(`${name}: a test swap boots the new image; ${swapping ? "unconfirmed, the next reset reverts to the old one" : "overwrite-only keeps it"}`, async () => {
			const c = combo();
			const flash = tmp.file(`${mode}-${enc}-test.bin`);
			await pending(c, flash, c.new, "test");
			const first = expectBooted(c, flash, await boot(c, flash), NEW, "first boot");
			assert.equal(first.swapType, "test");
			assert.equal(first.confirmed, !swapping);
			const second = expectBooted(c, flash, await boot(c, flash), swapping ? OLD : NEW, "second boot");
			assert.equal(second.swapType, swapping ? "revert" : "none");
			assert.equal(second.confirmed, true);
			if (swapping) {
				// the new image is back in the secondary slot as it came: ciphertext again if it was encrypted
				const original = fs.readFileSync(c.new);
				assert.ok(slotBytes(flash, c.layout.parts.secondary, original.length).equals(original), "the secondary slot holds the new image as installed");
			}
			const third = expectBooted(c, flash, await boot(c, flash), swapping ? OLD : NEW, "third boot");
			assert.equal(third.swapType, "none");
			fs.rmSync(flash);
		});

		test(`${name}: a permanent swap stays`, async () => {
			const c = combo();
			const flash = tmp.file(`${mode}-${enc}-perm.bin`);
			await pending(c, flash, c.new, "perm");
			const first = expectBooted(c, flash, await boot(c, flash), NEW, "first boot");
			assert.equal(first.swapType, "perm");
			assert.equal(first.confirmed, true);
			const second = expectBooted(c, flash, await boot(c, flash), NEW, "second boot");
			assert.equal(second.swapType, "none");
			fs.rmSync(flash);
		});

		test(`${name}: an image confirmed after a test swap stays`, async () => {
			const c = combo();
			const flash = tmp.file(`${mode}-${enc}-confirm.bin`);
			await pending(c, flash, c.new, "test");
			expectBooted(c, flash, await boot(c, flash), NEW, "first boot");
			await runXs(c, flash, ["confirm", "0"]);
			const second = expectBooted(c, flash, await boot(c, flash), NEW, "after confirming");
			assert.equal(second.swapType, "none");
			assert.equal(second.confirmed, true);
			expectBooted(c, flash, await boot(c, flash), NEW, "third boot");
			fs.rmSync(flash);
		});

		test(`${name}: an invalid secondary image is erased and the old image boots`, async () => {
			const c = combo();
			const flash = tmp.file(`${mode}-${enc}-invalid.bin`);
			const cases: [string, string][] = [[`badhash-${enc}.bin`, "E_HASH"], [`untrusted-${enc}.bin`, "E_WRONG_SIGNER"]];
			// a lower security counter (swap strategies) or version (overwrite-only) is a downgrade
			cases.push([`downgrade-${enc}.bin`, swapping ? "E_SECURITY_COUNTER" : "E_DOWNGRADE"]);
			if (enc === "ec256") cases.push(["new-other-ec256.bin", "E_DEVICE_KEY"], ["new-x25519.bin", "E_ENC_TLV"]);
			if (enc === "plain") cases.push(["new-ec256.bin", "E_UNSUPPORTED"]); // encrypted, and the build has no device key
			for (const [file, code] of cases) {
				await pending(c, flash, tmp.file(file), "test");
				const image = expectBooted(c, flash, await boot(c, flash), OLD, file);
				assert.equal(image.swapType, "none", file);
				assert.equal(image.rejected?.code, code, `${file}: ${JSON.stringify(image.rejected)}`);
				assert.ok(secondaryIsErased(c, flash), `${file}: the refused image is erased`);
				const again = expectBooted(c, flash, await boot(c, flash), OLD, `${file}, next boot`);
				assert.equal(again.rejected, null);
			}
			fs.rmSync(flash);
		});

		test(`${name}: a power cut at every flash operation of the ${swapping ? "test swap" : "overwrite"} resumes to a whole image`, async (t) => {
			const c = combo();
			const start = tmp.file(`${mode}-${enc}-cutstart.bin`);
			await pending(c, start, c.new, "test");
			// the new image boots (or, cut while copy_done was written, the swap counts as done
			// and this boot already reverts); the reset after reverts an unconfirmed image
			const n = await sweep(c, start, "swap", (recovered, next) => assert.equal(next.booted?.version, afterReset(recovered)));
			t.diagnostic(`${n} cut points`);
		});

		if (swapping) {
			test(`${name}: a power cut at every flash operation of the revert ends with the old image`, async (t) => {
				const c = combo();
				const start = tmp.file(`${mode}-${enc}-revertstart.bin`);
				await pending(c, start, c.new, "test");
				expectBooted(c, start, await boot(c, start), NEW, "the test swap");
				let dropped = 0;
				const n = await sweep(c, start, "revert", (recovered, next) => {
					if (mode === "move" && recovered.rejected?.code === "E_SECURITY_COUNTER") {
						// MCUboot does this: a reset between fixup_revert (swap_move.c) and the primary
						// trailer's magic leaves a secondary trailer asking for a permanent swap of the
						// old image, and downgrade prevention refuses it and erases the old image; the
						// unconfirmed new image stays for good
						dropped++;
						assert.equal(recovered.booted?.version, NEW);
						assert.equal(next.booted?.version, NEW);
						return;
					}
					assert.equal(recovered.booted?.version, OLD);
					assert.equal(next.booted?.version, OLD);
				});
				if (mode === "move") assert.ok(dropped > 0, "MCUboot's fixup_revert window");
				t.diagnostic(`${n} cut points${dropped ? `; at ${dropped} of them MCUboot's downgrade prevention dropped the revert` : ""}`);
			});
		}
	}
}

test("swap-using-move without downgrade prevention: a power cut anywhere in a revert brings the old image back", async (t) => {
	// fixup_revert makes an interrupted revert look like a permanent swap of the old image, which
	// MCUBOOT_DOWNGRADE_PREVENTION then refuses (the revert sweeps above count those cut points);
	// without it the permanent swap restores the old image, confirmed, at every cut point
	const c = combos.find((x) => x.name === "move/plain")!;
	const start = tmp.file("fixup-start.bin");
	await pending(c, start, c.new, "test");
	expectBooted(c, start, await boot(c, start), NEW, "the test swap");
	const rig: Combo = { ...c, bootPrefix: ["downgrade-prevention", "off"] };
	const n = await sweep(rig, start, "fixup", (recovered, next) => {
		assert.equal(recovered.booted?.version, OLD);
		assert.equal(next.booted?.version, OLD);
		assert.equal(next.confirmed, true);
	});
	t.diagnostic(`${n} cut points`);
});

test("imgtool's encrypted images swap in and revert on the sim board's layout (ENC_EC256 AES-128; ENC_X25519 AES-256, Ed25519 signer)", async () => {
	const layoutJson = JSON.parse(fs.readFileSync(path.join(repoRoot, "boards", "sim", "layout.json"), "utf8"));
	layoutJson.sealdrop.installer = "mcuboot-encrypted";
	const file = tmp.file("layout-sim-encrypted.json");
	fs.writeFileSync(file, JSON.stringify(layoutJson));
	const parts = Object.fromEntries((layoutJson.partitions as (Partition & { name: string })[]).map((p) => [p.name, p]));
	const vectors = path.join(repoRoot, "test", "vectors", "imgtool");
	const payload = fs.readFileSync(path.join(vectors, "payloads", "p100k.bin"));
	for (const [kind, oldName, newName, signer, aes256] of [
		["p256", "signed_ecdsa_p256", "enc_ec256_aes128", "sign-ecdsa-p256", false],
		["x25519", "signed_ed25519", "enc_x25519_aes256", "sign-ed25519", true],
	] as const) {
		const rig: Rig = { layout: { file, parts }, state: tmp.file(`state-imgtool-${kind}`), trust: path.join(vectors, "getpub", `${signer}.raw`), bootPrefix: aes256 ? ["aes256"] : [] };
		fs.mkdirSync(rig.state);
		const pem = fs.readFileSync(path.join(vectors, "keys", `enc-${kind === "p256" ? "ec256" : "x25519"}.pem`), "utf8");
		fs.writeFileSync(tmp.file(`imgtool-${kind}.raw`), Buffer.from(String(createPrivateKey(pem).export({ format: "jwk" }).d), "base64url"));
		const oldImage = path.join(vectors, "images", `${oldName}.bin`);
		const newImage = path.join(vectors, "images", `${newName}.bin`);
		const flash = tmp.file(`imgtool-${kind}.bin`);
		await setup(rig, flash, "import-key", kind, tmp.file(`imgtool-${kind}.raw`), "install", "primary", oldImage, "install", "secondary", newImage, "pending", "0", "test");
		const oldBytes = fs.readFileSync(oldImage);
		const newBytes = fs.readFileSync(newImage);
		const first = await boot(rig, flash);
		assert.equal(first.report.images[0].swapType, "test", JSON.stringify(first.report));
		const plain = plaintextOf(newBytes, payload);
		assert.ok(slotBytes(flash, parts.primary, plain.length).equals(plain), `${newName}: the primary slot holds the decrypted image`);
		// the reported hash is the image hash: SHA-256 of header, plaintext body and protected TLVs
		const hashed = plain.subarray(0, plain.readUInt16LE(8) + plain.readUInt32LE(12) + plain.readUInt16LE(10));
		assert.equal(first.report.images[0].booted?.hash, createHash("sha256").update(hashed).digest("hex"));
		const second = await boot(rig, flash);
		assert.equal(second.report.images[0].swapType, "revert");
		assert.ok(slotBytes(flash, parts.primary, oldBytes.length).equals(oldBytes), `${oldName} is back in the primary slot`);
		assert.ok(slotBytes(flash, parts.secondary, newBytes.length).equals(newBytes), `${newName} is back in the secondary slot, encrypted as imgtool made it`);
		fs.rmSync(flash);
	}
});

test("an AES-128 image is refused by an MCUBOOT_AES_256 build (the ENC TLV size differs)", async () => {
	const c = combos.find((x) => x.name === "scratch/x25519")!;
	const rig: Rig = { ...c, bootPrefix: ["aes256"] };
	const flash = tmp.file("aes256-refuses.bin");
	await pending(c, flash, c.new, "test");
	const image = expectBooted(c, flash, await boot(rig, flash), OLD, "AES-256 build");
	assert.equal(image.rejected?.code, "E_DEVICE_KEY");
	fs.rmSync(flash);
});

test("two images sharing a scratch area: both swap, both revert, a power cut anywhere leaves each whole; an unmet dependency upgrades neither", async () => {
	const layout = writeLayout("test-multi", {
		installer: "mcuboot", swap: "scratch", scratch: "scratch",
		images: [{ primary: "p0", secondary: "s0" }, { primary: "p1", secondary: "s1" }],
	}, [["p0", SLOT], ["s0", SLOT], ["p1", SLOT], ["s1", SLOT], ["scratch", SECTOR]]);
	const rig: Rig = { layout, state: tmp.file("state-plain"), trust: tmp.file("sign.raw"), bootPrefix: [] };
	const flash = tmp.file("multi.bin");
	const oldImage = fs.readFileSync(tmp.file("old-plain.bin"));
	const newImage = fs.readFileSync(tmp.file("new-plain.bin"));
	const versions = (b: Boot) => b.report.images.map((i) => `${i.swapType} ${i.booted?.version}`);
	const holds = (part: string, image: Buffer) => slotBytes(flash, layout.parts[part], image.length).equals(image);
	await setup(rig, flash, "install", "p0", tmp.file("old-plain.bin"), "install", "s0", tmp.file("new-plain.bin"),
		"install", "p1", tmp.file("old-plain.bin"), "install", "s1", tmp.file("new-plain.bin"), "pending", "0", "test", "pending", "1", "test");
	assert.deepEqual(versions(await boot(rig, flash)), [`test ${NEW}`, `test ${NEW}`]);
	assert.ok(holds("p0", newImage) && holds("p1", newImage));
	assert.deepEqual(versions(await boot(rig, flash)), [`revert ${OLD}`, `revert ${OLD}`]);
	assert.ok(holds("p0", oldImage) && holds("p1", oldImage));

	// a power cut at every flash operation of the two images' test swaps: each image ends whole,
	// old or new (a cut between the two swaps leaves image 0 new and image 1 old; both then revert)
	const start = tmp.file("multi-start.bin");
	await setup(rig, start, "install", "p0", tmp.file("old-plain.bin"), "install", "s0", tmp.file("new-plain.bin"),
		"install", "p1", tmp.file("old-plain.bin"), "install", "s1", tmp.file("new-plain.bin"), "pending", "0", "test", "pending", "1", "test");
	fs.copyFileSync(start, flash);
	const operations = (await boot(rig, flash)).operations;
	const failures: string[] = [];
	const points = sweepPoints(operations, "multi-image test swaps", 16);
	await pool(points, 2, async (k) => {
		const cutFlash = tmp.file(`multi-cut${k}.bin`);
		fs.copyFileSync(start, cutFlash);
		try {
			assert.equal((await runXs(rig, cutFlash, bootArgs(rig), k)).status, 99);
			const b = await boot(rig, cutFlash);
			assert.equal(b.report.error, null, JSON.stringify(b.report));
			for (const [i, part] of [[0, "p0"], [1, "p1"]] as const) {
				const version = b.report.images[i].booted?.version;
				const image = version === NEW ? newImage : version === OLD ? oldImage : undefined;
				assert.ok(image && slotBytes(cutFlash, layout.parts[part], image.length).equals(image), `image ${i}: ${JSON.stringify(b.report.images[i])}`);
			}
		} catch (e) {
			failures.push(`cut at operation ${k}: ${(e as Error).message}`);
		} finally {
			fs.rmSync(cutFlash, { force: true });
		}
	});
	cutPoints += points.length;
	assert.deepEqual(failures, [], `${failures.length} of ${points.length} cut points (of ${operations}) failed`);

	// image 0's new version needs image 1 at 1.1.0 or later, and image 1 is not being upgraded
	await setup(rig, flash, "install", "p0", tmp.file("old-plain.bin"), "install", "s0", tmp.file("new-dep.bin"),
		"install", "p1", tmp.file("old-plain.bin"), "pending", "0", "test");
	const refused = await boot(rig, flash);
	assert.deepEqual(versions(refused), [`none ${OLD}`, `none ${OLD}`]);
	assert.equal(refused.report.images[0].rejected?.code, "E_DEPENDENCY");
	// with image 1 upgraded in the same boot, it is met
	await setup(rig, flash, "install", "p0", tmp.file("old-plain.bin"), "install", "s0", tmp.file("new-dep.bin"),
		"install", "p1", tmp.file("old-plain.bin"), "install", "s1", tmp.file("new-plain.bin"), "pending", "0", "test", "pending", "1", "test");
	assert.deepEqual(versions(await boot(rig, flash)), [`test ${NEW}`, `test ${NEW}`]);
	fs.rmSync(flash);
});

test("no image in the primary slot: E_NO_IMAGE, nothing boots", async () => {
	const c = combos[0];
	const flash = tmp.file("empty.bin");
	await setup(c, flash, "install", "secondary", tmp.file("badhash-plain.bin"));
	const b = await boot(c, flash);
	assert.equal(b.report.error?.code, "E_NO_IMAGE");
	assert.equal(b.report.images[0].booted, null);
});

test("cut points tried", (t) => {
	t.diagnostic(`${cutPoints} power cuts${LONG ? "" : " (a sample of each sweep; npm run test:long tries every point)"}, each followed by a reboot that had to boot a whole old or new image`);
	assert.ok(cutPoints > 0);
});
