#!/usr/bin/env bash
# Fails when a tracked file names something outside the repository:
#   - an absolute path into another checkout or a shared folder of the build machine (/work/...,
#     ../shared, a reference/ folder, a home directory's work tree);
#   - a document (*.md) that is not in the repository.
# Paths a VPS or the host system has (/root/f inside a CT, /home/<user>, /srv/$VEID) are fine.
set -euo pipefail
cd "$(dirname "$0")/.."
self=scripts/check-paths.sh
status=0
# Built from pieces so that this file does not match itself.
w=work; s=shared; r=reference
outside="(^|[[:space:]\"'\`(=:,])/$w/|\.\./$s\b|\b$s/($r|tools|testvm|hooks)\b|(^|[^[:alnum:]_./-])$r/|/home/[[:alnum:]_.-]+/(src|git|work|projects?)/"
if hits=$(git grep -nIE "$outside" -- . ":!$self"); then
  printf '%s\n' "$hits"
  echo "paths: the lines above name a path outside the repository" >&2
  status=1
fi
# Every document named by file name (X.md, dir/X.md) must be a file of the repository.
mapfile -t have < <(git ls-files -- '*.md' | xargs -n1 basename | sort -u)
while IFS=: read -r file line doc; do
  base=${doc##*/}
  # (not printf | grep -q: under pipefail printf's SIGPIPE, when grep -q stops early, read as no match)
  if ! grep -qxF "$base" < <(printf '%s\n' "${have[@]}"); then
    echo "$file:$line: names $doc, which is not in the repository"
    status=1
  fi
done < <(git grep -noIE '[[:alnum:]_./-]*[[:alnum:]_-]\.md\b' -- . ":!$self")
if [ $status = 0 ]; then
  echo "paths: nothing outside the repository is named"
else
  echo "paths: name only files of the repository (copy what is needed into docs/)" >&2
fi
exit $status
