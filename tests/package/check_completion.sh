#!/usr/bin/env bash
# Checks ops/completion/duanka.bash under bash with bash-completion loaded:
#   tests/package/check_completion.sh DUANKA DUANKA_ADMIN DUANKAD
# - COMPREPLY for a few command lines of each program;
# - every value list (types, categories, bases, reasons, purposes, roles, log formats) equals
#   what the programs' --help says they accept, and every command's options and subcommands equal
#   those of its --help, so the completion cannot drift from the programs.
# One line per failure; exit 1 if any.
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 DUANKA DUANKA_ADMIN DUANKAD (the built programs)" >&2
  exit 2
fi
lookup=$1 admin=$2 daemon=$3
here=$(cd "$(dirname "$0")" && pwd)
completion=$here/../../ops/completion/duanka.bash
bash_completion=/usr/share/bash-completion/bash_completion
# shellcheck source=help_walk.sh source-path=SCRIPTDIR
. "$here/help_walk.sh"

failures=0
fail() {
  echo "check_completion: $*" >&2
  failures=$((failures + 1))
}
[ -r "$bash_completion" ] || {
  echo "check_completion: $bash_completion missing (Debian package bash-completion)" >&2
  exit 2
}

# COMPREPLY, sorted and on one line, for the command line $1 completed at its end (a trailing
# space completes a new word), in a fresh bash with bash-completion and the completion loaded.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/dir" && touch "$work/dir/file.csv"
complete_line() {
  (
    cd "$work/dir"
    COMP_LINE=$1 bash --norc --noprofile -c '
      . "$0" && . "$1"
      read -r -a COMP_WORDS <<<"$COMP_LINE"
      [[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
      COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
      COMP_POINT=${#COMP_LINE}
      "$(complete -p "${COMP_WORDS[0]}" | sed -E "s/.*-F ([^ ]+) .*/\1/")" "${COMP_WORDS[0]}"
      printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " " | sed "s/ $//"
    ' "$bash_completion" "$completion"
  )
}
expect() {
  local line=$1 want=$2 got
  got=$(complete_line "$line")
  [ "$got" = "$want" ] || fail "completing '$line': got '$got', expected '$want'"
}

expect "duanka " "alerts explain hash lookup show status"
expect "duanka lookup pa" "passport passport-icao"
expect "duanka --home /x lookup --purpose ap" "appeal"
expect "duanka lookup phone " ""
expect "duanka explain ph" "phone"
expect "duanka status --j" "--json"
expect "duanka-admin p" "pepper pki policy profile"
expect "duanka-admin pki " "crl init-ca issue revoke withdraw-key"
expect "duanka-admin --home /x pki revoke --reason c" "ca-compromise cessation-of-operation"
expect "duanka-admin revoke BANKA:1 --reason s" "sanction-lifted superseded"
expect "duanka-admin report qq 10001 --category " "bought broker fraud-use impersonation lent rented-out sold"
expect "duanka-admin report --basis " "convicted institution psb-identified"
expect "duanka-admin report pa" "passport-icao"
expect "duanka-admin pki issue --role re" "regulator replica"
expect "duanka-admin import f" "file.csv"
expect "duanka-admin audit verify a.log f" "file.csv"
expect "duanka-admin report qq 10001 f" ""
expect "duanka-admin api-client add --c" "--certificate"
expect "duankad --log-format " "json text"
expect "duankad --c" "--check-config"

# ---- The lists against the programs' --help ----
# Runs the shell code $1 with the completion loaded: its output, without empty lines.
tables() {
  bash --norc --noprofile -c '. "$0" && . "$1" && eval "$2"' "$bash_completion" "$completion" "$1" |
    grep -v '^$' || true
}
# The value list of kind $1 in the completion file, sorted, one a line.
completion_list() {
  tables "printf '%s\n' \$_duanka_$1" | sort
}
# The values in a --help line after its option or positional name: "a, b or c (default a)".
values_after() {
  sed -nE "s/^ +$1 +[A-Z]+(:\{[^}]*\})?( REQUIRED)? +(.*)/\3/p" | head -1 |
    sed -E 's/^[^:]*: //; s/ \(default[^)]*\)//g; s/\(default\)//g; s/ or /, /g' |
    tr -d ' ' | tr ',' '\n' | grep -v '^$' | sort
}
compare() {
  local kind=$1 from_help=$2
  if [ -z "$from_help" ]; then
    fail "$kind: found no list in the programs' --help"
  elif [ "$(completion_list "$kind")" != "$from_help" ]; then
    fail "$kind: the completion has '$(completion_list "$kind" | tr '\n' ' ')', the programs accept '$(tr '\n' ' ' <<<"$from_help")'"
  fi
}
compare types "$(help_of "$lookup" lookup | values_after TYPE)"
compare report_types "$(help_of "$admin" report | values_after TYPE)"
compare categories "$(help_of "$admin" report | values_after --category)"
compare bases "$(help_of "$admin" report | values_after --basis)"
compare revocation_reasons "$(help_of "$admin" revoke | values_after --reason)"
compare crl_reasons "$(help_of "$admin" pki revoke | values_after --reason)"
compare purposes "$(help_of "$lookup" lookup | values_after --purpose)"
compare roles "$(help_of "$admin" pki issue | values_after --role)"
compare log_formats "$(help_of "$daemon" | sed -nE 's/^ +--log-format [A-Z]+:\{([^}]*)\}.*/\1/p' |
  tr ',' '\n' | sort)"

check_commands() {
  local program=$1 options_table=$2 commands_var=$3 path want got
  # shellcheck disable=SC2086 # a command path's words are the command's words
  while IFS= read -r path; do
    want=$(help_of "$program" $path | options_in_help | tr '\n' ' ')
    got=$(tables "printf '%s\n' \${${options_table}[\"${path:--}\"]-}" | sort -u | tr '\n' ' ')
    [ "$got" = "$want" ] ||
      fail "${program##*/} ${path:+$path }options: the completion has '$got', --help '$want'"
    want=$(help_of "$program" $path | subcommands_in_help | sort | tr '\n' ' ')
    if [ -z "$path" ]; then
      got=$(tables "printf '%s\n' \$$commands_var" | sort | tr '\n' ' ')
    elif [ "$program" = "$admin" ]; then
      got=$(tables "printf '%s\n' \${_duanka_admin_subcommands[\"$path\"]-}" | sort | tr '\n' ' ')
    else
      got=""
    fi
    [ "$got" = "$want" ] ||
      fail "${program##*/} ${path:+$path }commands: the completion has '$got', --help '$want'"
  done < <(command_paths "$program")
}
# Options and subcommands of every command path.
check_commands "$lookup" _duanka_lookup_options _duanka_lookup_commands
check_commands "$admin" _duanka_admin_options _duanka_admin_commands
want=$(help_of "$daemon" | options_in_help | tr '\n' ' ')
got=$(complete_line "duankad -" | tr ' ' '\n' | sort -u | tr '\n' ' ')
[ "$got" = "$want" ] || fail "duankad options: the completion has '$got', --help '$want'"

if [ "$failures" -ne 0 ]; then
  echo "check_completion: $failures failure(s)" >&2
  exit 1
fi
echo "check_completion: ok"
