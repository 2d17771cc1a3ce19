// Errors as values: Result<T> carries either a T or an Error that names what failed and why.
#pragma once

#include <cerrno>
#include <cstring>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace wisp {

// Whose fault an error is: the user's (a bad option or value: exit status 2), or the host's.
enum class ErrorKind { kHost, kUsage };

class Error {
 public:
  explicit Error(std::string message, ErrorKind kind = ErrorKind::kHost)
      : message_(std::move(message)), kind_(kind) {}

  const std::string& message() const { return message_; }
  bool is_usage() const { return kind_ == ErrorKind::kUsage; }

  // Prefixes the message with what was being done, e.g. "loading kernel: ...".
  Error context(std::string_view what) const {
    return Error(fmt::format("{}: {}", what, message_), kind_);
  }

 private:
  std::string message_;
  ErrorKind kind_;
};

template <typename T = void>
class [[nodiscard]] Result : public std::expected<T, Error> {
 public:
  using std::expected<T, Error>::expected;
};

template <typename... Args>
std::unexpected<Error> fail(fmt::format_string<Args...> format, Args&&... args) {
  return std::unexpected(Error(fmt::format(format, std::forward<Args>(args)...)));
}

// An error in what the user asked for, found only once the VM is being built (say, a command line
// longer than this kernel takes): exit status 2, as for a bad option.
template <typename... Args>
std::unexpected<Error> fail_usage(fmt::format_string<Args...> format, Args&&... args) {
  return std::unexpected(
      Error(fmt::format(format, std::forward<Args>(args)...), ErrorKind::kUsage));
}

// An error naming a failed system call and errno's text: "open /dev/kvm: Permission denied".
inline std::unexpected<Error> fail_errno(std::string_view what, int err = errno) {
  return std::unexpected(Error(fmt::format("{}: {}", what, std::strerror(err))));
}

namespace detail {
// What TRY yields: the value moved out, or nothing for Result<void>.
template <typename T>
T take_value(std::expected<T, Error>& result) {
  return std::move(*result);
}
inline void take_value(std::expected<void, Error>&) {}
}  // namespace detail

}  // namespace wisp

// Evaluates a Result; on error returns it from the enclosing function, otherwise yields the value.
#define TRY(expr)                                                             \
  ({                                                                          \
    auto&& try_result_ = (expr);                                              \
    if (!try_result_) return std::unexpected(std::move(try_result_).error()); \
    ::wisp::detail::take_value(try_result_);                                  \
  })

// Like TRY, but prefixes an error with what was being done (a std::string or string literal).
#define TRY_CONTEXT(expr, what)                                                             \
  ({                                                                                        \
    auto&& try_result_ = (expr);                                                            \
    if (!try_result_) return std::unexpected(std::move(try_result_).error().context(what)); \
    ::wisp::detail::take_value(try_result_);                                                \
  })
