// The guest-physical and port map of the Wisp x86_64 machine: the one source of truth for where
// things live. Every other file asks here instead of repeating a number.
#pragma once

#include <cstdint>

namespace wisp::layout {

// Low memory (below 640 KiB): boot structures written by the loader.
inline constexpr uint64_t kGdtAddress = 0x500;
inline constexpr uint64_t kBootInfoAddress = 0x6000;  // PVH start_info or Multiboot info
inline constexpr uint64_t kBootInfoMaxBytes = 0x1000;
// The stack 32-bit entries (Multiboot, PVH, raw protected mode) start with, as GRUB and QEMU give
// one: %esp points at the boot information and the stack grows down from there, toward the GDT.
inline constexpr uint64_t kEntryStackTop = kBootInfoAddress;
inline constexpr uint64_t kZeroPageAddress = 0x7000;  // boot_params
inline constexpr uint64_t kPml4Address = 0x9000;
inline constexpr uint64_t kPdptAddress = 0xa000;
inline constexpr uint64_t kPageDirectoryAddress = 0xb000;  // four pages: identity-map 4 GiB
inline constexpr uint64_t kIdentityMappedBytes = 4ull << 30;
inline constexpr uint64_t kCmdlineAddress = 0x20000;
inline constexpr uint64_t kCmdlineMaxBytes = 0x10000;
inline constexpr uint64_t kEbdaStart = 0x9fc00;  // low RAM ends here in the e820 map

// Legacy BIOS area; the ACPI tables (RSDP first) live at 0xe0000, where the kernel scans for the
// RSDP, and the real-mode reset vector at 0xffff0 holds a stub that resets the machine.
inline constexpr uint64_t kLegacyHoleStart = 0xa0000;
inline constexpr uint64_t kAcpiTablesAddress = 0xe0000;
inline constexpr uint64_t kAcpiTablesMaxBytes = 0x10000;
inline constexpr uint64_t kResetVectorAddress = 0xffff0;

// Main RAM starts at 1 MiB; the protected-mode kernel is loaded there.
inline constexpr uint64_t kHighMemoryStart = 0x100000;
inline constexpr uint64_t kKernelLoadAddress = 0x100000;

// The MP floating pointer and configuration table (MultiProcessor Specification 1.4 §4), in the
// BIOS area that Linux scans (0xf0000-0xfffff), below the reset vector.
inline constexpr uint64_t kMpTableAddress = 0xf0000;
inline constexpr uint64_t kMpTableMaxBytes = 0xf000;

// The 32-bit MMIO hole: RAM above its start continues at 4 GiB.
inline constexpr uint64_t kMmioHoleStart = 0xc0000000;
inline constexpr uint64_t kMmioHoleEnd = 0x100000000;
inline constexpr uint64_t kIdentityMapPageAddress =
    0xfeffc000;                                      // KVM_SET_IDENTITY_MAP_ADDR, 1 page
inline constexpr uint64_t kTssAddress = 0xfeffd000;  // KVM_SET_TSS_ADDR, 3 pages
inline constexpr uint64_t kIoApicAddress = 0xfec00000;
inline constexpr uint32_t kIoApicPinCount = 24;  // KVM's in-kernel I/O APIC
inline constexpr uint64_t kLocalApicAddress = 0xfee00000;

// virtio-mmio windows, 4 KiB each, handed out in order by the device manager.
inline constexpr uint64_t kVirtioMmioStart = 0xd0000000;
inline constexpr uint64_t kVirtioMmioWindowBytes = 0x1000;
inline constexpr uint64_t kVirtioMmioEnd = 0xd0100000;  // room for 256 windows

// The GSIs the device manager hands to devices, in order: I/O APIC pins that no legacy device
// (timer, keyboard, cascade, COM1-2, RTC, the ACPI SCI) uses.
inline constexpr uint32_t kDeviceGsis[] = {5,  6,  7,  10, 11, 12, 13, 14, 15,
                                           16, 17, 18, 19, 20, 21, 22, 23};

// Port I/O.
inline constexpr uint16_t kCom1Port = 0x3f8;
inline constexpr uint32_t kCom1Irq = 4;
inline constexpr uint16_t kPvPanicPort = 0x505;  // QEMU's default iobase
inline constexpr uint16_t kCom2Port = 0x2f8;
inline constexpr uint32_t kCom2Irq = 3;
inline constexpr uint16_t kUartPortCount = 8;
inline constexpr uint16_t kI8042DataPort = 0x60;
inline constexpr uint16_t kI8042CommandPort = 0x64;
inline constexpr uint32_t kI8042KeyboardIrq = 1;
inline constexpr uint16_t kDebugExitPort = 0xf4;
inline constexpr uint16_t kDebugExitPortCount = 4;
// QEMU's fw_cfg, legacy interface: the 16-bit selector port, then the 8-bit data port.
inline constexpr uint16_t kFwCfgSelectorPort = 0x510;
inline constexpr uint16_t kFwCfgPortCount = 2;
// ACPI hardware-reduced sleep and reset registers (FADT SLEEP_CONTROL_REG, SLEEP_STATUS_REG,
// RESET_REG), one byte each.
inline constexpr uint16_t kAcpiSleepControlPort = 0x600;
inline constexpr uint16_t kAcpiSleepStatusPort = 0x601;
inline constexpr uint16_t kAcpiResetPort = 0x602;
inline constexpr uint8_t kAcpiResetValue = 0x1;
inline constexpr uint8_t kAcpiS5SleepType = 5;  // the SLP_TYP that \_S5 names in the DSDT
inline constexpr uint32_t kAcpiSciIrq = 9;

}  // namespace wisp::layout
