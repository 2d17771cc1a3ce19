#include "vmm/config_json.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmm/base/fd.h"

namespace wisp::config_json {
namespace {

// Larger than any configuration; a bound for a path that names a device (--config /dev/zero).
constexpr size_t kMaximumFileBytes = 1 << 20;

bool is_plain_word(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-';
    if (!word) return false;
  }
  return true;
}

const char* type_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    default:
      return "a number";
  }
}

// Follows the parser's events to name where a key is given twice in one object.
class DuplicateKeys {
 public:
  bool on_event(Json::parse_event_t event, const Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        frames_.push_back(
            Frame{event == Json::parse_event_t::array_start, child_path(), {}, {}, 0});
        break;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        frames_.pop_back();
        element_done();
        break;
      case Json::parse_event_t::key: {
        Frame& object = frames_.back();
        object.key = parsed.get<std::string>();
        if (!object.keys.insert(object.key).second && !duplicate_)
          duplicate_ = member_path(object.path, object.key);
        break;
      }
      case Json::parse_event_t::value:
        element_done();
        break;
    }
    return true;
  }

  const std::optional<std::string>& duplicate() const { return duplicate_; }

 private:
  struct Frame {
    bool array;
    std::string path;
    std::set<std::string> keys;  // an object's keys so far
    std::string key;             // an object's current key
    size_t index;                // an array's current element
  };

  std::string child_path() const {
    if (frames_.empty()) return "";
    const Frame& parent = frames_.back();
    return parent.array ? element_path(parent.path, parent.index)
                        : member_path(parent.path, parent.key);
  }
  void element_done() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
  }

  std::vector<Frame> frames_;
  std::optional<std::string> duplicate_;
};

}  // namespace

Result<std::string> read_text(const std::string& path) {
  Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file.valid()) return fail_errno(path);
  std::string text;
  char buffer[16384];
  while (true) {
    ssize_t got = ::read(file.get(), buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return fail_errno(path);
    if (got == 0) break;
    text.append(buffer, static_cast<size_t>(got));
    if (text.size() > kMaximumFileBytes)
      return fail("{}: larger than {} KiB, which no configuration is", path,
                  kMaximumFileBytes >> 10);
  }
  return text;
}

Result<Json> parse(std::string_view text) {
  DuplicateKeys duplicates;
  auto callback = [&duplicates](int, Json::parse_event_t event, Json& parsed) {
    return duplicates.on_event(event, parsed);
  };
  Json value;
  try {
    value = Json::parse(text.begin(), text.end(), callback);
  } catch (const Json::parse_error& error) {
    // "[json.exception.parse_error.101] parse error at line 3, column 5: ..." without its tag.
    std::string_view message = error.what();
    if (size_t tag_end = message.find("] "); tag_end != std::string_view::npos)
      message.remove_prefix(tag_end + 2);
    return fail_usage("not valid JSON: {} (byte {})", message, error.byte);
  }
  if (duplicates.duplicate())
    return fail_usage("{}: given twice in one object", *duplicates.duplicate());
  return value;
}

std::string member_path(std::string_view parent, std::string_view key) {
  if (!is_plain_word(key)) return fmt::format("{}[{}]", parent, quote(Json(std::string(key))));
  if (parent.empty()) return std::string(key);
  return fmt::format("{}.{}", parent, key);
}

std::string element_path(std::string_view parent, size_t index) {
  return fmt::format("{}[{}]", parent, index);
}

std::string quote(const Json& value) {
  constexpr size_t kLongest = 60;
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > kLongest) text = text.substr(0, kLongest - 3) + "...";
  return text;
}

bool is_absent(const Json& value) {
  return value.is_null();
}

Result<std::string> get_string(const Json& value, std::string_view path) {
  if (!value.is_string()) return fail_usage("{}: expected a string, got {}", path, quote(value));
  const std::string& text = value.get_ref<const std::string&>();
  if (text.find('\0') != std::string::npos)
    return fail_usage("{}: {} contains a NUL byte", path, quote(value));
  return text;
}

Result<std::string> get_nonempty_string(const Json& value, std::string_view path) {
  std::string text = TRY(get_string(value, path));
  if (text.empty()) return fail_usage("{}: is empty", path);
  return text;
}

Result<bool> get_bool(const Json& value, std::string_view path) {
  if (!value.is_boolean())
    return fail_usage("{}: expected true or false, got {}", path, quote(value));
  return value.get<bool>();
}

Result<uint64_t> get_number(const Json& value, std::string_view path, uint64_t minimum,
                            uint64_t maximum) {
  uint64_t number = 0;
  bool whole = value.is_number_unsigned();
  if (whole) number = value.get<uint64_t>();
  if (!whole || number < minimum || number > maximum)
    return fail_usage("{}: expected a number from {} to {}, got {}", path, minimum, maximum,
                      quote(value));
  return number;
}

Result<void> expect_object(const Json& value, std::string_view path) {
  if (!value.is_object())
    return fail_usage("{}: expected an object, got {}", path.empty() ? "the file" : path,
                      type_name(value));
  return {};
}

Result<void> expect_array(const Json& value, std::string_view path) {
  if (!value.is_array()) return fail_usage("{}: expected an array, got {}", path, quote(value));
  return {};
}

Result<void> check_keys(const Json& object, std::string_view path,
                        std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : object.items()) {
    bool found = false;
    for (std::string_view name : known) found = found || name == key;
    if (!found)
      return fail_usage("{}: unknown key (known here: {})", member_path(path, key),
                        fmt::join(known, ", "));
  }
  return {};
}

Result<const Json*> required_member(const Json& object, std::string_view path,
                                    std::string_view key) {
  const Json* member = optional_member(object, key);
  if (!member) return fail_usage("{}: is missing", member_path(path, key));
  return member;
}

const Json* optional_member(const Json& object, std::string_view key) {
  auto found = object.find(std::string(key));
  if (found == object.end() || is_absent(*found)) return nullptr;
  return &*found;
}

}  // namespace wisp::config_json
