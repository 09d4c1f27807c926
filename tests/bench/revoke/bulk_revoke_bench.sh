#!/bin/bash
# Bulk withdrawal speed (issue 17 section 2: >= 20k revocations/s signed). Prints figures,
# asserts nothing: speed is shown, never tested.
#
#   bulk_revoke_bench.sh [--admin PATH] [--entries N] [--work DIR]
#
# In a fresh consortium in WORK (default a temp dir, removed after): `report --batch` publishes
# N entries (default 100,000) into an empty store, the floor measured in the same run (signing
# one chain per transaction, as bulk revoke does), then `revoke --batch` withdraws all N, then
# the same file again (nothing left to sign: the cost of planning alone).
set -euo pipefail

admin=build/release/node/admin/duanka-admin entries=100000 work=
while [[ $# -gt 0 ]]; do
  case $1 in
    --admin) admin=$2; shift 2 ;;
    --entries) entries=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "bulk_revoke_bench.sh: unknown argument $1 (see the comment at the top)" >&2; exit 2 ;;
  esac
done
if [[ -z $work ]]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
admin=$(realpath "$admin")
cd "$work"
"$admin" pki init-ca --dir ca --consortium BENCH >/dev/null
"$admin" pepper new --out pepper.key >/dev/null
"$admin" --home BANKA pki issue --ca-dir ca --institution BANKA >/dev/null
"$admin" init --home BANKA --institution BANKA --ca ca/ca.pem --pepper pepper.key >/dev/null
awk -v n="$entries" 'BEGIN { for (i = 0; i < n; i++) printf "qq,%d,sold\n", 100000000 + i }' \
  >entries.csv
awk -v n="$entries" 'BEGIN { for (i = 1; i <= n; i++) printf "BANKA:%d\n", i }' >ids.txt

# Each run's summary line on stderr ends with its rate: "(N entries/s)" / "(N revocations/s)".
rate() { sed -n 's/.*(\([0-9,]*\) \(entries\|revocations\)\/s).*/\1/p' "$1"; }
"$admin" --home BANKA report --batch entries.csv >/dev/null 2>report.err
"$admin" --home BANKA revoke --batch ids.txt --reason issued-in-error >/dev/null 2>revoke.err
start=$(date +%s.%N)
"$admin" --home BANKA revoke --batch ids.txt --reason issued-in-error >/dev/null 2>again.err
end=$(date +%s.%N)
printf '%-44s %s\n' "report --batch, $entries entries (floor):" "$(rate report.err) entries/s"
printf '%-44s %s\n' "revoke --batch, $entries revocations:" "$(rate revoke.err) revocations/s"
printf '%-44s %.2f s\n' "revoke --batch again (all already revoked):" "$(echo "$end - $start" | bc)"
printf '%-44s %s\n' "load average:" "$(cut -d' ' -f1-3 /proc/loadavg)"
