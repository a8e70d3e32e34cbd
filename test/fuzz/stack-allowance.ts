/**
 * The JS stack slots the SMP fuzz's own frames take below SmpServer.process, over what the device
 * program's UART callback takes there: given to the XS host as SEALDROP_XS_STACK_EXTRA, so the
 * code from process() down meets a board's stack (manifest.json's creation.stack), no more, no less.
 * Measured with sealdrop/xs-host memory().stackSlots at process() entry: `sim serve`'s device
 * program 251 slots, ./smp-agent.ts's driver at most 398 (the XS host's own intrinsics included in
 * both); 147 more, rounded up.
 */
export const FUZZ_STACK_EXTRA = 160;
