// A long-lived service process (the watcher, the /proc server) that a command makes by forking
// itself instead of exec'ing the program again: no program load (the loader, relocations, static
// constructors: 1-2 ms in a VM) on the path of the command that spawns it. The fork shows the
// service's own command line, as an exec would, written over the command's (setproctitle's way;
// NULs pad the rest of the area), and its signal handlers are back to their defaults.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace berth::sys {

// The process's command-line area (/proc/self/stat, fields 48-49).
struct ArgArea {
  char* start = nullptr;
  size_t size = 0;
};

// When this process may become a service by fork: it runs one thread (a fork of a process with
// threads may hold another thread's lock and must exec) and its command-line area holds args
// (NUL-separated, as /proc/PID/cmdline shows them, with the last NUL). Otherwise nullopt: exec.
std::optional<ArgArea> service_fork_area(std::string_view args);

// In the forked child: handlers of caught signals back to SIG_DFL (ignored ones stay ignored,
// the mask stays, as across an exec), the command line replaced by args, stdout fully buffered
// (it is a file now).
void become_service(const ArgArea& area, std::string_view args);

}  // namespace berth::sys
