// Running commands inside a running CT: exec/exec2/exec3, runscript and enter (a pty shell).
//
// The process joins the CT's namespaces through a pidfd of its init (setns), its cgroup, and
// gets the CT's capability set and seccomp filter, as its init did. The host-side `berth`
// process waits for it (and, for enter, relays the terminal) and ends with it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/ct_config.h"
#include "core/error.h"

namespace berth::runtime {

struct ExecRequest {
  std::vector<std::string> argv;  // run as given (exec3), or joined and run by the shell
  bool via_shell = true;          // exec/exec2: "bash -c" (or sh when bash is missing)
  bool script_on_stdin = false;   // exec CTID -: read commands from stdin
  bool pty = false;               // enter: a new pty from the CT's devpts, relayed here
  std::string banner;             // enter: printed on the host terminal before/after
};

// Returns the command's exit code (128+signal when killed). Not running: exit status 31.
Result<int> exec(const CtConfig& ct, const ExecRequest& req);

// Run fn as the CT's root with "/" being the CT's root: joined to the running CT's namespaces,
// or, for a stopped CT, in a throwaway user+mount namespace chrooted into its (temporarily
// mounted) root. For in-CT configuration (hostname, DNS, passwords): paths resolve inside the CT,
// never on the host.
Status run_in_ct(const CtConfig& ct, const std::function<Status()>& fn);

}  // namespace berth::runtime
