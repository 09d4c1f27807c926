#!/usr/bin/env bash
# HTTP lookups per second and latency percentiles of duankad's API, keep-alive, from wrk on the
# same machine (loopback). Prints wrk's figures; asserts nothing.
#
#   tests/bench/http/http_bench.sh BUILD_DIR [ENTRIES] [SECONDS] [CONNECTIONS]
#
# Environment: DUANKA_BENCH_PORT (7481), DUANKA_BENCH_SERVER_THREADS (2: the io_context threads),
# DUANKA_BENCH_WRK_THREADS (1). On a 2-core machine the server and wrk share the cores, so the
# figure is a floor for a remote client. Each figure is also printed once as
# `figure<TAB>key<TAB>value<TAB>unit` for ops/bench, with the server's anonymous RSS (RssAnon from
# /proc/PID/status) idle and after the run.
set -euo pipefail

build=${1:?usage: http_bench.sh BUILD_DIR [ENTRIES] [SECONDS] [CONNECTIONS]}
entries=${2:-100000}
seconds=${3:-10}
connections=${4:-32}
port=${DUANKA_BENCH_PORT:-7481}
server_threads=${DUANKA_BENCH_SERVER_THREADS:-2}
wrk_threads=${DUANKA_BENCH_WRK_THREADS:-1}
here=$(cd "$(dirname "$0")" && pwd)
server_bin=${DUANKA_BENCH_SERVER:-$build/tests/bench/http/http_bench_server}

command -v wrk >/dev/null || { echo "http_bench.sh: wrk not found (apt-get install wrk)" >&2; exit 2; }
[[ -x $server_bin ]] || { echo "http_bench.sh: $server_bin not built (ninja http_bench_server)" >&2; exit 2; }

work=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$server_bin" --entries "$entries" --port "$port" --threads "$server_threads" --dir "$work" \
  >"$work/server.out" 2>&1 &
server_pid=$!
# Filling the store signs and verifies every entry: about a minute for a million on an idle
# machine, several on a loaded one.
start_timeout_s=${DUANKA_BENCH_START_TIMEOUT_S:-900}
for ((waited = 0; ; waited++)); do
  grep -q listening "$work/server.out" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.out" >&2; exit 1; }
  if ((waited >= start_timeout_s * 10)); then
    echo "http_bench.sh: the server was not listening after ${start_timeout_s} s (DUANKA_BENCH_START_TIMEOUT_S)" >&2
    exit 1
  fi
  sleep 0.1
done
cat "$work/server.out"
rss_anon_kib() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }
printf 'figure\thttp_server_rss_anon_idle_kib\t%s\tKiB\n' "$(rss_anon_kib "$server_pid")"

export DUANKA_BENCH_ENTRIES=$entries
url="http://127.0.0.1:$port"
echo "== warm-up (2 s)"
wrk -t"$wrk_threads" -c"$connections" -d2s -s "$here/lookup.lua" "$url" >/dev/null
echo "== POST /v1/lookup: $connections keep-alive connections, $wrk_threads wrk thread(s), ${seconds}s"
# CPU time per request, server and wrk, from /proc: unlike requests per second it hardly depends
# on what else the machine runs, and 2 cores / (server + wrk CPU per request) is the rate an idle
# 2-core machine would reach.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks_per_second=$(getconf CLK_TCK)
server_before=$(cpu_ticks "$server_pid")
wrk -t"$wrk_threads" -c"$connections" -d"${seconds}s" --latency -s "$here/lookup.lua" "$url" \
  >"$work/wrk.out" &
wrk_pid=$!
wrk_ticks=0
while kill -0 "$wrk_pid" 2>/dev/null; do
  wrk_ticks=$(cpu_ticks "$wrk_pid" 2>/dev/null || echo "$wrk_ticks")
  sleep 0.2
done
wait "$wrk_pid"
server_after=$(cpu_ticks "$server_pid")
rss_after=$(rss_anon_kib "$server_pid")
cat "$work/wrk.out"
requests=$(awk '/requests in/ {print $1}' "$work/wrk.out")
awk -v s=$((server_after - server_before)) -v w="$wrk_ticks" -v n="$requests" -v hz="$ticks_per_second" \
  -v load="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
    su = s / hz / n * 1e6; wu = w / hz / n * 1e6;
    printf "CPU per request: server %.1f us, wrk %.1f us (load average %s); ", su, wu, load;
    printf "2 idle cores would serve about %.0f/s\n", 2e6 / (su + wu);
    printf "figure\thttp_server_cpu_us_per_request\t%.2f\tus\n", su;
    printf "figure\thttp_wrk_cpu_us_per_request\t%.2f\tus\n", wu }'
awk '/^Requests\/sec:/ {printf "figure\thttp_lookups_per_s\t%.0f\trequests/s\n", $2}' "$work/wrk.out"
printf 'figure\thttp_connections\t%s\tconnections\nfigure\thttp_entries\t%s\tentries\n' \
  "$connections" "$entries"
printf 'figure\thttp_server_rss_anon_after_kib\t%s\tKiB\n' "$rss_after"

kill "$server_pid"
wait "$server_pid" || true
server_pid=
grep lookups_total "$work/server.out" || true
echo "audit lines: $(wc -l <"$work/audit.log")"
