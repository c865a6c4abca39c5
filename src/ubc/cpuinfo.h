// The CT's own /proc/cpuinfo (in its /proc view, ubc/proc_view.h): only the CPUs it may use, as
// OpenVZ showed a VPS its CPUS. Scripts that size their parallelism with
// `grep -c ^processor /proc/cpuinfo` then follow the VPS's limits.
//
// The host's text is the template: one block per CPU, blocks separated by an empty line. Kept are
// the blocks of the CPUs in the CT's cpuset (CPUMASK), at most as many as its CPU quota is worth
// (CPUS and CPULIMIT both become that quota: --cpus 1 or --cpulimit 50% show one CPU), renumbered
// from 0 as the CT would count them. Other architectures' layouts (no "processor" lines) are
// passed through. (`nproc` counts the CPUs of the CT's affinity, which only CPUMASK narrows.)
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "core/ct_config.h"

namespace berth::ubc {

// "0-3,6" -> {0,1,2,3,6}; nullopt if malformed. Pure.
std::optional<std::set<int>> parse_cpu_list(std::string_view text);

// CPUs' worth of a CPU quota, rounded up: "150000 100000" (cpu.max; v1: quota and period) -> 2;
// "max 100000", "-1 100000" -> nullopt. Pure.
std::optional<int> cpus_of_quota(std::string_view text);

// host_cpuinfo reduced to the allowed CPUs (empty: all), at most max_cpus of them. Pure.
std::string virtual_cpuinfo(std::string_view host_cpuinfo, const std::set<int>& allowed,
                            std::optional<int> max_cpus);

// The CT's /proc/cpuinfo now (its cpuset from the cgroup, CPUS from its config).
std::string ct_cpuinfo(const CtConfig& ct);

}  // namespace berth::ubc
