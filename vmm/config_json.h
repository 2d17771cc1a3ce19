// Reading a JSON configuration file (Wisp's own, config_file.h, or Firecracker's,
// firecracker_config.h): the text parsed with its errors placed, and type-checked reads whose
// errors name the JSON path of the value, e.g. `disks[1].path: expected a string, got 3`.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "vmm/base/result.h"

namespace wisp::config_json {

using Json = nlohmann::json;

// A file's whole text; errors name the file and the reason.
Result<std::string> read_text(const std::string& path);

// The JSON value of `text`. A syntax error names its line, column and byte; a key given twice in
// one object is an error naming its path (JSON leaves it undefined; a file that says two things
// is a mistake).
Result<Json> parse(std::string_view text);

// "disks" + "path" -> "disks.path" (a key that is no plain word is quoted: `a["b c"]`), and
// "disks" + 1 -> "disks[1]".
std::string member_path(std::string_view parent, std::string_view key);
std::string element_path(std::string_view parent, size_t index);

// A value as the file has it, for messages: `"two"`, `3`, `{...}`; long ones are cut short.
std::string quote(const Json& value);

// Null counts as absent: JSON writers (and Firecracker's own examples) put null in what they leave
// unset.
bool is_absent(const Json& value);

// Type-checked reads. Errors are "PATH: expected ..., got VALUE".
Result<std::string> get_string(const Json& value, std::string_view path);
Result<std::string> get_nonempty_string(const Json& value, std::string_view path);
Result<bool> get_bool(const Json& value, std::string_view path);
// A whole number from `minimum` to `maximum`.
Result<uint64_t> get_number(const Json& value, std::string_view path, uint64_t minimum,
                            uint64_t maximum);
Result<void> expect_object(const Json& value, std::string_view path);
Result<void> expect_array(const Json& value, std::string_view path);

// Refuses a key of `object` not in `known`, naming its path and the keys that are.
Result<void> check_keys(const Json& object, std::string_view path,
                        std::initializer_list<std::string_view> known);

// A member that must be there (and not null): "PATH: KEY is missing".
Result<const Json*> required_member(const Json& object, std::string_view path,
                                    std::string_view key);
// A member or nullptr when absent or null.
const Json* optional_member(const Json& object, std::string_view key);

}  // namespace wisp::config_json
