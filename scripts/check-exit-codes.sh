#!/usr/bin/env bash
# Fails when src/ writes an exit status as a bare number instead of its exitcode:: name
# (src/core/exit_codes.h) or a named constant (a helper child's internal status). What counts as an
# exit status: see scripts/check-exit-codes.pl.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -- 'src/*.cc' 'src/*.h')
if ! perl scripts/check-exit-codes.pl "${files[@]}"; then
  echo "exit codes: name the statuses above (src/core/exit_codes.h)" >&2
  exit 1
fi
echo "exit codes: no bare exit status in ${#files[@]} files of src/"
