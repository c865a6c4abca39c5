#!/usr/bin/env bash
# Checks the dependency direction of src/ (docs/ARCHITECTURE.md, "Layers"): reads every
# `#include "folder/..."` of every file in src/ and fails when
#   - a folder includes a folder of its own layer or of a layer above it (an arrow against the
#     documented direction; the only allowed arrows point to a lower layer),
#   - two folders include each other (a cycle, whatever the layers say),
#   - a folder of src/ is not in the table below (a new folder gets its place in the docs first),
#   - an include names a folder that does not exist in src/.
# No build needed; scripts/test.sh runs it first. Usage: scripts/check-layers.sh [-v] (-v also
# prints every folder-to-folder arrow with its count).
set -euo pipefail
cd "$(dirname "$0")/.."

# Layer of each folder, lowest first; the same number means siblings that must not include each
# other. Keep in step with docs/ARCHITECTURE.md.
declare -A layer=(
  [core]=0
  [sys]=1
  [isolation]=2 [cgroups]=2 [net]=2 [storage]=2 [template]=2 [dist]=2 [checkpoint]=2 [auth]=2
  [state]=3
  [ubc]=4
  [procsrv]=5
  [monitor]=6
  [runtime]=7
  [cli]=8 [daemon]=8
)

verbose=0
[ "${1:-}" = -v ] && verbose=1
status=0
fail() { echo "check-layers: $*" >&2; status=1; }

for dir in src/*/; do
  d=$(basename "$dir")
  [ -n "${layer[$d]:-}" ] || fail "src/$d/ has no layer (add it to scripts/check-layers.sh and docs/ARCHITECTURE.md)"
done

# "from to file:line" for every include of another folder of src/.
edges=$(grep -rnoE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[A-Za-z0-9_]+/[^"]+"' src --include='*.h' --include='*.cc' |
  sed -E 's#^src/([^/]+)/[^:]*:([0-9]+):.*"([A-Za-z0-9_]+)/[^"]+"$#\1 \3 &#' |
  awk '$1 != $2 { split($3, p, ":"); print $1, $2, p[1] ":" p[2] }')

declare -A seen=()
while read -r from to where; do
  [ -n "$from" ] || continue
  seen["$from $to"]=$(( ${seen["$from $to"]:-0} + 1 ))
  if [ -z "${layer[$to]:-}" ]; then
    [ -d "src/$to" ] || { fail "$where: includes $to/, which is no folder of src/"; continue; }
    continue  # reported above as a folder without a layer
  fi
  [ -n "${layer[$from]:-}" ] || continue
  if [ "${layer[$to]}" -ge "${layer[$from]}" ]; then
    rel=above; [ "${layer[$to]}" = "${layer[$from]}" ] && rel="beside (same layer)"
    fail "$where: $from/ (layer ${layer[$from]}) includes $to/, $rel (layer ${layer[$to]})"
  fi
done <<< "$edges"

for pair in "${!seen[@]}"; do
  read -r a b <<< "$pair"
  [[ "$a" < "$b" ]] && [ -n "${seen["$b $a"]:-}" ] && fail "$a/ and $b/ include each other"
done

if [ $verbose = 1 ]; then
  for pair in "${!seen[@]}"; do echo "$pair ${seen[$pair]}"; done | sort | awk '{ printf "%-10s -> %-10s %3d\n", $1, $2, $3 }'
fi
[ $status = 0 ] && echo "check-layers: $(printf '%s\n' "${!seen[@]}" | grep -c .) folder arrows, all downward"
exit $status
