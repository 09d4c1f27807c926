#!/bin/sh
# Regenerates startup_order.txt: the (mangled) names of the functions one `duanka lookup` runs,
# which the link places side by side (see CMakeLists.txt). Run after changes that move the
# lookup path, with a built duanka and fixture_tool:
#   node/lookup/make_startup_order.sh BUILD_DIR
# Needs valgrind. The order within the list does not matter, only membership.
set -eu
build=${1:?usage: make_startup_order.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
printf 'phone,13912345678,rented-out\n' > "$home/entries"
"$build/tests/node/fixture_tool" "$home/h" --entries "$home/entries" > /dev/null
out="$home/callgrind.out"
collect() {
  valgrind --tool=callgrind --demangle=no --callgrind-out-file="$out" \
    "$build/node/lookup/duanka" --home "$home/h" "$@" > /dev/null 2>&1 || true
  sed -n 's/^c\{0,1\}fn=([0-9]*) //p' "$out"
}
{
  collect lookup phone 13912345678          # listed: details and entry lines
  collect lookup phone 13700137000 --json   # not listed, JSON
} | grep -v -e '^0x' -e '^(below main)' -e "'" | sort -u > "$here/startup_order.txt"
wc -l "$here/startup_order.txt"
