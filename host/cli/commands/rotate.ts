/**
 * The server half of a device key rotation (modules/keys/rotation.ts): build a signed request for
 * one device, then check its answer — the new public key and the proof that the device holding
 * the old key made it.
 */
import crypto from "node:crypto";
import { encodeTlvArea, fail, TlvType } from "sealdrop/image";
import type { DeviceKeyKind } from "sealdrop/keys/encoding";
import { encodeRotationRequestBody, parseRotationAnswer, parseRotationRequest, ROTATION_INFO } from "sealdrop/keys/rotation-format";
import { FORMAT, parseInteger, type CommandSpec } from "../args.js";
import { hkdf, signatureTlvType, signImage } from "../crypto.js";
import { printJson, readInput, writeOutput, writeResult } from "../io.js";
import { deviceKeyFromRaw, encodePublicKey, fingerprint, loadKey, privateKeyPem, PUBLIC_ENCODINGS, publicKeyBytes, rawPublicKey, type Key, type PublicEncoding } from "../keys.js";

const deviceKind = (key: Key): DeviceKeyKind => (key.kind === "x25519" ? "x25519" : "p256");

/** A fresh ephemeral key of the device key's kind, for the ECDH of the proof. */
function ephemeralFor(device: Key): Key {
	const pair = device.kind === "x25519" ? crypto.generateKeyPairSync("x25519") : crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
	return { kind: device.kind, privateKey: pair.privateKey, publicKey: pair.publicKey, source: "ephemeral key" };
}

/** The proof a genuine answer carries: HMAC-SHA256(HKDF-SHA256(ECDH(ephemeral, old device key)), answer body). */
function expectedProof(ephemeral: Key, device: Key, body: Uint8Array): Buffer {
	const shared = crypto.diffieHellman({ privateKey: ephemeral.privateKey!, publicKey: device.publicKey });
	const macKey = hkdf("sha256", shared, Buffer.from(ROTATION_INFO), 32);
	shared.fill(0);
	return crypto.createHmac("sha256", macKey).update(body).digest();
}

const request: CommandSpec = {
	name: "request",
	summary: "Build a key rotation request for one device, signed by a key the device trusts for firmware.",
	usage: "rotate request --device-pub DEVPUB -k SIGNKEY --counter N [--new-kind p256|x25519] --ephemeral EPH.pem -o REQUEST",
	options: [
		{ long: "device-pub", metavar: "DEVPUB", help: "the device's current public key (any `sim pubkey` / getpub encoding)" },
		{ long: "key", short: "k", metavar: "SIGNKEY", help: "a private signing key the device trusts (ECDSA P-256, Ed25519 or RSA)" },
		{ long: "counter", metavar: "N", help: "1 to 4294967295, above every counter this device accepted before (replays fail)" },
		{ long: "new-kind", choices: ["p256", "x25519"], help: "the kind of the new key (default: the current key's)" },
		{ long: "ephemeral", metavar: "EPH.pem", help: "where to keep the request's ephemeral private key: `rotate check` needs it" },
		{ long: "output", short: "o", metavar: "REQUEST", help: "where to write the request" },
	],
	notes: "Example:\n  sealdrop rotate request --device-pub dev1.pub.pem -k sign.pem --counter 1 --ephemeral rot1.eph.pem -o rot1.req",
	run(args) {
		const device = loadKey(args.require("device-pub"), { kinds: ["ecdsa-p256", "x25519"], role: "device key" });
		const signer = loadKey(args.require("key"), { private: true, kinds: ["ecdsa-p256", "ed25519", "rsa-2048", "rsa-3072"], role: "rotation signing key" });
		const counter = parseInteger(args.require("counter"), "--counter");
		if (counter < 1 || counter > 0xffffffff) fail("E_USAGE", "--counter must be 1 to 4294967295");
		const ephemeral = ephemeralFor(device);
		const body = encodeRotationRequestBody((args.get("new-kind") as DeviceKeyKind | undefined) ?? deviceKind(device), counter, Buffer.from(fingerprint(device), "hex"), rawPublicKey(ephemeral));
		const digest = crypto.createHash("sha256").update(body).digest();
		const signature = encodeTlvArea([
			{ type: TlvType.KEYHASH, value: crypto.createHash("sha256").update(publicKeyBytes(signer)).digest() },
			{ type: signatureTlvType(signer.kind), value: signImage(signer, body, digest, false) },
		], false);
		writeOutput(args.require("ephemeral"), privateKeyPem(ephemeral), 0o600);
		writeOutput(args.require("output"), Buffer.concat([body, signature]));
		return 0;
	},
};

const check: CommandSpec = {
	name: "check",
	summary: "Check a device's rotation answer (counter, new key, proof of continuity) and write its new public key.",
	usage: "rotate check --device-pub DEVPUB --ephemeral EPH.pem --request REQUEST ANSWER [-o NEWPUB] [-e pem|raw|lang-c|lang-rust] [-f json]",
	options: [
		{ long: "device-pub", metavar: "DEVPUB", help: "the device's key the request was made for" },
		{ long: "ephemeral", metavar: "EPH.pem", help: "the ephemeral private key `rotate request` wrote" },
		{ long: "request", metavar: "REQUEST", help: "the request the answer is for" },
		{ long: "output", short: "o", metavar: "NEWPUB", help: "where to write the new public key (default: standard output)" },
		{ long: "encoding", short: "e", choices: PUBLIC_ENCODINGS, help: "encoding of the new public key (default pem)" },
		FORMAT,
	],
	notes: "Exit 0 when the answer is genuine; E_ROTATION (exit 3) when it is malformed, answers another request or its proof fails.\nExample:\n  sealdrop rotate check --device-pub dev1.pub.pem --ephemeral rot1.eph.pem --request rot1.req rot1.answer -o dev1.new.pub.pem",
	run(args) {
		if (args.positionals.length !== 1) fail("E_USAGE", "give one ANSWER file");
		const device = loadKey(args.require("device-pub"), { kinds: ["ecdsa-p256", "x25519"], role: "device key" });
		const ephemeral = loadKey(args.require("ephemeral"), { private: true, kinds: [device.kind], role: "ephemeral key" });
		const req = parseRotationRequest(readInput(args.require("request"), "rotation request"));
		const answer = parseRotationAnswer(readInput(args.positionals[0], "rotation answer"));
		if (!rawPublicKey(ephemeral).equals(req.ephemeral)) fail("E_ROTATION", "the ephemeral key is not the request's");
		if (answer.counter !== req.counter) fail("E_ROTATION", `the answer is for counter ${answer.counter}, the request has ${req.counter}`);
		if (answer.kind !== req.kind) fail("E_ROTATION", `the answer's key is ${answer.kind}, the request asked for ${req.kind}`);
		if (!crypto.timingSafeEqual(expectedProof(ephemeral, device, answer.body), answer.proof)) fail("E_ROTATION", "the proof of continuity does not check: the answer was not made with the device's key");
		const newKey = deviceKeyFromRaw(answer.kind, answer.publicKey, "the device's new key");
		const encoding = (args.get("encoding") ?? "pem") as PublicEncoding;
		if (args.get("format") === "json") {
			if (args.get("output")) writeResult(args.get("output"), encodePublicKey(newKey, encoding));
			printJson({ counter: answer.counter, kind: answer.kind, oldFingerprint: fingerprint(device), newFingerprint: fingerprint(newKey), publicKey: Buffer.from(answer.publicKey).toString("hex") });
			return 0;
		}
		writeResult(args.get("output"), encodePublicKey(newKey, encoding));
		if (args.get("output")) process.stdout.write(`rotation ${answer.counter}: new ${answer.kind} key ${fingerprint(newKey)}, proven by the holder of ${fingerprint(device)}\n`);
		return 0;
	},
};

export const rotate: CommandSpec = {
	name: "rotate",
	summary: "Rotate a device's key: build a signed request, check the device's answer.",
	usage: "rotate request|check [options]",
	options: [],
	subcommands: [request, check],
	notes: [
		"The device keeps its old key until an image sealed for the new key is installed and confirmed.",
		"Example with a simulated device:",
		"  sealdrop sim pubkey --dir dev1 -o dev1.pub.pem",
		"  sealdrop rotate request --device-pub dev1.pub.pem -k sign.pem --counter 1 --ephemeral rot1.eph.pem -o rot1.req",
		"  sealdrop sim rotate --dir dev1 rot1.req -o rot1.answer",
		"  sealdrop rotate check --device-pub dev1.pub.pem --ephemeral rot1.eph.pem --request rot1.req rot1.answer -o dev1.new.pub.pem",
	].join("\n"),
	run() {
		return 0; // main.ts dispatches to the subcommands
	},
};
