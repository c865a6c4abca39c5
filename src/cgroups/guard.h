// CgroupGuard: the owner of a CT's group made by Backend::create (ARCHITECTURE.md section 4).
// Destroyed without release(), it kills what runs in the group and removes it (every hierarchy).
#pragma once

#include <string>
#include <utility>

#include "cgroups/backend.h"

namespace berth::cgroups {

class CgroupGuard {
 public:
  CgroupGuard() = default;
  CgroupGuard(Backend& cg, std::string rel) : cg_(&cg), rel_(std::move(rel)) {}
  CgroupGuard(CgroupGuard&& o) noexcept
      : cg_(std::exchange(o.cg_, nullptr)), rel_(std::move(o.rel_)) {}
  CgroupGuard& operator=(CgroupGuard&& o) noexcept {
    if (this != &o) {
      reset();
      cg_ = std::exchange(o.cg_, nullptr);
      rel_ = std::move(o.rel_);
    }
    return *this;
  }
  CgroupGuard(const CgroupGuard&) = delete;
  CgroupGuard& operator=(const CgroupGuard&) = delete;
  ~CgroupGuard() { reset(); }

  bool owns() const { return cg_ != nullptr; }
  void release() { cg_ = nullptr; }
  void reset() {
    if (!cg_) return;
    (void)cg_->kill_all(rel_);
    (void)cg_->remove(rel_);
    cg_ = nullptr;
  }

 private:
  Backend* cg_ = nullptr;
  std::string rel_;
};

}  // namespace berth::cgroups
