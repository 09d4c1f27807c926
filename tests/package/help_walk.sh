# shellcheck shell=bash
# Sourced by the man page and completion checks: what a program's --help says, for every command
# path (CLI11's layout: an "Options:" and a "Subcommands:" section, two spaces before each item).

# Prints the program's --help for the command path "$@" (no path: the program's own).
help_of() {
  local program=$1
  shift
  "$program" "$@" --help 2>&1
}

# The long options (--name) of one --help text on stdin, one a line, sorted.
options_in_help() {
  awk '/^Options:/ { f = 1; next } /^[A-Z][a-z]*:/ { f = 0 } f && /^  -/' |
    grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u
}

# The subcommands of one --help text on stdin, one a line, in order.
subcommands_in_help() {
  awk '/^Subcommands:/ { f = 1; next } /^$/ { f = 0 } f && /^  [a-z]/ { print $1 }'
}

# Every command path of the program, one a line ("" first for the program itself), depth first.
command_paths() {
  local program=$1
  shift
  echo "$*"
  local sub
  for sub in $(help_of "$program" "$@" | subcommands_in_help); do
    command_paths "$program" "$@" "$sub"
  done
}
