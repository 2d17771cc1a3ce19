#!/bin/bash
# Boots a kit guest under QEMU with KVM, entered as Wisp enters it, to check a guest (or Wisp)
# against a second VMM:
#   run.sh IMAGE [CMDLINE] [-- QEMU OPTIONS...]
# IMAGE is <guest>.<format>.<elf|bin> from the kit_guests build. pvh boots on -M microvm without
# ACPI, where QEMU appends a virtio_mmio.device=512@0x...:<irq> word to the command line for each
# virtio-mmio device (and makes them virtio 1.x, not legacy): for example
#   run.sh virtio_blk.pvh.elf seed=7 -- -drive id=d0,file=disk.img,format=raw,if=none \
#     -device virtio-blk-device,drive=d0,serial=kit-serial
# multiboot and multiboot-aout on -M pc (QEMU makes the image's name the first word of a
# multiboot command line); elf64 and raw-* boot on -M pc through boot-shim.rom (boot_shim.S),
# found next to IMAGE, with raw images at 0x100000 (raw-real: 0x8000).
# The exit status is QEMU's: (v << 1) | 1 when the guest wrote v to the debug-exit port 0xf4.
set -euo pipefail
image=$1
shift
cmdline=
if [[ $# -gt 0 && $1 != -- ]]; then cmdline=$1; shift; fi
if [[ $# -gt 0 && $1 == -- ]]; then shift; fi
dir=$(dirname "$image")
format=$(basename "$image" | cut -d. -f2)
qemu=(qemu-system-x86_64 -accel kvm -cpu host,-arch-capabilities -m 64M -nodefaults
      -no-user-config -display none -serial stdio
      -device isa-debug-exit,iobase=0xf4,iosize=4 "$@")

case $format in
  pvh) exec "${qemu[@]}" -M microvm,acpi=off -global virtio-mmio.force-legacy=false \
         -kernel "$image" -append "$cmdline" ;;
  multiboot | multiboot-aout) exec "${qemu[@]}" -M pc -kernel "$image" -append "$cmdline" ;;
  elf64)
    mode=3 entry=$(readelf -h "$image" | awk '/Entry point/ { print $4 }')
    load=(-device "loader,file=$image") ;;
  raw-real) mode=1 entry=0x8000 ;;
  raw-protected) mode=2 entry=0x100000 ;;
  raw-long) mode=3 entry=0x100000 ;;
  *) echo "run.sh: unknown format '$format' in $image" >&2; exit 2 ;;
esac
if [[ $format == raw-* ]]; then load=(-device "loader,file=$image,addr=$entry,force-raw=on"); fi

# The shim's mailbox (boot_shim.S): mode, entry, command line address; the command line itself.
cmdline_file=$(mktemp)
trap 'rm -f "$cmdline_file"' EXIT
printf '%s\0' "$cmdline" > "$cmdline_file"
"${qemu[@]}" -M pc -bios "$dir/boot-shim.rom" "${load[@]}" \
  -device "loader,file=$cmdline_file,addr=0x20000,force-raw=on" \
  -device "loader,addr=0x6000,data=$mode,data-len=4" \
  -device "loader,addr=0x6004,data=$entry,data-len=4" \
  -device "loader,addr=0x6008,data=0x20000,data-len=4"
