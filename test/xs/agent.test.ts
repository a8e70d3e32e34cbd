/**
 * The update agent (modules/update) on XS with the real native modules, fed imgtool's images
 * from test/vectors/imgtool with their device keys imported: installs in any chunking, and every
 * refusal leaving the running image untouched and nothing pending.
 * Runs in a state folder and flash file of its own (scripts/test.mjs), laid out by
 * boards/sim/layout.json; each test wipes the partitions it uses.
 */
import DeviceKey from "sealdrop/native/device-key";
import Flash from "sealdrop/native/flash";
import { findEncTlv, parseImage, SealdropError, type ErrorCode } from "sealdrop/image";
import { maxImageSize, readSlotTrailer, sha256, UpdateAgent, type BoardConfig, type InstallerKind, type SwapMode, type TrustAnchor } from "sealdrop/update";
import { Area } from "../../host/sim/mcuboot/flash.js";
import { maxImageSize as bootloaderMaxImageSize } from "../../host/sim/mcuboot.js";
import { bytesEqual, equal, ok, readVector, test, throws } from "../harness.js";
import { pemDer, pemPrivateScalar } from "./pem.js";

const KEY_SLOT = 3; // not the default slot, so the board config's deviceKeySlot is exercised

/** The sim board with `installer`; mcuboot-encrypted boards' MCUboot decrypts AES-`aesKeyBits` (128, its default, unless said). */
function board(installer: InstallerKind, aesKeyBits?: 128 | 256): BoardConfig {
	return {
		name: "sim", installer, swap: "scratch", maxAlign: 8, images: [{ primary: "primary", secondary: "secondary" }],
		scratch: "scratch", journal: "journal", storage: "storage", deviceKeySlot: KEY_SLOT, ...(aesKeyBits ? { aesKeyBits } : {}),
	};
}

const text = async (path: string) => new TextDecoder().decode(await readVector(path));
const trust = async (): Promise<TrustAnchor[]> => [
	{ publicKey: pemDer(await text("imgtool/keys/sign-ecdsa-p256.pub.pem")) },
	{ publicKey: pemDer(await text("imgtool/keys/sign-ed25519.pub.pem")) },
];

function wipe(...partitions: string[]): void {
	for (const path of partitions) {
		const flash = Flash.open({ path });
		flash.eraseBlock(0, flash.status().blocks);
		flash.close();
	}
}

function readPartition(path: string, length: number): Uint8Array {
	const flash = Flash.open({ path, mode: "r" });
	const bytes = new Uint8Array(length);
	flash.read(bytes, 0);
	flash.close();
	return bytes;
}

function writePartition(path: string, bytes: Uint8Array): void {
	const flash = Flash.open({ path });
	flash.eraseBlock(0, flash.status().blocks);
	const padded = new Uint8Array(Math.ceil(bytes.length / 8) * 8).fill(0xff);
	padded.set(bytes);
	flash.write(padded, 0);
	flash.close();
}

async function importDeviceKey(kind: "p256" | "x25519", pemPath: string): Promise<void> {
	if (DeviceKey.exists({ slot: KEY_SLOT })) new DeviceKey({ slot: KEY_SLOT }).destroy();
	DeviceKey.import(kind, pemPrivateScalar(await text(pemPath)), { slot: KEY_SLOT }).close();
}

/** A fresh device: the running image in primary, nothing else. */
async function freshDevice(installer: InstallerKind, aesKeyBits?: 128 | 256): Promise<UpdateAgent> {
	wipe("secondary", "journal", "storage");
	writePartition("primary", await readVector("imgtool/images/signed_ecdsa_p256.bin"));
	return new UpdateAgent({ board: board(installer, aesKeyBits), trust: await trust() });
}

/** Sends `image` following the agent's wanted offsets, `chunk` bytes at a time. */
function send(agent: UpdateAgent, image: Uint8Array, chunk: number, sessionId?: Uint8Array): void {
	let next = agent.begin({ size: image.length, ...(sessionId ? { sessionId } : {}) }).nextOffset;
	while (next < image.length) next = agent.write(next, image.subarray(next, Math.min(image.length, next + chunk)));
}

function secondaryPending(): string {
	const flash = Flash.open({ path: "secondary", mode: "r" });
	const { state } = readSlotTrailer(flash, 8);
	flash.close();
	return `${state.magic}/${state.imageOk}/${state.swapInfo ? state.swapInfo.swapType : "-"}`;
}

for (const [name, kind, keyPath, aesKeyBits] of [["enc_ec256_aes128", "p256", "imgtool/keys/enc-ec256.pem", 128], ["enc_x25519_aes256", "x25519", "imgtool/keys/enc-x25519.pem", 256]] as const) {
	test(`agent: imgtool's ${name} installs as received (mcuboot-encrypted, MCUboot built for AES-${aesKeyBits}) in any chunking, then is pending for a test boot`, async () => {
		await importDeviceKey(kind, keyPath);
		const image = await readVector(`imgtool/images/${name}.bin`);
		for (const chunk of [997, 4096, image.length]) {
			const agent = await freshDevice("mcuboot-encrypted", aesKeyBits);
			send(agent, image, chunk);
			const result = agent.finish();
			equal(result.state, "pending-test");
			equal(result.version, "1.2.3+4");
			bytesEqual(readPartition("secondary", image.length), image, `secondary slot after ${chunk}-byte chunks`);
			equal(secondaryPending(), "good/unset/2", "magic and swap_info TEST, as boot_set_pending writes them");
			equal(agent.status().state, "pending-test");
			agent.close();
		}
	});
}

test("agent: a plain signed image is written as it is by the mcuboot installer; pending permanent sets image_ok", async () => {
	const image = await readVector("imgtool/images/signed_ed25519.bin");
	const agent = await freshDevice("mcuboot");
	agent.begin({ size: image.length, pending: "permanent" });
	let next = 0;
	while (next < image.length) next = agent.write(next, image.subarray(next, next + 1500));
	equal(agent.finish().state, "pending-permanent");
	bytesEqual(readPartition("secondary", image.length), image);
	equal(secondaryPending(), "good/set/3");
	agent.close();
});

test("agent: the offsets asked for are the header, then the TLVs, then the body; others are answered, not taken", async () => {
	const image = await readVector("imgtool/images/signed_ecdsa_p256.bin");
	const agent = await freshDevice("mcuboot");
	equal(agent.begin({ size: image.length }).nextOffset, 0);
	const tlvOffset = 0x200 + 102400;
	equal(agent.write(100, image.subarray(100, 200)), 0, "out of order: the answer is the offset wanted");
	equal(agent.write(0, image.subarray(0, 10)), 10);
	equal(agent.write(0, image.subarray(0, 10)), 10, "a repeat is answered with the offset wanted");
	equal(agent.write(10, image.subarray(10, 0x300)), tlvOffset, "the header area in: the TLV areas next (bytes past it dropped)");
	equal(agent.write(tlvOffset, image.subarray(tlvOffset)), 0x200, "TLVs in: the body next");
	throws(() => agent.write(0x200, new Uint8Array(image.length)), { code: "E_RANGE" }, "past the announced size");
	equal(agent.status().state, "receiving", "a chunk past the end is refused, the update goes on");
	throws(() => agent.begin({ size: image.length }), /in progress/, "a second begin in the middle of an update");
	throws(() => agent.finish(), /missing bytes/, "finish() while bytes are missing");
	equal(agent.write(0x200, image.subarray(0x200, tlvOffset)), image.length);
	equal(agent.finish().state, "pending-test");
	agent.close();
});

/** Each refusal: its code, nothing pending, the running image untouched. */
async function refused(label: string, code: ErrorCode, image: Uint8Array, installer: InstallerKind = "mcuboot-encrypted", prepare?: (agent: UpdateAgent) => void, aesKeyBits?: 128 | 256): Promise<void> {
	const agent = await freshDevice(installer, aesKeyBits);
	prepare?.(agent);
	const before = sha256(readPartition("primary", 0x60000));
	let error: unknown;
	try {
		send(agent, image, 4096);
		agent.finish();
	} catch (e) {
		error = e;
	}
	ok(error instanceof SealdropError, `${label}: refused`);
	equal((error as SealdropError).code, code, `${label}: ${(error as Error).message}`);
	ok(!agent.status().state.startsWith("pending"), `${label}: nothing pending`);
	equal(secondaryPending().split("/")[0], "unset", `${label}: no magic in the secondary trailer`);
	bytesEqual(sha256(readPartition("primary", 0x60000)), before, `${label}: the primary slot is untouched`);
	agent.close();
}

function flipped(image: Uint8Array, offset: number): Uint8Array {
	const copy = image.slice();
	copy[offset] ^= 0x01;
	return copy;
}

test("agent: refusals leave the primary slot untouched and nothing pending", async () => {
	const encEc = await readVector("imgtool/images/enc_ec256_aes128.bin");
	const encX = await readVector("imgtool/images/enc_x25519_aes256.bin");
	const plain = await readVector("imgtool/images/signed_ecdsa_p256.bin");
	await importDeviceKey("p256", "imgtool/keys/enc-ec256.pem");
	await refused("sealed for an X25519 key", "E_DEVICE_KEY", encX, "mcuboot-encrypted", undefined, 256);
	await refused("an AES-128 image for an MCUboot built for AES-256", "E_UNSUPPORTED", encEc, "mcuboot-encrypted", undefined, 256);
	await importDeviceKey("x25519", "imgtool/keys/enc-x25519.pem");
	await refused("an AES-256 image for an MCUboot built for AES-128 (its default)", "E_UNSUPPORTED", encX);
	await importDeviceKey("x25519", "imgtool/keys/enc-x25519-other.pem");
	await refused("sealed for another device", "E_DEVICE_KEY", encX, "mcuboot-encrypted", undefined, 256);
	await importDeviceKey("p256", "imgtool/keys/enc-ec256.pem");
	// not "another device": an ENC TLV whose ephemeral key is no curve point is malformed (the unwrap
	// used to swallow every native error as the expected refusal)
	const offCurve = encEc.slice();
	const enc = findEncTlv(parseImage(encEc))!.value;
	let at = encEc.length - enc.length;
	while (!enc.every((byte, i) => encEc[at + i] === byte)) at--;
	offCurve.fill(0, at + 1, at + 65); // 04 ‖ X = 1 ‖ Y = 2
	offCurve[at + 32] = 1;
	offCurve[at + 64] = 2;
	await refused("an ENC TLV whose ephemeral key is (1, 2), not a P-256 point", "E_ENC_TLV", offCurve);
	await refused("tampered body", "E_HASH", flipped(encEc, 0x200 + 5000));
	await refused("tampered header (version)", "E_HASH", flipped(encEc, 20));
	const sigOffset = plain.length - 20; // inside the ECDSA signature, the last TLV
	await refused("tampered signature TLV", "E_SIGNATURE", flipped(plain, sigOffset), "mcuboot");
	await refused("a signer the device does not trust", "E_WRONG_SIGNER", await readVector("imgtool/images/signed_rsa2048.bin"), "mcuboot");
	await refused("a missing dependency (image 1 at 2.3.4)", "E_DEPENDENCY", await readVector("imgtool/images/dependency.bin"), "mcuboot");
	await refused("a sealed image that does not wrap a signed image (mcuboot installer)", "E_UNSUPPORTED", encEc, "mcuboot");
	await refused("an ENC_RSA2048 image", "E_UNSUPPORTED", await readVector("imgtool/images/enc_rsa2048_aes128.bin"));
	await refused("a padded image (imgtool --pad --confirm)", "E_UNSUPPORTED", await readVector("imgtool/images/pad_confirm.bin"), "mcuboot");
});

test("agent: the security counter is stored on confirm and lower ones are refused", async () => {
	const counted = await readVector("imgtool/images/seccnt_explicit.bin");
	await refused("no security counter once one is stored", "E_SECURITY_COUNTER", await readVector("imgtool/images/signed_ecdsa_p256.bin"), "mcuboot", (agent) => {
		writePartition("primary", counted);
		agent.confirm();
		equal(agent.securityCounter(), 0x12345678);
	});
});

test("agent: truncated upload and abort leave nothing pending; the next update starts clean", async () => {
	const image = await readVector("imgtool/images/signed_ecdsa_p256.bin");
	const agent = await freshDevice("mcuboot");
	agent.begin({ size: image.length });
	agent.write(0, image.subarray(0, 0x200));
	throws(() => agent.finish(), { code: "E_TRUNCATED" });
	agent.abort();
	equal(agent.status().state, "failed");
	equal(secondaryPending().split("/")[0], "unset");
	send(agent, image, 8192);
	equal(agent.finish().state, "pending-test");
	agent.close();
});

test("agent: after a reset, an image verified but not yet pending is still ready; a refused header of another update leaves it so", async () => {
	const image = await readVector("imgtool/images/signed_ecdsa_p256.bin");
	let agent = await freshDevice("mcuboot");
	agent.begin({ size: image.length, pending: "none" });
	for (let next = 0; next < image.length;) next = agent.write(next, image.subarray(next, next + 4096));
	equal(agent.finish().state, "ready");
	agent.close();

	agent = new UpdateAgent({ board: board("mcuboot"), trust: await trust() });
	equal(agent.status().state, "ready", "the journal's verified install, still in the secondary slot");
	equal(agent.status().version, "1.2.3+4");
	const junk = image.slice();
	junk[0] ^= 0xff; // no image magic
	agent.begin({ size: junk.length });
	throws(() => agent.write(0, junk.subarray(0, 64)), { code: "E_BAD_MAGIC" });
	agent.close();

	agent = new UpdateAgent({ board: board("mcuboot"), trust: await trust() });
	equal(agent.status().state, "ready", "a refusal before the new session was journaled leaves the old one");
	agent.markPending();
	equal(agent.status().state, "pending-test");
	agent.close();

	wipe("secondary");
	agent = new UpdateAgent({ board: board("mcuboot"), trust: await trust() });
	equal(agent.status().state, "idle", "the slot no longer holds it");
	agent.close();
});

test("agent: begin() keeps its own copy of the session id; a transport may reuse the buffer it came in", async () => {
	const image = await readVector("imgtool/images/signed_ecdsa_p256.bin");
	let agent = await freshDevice("mcuboot");
	// the device's SMP loop hands the request's `sha` as a view of its receive buffer, which the
	// next request overwrites before the TLV areas arrive and the journal records the session
	const received = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
	let next = agent.begin({ size: image.length, sessionId: received.subarray(2, 6) }).nextOffset;
	received.fill(0xee);
	let bodyAsked = false;
	while (!bodyAsked) {
		const wanted = agent.write(next, image.subarray(next, Math.min(image.length, next + 256)));
		bodyAsked = wanted < next; // after the TLV areas the body is asked for, from the header area's end
		next = wanted;
	}
	agent.close(); // a reset in the body
	agent = new UpdateAgent({ board: board("mcuboot"), trust: await trust() });
	equal(agent.begin({ size: image.length, sessionId: Uint8Array.of(3, 4, 5, 6) }).resumed, true, "the journal holds the id as begin() had it");
	agent.abort();
	agent.close();
});

test("agent: the largest image it takes is the bootloader model's bootutil_max_image_size", async () => {
	wipe("primary", "secondary");
	const primary = new Area("primary");
	const secondary = new Area("secondary");
	const scratch = new Area("scratch");
	const slot = Flash.open({ path: "secondary", mode: "r" });
	const { blockLength } = slot.status();
	try {
		for (const swap of ["overwrite", "move", "scratch"] as SwapMode[]) {
			for (const maxImgSectors of [96, 128, 300]) {
				// the saved ENC TLV of each key kind and AES size: EC256 point+MAC+key, X25519 key+MAC+key
				for (const encTlvSize of [0, 65 + 32 + 16, 65 + 32 + 32, 32 + 32 + 16, 32 + 32 + 32]) {
					const installer: InstallerKind = encTlvSize ? "mcuboot-encrypted" : "mcuboot";
					const config = { ...board(installer), swap, maxImgSectors };
					const agent = maxImageSize(config, slot);
					const bootloader = bootloaderMaxImageSize({ mode: swap, maxAlign: 8, maxImgSectors, encTlvSize, primary, secondary, scratch: swap === "scratch" ? scratch : null }, 1);
					const label = `${swap}, ${maxImgSectors} sectors, ENC TLV ${encTlvSize}: agent ${agent}, bootloader ${bootloader}`;
					// the agent counts the saved ENC TLVs at their largest (129 bytes, 136 aligned), the model at this build's size (overwrite-only stops before them)
					const savedTlvSlack = encTlvSize && swap !== "overwrite" ? 2 * (136 - Math.ceil(encTlvSize / 8) * 8) : 0;
					ok(agent <= bootloader && bootloader - agent <= savedTlvSlack, label);
					if (savedTlvSlack === 0) equal(agent, bootloader, label);
					ok(agent % blockLength !== 0 || swap === "move", `${label}: under overwrite and scratch the image may share an erase block with the trailer`);
				}
			}
		}
	} finally {
		slot.close();
		primary.close();
		secondary.close();
		scratch.close();
	}
});
