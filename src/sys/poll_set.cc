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

void PollSet::drop_all() {
  epoll_.reset();
  for (int fd : live_) by_fd_[static_cast<size_t>(fd)].live = false;
  live_.clear();
  serial_fd_.clear();
}

int PollSet::wait(std::vector<pollfd>& fds, const std::vector<uint64_t>& serials, int timeout_ms) {
  for (auto& p : fds) p.revents = 0;
  if (!broken_ && !epoll_) {
    epoll_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
    broken_ = !epoll_;
  }
  auto plain_poll = [&] { return ::poll(fds.data(), static_cast<nfds_t>(fds.size()), timeout_ms); };
  if (broken_ || serials.size() != fds.size()) return plain_poll();

  // Events name the serial, not the number: a registration that outlived its descriptor (its
  // file still open in a process forked meanwhile) can only report a serial no longer asked for.
  const uint64_t call = ++call_;
  for (size_t i = 0; i < fds.size(); ++i) {
    const int fd = fds[i].fd;
    if (fd < 0) continue;  // as poll(2): never ready
    const auto at = static_cast<size_t>(fd);
    if (at >= by_fd_.size()) by_fd_.resize(at + 1);
    Registered& r = by_fd_[at];
    if (r.seen == call) return plain_poll();  // a descriptor twice: poll(2) handles that
    r.seen = call;
    r.at = i;
    const uint64_t serial = serials[i];
    const bool same_file = r.live && r.serial == serial;
    if (same_file && r.events == fds[i].events) continue;  // most calls: no change at all
    // A serial names one file: under another number still registered, it is a serial given
    // twice (or a file moved to another number): poll(2), and a set made anew at the next call.
    if (auto other = serial_fd_.find(serial); other != serial_fd_.end() && other->second != fd) {
      drop_all();
      return plain_poll();
    }
    epoll_event ev{};
    ev.events = to_epoll(fds[i].events);
    ev.data.u64 = serial;
    int rc;
    if (same_file) {
      rc = ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);  // other events
    } else {
      // Another file under a number seen before: its old registration went with the old file's
      // close, unless a copy of that file lives on elsewhere (then it is dropped here).
      if (r.live) {
        (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
        if (auto old = serial_fd_.find(r.serial); old != serial_fd_.end() && old->second == fd)
          serial_fd_.erase(old);
      }
      rc = ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
      if (rc != 0 && errno == EEXIST) rc = ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);
    }
    if (rc != 0) {  // not pollable through epoll (a regular file, ...): poll(2) from now on
      broken_ = true;
      drop_all();
      return plain_poll();
    }
    if (!r.live) live_.push_back(fd);
    r.live = true;
    r.serial = serial;
    r.events = fds[i].events;
    serial_fd_[serial] = fd;
  }
  // Descriptors no longer asked for (closed, or kept but not waited on now).
  for (size_t k = 0; k < live_.size();) {
    const int fd = live_[k];
    Registered& r = by_fd_[static_cast<size_t>(fd)];
    if (r.seen == call) {
      ++k;
      continue;
    }
    (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    if (auto old = serial_fd_.find(r.serial); old != serial_fd_.end() && old->second == fd)
      serial_fd_.erase(old);
    r.live = false;
    live_[k] = live_.back();
    live_.pop_back();
  }

  ready_.resize(live_.size() + 8);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int n = ::epoll_wait(epoll_.get(), ready_.data(), static_cast<int>(ready_.size()), timeout_ms);
  if (n <= 0) return n;
  int count = 0;
  bool outlived = false;
  for (int i = 0; i < n; ++i) {
    const epoll_event& e = ready_[static_cast<size_t>(i)];
    auto at = serial_fd_.find(e.data.u64);
    if (at == serial_fd_.end()) {  // a registration that outlived its descriptor
      outlived = true;
      continue;
    }
    fds[by_fd_[static_cast<size_t>(at->second)].at].revents = from_epoll(e.events);
    ++count;
  }
  if (!outlived) return count;
  // epoll cannot drop such a registration by its number (it names another file now, or none),
  // and while its file stays ready every wait would return at once: a busy loop. A new set
  // holds only what is asked for; it is made at the next wait, or at once below.
  drop_all();
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
