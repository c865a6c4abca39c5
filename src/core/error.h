// Error and Result: errors are values (ARCHITECTURE.md section 3).
//
// An Error carries an errno-style code, an optional vzctl exit status (see exit_codes.h) and a
// chain of context strings, outermost first when printed. Nothing in src/ throws; adapters around
// throwing libraries catch at their boundary and return an Error.
#pragma once

#include <cerrno>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "core/exit_codes.h"

namespace berth {

class [[nodiscard]] Error {
 public:
  Error() = default;
  // what: the operation and its object, e.g. "mount `proc` on `/proc`". The errno text is appended.
  static Error from_errno(int err, std::string what);
  // An error with no syscall behind it (bad input, bad state); code EINVAL unless given.
  static Error invalid(std::string what, int exit_status = 0);
  static Error with_status(int exit_status, std::string what);
  // An error rebuilt from its parts after it crossed a process boundary (the start/exec sync
  // socket): errno `err` (0: EINVAL), exit status, and the whole message as the sender printed it.
  static Error restored(int err, int exit_status, std::string message);

  Error& context(std::string outer);
  Error& status(int exit_status);

  int code() const { return code_; }
  // The vzctl exit status this error should produce; kSystem (generic system error) when unset.
  int exit_status() const { return exit_status_ ? exit_status_ : exitcode::kSystem; }
  bool has_exit_status() const { return exit_status_ != 0; }
  std::string message() const;

 private:
  int code_ = 0;
  bool is_syscall_ = false;  // append the errno text to the message
  int exit_status_ = 0;
  std::string what_;
  std::string contexts_;  // "outer: inner: " already joined, outermost first
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error err) : v_(std::move(err)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }
  Result& context(std::string outer) & {
    if (!ok()) std::get<1>(v_).context(std::move(outer));
    return *this;
  }
  Result&& context(std::string outer) && {
    if (!ok()) std::get<1>(v_).context(std::move(outer));
    return std::move(*this);
  }
  // Set the vzctl exit status of a failure (no effect on success).
  Result&& status(int exit_status) && {
    if (!ok()) std::get<1>(v_).status(exit_status);
    return std::move(*this);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error err) : err_(std::move(err)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return !err_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const& { return *err_; }
  Error&& error() && { return std::move(*err_); }
  Result& context(std::string outer) & {
    if (err_) err_->context(std::move(outer));
    return *this;
  }
  Result&& context(std::string outer) && {
    if (err_) err_->context(std::move(outer));
    return std::move(*this);
  }
  Result&& status(int exit_status) && {
    if (err_) err_->status(exit_status);
    return std::move(*this);
  }

 private:
  std::optional<Error> err_;
};

using Status = Result<void>;

inline Status ok_status() { return {}; }

}  // namespace berth

#define BERTH_CONCAT_INNER_(a, b) a##b
#define BERTH_CONCAT_(a, b) BERTH_CONCAT_INNER_(a, b)

#define BERTH_RETURN_IF_ERROR(expr)                                   \
  do {                                                                \
    auto berth_status_ = (expr);                                      \
    if (!berth_status_.ok()) return std::move(berth_status_).error(); \
  } while (0)

#define BERTH_ASSIGN_OR_RETURN_IMPL_(tmp, decl, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).error();       \
  decl = std::move(tmp).value()

#define BERTH_ASSIGN_OR_RETURN(decl, expr) \
  BERTH_ASSIGN_OR_RETURN_IMPL_(BERTH_CONCAT_(berth_result_, __LINE__), decl, expr)
