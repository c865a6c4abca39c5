#!/usr/bin/env bash
# testvm-ci.sh - the SHORT cgroup v2 suite for CI (scripts/test.sh runs it as root): one boot of
# the qemu test VM with pure cgroup v2, running tests/vm/lifecycle.sh, tests/vm/resources.sh
# and the integration binary's ResourcesTest.* but the fork bomb one (see tests/vm/suite.sh).
# Takes about 1.5-2 minutes under TCG on a quiet host (measured 88-106 s), 5-8 minutes on one
# loaded 15-25x over its 2 cores (314 s, 461 s); the VM run is cut at 15 minutes.
# The full v2/v1/hybrid suite: scripts/testvm-smoke.sh -c "v2 v1 hybrid" -s full
# Env: as scripts/testvm-smoke.sh (TESTVM_DIR), but BUILD_DIR defaults to build. The VM is the
# repository's own (scripts/testvm/); its image is built on first use (about 1-2 min, as root).
# Exit: 0 pass, 1 fail, 77 skipped (qemu or the test VM image cannot be had here).
# The build dir is the one scripts/test.sh uses (build/), so CI builds once.
export BUILD_DIR=${BUILD_DIR:-build}
exec "$(dirname "$0")/testvm-smoke.sh" -c v2 -s ci -t "${TESTVM_CI_TIMEOUT:-900}" "$@"
