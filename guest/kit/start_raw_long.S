/*
 * The raw long-mode startup stub: start_long.S for a flat binary whose first byte is the entry
 * point, entered as a plain ELF64 is (64-bit, 4 GiB identity-mapped, %rsi = boot_params).
 */
#define KIT_FORMAT KIT_FORMAT_RAW_LONG
#include "start_long.S"
