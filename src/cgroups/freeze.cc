#include "cgroups/freeze.h"

#include <chrono>
#include <string_view>
#include <thread>

#include "sys/fs.h"

namespace berth::cgroups {
namespace {

// The group's directory in the hierarchy that freezes, and the file and values that do it.
struct Knob {
  std::string dir;
  const char* file;
  const char* on;
  const char* off;
};

Result<Knob> knob(const Backend& cg, const std::string& rel) {
  if (std::string_view(cg.name()) == "v2")
    return Knob{cg.hierarchies().front().mount + "/" + rel, "cgroup.freeze", "1", "0"};
  for (const auto& h : cg.hierarchies())
    if (h.options == "freezer" || h.options.find("freezer") != std::string::npos)
      return Knob{h.mount + "/" + rel, "freezer.state", "FROZEN", "THAWED"};
  return Error::from_errno(ENOTSUP, "freeze cgroup `" + rel + "`: the host has no freezer");
}

bool frozen(const Backend& cg, const Knob& k) {
  if (std::string_view(cg.name()) == "v2") {
    auto ev = sys::read_file(k.dir + "/cgroup.events");
    return ev.ok() && ev->find("frozen 1") != std::string::npos;
  }
  auto st = sys::read_file(k.dir + "/freezer.state");
  return st.ok() && st->rfind("FROZEN", 0) == 0;
}

}  // namespace

Result<std::string> freezer_dir(const Backend& cg, const std::string& rel) {
  BERTH_ASSIGN_OR_RETURN(Knob k, knob(cg, rel));
  return k.dir;
}

Status freeze_group(const Backend& cg, const std::string& rel, int timeout_ms) {
  BERTH_ASSIGN_OR_RETURN(Knob k, knob(cg, rel));
  std::string file = k.dir + "/" + k.file;
  BERTH_RETURN_IF_ERROR(sys::write_file(file, k.on));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!frozen(cg, k)) {
    if (std::chrono::steady_clock::now() > deadline) {
      (void)sys::write_file(file, k.off);
      return Error::from_errno(EBUSY, "freeze cgroup `" + rel + "`: not frozen after " +
                                          std::to_string(timeout_ms) + " ms");
    }
    // v1 FREEZING: a task was in an uninterruptible sleep; writing FROZEN again retries it.
    if (std::string_view(k.file) == "freezer.state") (void)sys::write_file(file, k.on);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return {};
}

Status thaw_group(const Backend& cg, const std::string& rel) {
  auto k = knob(cg, rel);
  if (!k.ok()) return {};
  if (!sys::is_dir(k->dir)) return {};
  return sys::write_file(k->dir + "/" + k->file, k->off);
}

}  // namespace berth::cgroups
