#!/usr/bin/env bash
# Checks the built manual pages (docs/man/*.md through pandoc, in the build tree):
#   tests/package/check_man_pages.sh MAN_DIR DUANKA DUANKA_ADMIN DUANKAD
# - each renders under man --warnings (UTF-8, 80 columns) with nothing at all on stderr;
# - every long option and every command of each program's --help (for every command path) is
#   named in its page, so that a new option cannot go undocumented;
# - every key of the example duanka.toml is in duanka.toml(5).
# One line per failure; exit 1 if any.
set -euo pipefail

if [ $# -ne 4 ] || [ ! -d "$1" ]; then
  echo "usage: $0 MAN_DIR DUANKA DUANKA_ADMIN DUANKAD (the built pages' directory, the programs)" >&2
  exit 2
fi
man_dir=$1
declare -A page_of=([$2]=duanka.1.gz [$3]=duanka-admin.8.gz [$4]=duankad.8.gz)
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=help_walk.sh source-path=SCRIPTDIR
. "$(dirname "$0")/help_walk.sh"

failures=0
fail() {
  echo "check_man_pages: $*" >&2
  failures=$((failures + 1))
}

for page in duanka.1.gz duanka-admin.8.gz duankad.8.gz duanka.toml.5.gz; do
  file=$man_dir/$page
  if [ ! -s "$file" ]; then
    fail "$file missing or empty"
    continue
  fi
  # groff's warnings go to stderr; the page itself to stdout.
  if ! warnings=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$file" 2>&1 >/dev/null) ||
    [ -n "$warnings" ]; then
    fail "$page: man --warnings: $(tr '\n' ' ' <<<"$warnings")"
  fi
done

# The roff source with its escaped hyphens plain: "\-\-home" is how pandoc writes --home.
roff_of() {
  gzip -dc "$1" | sed 's/\\-/-/g'
}

for program in "${!page_of[@]}"; do
  page=${page_of[$program]}
  [ -s "$man_dir/$page" ] || continue
  roff=$(roff_of "$man_dir/$page")
  while IFS= read -r path; do
    # shellcheck disable=SC2086 # the path's words are the command's words
    for option in $(help_of "$program" $path | options_in_help); do
      grep -qF -- "$option" <<<"$roff" ||
        fail "$page does not document ${program##*/} ${path:+$path }$option"
    done
    if [ -n "$path" ]; then
      grep -qF -- "$path" <<<"$roff" || fail "$page does not document ${program##*/} $path"
    fi
  done < <(command_paths "$program")
done

toml=$(roff_of "$man_dir/duanka.toml.5.gz" 2>/dev/null || true)
while IFS= read -r key; do
  grep -qE "(^|[^a-z_])$key([^a-z_]|\$)" <<<"$toml" || fail "duanka.toml.5 does not document $key"
done < <(sed -nE 's/^([a-z_]+) = .*/\1/p; s/^\[([a-z_]+)\]$/\1/p' "$root/ops/duanka.example.toml")

if [ "$failures" -ne 0 ]; then
  echo "check_man_pages: $failures failure(s)" >&2
  exit 1
fi
echo "check_man_pages: ok"
