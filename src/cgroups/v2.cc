#include "cgroups/v2.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "cgroups/v1.h"
#include "sys/fs.h"

namespace berth::cgroups {

Status V2Backend::create(const std::string& rel) {
  // Turn on in the instance group the controllers the host enabled for us, so the CT's own group
  // has them (and can delegate them further to an init inside).
  size_t slash = rel.find('/');
  std::string inst = rel.substr(0, slash);
  BERTH_RETURN_IF_ERROR(mkdir_group(mount_, inst));
  auto avail = sys::read_file(mount_ + "/" + inst + "/cgroup.controllers");
  if (avail.ok()) {
    std::istringstream in(*avail);
    std::string c, req;
    while (in >> c) req += (req.empty() ? "+" : " +") + c;
    if (!req.empty()) (void)sys::write_file(mount_ + "/" + inst + "/cgroup.subtree_control", req);
  }
  return mkdir_group(mount_, rel);
}

Result<UniqueFd> V2Backend::open_for_clone(const std::string& rel) {
  std::string dir = mount_ + "/" + rel;
  UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open cgroup `" + dir + "`");
  return fd;
}

Status V2Backend::attach(const std::string& rel, pid_t pid) {
  return sys::write_file(mount_ + "/" + rel + "/cgroup.procs", std::to_string(pid));
}

std::vector<pid_t> V2Backend::pids(const std::string& rel) const { return read_procs(mount_ + "/" + rel); }

bool V2Backend::exists(const std::string& rel) const { return sys::is_dir(mount_ + "/" + rel); }

Status V2Backend::kill_all(const std::string& rel) {
  std::string dir = mount_ + "/" + rel;
  if (!sys::is_dir(dir)) return {};
  (void)sys::write_file(dir + "/cgroup.kill", "1");
  for (int i = 0; i < 400; ++i) {
    auto ev = sys::read_file(dir + "/cgroup.events");
    if (!ev.ok() || ev->find("populated 0") != std::string::npos) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Error::from_errno(EBUSY, "kill processes of cgroup `" + rel + "`");
}

Status V2Backend::remove(const std::string& rel) { return rmdir_group(mount_, rel); }

Status V2Backend::delegate(const std::string& rel, uid_t uid, gid_t gid) {
  std::string dir = mount_ + "/" + rel;
  for (const char* f : {"", "/cgroup.procs", "/cgroup.threads", "/cgroup.subtree_control"})
    if (::chown((dir + f).c_str(), uid, gid) != 0 && errno != ENOENT)
      return Error::from_errno(errno, "chown `" + dir + f + "`");
  return {};
}

}  // namespace berth::cgroups
