/**
 * Re-making every imgtool vector with `sealdrop sign`, given the very arguments of the sidecar's
 * `imgtool sign` command (run in the vector folder, only OUTFILE moved to a temporary folder).
 *
 * Everything must come out as imgtool made it except what is random by design: ECDSA and RSA-PSS
 * signature values (ECDSA DER may be 1-2 bytes shorter or longer), the AES key, the ENC TLV and
 * so the ciphertext body. signed_ed25519 has none of these and must be byte-identical.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { vectorCases } from "../helpers/vectors.js";
import { describeRun, makeTempDir, runCli, vectorKeys, vectorPath, vectorsDir } from "../helpers/noble-cli.js";
import { nobleCheck, nobleDevice, nobleParse, nobleSigner, T, type NobleImage } from "../helpers/noble-mcuboot.js";

const cases = vectorCases();
let tmp: { dir: string; cleanup: () => void };

before(() => {
	tmp = makeTempDir("interop-remake");
});
after(() => tmp.cleanup());

function hex(b: Uint8Array): string {
	return Buffer.from(b).toString("hex");
}

function tlv(image: NobleImage, type: number): Uint8Array | undefined {
	return image.tlvs.find((t) => t.type === type)?.value;
}

const SIGNATURE_TYPES: readonly number[] = [T.ECDSASIG, T.RSA2048, T.RSA3072, T.ED25519];
const ENC_TYPES: readonly number[] = [T.ENC_RSA2048, T.ENC_EC256, T.ENC_X25519, T.ENC_X25519_SHA512];

describe("sealdrop sign with imgtool's arguments re-makes each vector", { concurrency: 3 }, () => {
	for (const c of cases) {
		test(c.name, async () => {
			const command = c.sidecar.command;
			assert.deepEqual(command.slice(0, 2), ["imgtool", "sign"]);
			const out = path.join(tmp.dir, `${c.name}.bin`);
			const args = ["sign", ...command.slice(2, -1), out];
			const r = await runCli(args, vectorsDir);
			assert.equal(r.code, 0, describeRun(args, r));

			const ours = new Uint8Array(fs.readFileSync(out));
			const theirs = new Uint8Array(fs.readFileSync(vectorPath(c.sidecar.image)));
			const e = c.sidecar.expected, keys = vectorKeys(c.sidecar);

			if (c.name === "signed_ed25519") {
				assert.equal(ours.length, theirs.length);
				assert.ok(Buffer.from(ours).equals(Buffer.from(theirs)), "byte-identical to imgtool");
				return;
			}

			const a = nobleParse(ours), b = nobleParse(theirs);
			assert.equal(hex(ours.subarray(0, 32)), hex(theirs.subarray(0, 32)), "header bytes");
			assert.equal(hex(ours.subarray(32, a.hdrSize)), hex(theirs.subarray(32, b.hdrSize)), "header fill");
			assert.equal(a.tlvOffset, b.tlvOffset);
			assert.equal(hex(ours.subarray(a.tlvOffset, a.unprotectedOffset)), hex(theirs.subarray(b.tlvOffset, b.unprotectedOffset)), "protected TLV area");

			// TLV kinds, order and lengths (only ECDSA DER may differ a little)
			assert.deepEqual(a.tlvs.map((t) => t.type), b.tlvs.map((t) => t.type), "TLV types and order");
			a.tlvs.forEach((t, i) => {
				const diff = Math.abs(t.value.length - b.tlvs[i].value.length);
				if (t.type === T.ECDSASIG) assert.ok(diff <= 2, `ECDSA signature length ${t.value.length} vs ${b.tlvs[i].value.length}`);
				else assert.equal(diff, 0, `TLV 0x${t.type.toString(16)} length`);
			});
			for (const type of [T.SHA256, T.SHA384, T.SHA512, T.KEYHASH, T.PUBKEY]) {
				assert.equal(hex(tlv(a, type) ?? new Uint8Array(0)), hex(tlv(b, type) ?? new Uint8Array(0)), `TLV 0x${type.toString(16)} value`);
			}
			// Ed25519 is deterministic and signs the plaintext digest: the same even for encrypted images
			if (tlv(b, T.ED25519)) assert.equal(hex(tlv(a, T.ED25519)!), hex(tlv(b, T.ED25519)!), "Ed25519 signature");
			for (const t of a.tlvs.filter((x) => !SIGNATURE_TYPES.includes(x.type) && !ENC_TYPES.includes(x.type))) {
				assert.equal(hex(t.value), hex(tlv(b, t.type)!), `TLV 0x${t.type.toString(16)}`);
			}

			const bodyA = ours.subarray(a.hdrSize, a.tlvOffset), bodyB = theirs.subarray(b.hdrSize, b.tlvOffset);
			if (!e.payload_ciphertext) assert.ok(Buffer.from(bodyA).equals(Buffer.from(bodyB)), "unencrypted body");
			else assert.notEqual(hex(bodyA.subarray(0, 32)), hex(bodyB.subarray(0, 32)), "fresh AES key, so another ciphertext");

			// our image is a valid image in its own right, with the same plaintext
			const device = keys.enc_private_device ? nobleDevice(fs.readFileSync(vectorPath(keys.enc_private_device))) : undefined;
			const signer = nobleSigner(fs.readFileSync(vectorPath(keys.sign_public)));
			const mine = nobleCheck(ours, { signer, device, bodyEncrypted: e.payload_ciphertext });
			const imgtool = nobleCheck(theirs, { signer, device, bodyEncrypted: e.payload_ciphertext });
			assert.ok(Buffer.from(mine.plaintextBody).equals(Buffer.from(imgtool.plaintextBody)), "same plaintext");

			if (e.padded) {
				assert.equal(ours.length, e.file_size, "padded to the slot");
				assert.equal(theirs.length, e.file_size);
				const from = Math.max(a.end, b.end);
				assert.ok(ours.subarray(a.end, from).every((x) => x === e.trailer!.erased_val), "padding after our shorter TLV area");
				assert.ok(Buffer.from(ours.subarray(from)).equals(Buffer.from(theirs.subarray(from))), "padding and trailer");
			} else {
				assert.equal(ours.length, a.end, "nothing after the TLV area");
				assert.equal(ours.length - theirs.length, a.end - b.end);
			}
		});
	}
});
