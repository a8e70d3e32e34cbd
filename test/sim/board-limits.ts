/**
 * XS program for test/unit/boards.test.ts: the update agent's largest image (maxImageSize,
 * modules/update/bootutil.ts) for a board's sealdrop section and a slot of the given geometry,
 * as the board's flash driver reports it (not the simulator's blocks). Prints one JSON line.
 *
 *   sealdrop-xs board-limits.js LAYOUT_JSON SLOT_SIZE SECTOR WRITE_ALIGN
 */
import { parseBoardConfig } from "sealdrop/update/board";
import { maxImageSize } from "sealdrop/update/bootutil";
import { argv, exit, readFile } from "sealdrop/xs-host";
import type Flash from "sealdrop/native/flash";

const [, layoutPath, slotSize, sector, writeAlign] = argv;
const layout = JSON.parse(new TextDecoder().decode(readFile(layoutPath))) as { name: string; sealdrop: unknown };
const board = parseBoardConfig(layout.name, layout.sealdrop);
const size = Number(slotSize);
const slot = { status: () => ({ size, blockLength: Number(sector), blocks: size / Number(sector), writeAlign: Number(writeAlign), eraseValue: 255 }) } as unknown as Flash;
console.log(JSON.stringify({ maxImageSize: maxImageSize(board, slot) }));
exit(0);
