#include "core/error.h"

#include <cstring>

namespace berth {

Error Error::from_errno(int err, std::string what) {
  Error e;
  e.code_ = err;
  e.is_syscall_ = true;
  e.what_ = std::move(what);
  return e;
}

Error Error::invalid(std::string what, int exit_status) {
  Error e;
  e.code_ = EINVAL;
  e.what_ = std::move(what);
  e.exit_status_ = exit_status;
  return e;
}

Error Error::with_status(int exit_status, std::string what) {
  return invalid(std::move(what), exit_status);
}

Error Error::restored(int err, int exit_status, std::string message) {
  Error e = invalid(std::move(message), exit_status);
  if (err != 0) e.code_ = err;
  return e;
}

Error& Error::context(std::string outer) {
  contexts_ = std::move(outer) + ": " + contexts_;
  return *this;
}

Error& Error::status(int exit_status) {
  exit_status_ = exit_status;
  return *this;
}

std::string Error::message() const {
  std::string m = contexts_ + what_;
  if (is_syscall_) {
    m += ": ";
    m += strerrorname_np(code_) ? strerrorname_np(code_) : "E?";
    m += " (";
    m += std::strerror(code_);
    m += ")";
  }
  return m;
}

}  // namespace berth
