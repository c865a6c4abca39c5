#!/usr/bin/env bash
# bench/api: berthd under load (bench/README.md, "bench/api").
#   sudo bench/api/run.sh [COUNTS...]        default: 1 100 500
# For each count N: a fresh BERTH_ROOT with N busybox VPSs (BENCH_RUNNING of them running,
# default 20, the rest stopped), a berthd in the foreground on 127.0.0.1, then
#   - wrk (Debian's), 50 connections, 2 threads, BENCH_SECONDS (default 10) each, over HTTPS with
#     an operator token: GET /v1/cts and GET /v1/cts/<first> (a VPS's status); requests/s, p50, p99;
#   - berthd's CPU (utime+stime from /proc) and RSS while idle for BENCH_IDLE (default 30) s;
#   - the time of one /metrics scrape (curl, best of 5);
#   - 100 event-stream subscribers: how many get a VPS's state change, and how long it takes.
# Everything made is removed at the end (trap), then tests/tools/leakcheck runs.
# Env: BERTH (default build/berth), BERTHD (default build/berthd).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "bench/api: run as root" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench/api: wrk missing (apt-get install wrk)" >&2; exit 1; }
berth=$(realpath "${BERTH:-build/berth}")
berthd=$(realpath "${BERTHD:-build/berthd}")
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 100 500)
secs=${BENCH_SECONDS:-10}
idle=${BENCH_IDLE:-30}
running_max=${BENCH_RUNNING:-20}
port=18555
root=""
dpid=""
cleanup() {
  [ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null || true
  if [ -n "$root" ] && [ -d "$root" ]; then
    for c in $(ls "$root/etc/berth/conf" 2>/dev/null | sed -n 's/^\([0-9]*\)\.conf$/\1/p'); do
      BERTH_ROOT=$root "$berth" stop "$c" --fast >/dev/null 2>&1 || true
      BERTH_ROOT=$root "$berth" destroy "$c" >/dev/null 2>&1 || true
    done
    rm -rf "$root"
  fi
  root=""
  dpid=""
}
trap cleanup EXIT

lat() {  # wrk output -> "req/s p50 p99"
  awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {print rps, p50, p99}'
}

printf '%-6s %-22s %10s %10s %10s\n' VPSs request req/s p50 p99
results=()
for n in "${counts[@]}"; do
  root=$(mktemp -d /tmp/berth-bench-api.XXXXXX)
  chmod 755 "$root"
  mkdir -p "$root/etc/berth"
  echo 'CGROUP_PARENT="berth-bench-api"' >"$root/etc/berth/berth.conf"
  export BERTH_ROOT=$root
  "$berth" template create busybox >/dev/null
  first=1001
  t0=$(date +%s)
  for ((i = 0; i < n; i++)); do
    id=$((first + i))
    "$berth" --quiet create "$id" --ostemplate busybox --hostname "b$id" >/dev/null
    if ((i < running_max)); then "$berth" --quiet start "$id" >/dev/null; fi
  done
  made=$(( $(date +%s) - t0 ))
  token=$("$berth" token create bench --admin)
  "$berthd" --foreground --listen 127.0.0.1:$port --poll 5 >"$root/berthd.log" 2>&1 &
  dpid=$!
  for _ in $(seq 50); do curl -sk -o /dev/null "https://127.0.0.1:$port/v1/openapi.json" && break; sleep 0.2; done
  sleep 6  # one poll pass over every VPS
  hdr="Authorization: Bearer $token"
  for path in /v1/cts /v1/cts/$first; do
    r=$(wrk -t2 -c50 -d"${secs}s" --latency -H "$hdr" "https://127.0.0.1:$port$path" | lat)
    printf '%-6s %-22s %10s %10s %10s\n' "$n" "GET $path" $r
    results+=("$n GET $path $r")
  done
  # Idle: CPU time over $idle seconds, and memory.
  read -r u1 s1 < <(awk '{print $14, $15}' /proc/$dpid/stat)
  sleep "$idle"
  read -r u2 s2 < <(awk '{print $14, $15}' /proc/$dpid/stat)
  hz=$(getconf CLK_TCK)
  cpu=$(awk -v d=$(( (u2 + s2) - (u1 + s1) )) -v hz="$hz" -v t="$idle" 'BEGIN {printf "%.2f", 100 * d / hz / t}')
  rss=$(awk '/VmRSS/ {print $2 / 1024 " MiB"}' /proc/$dpid/status)
  best=999
  for _ in 1 2 3 4 5; do
    t=$(curl -sk -o /dev/null -w '%{time_total}' -H "$hdr" "https://127.0.0.1:$port/metrics")
    best=$(awk -v a="$best" -v b="$t" 'BEGIN {print (b < a) ? b : a}')
  done
  lines=$(curl -sk -H "$hdr" "https://127.0.0.1:$port/metrics" | grep -vc '^#' || true)
  poll=$(curl -sk -H "$hdr" "https://127.0.0.1:$port/metrics" | awk '/^berthd_poll_milliseconds/ {printf "%.0f", $2}')
  # 100 subscribers, one state change.
  evdir=$root/events
  mkdir -p "$evdir"
  subs=()
  for i in $(seq 100); do
    curl -skN -H "$hdr" "https://127.0.0.1:$port/v1/events" >"$evdir/$i" 2>/dev/null &
    subs+=($!)
  done
  sleep 2
  target=$((first + n - 1))
  op=start
  ((n <= running_max)) && op=stop  # the last VPS runs: stop it instead
  ts=$(date +%s.%N)
  curl -sk -o /dev/null -X POST -H "$hdr" "https://127.0.0.1:$port/v1/cts/$target/$op"
  got=0
  for _ in $(seq 100); do
    got=$( (grep -l "\"ctid\":$target,\"hostname\"" "$evdir"/* 2>/dev/null || true) | wc -l)
    [ "$got" -ge 100 ] && break
    sleep 0.05
  done
  te=$(date +%s.%N)
  kill "${subs[@]}" 2>/dev/null || true
  wait "${subs[@]}" 2>/dev/null || true
  echo "       $n VPSs (made in ${made}s, $((n < running_max ? n : running_max)) running): idle CPU ${cpu}% of one core over ${idle}s, RSS ${rss}; /metrics ${best}s for ${lines} samples; events: ${got}/100 subscribers saw the $op within $(awk -v a="$ts" -v b="$te" 'BEGIN {printf "%.2f", b - a}')s of the request (the $op included); poll pass ${poll} ms"
  cleanup
done
trap - EXIT
tests/tools/leakcheck 2>&1 | grep -E 'berth-bench-api' && { echo "bench/api: leftovers above" >&2; exit 1; } || true
