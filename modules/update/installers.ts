/**
 * Which installer runs a board (board.installer, ARCHITECTURE.md "Installers"). A new installer is
 * a module implementing `Installer` and a line here; the agent's core has no branch on the kind.
 */
import type { InstallerKind } from "./board.js";
import { EspIdfInstaller } from "./installer-esp-idf.js";
import { McubootInstaller } from "./installer-mcuboot.js";
import type { Installer, InstallerContext } from "./installer.js";

const INSTALLERS: Record<InstallerKind, new (ctx: InstallerContext) => Installer> = {
	"mcuboot": McubootInstaller,
	"mcuboot-encrypted": McubootInstaller,
	"esp-idf": EspIdfInstaller,
};

export function installerFor(ctx: InstallerContext): Installer {
	return new INSTALLERS[ctx.board.installer](ctx);
}
