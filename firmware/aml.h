// A small builder of ACPI Machine Language (AML) byte code, enough for a DSDT that names sleep
// states and describes fixed devices: names, integers, strings, packages, buffers, scopes,
// devices and the resource descriptors a _CRS needs. Every function returns the encoded bytes of
// one term; callers concatenate them into a definition block.
//
// References are to the ACPI Specification 6.x: §20.2 (AML grammar) and §6.4 (resource data
// types). Arguments come from Wisp itself, never from a guest: a malformed argument (a bad name,
// a package of more than 255 elements, an object larger than a PkgLength can encode) is a bug in
// the caller and aborts.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace wisp::aml {

using Bytes = std::vector<uint8_t>;

// The PkgLength that precedes a package's contents (§20.2.4): the encoded length counts
// `content_length` plus the PkgLength bytes themselves, in 1 to 4 bytes.
Bytes pkg_length(size_t content_length);

// A NameString (§20.2.2): one to four characters per segment, segments separated by '.',
// optionally preceded by '\' (root) or one or more '^' (parent). Short segments are padded with
// '_': "_S5" encodes as "_S5_", "\_SB.VR0" as '\' DualNamePrefix "_SB_" "VR0_".
Bytes name_string(std::string_view path);

// The shortest integer encoding (§20.2.3): ZeroOp, OneOp, or a Byte/Word/DWord/QWord constant.
Bytes integer(uint64_t value);

// A String constant (§20.2.3): ASCII characters 0x01-0x7f, NUL-terminated.
Bytes string(std::string_view text);

// Name(path, object) (§20.2.5.1, DefName).
Bytes name(std::string_view path, std::span<const uint8_t> object);

// Package(){elements...} (§20.2.5.4, DefPackage); at most 255 elements.
Bytes package(std::span<const Bytes> elements);

// Buffer(){bytes...} (§20.2.5.4, DefBuffer).
Bytes buffer(std::span<const uint8_t> data);

// Scope(path){terms} (§20.2.5.1, DefScope) and Device(path){terms} (§20.2.5.2, DefDevice).
Bytes scope(std::string_view path, std::span<const uint8_t> terms);
Bytes device(std::string_view path, std::span<const uint8_t> terms);

// EISAID("PNP0501") (§19.6.35): a seven-character PNP ID compressed into a 32-bit integer, as a
// _HID for the legacy devices Linux's PNP layer matches.
Bytes eisa_id(std::string_view id);

// Resource descriptors for a _CRS (§6.4). A template is a Buffer of descriptors closed by an End
// Tag.
enum class Access : uint8_t { kReadOnly, kReadWrite };
enum class Trigger : uint8_t { kLevel, kEdge };
enum class Polarity : uint8_t { kActiveHigh, kActiveLow };
enum class Sharing : uint8_t { kExclusive, kShared };

// Memory32Fixed(access, base, length) (§6.4.3.4, 32-Bit Fixed Memory Range Descriptor).
Bytes memory32_fixed(Access access, uint32_t base, uint32_t length);

// IO(Decode16, base, base, 1, length) (§6.4.2.5, I/O Port Descriptor): a fixed port range.
Bytes io_port(uint16_t base, uint8_t length);

// Interrupt(ResourceConsumer, trigger, polarity, sharing){gsi} (§6.4.3.6, Extended Interrupt
// Descriptor) with a single interrupt number.
Bytes interrupt(uint32_t gsi, Trigger trigger, Polarity polarity, Sharing sharing);

// ResourceTemplate(){descriptors...}, as ASL writes it: a Buffer of the descriptors closed by an
// End Tag (§6.4.2.9).
Bytes resource_template(std::span<const Bytes> descriptors);

// Appends `term` to `out`: definition blocks and term lists are plain concatenations.
void append(Bytes& out, std::span<const uint8_t> term);

}  // namespace wisp::aml
