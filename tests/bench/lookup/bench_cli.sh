#!/bin/bash
# Whole-process benchmarks of the lookup CLI (design.md section 8). Prints figures, asserts
# nothing: speed is shown, never tested.
#
#   bench_cli.sh --duanka PATH --fixture PATH [--work DIR] [--entries N] [--lines N] [--big]
#                [--runs N] [--epochs N] [--noop PATH] [--floor PATH]
#
#  1. one `duanka lookup` (not listed, and listed with --json): whole-process time, median of
#     --runs runs (default 300) with hyperfine, beside the floor of the same process refusing
#     an invalid identifier before it opens anything;
#  2. `duanka lookup --batch` over --lines lines (default 1,000,000; 1 in 1000 listed, 1 in
#     10007 invalid): lines/s on the machine as it is, and pinned to one core with taskset.
# The store has --entries random mobile numbers (default 1,000,000; --big: 10,000,000), built once
# by fixture_tool in WORK (default ./lookup-bench) and reused by later runs.
# --epochs N (default 1) measures the same store through a HOME whose pepper holds N epochs (the
# entries all under the first), as after a rotation: every lookup derives and reads N subjects.
# --noop PATH adds a second floor in the same hyperfine loop: a static process that does nothing
# (ops/bench builds one with gcc -static). Each figure is also printed once as
# `figure<TAB>key<TAB>value<TAB>unit` for ops/bench, and the CLI's peak RSS (/usr/bin/time -f %M).
# --floor PATH (lmdb_probe_floor) adds the batch's floor, measured right after it on one core: raw
# LMDB reading as many sorted random keys through the same store's subjects index, in a fresh
# process.
set -euo pipefail

duanka= fixture= work=./lookup-bench entries=1000000 lines=1000000 runs=300 epochs=1 noop= floor=
while [[ $# -gt 0 ]]; do
  case $1 in
    --duanka) duanka=$2; shift 2 ;;
    --fixture) fixture=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --entries) entries=$2; shift 2 ;;
    --lines) lines=$2; shift 2 ;;
    --big) entries=10000000; shift ;;
    --runs) runs=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --noop) noop=$2; shift 2 ;;
    --floor) floor=$2; shift 2 ;;
    *) echo "bench_cli.sh: unknown argument $1 (see the comment at the top)" >&2; exit 2 ;;
  esac
done
[[ -x $duanka && -x $fixture ]] || { echo "bench_cli.sh: --duanka and --fixture are required" >&2; exit 2; }
[[ -z $noop || -x $noop ]] || { echo "bench_cli.sh: --noop must name an executable" >&2; exit 2; }
[[ -z $floor || -x $floor ]] || { echo "bench_cli.sh: --floor must name an executable" >&2; exit 2; }
command -v hyperfine > /dev/null || { echo "bench_cli.sh: needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }

mkdir -p "$work"
home=$work/home-$entries
half=$((entries / 2))
# Two issuers, each half the entries, built by two processes at once (signing is the slow part;
# LMDB lets the two writers take turns).
if [[ ! -e $home/.complete ]]; then
  rm -rf "$home"
  echo "building a store of $entries entries in $home (once) ..."
  start=$SECONDS
  "$fixture" "$home" > /dev/null
  "$fixture" "$home" --issuer BANKA --random "$half" --seed 7 > /dev/null &
  "$fixture" "$home" --issuer BANKB --random "$((entries - half))" --seed 8 > /dev/null &
  wait
  touch "$home/.complete"
  echo "  built in $((SECONDS - start)) s"
fi
batch=$work/batch-$lines-of-$entries.csv
if [[ ! -e $batch ]]; then
  "$fixture" --make-batch "$batch" --lines "$lines" --random "$half" --seed 7 --hit-every 1000 \
    --invalid-every 10007 > /dev/null
fi

if (( epochs > 1 )); then
  # The same store (a symlink), a pepper rotated epochs-1 times.
  rotated=$work/home-$entries-epochs-$epochs
  if [[ ! -e $rotated/.complete ]]; then
    rm -rf "$rotated"
    mkdir -p "$rotated"
    cp "$home/duanka.toml" "$rotated/"
    cp -p "$home/pepper.key" "$rotated/"
    ln -s "$(cd "$home" && pwd)/store" "$rotated/store"
    for ((e = 1; e < epochs; e++)); do "$fixture" "$rotated" --rotate-pepper > /dev/null; done
    touch "$rotated/.complete"
  fi
  home=$rotated
fi

median_ms() {  # hyperfine --export-json file → median in ms
  python3 -c 'import json,statistics,sys; t=json.load(open(sys.argv[1]))["results"][0]["times"]; print("%.3f" % (statistics.median(t)*1e3))' "$1"
}

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "store: $entries entries, $(du -shL "$home/store" | cut -f1) on disk; pepper epochs: $epochs"
echo
echo "== one lookup, whole process (median of $runs runs) =="
# A mobile number of the other random stream: not listed (almost surely).
names=(floor not-listed listed-json)
# The no-op right before the lookup it is the floor of, after the first (warm-up) measurement.
[[ -z $noop ]] || names=(floor static-noop not-listed listed-json)
for name in "${names[@]}"; do
  case $name in
    static-noop) cmd=$noop ;;
    floor) cmd="$duanka --home $home lookup phone 1" ;;   # exits 2 before opening HOME
    not-listed) cmd="$duanka --home $home lookup phone 13700137000" ;;
    listed-json) cmd="$duanka --home $home lookup --json phone $(sed -n 1000p "$batch" | cut -d, -f2)" ;;
  esac
  hyperfine -N -i --warmup 30 --runs "$runs" --export-json "$work/hf.json" "$cmd" > /dev/null 2>&1
  ms=$(median_ms "$work/hf.json")
  printf '  %-12s %s ms\n' "$name" "$ms"
  printf 'figure\tlookup_process_%s_ms\t%s\tms\n' "${name//-/_}" "$ms"
done
echo "  (floor: the same binary refusing invalid input before it opens anything)"
[[ -z $noop ]] || echo "  (static-noop: a static process that does nothing, the exec + exit floor)"
if [[ -x /usr/bin/time ]]; then
  /usr/bin/time -f %M -o "$work/rss" "$duanka" --home "$home" lookup phone 13700137000 > /dev/null 2>&1 || true
  rss=$(tail -n1 "$work/rss")
  echo "  peak RSS of one lookup: $rss KiB"
  printf 'figure\tlookup_process_peak_rss_kib\t%s\tKiB\n' "$rss"
fi
echo "  On a shared machine wall times move with the load average above; compare with the floor."

echo
echo "== batch of $lines lines against $entries entries =="
TIMEFORMAT='%R %U %S'
for mode in two-threads one-core; do
  best=
  for _ in 1 2 3; do
    if [[ $mode == one-core ]]; then
      t=$( { time taskset -c 0 "$duanka" --home "$home" lookup --batch "$batch" > /dev/null 2>&1; } 2>&1 || true)
    else
      t=$( { time "$duanka" --home "$home" lookup --batch "$batch" > /dev/null 2>&1; } 2>&1 || true)
    fi
    real=${t%% *}
    if [[ -z $best ]] || awk "BEGIN{exit !($real < ${best%% *})}"; then best=$t; fi
  done
  read -r real user sys <<< "$best"
  awk -v m="$mode" -v n="$lines" -v r="$real" -v u="$user" -v s="$sys" 'BEGIN {
    if (r <= 0) r = 0.005; if (u + s <= 0) u = 0.005;  # below the clock tick of `time`
    printf "  %-12s %8.0f lines/s  (best of 3: %.2f s wall; %.2f s CPU = %.2f us per line = %.0f lines per CPU-second)\n",
           m, n / r, r, u + s, (u + s) * 1e6 / n, n / (u + s);
    k = m; gsub("-", "_", k);
    printf "figure\tbatch_%s_lines_per_s\t%.0f\tlines/s\n", k, n / r;
    printf "figure\tbatch_%s_lines_per_cpu_s\t%.0f\tlines/CPU-s\n", k, n / (u + s) }'
done
printf 'figure\tbatch_lines\t%s\tlines\nfigure\tbatch_entries\t%s\tentries\n' "$lines" "$entries"
if [[ -n $floor ]]; then
  # Pass 1 is the floor; pass 2 reads the same keys with the index's pages already mapped.
  out=$(taskset -c 0 "$floor" --store "$home/store" --keys "$lines" --passes 2)
  awk -F'\t' '$1 == "figure" {
    if ($2 ~ /pass1/) printf "  raw floor    %8.0f keys/s  (lmdb_probe_floor, one core: as many sorted random keys, MDB_SET through the subjects index, first touch of each page)\n", $3
    else printf "               %8.0f keys/s  (the same keys again in that process, the pages mapped)\n", $3
    print }' <<< "$out"
fi
if [[ -x /usr/bin/time ]]; then
  /usr/bin/time -f %M -o "$work/rss" "$duanka" --home "$home" lookup --batch "$batch" > /dev/null 2>&1 || true
  rss=$(tail -n1 "$work/rss")
  echo "  peak RSS of the batch: $rss KiB"
  printf 'figure\tbatch_peak_rss_kib\t%s\tKiB\n' "$rss"
fi
