/**
 * What an image must satisfy besides its hash and signature before it is marked pending, as
 * MCUboot's bootutil will check it at boot: its security counter (MCUBOOT_HW_ROLLBACK_PROT,
 * bootutil_get_img_security_cnt), its dependencies (boot_verify_dependencies), and, when the
 * device asks for it, a version newer than the running one (MCUBOOT_DOWNGRADE_PREVENTION).
 */
import { compareVersions, dependencies, fail, formatVersion, securityCounter, type ImageLayout } from "sealdrop/image";
import type { SecurityCounters } from "./counters.js";
import type { Installer } from "./installer.js";

export function checkPolicy(layout: ImageLayout, image: number, device: { counters: SecurityCounters; installer: Installer; newerOnly: boolean }): void {
	const { counters, installer } = device;
	// The floor is everything the bootloader will compare with: the counter stored when an image
	// was confirmed, and the running image's own (MCUboot's model and a fresh device whose factory
	// image was never confirmed through this agent compare with that one).
	const counter = securityCounter(layout);
	const stored = counters.get(image);
	const running = installer.running(image)?.securityCounter ?? 0;
	const floor = Math.max(stored, running);
	const whose = running > stored ? "the running image's" : "this device's stored";
	if (counter === null ? floor > 0 : counter < floor)
		fail("E_SECURITY_COUNTER", `the image's security counter (${counter ?? "none"}) is below ${whose} ${floor}`);
	if (device.newerOnly) {
		const release = installer.runningRelease(image);
		if (release && compareVersions(layout.header.version, release.version) <= 0)
			fail("E_DOWNGRADE", `version ${formatVersion(layout.header.version)} is not newer than the running ${formatVersion(release.version)}`);
	}
	for (const dep of dependencies(layout)) {
		const installed = installer.installedImage(dep.imageId);
		if (!installed) fail("E_DEPENDENCY", `the image needs image ${dep.imageId} at version ${formatVersion(dep.minVersion)} or later, and there is none`);
		if (compareVersions(installed.header.version, dep.minVersion) < 0)
			fail("E_DEPENDENCY", `the image needs image ${dep.imageId} at version ${formatVersion(dep.minVersion)} or later; ${installed.version} is installed`);
	}
}
