#!/usr/bin/env bash
# HTTP lookups per second of read replicas, with real daemons on loopback: BANKA's own node (the
# primary) alone, then one replica alone, then two replicas at once (one wrk per replica). Prints
# wrk's output and figures; asserts nothing.
#
#   tests/bench/http/replica_bench.sh BUILD_DIR [ENTRIES] [SECONDS] [CONNECTIONS]
#
# Defaults: 100,000 entries, 10 s per wrk run, 32 connections (two replicas: half each).
# In a temp dir (removed on exit, every daemon killed): a CA, a pepper, BANKA (pki issue + init),
# ENTRIES phone entries 13800000000 .. 13800000000+ENTRIES-1 published by `duanka-admin report
# --batch` (lookup.lua asks for [13800000000, +2*ENTRIES): about half are listed), BANKA's duankad,
# then replicas (`pki issue --role replica`, no signing key) that dial it, each waited for until
# its GET /v1/status says `"replica": {"connected": true, "lag_records": 0}` and it holds BANKA's
# whole feed. wrk's options are http_bench.sh's: -t1 -cCONNECTIONS -dSECONDS, lookup.lua.
#
# Every node's duanka.toml sets `[limits] api_requests_per_second = 0`: no per-client rate limit
# (wrk is one client and would otherwise get 429s past 100/s). The API is plain HTTP on loopback,
# with no API client configured (none is needed on a loopback `api`).
#
# On a 2-core machine all daemons and wrk share the two cores, so the figure cannot grow with
# replicas here: two replicas serve about what one does, or the primary alone (the lookups are
# CPU-bound, and the daemons and wrk processes split the same cores). What it shows is that the
# set-up works under load, and what one machine gives; replicas scale across machines, each with
# cores of its own.
#
# Environment: DUANKA_BENCH_PORT_BASE (7520: BANKA's peer port; its API +1, the replicas' APIs
# +2 and +3; replicas dial, they do not listen), DUANKA_BENCH_WRK_THREADS (1),
# DUANKA_BENCH_START_TIMEOUT_S (60: a daemon's API answering /healthz),
# DUANKA_BENCH_CATCH_UP_TIMEOUT_S (120 + ENTRIES/5000: a replica caught up).
#
# Each figure is printed once as `figure<TAB>key<TAB>value<TAB>unit` for ops/bench:
# replica_lookups_per_s_primary, replica_lookups_per_s_1, replica_lookups_per_s_2,
# replica_catch_up_s_1 (from the replica's start to lag 0 with the whole feed), replica_catch_up_s_2,
# replica_server_cpu_us_per_request_{primary,1,2} (every daemon's CPU, over the requests served),
# replica_wrk_cpu_us_per_request_{...}, replica_other_cores_{...} (the cores that processes other
# than the daemons and wrk kept busy during the run: another build or test on the machine),
# replica_idle_2_cores_estimate_{...} (2 cores / (daemons + wrk CPU per request): the rate an idle
# 2-core machine would reach, as http_bench.sh prints it; it hardly depends on other load),
# replica_entries, replica_connections, replica_load_average_before/_after (1 minute).
set -euo pipefail

usage="usage: replica_bench.sh BUILD_DIR [ENTRIES] [SECONDS] [CONNECTIONS]"
build=${1:?$usage}
entries=${2:-100000}
seconds=${3:-10}
connections=${4:-32}
port_base=${DUANKA_BENCH_PORT_BASE:-7520}
wrk_threads=${DUANKA_BENCH_WRK_THREADS:-1}
start_timeout_s=${DUANKA_BENCH_START_TIMEOUT_S:-60}
catch_up_timeout_s=${DUANKA_BENCH_CATCH_UP_TIMEOUT_S:-$((120 + entries / 5000))}
here=$(cd "$(dirname "$0")" && pwd)

die() { echo "replica_bench.sh: $*" >&2; exit 1; }
for n in "$entries" "$seconds" "$connections" "$port_base"; do
  [[ $n =~ ^[0-9]+$ && $n -gt 0 ]] || { echo "$usage (whole numbers above 0)" >&2; exit 2; }
done
((connections >= 2)) || { echo "replica_bench.sh: CONNECTIONS must be at least 2 (two replicas take half each)" >&2; exit 2; }
for tool in wrk curl jq; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install $tool)"
done
build=$(cd "$build" && pwd) || die "no build directory $1"
daemon=$build/node/daemon/duankad
admin=$build/node/admin/duanka-admin
for bin in "$daemon" "$admin"; do
  [[ -x $bin ]] || die "$bin not built (cmake --build $build --target duankad duanka-admin duanka)"
done

work=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

load_before=$(cut -d' ' -f1 /proc/loadavg)
# The last line of a log, for a one-line failure message.
last_line() { tail -n 1 "$1" 2>/dev/null | cut -c1-300; }
adm() { "$admin" "$@" >"$work/admin.log" 2>&1 || die "duanka-admin $1 $2 $3 failed: $(last_line "$work/admin.log")"; }
adm pki init-ca --dir "$work/ca" --consortium BENCH
adm pepper new --out "$work/pepper.key"

# HOME [--role replica]: a TLS certificate and an init, always of BANKA.
make_home() {
  local home=$1; shift
  adm --home "$home" pki issue --ca-dir "$work/ca" --institution BANKA --host 127.0.0.1 "$@"
  adm --home "$home" init --institution BANKA --ca "$work/ca/ca.pem" --pepper "$work/pepper.key"
}
# HOME LISTEN API PEERS: duanka.toml as tests/integration/consortium.cpp writes it.
write_config() {
  cat >"$1/duanka.toml" <<EOF
institution = "BANKA"

[network]
listen = "$2"
api = "$3"
peers = [$4]

[limits]
api_requests_per_second = 0
EOF
}

primary_port=$port_base
api_port=([0]=$((port_base + 1)) [1]=$((port_base + 2)) [2]=$((port_base + 3)))

make_home "$work/BANKA"
write_config "$work/BANKA" "127.0.0.1:$primary_port" "127.0.0.1:${api_port[0]}" ""
# %.0f, not %d: mawk's %d stops at 2^31 - 1.
awk -v n="$entries" 'BEGIN { for (i = 0; i < n; i++) printf "phone,%.0f,rented-out\n", 13800000000 + i }' \
  >"$work/entries.csv"
echo "== report --batch: $entries phone entries into BANKA's store"
fill_start=$(date +%s.%N)
adm --home "$work/BANKA" report --batch "$work/entries.csv" --threads 2
fill_end=$(date +%s.%N)
awk -v a="$fill_start" -v b="$fill_end" 'BEGIN { printf "published in %.1f s\n", b - a }'

# NAME HOME API_PORT: starts duankad, waits for its API; sets started_pid.
start_daemon() {
  local name=$1 home=$2 port=$3 waited
  "$daemon" --home "$home" >"$work/$name.log" 2>&1 &
  started_pid=$!
  pids+=("$started_pid")
  for ((waited = 0; ; waited++)); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break
    if ! kill -0 "$started_pid" 2>/dev/null; then
      die "$name's duankad exited at start: $(last_line "$work/$name.log")"
    fi
    ((waited < start_timeout_s * 10)) \
      || die "$name's API did not answer on 127.0.0.1:$port within ${start_timeout_s} s"
    sleep 0.1
  done
}
status() { curl -sf --max-time 5 "http://127.0.0.1:$1/v1/status"; }
# The seq of BANKA's feed at API port $1 (0 when none).
feed_seq() { status "$1" | jq -r '[.feeds[] | select(.issuer == "BANKA") | .seq] | max // 0'; }

start_daemon BANKA "$work/BANKA" "${api_port[0]}"
primary_pid=$started_pid
held=$(feed_seq "${api_port[0]}")
((held >= entries)) || die "BANKA's feed holds $held records, expected at least $entries"

# Sum of utime + stime ticks of the given pids.
cpu_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
# CPU seconds of this shell's waited-for children (`times`, second line): across a case, wrk's.
# `times` runs in this shell, not in a $(...) subshell, whose children count from zero.
children_cpu_s() {
  times >"$work/times"
  awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, a, "m"); t += a[1] * 60 + a[2] } }
       END { printf "%.3f\n", t }' "$work/times"
}
# Ticks the whole machine spent busy (user, nice, system, irq, softirq), from /proc/stat.
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
ticks_per_second=$(getconf CLK_TCK)
export DUANKA_BENCH_ENTRIES=$entries

# CASE PORTS...: warm-up, then one wrk per port at once, each with CONNECTIONS/#ports
# connections; prints their output and the case's figures.
measure() {
  local case=$1; shift
  local ports=("$@") per=$((connections / $#)) port i
  local wrk_pids=() daemons=("${pids[@]}")
  echo "== warm-up (2 s)"
  for port in "${ports[@]}"; do
    wrk -t"$wrk_threads" -c"$per" -d2s -s "$here/lookup.lua" "http://127.0.0.1:$port" >/dev/null &
    wrk_pids+=($!)
  done
  for i in "${wrk_pids[@]}"; do wait "$i" || die "wrk (warm-up) failed"; done
  wrk_pids=()
  local before machine_before started
  before=$(cpu_ticks "${daemons[@]}")
  children_cpu_s >"$work/wrk-cpu-before"
  machine_before=$(machine_ticks)
  started=$(date +%s.%N)
  for i in "${!ports[@]}"; do
    echo "== POST /v1/lookup at 127.0.0.1:${ports[i]}: $per keep-alive connections," \
      "$wrk_threads wrk thread(s), ${seconds}s"
    wrk -t"$wrk_threads" -c"$per" -d"${seconds}s" --latency -s "$here/lookup.lua" \
      "http://127.0.0.1:${ports[i]}" >"$work/wrk-$case-$i.out" &
    wrk_pids+=($!)
  done
  for i in "${wrk_pids[@]}"; do wait "$i" || die "wrk failed (case $case)"; done
  local after machine_after ended
  after=$(cpu_ticks "${daemons[@]}")
  children_cpu_s >"$work/wrk-cpu-after"
  machine_after=$(machine_ticks)
  ended=$(date +%s.%N)
  for i in "${!ports[@]}"; do cat "$work/wrk-$case-$i.out"; done
  for i in "${!ports[@]}"; do
    grep -q '^Requests/sec:' "$work/wrk-$case-$i.out" || die "wrk printed no Requests/sec (case $case)"
    if grep -q 'Non-2xx or 3xx responses' "$work/wrk-$case-$i.out"; then
      die "some lookups were refused (case $case, port ${ports[i]}): see wrk's output above"
    fi
  done
  # Other processes' share: the machine's busy time less the daemons' and wrk's, over the run.
  cat "$work"/wrk-"$case"-*.out | awk -v c="$case" -v t=$((after - before)) -v hz="$ticks_per_second" \
    -v w="$(awk 'NR == 1 { a = $1 } NR == 2 { print $1 - a }' "$work/wrk-cpu-before" "$work/wrk-cpu-after")" \
    -v m=$((machine_after - machine_before)) \
    -v wall="$(awk -v a="$started" -v b="$ended" 'BEGIN { print b - a }')" '
    /^Requests\/sec:/ { rps += $2 }
    / requests in / { n += $1 }
    END {
      su = t / hz / n * 1e6; wu = w / n * 1e6; other = (m / hz - t / hz - w) / wall;
      if (other < 0) other = 0;
      printf "case %s: %.0f lookups/s in all; CPU per request: daemons %.1f us, wrk %.1f us; ", c,
        rps, su, wu;
      printf "other processes used %.2f cores meanwhile; 2 idle cores would serve about %.0f/s\n",
        other, 2e6 / (su + wu);
      printf "figure\treplica_lookups_per_s_%s\t%.0f\trequests/s\n", c, rps;
      printf "figure\treplica_server_cpu_us_per_request_%s\t%.2f\tus\n", c, su;
      printf "figure\treplica_wrk_cpu_us_per_request_%s\t%.2f\tus\n", c, wu;
      printf "figure\treplica_other_cores_%s\t%.2f\tcores\n", c, other;
      printf "figure\treplica_idle_2_cores_estimate_%s\t%.0f\trequests/s\n", c, 2e6 / (su + wu) }'
}

# NAME API_PORT START_TIME PID: waits for the replica to be connected, lag 0, whole feed held;
# prints its catch-up time.
wait_caught_up() {
  local name=$1 port=$2 start=$3 pid=$4 s now
  for ((;;)); do
    kill -0 "$pid" 2>/dev/null || die "$name's duankad exited: $(last_line "$work/$name.log")"
    s=$(status "$port" || true)
    if [[ -n $s ]] && jq -e --argjson held "$held" '
        .replica.connected == true and .replica.lag_records == 0 and
        ([.feeds[] | select(.issuer == "BANKA") | .seq] | max // 0) >= $held' <<<"$s" >/dev/null; then
      break
    fi
    now=$(date +%s.%N)
    if awk -v a="$start" -v b="$now" -v t="$catch_up_timeout_s" 'BEGIN { exit !(b - a > t) }'; then
      die "$name did not catch up with BANKA ($held records) within ${catch_up_timeout_s} s" \
        "(DUANKA_BENCH_CATCH_UP_TIMEOUT_S); its last status:" \
        "$(jq -c '{replica, feeds: [.feeds[]? | {issuer, seq}]}' <<<"$s" 2>/dev/null)"
    fi
    sleep 0.1
  done
  now=$(date +%s.%N)
  awk -v a="$start" -v b="$now" -v n="$name" -v k="${name#R}" -v h="$held" 'BEGIN {
    printf "%s caught up with %d records in %.2f s\n", n, h, b - a;
    printf "figure\treplica_catch_up_s_%s\t%.2f\ts\n", k, b - a }'
}

echo "== case 0: BANKA's own node alone"
measure primary "${api_port[0]}"

for r in 1 2; do
  make_home "$work/R$r" --role replica
  [[ ! -e $work/R$r/signing.key ]] || die "R$r holds a signing key: not a replica"
  write_config "$work/R$r" "" "127.0.0.1:${api_port[r]}" "\"BANKA@127.0.0.1:$primary_port\""
  start=$(date +%s.%N)
  start_daemon "R$r" "$work/R$r" "${api_port[r]}"
  wait_caught_up "R$r" "${api_port[r]}" "$start" "$started_pid"
  if ((r == 1)); then
    echo "== case 1: one replica alone"
    measure 1 "${api_port[1]}"
  fi
done
echo "== case 2: two replicas at once, one wrk each"
measure 2 "${api_port[1]}" "${api_port[2]}"

kill -0 "$primary_pid" 2>/dev/null || die "BANKA's duankad exited during the run"
printf 'figure\treplica_entries\t%s\tentries\nfigure\treplica_connections\t%s\tconnections\n' \
  "$entries" "$connections"
printf 'figure\treplica_load_average_before\t%s\tload\n' "$load_before"
printf 'figure\treplica_load_average_after\t%s\tload\n' "$(cut -d' ' -f1 /proc/loadavg)"
