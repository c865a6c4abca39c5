#!/usr/bin/env bash
# Runs clang-tidy (Debian 12's clang-tidy-14) with the checks of .clang-tidy over src/, two files at
# a time, and fails on any finding. Usage: scripts/tidy.sh [FILE...] (default: every .cc of src/).
#
# The compile commands come from CMake (compile_commands.json of $BUILD_DIR, default build/; the
# build dir is configured when it has none: nothing is compiled). Results are cached in
# ${BERTH_TIDY_CACHE:-~/.cache/berth-tidy}, one file per input: the key is the sha256 of the
# clang-tidy version, .clang-tidy, the file's compile command, and the content of the file and of
# every header it includes (the compiler's dependency list, system headers included), so an
# unchanged file is not checked again and any change that could change a finding is.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
build=${BUILD_DIR:-build}
ct=${CLANG_TIDY:-clang-tidy-14}
jobs=${JOBS:-2}
cache=${BERTH_TIDY_CACHE:-$HOME/.cache/berth-tidy}
command -v "$ct" >/dev/null 2>&1 ||
  { echo "tidy: $ct not found (apt-get install clang-tidy-14, or scripts/install-deps.sh)" >&2; exit 2; }
if [ ! -f "$build/compile_commands.json" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} >/dev/null
fi
# The generated sources (samples.cc) must exist for the header scan; configuring made them.
mkdir -p "$cache"
if (($#)); then files=("$@"); else mapfile -t files < <(git ls-files -- 'src/*.cc'); fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The compile command of every file, read once: $out/<n>.cmd holds its directory and command.
python3 - "$top/$build/compile_commands.json" "$out" "${files[@]/#/$top/}" <<'PY'
import json, sys
db = {e["file"]: e for e in json.load(open(sys.argv[1]))}
for n, f in enumerate(sys.argv[3:]):
    e = db.get(f)
    if e:
        open(f"{sys.argv[2]}/{n}.cmd", "w").write(e["directory"] + "\n" + e["command"] + "\n")
PY

# One file: its key, then the cached result or a clang-tidy run that fills the cache.
# Prints "hit" or "miss" on stdout; the findings go to $out/<n>.txt.
# The headers a file includes are the compiler's -M list from the last time the file was
# checked (kept in $cache/deps-*): if the include graph changed since, some file on the old list
# changed (the #include was written in one), so the key changed and -M runs again.
# What every key starts with: the checker's version and its configuration.
salt=$({ "$ct" --version; cat .clang-tidy; } | sha256sum | cut -c1-64)
export top build ct cache out salt
one() {
  local n=$1 f=$2 dir command key res deps depsf
  [ -f "$out/$n.cmd" ] || { echo "tidy: $f is not in $build/compile_commands.json" >"$out/$n.txt"; echo miss; return; }
  { read -r dir; read -r command; } <"$out/$n.cmd"
  # Keys and the kept dependency lists name the checkout as @TOP@, so another clone of the same
  # tree (CI's fresh clone) finds what this one checked.
  local ncommand=${command//"$top"/@TOP@}
  keyof() {
    { echo "$salt"; printf '%s\n' "$ncommand";
      (cd "$dir" && sed "s#@TOP@#$top#g" "$1" | xargs -r -d '\n' sha256sum | sed "s#$top#@TOP@#g"); } |
      sha256sum | cut -c1-64
  }
  depsf=$cache/deps-$(printf '%s\n%s\n' "$f" "$ncommand" | sha256sum | cut -c1-64)
  if [ -f "$depsf" ]; then
    key=$(keyof "$depsf")
    if [ -f "$cache/$key" ]; then cp "$cache/$key" "$out/$n.txt"; echo hit; return; fi
  fi
  # The dependency list: the same command with -M (preprocess only), ccache and -o left out.
  (cd "$dir" && eval "set -- $command" && {
    [ "$1" = ccache ] && shift
    args=(); skip=0
    for a in "$@"; do
      if [ $skip = 1 ]; then skip=0; continue; fi
      case $a in -o|-MF|-MT) skip=1 ;; -c|-MD) ;; *) args+=("$a") ;; esac
    done
    "${args[@]}" -M -MF /dev/stdout 2>/dev/null | tr -d '\\' | tr ' ' '\n' | grep -v ':$' | grep . | sort -u
  }) >"$out/$n.deps" || true
  key=$(keyof "$out/$n.deps")
  res=$cache/$key
  if [ ! -f "$res" ]; then
    # -Wno-error: a compiler warning is the compiler's business (the build fails on it), not tidy's.
    "$ct" -p "$top/$build" --quiet --extra-arg=-Wno-error "$top/$f" 2>/dev/null |
      grep -E '^[^ ].*: (warning|error): ' -A2 | grep -v '^--$' >"$out/$n.tmp" || true
    mv "$out/$n.tmp" "$res.tmp.$$" && mv "$res.tmp.$$" "$res"
  fi
  cp "$res" "$out/$n.txt"
  sed "s#$top#@TOP@#g" "$out/$n.deps" >"$depsf.tmp.$$" && mv "$depsf.tmp.$$" "$depsf"
  echo miss
}
export -f one
start=$(date +%s)
stats=$(for i in "${!files[@]}"; do printf '%s\0%s\0' "$i" "${files[$i]}"; done |
  xargs -0 -n 2 -P "$jobs" bash -c 'one "$1" "$2"' one)
hits=$(grep -c '^hit$' <<<"$stats" || true)
# A header's finding shows once per file that includes it: print each once.
findings=$(cat "$out"/*.txt 2>/dev/null | awk '/^[^ ].*: (warning|error): /{p=!seen[$0]++} p' || true)
n=$(grep -cE '^[^ ].*: (warning|error): ' <<<"$findings" || true)
echo "tidy: ${#files[@]} files ($hits cached) in $(( $(date +%s) - start )) s"
if [ "$n" != 0 ]; then
  printf '%s\n' "$findings"
  echo "tidy: $n findings (fix them, or NOLINT(check) with the reason on the line)" >&2
  exit 1
fi
echo "tidy: no findings"
