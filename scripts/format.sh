#!/usr/bin/env bash
# Formats the project's C++ sources (src/, tests/, bench/) with .clang-format.
#   scripts/format.sh           rewrites the files in place
#   scripts/format.sh --check   changes nothing; lists every file that is not formatted and fails
# The version is pinned (clang-format-14, Debian 12's): another version formats some constructs
# differently, and the check must mean the same on every machine. CLANG_FORMAT overrides it.
set -euo pipefail
cd "$(dirname "$0")/.."
cf=${CLANG_FORMAT:-clang-format-14}
if ! command -v "$cf" >/dev/null 2>&1; then
  echo "format: $cf not found (apt-get install clang-format-14, or scripts/install-deps.sh)" >&2
  exit 2
fi
mode=fix
case "${1:-}" in
  --check) mode=check ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
mapfile -t files < <(git ls-files -- 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 'bench/*.cc' 'bench/*.h')
if [ "$mode" = fix ]; then
  printf '%s\0' "${files[@]}" | xargs -0 -n 16 -P 2 "$cf" -i --style=file
  echo "format: ${#files[@]} files formatted"
  exit 0
fi
# --dry-run prints one "file:line:col: error: code should be clang-formatted" per change; sixteen
# files per clang-format (its start-up is most of the cost), one at a time (two would mix their
# lines).
mapfile -t bad < <(printf '%s\0' "${files[@]}" |
  xargs -0 -n 16 "$cf" --style=file --dry-run --Werror 2>&1 >/dev/null |
  sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' | sort -u)
if ((${#bad[@]})); then
  printf 'not formatted: %s\n' "${bad[@]}"
  echo "format: ${#bad[@]} of ${#files[@]} files differ from .clang-format; run scripts/format.sh" >&2
  exit 1
fi
echo "format: ${#files[@]} files formatted"
