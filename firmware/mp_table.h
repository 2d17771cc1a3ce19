// The MP table of the Wisp x86_64 machine (Intel MultiProcessor Specification 1.4, chapter 4): the
// MP floating pointer structure, then the MP configuration table with one processor entry per
// CPU, the ISA bus, the I/O APIC, the I/O interrupt assignments of the ISA IRQs and of every
// device GSI, and the local interrupt assignments (LINT0 ExtINT, LINT1 NMI).
//
// Linux reads it when ACPI is off (acpi=off, as Kata Containers boots): it is then the only
// description of the CPUs, the I/O APIC and the IRQ routing. With ACPI on, the MADT wins.
//
// build_mp_table is a pure function: it returns the bytes to copy into guest memory at
// layout::kMpTableAddress, and touches nothing else.
#pragma once

#include <cstdint>
#include <vector>

#include "firmware/platform.h"
#include "vmm/base/result.h"

namespace wisp::mp {

// Builds the table for CPUs with local APIC IDs 0..cpu_count-1 (CPU 0 boots) and the devices of
// `platform`. Fails if cpu_count is 0 or above 255 (8-bit APIC IDs, 0xff is the broadcast ID),
// if check_platform_description rejects `platform`, or if the table would outgrow
// layout::kMpTableMaxBytes.
Result<std::vector<uint8_t>> build_mp_table(uint32_t cpu_count,
                                            const PlatformDescription& platform);

}  // namespace wisp::mp
