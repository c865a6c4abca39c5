#include "sys/poll_set.h"

#include <sys/epoll.h>

#include <cerrno>
#include <chrono>

namespace berth::sys {
namespace {

uint32_t to_epoll(short events) {
  uint32_t e = 0;
  if (events & POLLIN) e |= EPOLLIN;
  if (events & POLLOUT) e |= EPOLLOUT;
  if (events & POLLPRI) e |= EPOLLPRI;
  return e;
}

short from_epoll(uint32_t e) {
  short r = 0;
  if (e & EPOLLIN) r |= POLLIN;
  if (e & EPOLLOUT) r |= POLLOUT;
  if (e & EPOLLPRI) r |= POLLPRI;
  if (e & EPOLLERR) r |= POLLERR;
  if (e & EPOLLHUP) r |= POLLHUP;
  return r;
}

}  // namespace

int PollSet::wait(std::vector<pollfd>& fds, const std::vector<uint64_t>& serials, int timeout_ms) {
  for (auto& p : fds) p.revents = 0;
  if (!broken_ && !epoll_) {
    epoll_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
    broken_ = !epoll_;
  }
  if (broken_ || serials.size() != fds.size())
    return ::poll(fds.data(), static_cast<nfds_t>(fds.size()), timeout_ms);

  // Events name the serial, not the number: a registration that outlived its descriptor (its
  // file still open in a process forked meanwhile) can only report a serial no longer asked for.
  std::unordered_map<uint64_t, size_t> index;
  std::unordered_map<int, size_t> seen;
  index.reserve(fds.size());
  seen.reserve(fds.size());
  for (size_t i = 0; i < fds.size(); ++i) {
    const int fd = fds[i].fd;
    if (fd < 0) continue;  // as poll(2): never ready
    if (!index.emplace(serials[i], i).second || !seen.emplace(fd, i).second) {
      // A serial or descriptor twice: poll(2) handles that.
      return ::poll(fds.data(), static_cast<nfds_t>(fds.size()), timeout_ms);
    }
    auto reg = registered_.find(fd);
    const bool same_file = reg != registered_.end() && reg->second.serial == serials[i];
    if (same_file && reg->second.events == fds[i].events) continue;
    epoll_event ev{};
    ev.events = to_epoll(fds[i].events);
    ev.data.u64 = serials[i];
    int rc;
    if (same_file) {
      rc = ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);  // other events
    } else {
      // Another file under a number seen before: its old registration went with the old file's
      // close, unless a copy of that file lives on elsewhere (then it is dropped here).
      if (reg != registered_.end()) (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
      rc = ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
      if (rc != 0 && errno == EEXIST) rc = ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);
    }
    if (rc != 0) {  // not pollable through epoll (a regular file, ...): poll(2) from now on
      broken_ = true;
      epoll_.reset();
      registered_.clear();
      return ::poll(fds.data(), static_cast<nfds_t>(fds.size()), timeout_ms);
    }
    registered_[fd] = {serials[i], fds[i].events};
  }
  // Descriptors no longer asked for (closed, or kept but not waited on now).
  for (auto it = registered_.begin(); it != registered_.end();) {
    if (seen.count(it->first)) {
      ++it;
      continue;
    }
    (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->first, nullptr);
    it = registered_.erase(it);
  }

  std::vector<epoll_event> ready(fds.empty() ? 1 : fds.size() + 8);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int n = ::epoll_wait(epoll_.get(), ready.data(), static_cast<int>(ready.size()), timeout_ms);
  if (n <= 0) return n;
  int count = 0;
  bool outlived = false;
  for (int i = 0; i < n; ++i) {
    auto at = index.find(ready[static_cast<size_t>(i)].data.u64);
    if (at == index.end()) {  // a registration that outlived its descriptor
      outlived = true;
      continue;
    }
    fds[at->second].revents = from_epoll(ready[static_cast<size_t>(i)].events);
    ++count;
  }
  if (!outlived) return count;
  // epoll cannot drop such a registration by its number (it names another file now, or none),
  // and while its file stays ready every wait would return at once: a busy loop. A new set
  // holds only what is asked for; it is made at the next wait, or at once below.
  epoll_.reset();
  registered_.clear();
  if (count > 0) return count;
  int left = timeout_ms;
  if (timeout_ms >= 0) {
    left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                deadline - std::chrono::steady_clock::now())
                                .count());
    if (left <= 0) return 0;
  }
  return wait(fds, serials, left);
}

}  // namespace berth::sys
