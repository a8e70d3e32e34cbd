/**
 * The `esp-idf` installer (ESP-IDF's bootloader, no MCUboot): OTA app partitions selected through
 * otadata (esp-otadata.ts), as app_update/esp_ota_ops.c does it: esp_ota_begin's otadata step,
 * esp_ota_set_boot_partition to select, esp_ota_mark_app_valid_cancel_rollback to confirm. The
 * ESP-IDF bootloader's app rollback reverts an app that was never confirmed. The payload is the
 * app image a sealed release wraps (payload-esp-app.ts).
 *
 * The running app's security counter and MCUboot header are known when this agent installed it:
 * the journal's last verified install is the release the app came in.
 */
import Flash from "sealdrop/native/flash";
import { equalBytes, fail, parseHeader, SealdropError, securityCounter, toHex, type ImageHeader, type ImageLayout } from "sealdrop/image";
import type { RunningImage, SlotState } from "./agent-types.js";
import { checkEspAppPartition } from "./esp-app-image.js";
import { OtaData, OtaImgState } from "./esp-otadata.js";
import type { Incoming, Installer, InstallerContext, Payload, Target, VerifiedInstall } from "./installer.js";
import { EspAppPayload, verifyRelease } from "./payload-esp-app.js";
import { areasLayout } from "./slot-image.js";

export class EspIdfInstaller implements Installer {
	readonly imageCount = 1;
	readonly #ctx: InstallerContext;

	constructor(ctx: InstallerContext) {
		this.#ctx = ctx;
	}

	/** The running app, checked as esp_image_verify does. */
	running(image: number): RunningImage | undefined {
		if (image !== 0) fail("E_RANGE", `board ${this.#ctx.board.name} has no image ${image}`);
		return this.#withOtaData((otadata) => {
			let info;
			try {
				info = otadata.checkApp(otadata.running);
			} catch (e) {
				if (e instanceof SealdropError) return undefined;
				throw e;
			}
			const hash = toHex(info.sha256);
			const release = this.#installedRelease(hash);
			const trial = otadata.stateOf(otadata.running) === OtaImgState.PENDING_VERIFY;
			return { image, version: info.version, hash, state: trial ? "trial" : "confirmed", securityCounter: release ? securityCounter(release) : null };
		});
	}

	confirm(image: number): RunningImage {
		const running = this.running(image);
		if (!running) fail("E_NO_IMAGE", "the running app partition holds no app image");
		this.#withOtaData((otadata) => otadata.markValid());
		return running;
	}

	slots(): SlotState[] {
		const out: SlotState[] = [];
		this.#withOtaData((otadata) => {
			const pending = pendingState(otadata);
			const next = otadata.bootPartition();
			for (let slot = 0; slot < otadata.appCount; slot++) {
				let app;
				try {
					app = otadata.checkApp(slot);
				} catch (e) {
					if (e instanceof SealdropError) continue;
					throw e;
				}
				const state = otadata.stateOf(slot);
				const active = slot === otadata.running;
				const isPending = !!pending && slot === next;
				out.push({
					image: 0, slot, version: app.version, hash: toHex(app.sha256), bootable: true, pending: isPending,
					confirmed: !isPending && (state === OtaImgState.VALID || (active && state === undefined)), active, permanent: isPending && pending === "pending-permanent",
				});
			}
		});
		return out;
	}

	pendingState(): "pending-test" | "pending-permanent" | undefined {
		return this.#withOtaData(pendingState);
	}

	onTrial(): boolean {
		return this.#withOtaData((otadata) => otadata.stateOf(otadata.running) === OtaImgState.PENDING_VERIFY);
	}

	/** The release the running app came in, when this agent installed it (an app flashed otherwise has none). */
	runningRelease(image: number): ImageHeader | undefined {
		const running = this.running(image);
		return running ? this.#installedRelease(running.hash)?.header : undefined;
	}

	installedImage(): undefined {
		return undefined; // no MCUboot image numbers: nothing for a dependency to name
	}

	/** esp_ota_begin's otadata step first: no rollback to the partition about to be erased. */
	openTarget(): Target {
		const partition = this.#withOtaData((otadata) => otadata.beginUpdate());
		const path = this.#ctx.board.ota!.apps[partition];
		const flash = Flash.open({ path });
		const size = flash.status().size;
		return {
			flash, name: `partition ${path}`, room: size, erasedFrom: size,
			prepare: () => {},
			select: (_image, permanent) => this.#select(partition, permanent),
		};
	}

	heldIdentity(): string | undefined {
		const flash = Flash.open({ path: this.#ctx.board.ota!.apps[this.#withOtaData((otadata) => otadata.nextUpdatePartition())] });
		try {
			return toHex(checkEspAppPartition(flash).sha256);
		} catch {
			return undefined; // no valid app there
		} finally {
			flash.close();
		}
	}

	payloadFor(incoming: Incoming, target: Target): Payload {
		return new EspAppPayload(incoming, target, this.#ctx.scratch);
	}

	/** The next OTA partition must hold the verified app, hashing to the release's hash TLV. */
	markPending(verified: VerifiedInstall | undefined, image: number, permanent: boolean): void {
		const refuse = () => fail("E_STATE", `image ${image}: the next OTA partition holds no app this agent verified`);
		if (image !== 0 || !verified) refuse();
		const partition = this.#withOtaData((otadata) => otadata.nextUpdatePartition());
		const flash = Flash.open({ path: this.#ctx.board.ota!.apps[partition] });
		try {
			let app;
			try {
				app = checkEspAppPartition(flash);
			} catch {
				refuse();
			}
			if (!equalBytes(app!.sha256, verified!.identity)) refuse();
			verifyRelease(flash, verified!.headerArea, verified!.tlvArea, this.#ctx.scratch);
		} finally {
			flash.close();
		}
		this.#select(partition, permanent);
	}

	/** esp_ota_set_boot_partition (already verified), or straight to VALID for a permanent update. */
	#select(partition: number, permanent: boolean): void {
		this.#withOtaData((otadata) => otadata.setBootPartition(partition, { skipValidate: true, state: permanent ? OtaImgState.VALID : OtaImgState.NEW }));
	}

	/** The board's otadata, as the running app sees it. */
	#withOtaData<T>(use: (otadata: OtaData) => T): T {
		const otadata = new OtaData(this.#ctx.board.ota!, this.#ctx.runningApp === undefined ? {} : { running: this.#ctx.runningApp });
		try {
			return use(otadata);
		} finally {
			otadata.close();
		}
	}

	/** The release the journal's last verified install wrote, if its identity is `hash`. */
	#installedRelease(hash: string): ImageLayout | undefined {
		const journal = this.#ctx.journal.state;
		if (journal?.done?.outcome !== "verified" || toHex(journal.done.imageHash) !== hash) return undefined;
		return areasLayout(parseHeader(journal.session.headerArea), journal.session.tlvArea);
	}
}

/** What otadata selects for the next reset when it is not the running app (NEW: a test, VALID: for good). */
function pendingState(otadata: OtaData): "pending-test" | "pending-permanent" | undefined {
	const next = otadata.bootPartition();
	if (next === otadata.running) return undefined;
	const state = otadata.stateOf(next);
	return state === OtaImgState.NEW ? "pending-test" : state === OtaImgState.VALID ? "pending-permanent" : undefined;
}
