# The test-guest kit (see README.md): every guest under guests/ built in each boot format it
# lists, with the host's gcc (x86-64 code; the 32-bit and 16-bit stubs use .code32/.code16), ld
# and objcopy. Outputs: ${KIT_GUEST_DIR}/<guest>.<format>.<elf|bin>. Included from
# guest/CMakeLists.txt.
set(KIT_SOURCE_DIR ${CMAKE_CURRENT_LIST_DIR})
set(KIT_OUTPUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/kit)
set(KIT_OBJECT_DIR ${KIT_OUTPUT_DIR}/obj)
file(MAKE_DIRECTORY ${KIT_OBJECT_DIR})

set(KIT_C_FLAGS -std=gnu11 -m64 -ffreestanding -fno-pic -fno-pie -mno-red-zone -nostdlib
    -fno-stack-protector -mgeneral-regs-only -fno-asynchronous-unwind-tables
    -fcf-protection=none -O2 -g -Wall -Wextra -Werror -I${KIT_SOURCE_DIR})
set(KIT_LD_FLAGS -nostdlib -static -z max-page-size=0x1000 -z noexecstack
    --no-warn-rwx-segments -L${KIT_SOURCE_DIR}/ld)
file(GLOB KIT_HEADERS ${KIT_SOURCE_DIR}/*.h ${KIT_SOURCE_DIR}/*.inc ${KIT_SOURCE_DIR}/ld/*.ld)

# kit_compile(<source> <object name> [extra flags...]): one C or assembly file to an object.
function(kit_compile source object)
  add_custom_command(
    OUTPUT ${KIT_OBJECT_DIR}/${object}
    COMMAND ${CMAKE_C_COMPILER} ${KIT_C_FLAGS} ${ARGN} -c ${source} -o ${KIT_OBJECT_DIR}/${object}
    DEPENDS ${source} ${KIT_HEADERS}
    COMMENT "Kit: compiling ${object}"
    VERBATIM)
endfunction()

# The library: the C helpers, interrupts, the virtio-mmio driver and the long-mode, stack and SMP
# pieces the stubs and guests use.
set(KIT_LIBRARY_SOURCES kit.c boot.c smp.c interrupts.c virtio_mmio.c long_mode.S smp_trampoline.S
    stack.S)
set(KIT_LIBRARY_OBJECTS)
foreach(source IN LISTS KIT_LIBRARY_SOURCES)
  kit_compile(${KIT_SOURCE_DIR}/${source} ${source}.o)
  list(APPEND KIT_LIBRARY_OBJECTS ${KIT_OBJECT_DIR}/${source}.o)
endforeach()
set(KIT_LIBRARY ${KIT_OBJECT_DIR}/libkit.a)
add_custom_command(
  OUTPUT ${KIT_LIBRARY}
  COMMAND ${CMAKE_COMMAND} -E rm -f ${KIT_LIBRARY}
  COMMAND ${CMAKE_AR} rcs ${KIT_LIBRARY} ${KIT_LIBRARY_OBJECTS}
  DEPENDS ${KIT_LIBRARY_OBJECTS}
  COMMENT "Kit: archiving libkit.a"
  VERBATIM)

# The boot formats: for each, the startup stub's object, the linker script, and what the linked
# ELF64 becomes: elf32 (objcopy -O elf32-i386), elf64 (as linked) or binary (objcopy -O binary).
set(KIT_FORMAT_pvh start_pvh.S.o pvh.ld elf32)
set(KIT_FORMAT_multiboot start_multiboot.S.o multiboot.ld elf32)
set(KIT_FORMAT_multiboot-aout start_multiboot_aout.S.o multiboot_aout.ld binary)
set(KIT_FORMAT_elf64 start_long.S.o elf64.ld elf64)
set(KIT_FORMAT_raw-real start_real.S.o raw_real.ld binary)
set(KIT_FORMAT_raw-protected start_raw_protected.S.o raw_protected.ld binary)
set(KIT_FORMAT_raw-long start_raw_long.S.o raw_long.ld binary)
foreach(stub start_pvh start_multiboot start_long start_real start_raw_protected start_raw_long)
  kit_compile(${KIT_SOURCE_DIR}/${stub}.S ${stub}.S.o)
endforeach()
kit_compile(${KIT_SOURCE_DIR}/start_multiboot.S start_multiboot_aout.S.o -DKIT_MULTIBOOT_AOUT)

# The guests (guests/<name>.c) and the formats each is built in (pvh and elf64 unless listed).
set(KIT_GUESTS hello exit_code smp pio_probe mmio_probe triple_fault spin exit_loop virtio_devices
    virtio_blk virtio_blk_read virtio_net fw_cfg console hostile msr debuggee)
set(KIT_GUEST_FORMATS_hello pvh multiboot multiboot-aout elf64 raw-real raw-protected raw-long)
set(KIT_DEFAULT_FORMATS pvh elf64)

set(KIT_GUEST_IMAGES)
foreach(guest IN LISTS KIT_GUESTS)
  kit_compile(${KIT_SOURCE_DIR}/guests/${guest}.c guest_${guest}.o)
  set(formats ${KIT_DEFAULT_FORMATS})
  if(DEFINED KIT_GUEST_FORMATS_${guest})
    set(formats ${KIT_GUEST_FORMATS_${guest}})
  endif()
  foreach(format IN LISTS formats)
    list(GET KIT_FORMAT_${format} 0 stub)
    list(GET KIT_FORMAT_${format} 1 script)
    list(GET KIT_FORMAT_${format} 2 kind)
    set(linked ${KIT_OBJECT_DIR}/${guest}.${format}.elf64)
    if(kind STREQUAL "binary")
      set(image ${KIT_OUTPUT_DIR}/${guest}.${format}.bin)
      set(convert objcopy -O binary ${linked} ${image})
    elseif(kind STREQUAL "elf32")
      set(image ${KIT_OUTPUT_DIR}/${guest}.${format}.elf)
      set(convert objcopy -O elf32-i386 ${linked} ${image})
    else()
      set(image ${KIT_OUTPUT_DIR}/${guest}.${format}.elf)
      set(convert ${CMAKE_COMMAND} -E copy ${linked} ${image})
    endif()
    add_custom_command(
      OUTPUT ${image}
      COMMAND ld ${KIT_LD_FLAGS} -T ${script} -o ${linked} ${KIT_OBJECT_DIR}/${stub}
              ${KIT_OBJECT_DIR}/guest_${guest}.o ${KIT_LIBRARY}
      COMMAND ${convert}
      DEPENDS ${KIT_OBJECT_DIR}/${stub} ${KIT_OBJECT_DIR}/guest_${guest}.o ${KIT_LIBRARY}
              ${KIT_SOURCE_DIR}/ld/${script} ${KIT_SOURCE_DIR}/ld/sections.ld
      COMMENT "Kit: linking ${guest}.${format}"
      VERBATIM)
    list(APPEND KIT_GUEST_IMAGES ${image})
  endforeach()
endforeach()

# The BIOS ROM with which qemu/run.sh boots the formats QEMU cannot load itself.
set(KIT_QEMU_SHIM ${KIT_OUTPUT_DIR}/boot-shim.rom)
kit_compile(${KIT_SOURCE_DIR}/qemu/boot_shim.S boot_shim.S.o)
add_custom_command(
  OUTPUT ${KIT_QEMU_SHIM}
  COMMAND ld ${KIT_LD_FLAGS} -Ttext=0xf0000 -e 0xffff0 -o ${KIT_OBJECT_DIR}/boot-shim.elf64
          ${KIT_OBJECT_DIR}/boot_shim.S.o
  COMMAND objcopy -O binary -j .text ${KIT_OBJECT_DIR}/boot-shim.elf64 ${KIT_QEMU_SHIM}
  DEPENDS ${KIT_OBJECT_DIR}/boot_shim.S.o
  COMMENT "Kit: linking the QEMU boot shim"
  VERBATIM)

add_custom_target(kit_guests ALL DEPENDS ${KIT_GUEST_IMAGES} ${KIT_QEMU_SHIM})
