// Tests of the command-line side of the platform description: the virtio-mmio fragments for
// kernels built with CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES, and the acpi=off test that decides
// whether they are needed.
#include "firmware/platform.h"

#include <catch2/catch.hpp>

#include "firmware/layout.h"

namespace wisp {
namespace {

PlatformDevice com1() {
  return {PlatformDeviceKind::kSerial8250, layout::kCom1Port, layout::kUartPortCount,
          layout::kCom1Irq};
}

PlatformDevice virtio_window(uint64_t address, uint32_t size, uint32_t gsi) {
  return {PlatformDeviceKind::kVirtioMmio, address, size, gsi};
}

TEST_CASE("virtio_mmio_cmdline has one fragment per virtio-mmio window", "[platform]") {
  SECTION("no window: nothing, even with a serial port") {
    CHECK(virtio_mmio_cmdline(PlatformDescription{}) == "");
    CHECK(virtio_mmio_cmdline(PlatformDescription{{com1()}}) == "");
  }
  SECTION("one window") {
    PlatformDescription platform{{com1(), virtio_window(0xd0000000, 0x1000, 5)}};
    CHECK(virtio_mmio_cmdline(platform) == "virtio_mmio.device=4K@0xd0000000:5");
  }
  SECTION("two windows, in order, separated by a space") {
    PlatformDescription platform{
        {virtio_window(0xd0000000, 0x1000, 5), com1(), virtio_window(0xd0001000, 0x1000, 20)}};
    CHECK(virtio_mmio_cmdline(platform) ==
          "virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=4K@0xd0001000:20");
  }
  SECTION("the entry's size, in the largest unit memparse reads exactly") {
    CHECK(virtio_mmio_cmdline(PlatformDescription{{virtio_window(0xd0000000, 0x200000, 6)}}) ==
          "virtio_mmio.device=2M@0xd0000000:6");
    CHECK(virtio_mmio_cmdline(PlatformDescription{{virtio_window(0xd0000000, 0x1800, 6)}}) ==
          "virtio_mmio.device=6K@0xd0000000:6");
    CHECK(virtio_mmio_cmdline(PlatformDescription{{virtio_window(0xd0000000, 0x200, 6)}}) ==
          "virtio_mmio.device=512@0xd0000000:6");
  }
}

TEST_CASE("cmdline_disables_acpi looks for a whole acpi=off word", "[platform]") {
  CHECK(cmdline_disables_acpi("acpi=off"));
  CHECK(cmdline_disables_acpi("console=ttyS0 acpi=off quiet"));
  CHECK(cmdline_disables_acpi("console=ttyS0\tacpi=off\n"));
  CHECK_FALSE(cmdline_disables_acpi(""));
  CHECK_FALSE(cmdline_disables_acpi("noacpi=off"));
  CHECK_FALSE(cmdline_disables_acpi("acpi=offx"));
  CHECK_FALSE(cmdline_disables_acpi("acpi=on"));
  CHECK_FALSE(cmdline_disables_acpi("console=ttyS0 pci=off"));
  // Inside a quoted value, or after "--" (init's arguments), it is not the kernel's parameter.
  CHECK_FALSE(cmdline_disables_acpi("dyndbg=\"file x acpi=off\" quiet"));
  CHECK_FALSE(cmdline_disables_acpi("console=ttyS0 -- acpi=off"));
}

TEST_CASE("check_platform_description rejects what firmware cannot describe", "[platform]") {
  CHECK(check_platform_description(PlatformDescription{}));
  CHECK(check_platform_description(
      PlatformDescription{{com1(), virtio_window(0xd0000000, 0x1000, 23)}}));

  auto rejects = [](PlatformDevice device, std::string_view why) {
    Result<void> result = check_platform_description(PlatformDescription{{com1(), device}});
    INFO(why);
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message(), Catch::Contains("platform device 1"));
  };
  rejects(virtio_window(0xd0000000, 0x1000, layout::kIoApicPinCount), "GSI past the I/O APIC");
  rejects(virtio_window(0xfffff000, 0x2000, 5), "window crossing 4 GiB");
  rejects(virtio_window(0x100000000, 0x1000, 5), "window above 4 GiB");
  rejects(virtio_window(0xd0000000, 0, 5), "empty window");
  rejects({PlatformDeviceKind::kSerial8250, 0xfffc, 8, 4}, "ports past 0xffff");
  rejects({PlatformDeviceKind::kSerial8250, 0x3f8, 256, 4}, "more ports than IO() holds");
}

}  // namespace
}  // namespace wisp
