#!/usr/bin/env bash
# Checks a duanka .deb (from ./ops/package) without installing it:
#   tests/package/check_package.sh build/package/duanka_VERSION_ARCH.deb
# the three programs in /usr/bin and executable, the systemd unit in /lib/systemd/system (and
# accepted by systemd-analyze verify when that is installed), the example config, the manual
# pages and bash completion, lintian with no error or warning but those overridden with a reason
# (ops/debian/lintian-overrides), shellcheck on the maintainer scripts and this directory's
# scripts, Depends naming libsodium, liblmdb and libssl, and the maintainer scripts, run against
# stub commands: postinst
# creates the user duanka and /var/lib/duanka 0700 and never enables or starts the service;
# postrm never deletes /var/lib/duanka. One line per failure; exit 1 if any.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -f "$1" ]; then
  echo "usage: $0 PACKAGE.deb (an existing file)" >&2
  exit 2
fi
deb=$(readlink -f "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failures=0
fail() {
  echo "check_package: $deb: $*" >&2
  failures=$((failures + 1))
}

dpkg-deb -c "$deb" >"$work/contents"
dpkg-deb -x "$deb" "$work/root"
dpkg-deb -e "$deb" "$work/control"

# ---- Files ----
for program in duankad duanka duanka-admin; do
  if ! grep -qE "^-rwx.* \./usr/bin/$program\$" "$work/contents"; then
    fail "usr/bin/$program missing or not executable in dpkg-deb -c"
  elif [ ! -x "$work/root/usr/bin/$program" ]; then
    fail "usr/bin/$program not executable once extracted"
  fi
done
unit=lib/systemd/system/duankad.service
if [ ! -f "$work/root/$unit" ]; then
  fail "$unit missing"
else
  grep -qx 'ExecStart=/usr/bin/duankad --home /var/lib/duanka' "$work/root/$unit" ||
    fail "$unit: ExecStart is not /usr/bin/duankad --home /var/lib/duanka"
  grep -qx 'User=duanka' "$work/root/$unit" || fail "$unit: not run as User=duanka"
  if command -v systemd-analyze >/dev/null; then
    # verify wants ExecStart's program on this machine: point it at the extracted one. It exits 0
    # on unknown keys, so any output at all is a failure.
    sed "s|^ExecStart=/usr/bin/duankad|ExecStart=$work/root/usr/bin/duankad|" "$work/root/$unit" \
      >"$work/duankad.service"
    if ! out=$(systemd-analyze verify "$work/duankad.service" 2>&1) || [ -n "$out" ]; then
      fail "$unit: systemd-analyze verify: $(echo "$out" | tr '\n' ' ')"
    fi
  fi
fi
[ -f "$work/root/usr/share/doc/duanka/examples/duanka.example.toml" ] ||
  fail "usr/share/doc/duanka/examples/duanka.example.toml missing"
[ -f "$work/root/usr/share/doc/duanka/examples/logrotate.duanka" ] ||
  fail "usr/share/doc/duanka/examples/logrotate.duanka missing"
doc=$work/root/usr/share/doc/duanka
grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/' \
  "$doc/copyright" 2>/dev/null || fail "usr/share/doc/duanka/copyright missing or not DEP-5"
if ! changelog=$(gzip -dc "$doc/changelog.gz" 2>/dev/null); then
  fail "usr/share/doc/duanka/changelog.gz missing or not gzip"
else
  # The newest entry must be the package's own version, or the changelog was forgotten.
  top=$(sed -n '1s/^duanka (\([^)]*\)).*/\1/p' <<<"$changelog")
  [ "$top" = "$(dpkg-deb -f "$deb" Version)" ] ||
    fail "changelog's newest entry is '$top', the package's Version $(dpkg-deb -f "$deb" Version)"
fi
# Installed documents point to installed paths, never to the source tree's.
if grep -rlE '(^|[^/])ops/(duanka\.example\.toml|systemd/|logrotate/)' "$doc" >"$work/srcpaths"; then
  fail "documents naming source-tree paths: $(tr '\n' ' ' <"$work/srcpaths")"
fi

# Manual pages and bash completion, where man and bash-completion look for them.
for page in man1/duanka.1.gz man8/duanka-admin.8.gz man8/duankad.8.gz man5/duanka.toml.5.gz; do
  gzip -t "$work/root/usr/share/man/$page" 2>/dev/null || fail "usr/share/man/$page missing or not gzip"
done
for program in duanka duanka-admin duankad; do
  grep -q "complete -F [_a-z]* $program\$" \
    "$work/root/usr/share/bash-completion/completions/$program" 2>/dev/null ||
    fail "usr/share/bash-completion/completions/$program missing or does not complete $program"
done

# ---- lintian and shellcheck ----
# No error or warning but those justified one by one in usr/share/lintian/overrides/duanka
# (ops/debian/lintian-overrides); an override that no longer matches is a failure too, so the
# file cannot keep excuses for problems that are gone.
if ! command -v lintian >/dev/null; then
  fail "lintian not installed (Debian package lintian; ./ops/bootstrap installs it)"
elif ! out=$(lintian --fail-on error,warning --display-info --no-tag-display-limit "$deb" 2>&1) ||
  grep -qE '^[EWI]: [^ ]+: (unused-override|mismatched-override)' <<<"$out"; then
  fail "lintian: $(grep -E '^[EW]: |(unused|mismatched)-override' <<<"$out" | tr '\n' ';')"
fi
# The maintainer scripts as shipped, and the shell the package and its checks are made of.
source_root=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v shellcheck >/dev/null; then
  fail "shellcheck not installed (Debian package shellcheck; ./ops/bootstrap installs it)"
else
  for script in postinst prerm postrm; do
    [ -f "$work/control/$script" ] || continue
    out=$(shellcheck "$work/control/$script" 2>&1) || fail "shellcheck $script: $(tr '\n' ' ' <<<"$out")"
  done
  for script in ops/completion/duanka.bash tests/package/check_package.sh \
    tests/package/check_man_pages.sh tests/package/check_completion.sh tests/package/help_walk.sh; do
    out=$(cd "$source_root" && shellcheck -x "$script" 2>&1) ||
      fail "shellcheck $script: $(tr '\n' ' ' <<<"$out")"
  done
fi

# ---- Control fields ----
[ "$(dpkg-deb -f "$deb" Package)" = duanka ] || fail "Package is not duanka"
[ -n "$(dpkg-deb -f "$deb" Maintainer)" ] || fail "no Maintainer"
[ -n "$(dpkg-deb -f "$deb" Section)" ] || fail "no Section"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libsodium liblmdb libssl adduser; do
  grep -q "$lib" <<<"$depends" || fail "Depends does not name $lib: $depends"
done

# ---- Maintainer scripts, run against stubs that log their arguments ----
stubs=$work/stubs
mkdir -p "$stubs" "$work/run/systemd/system"
for cmd in adduser addgroup useradd groupadd deluser delgroup userdel groupdel install mkdir \
  chown chmod rm rmdir systemctl deb-systemd-helper deb-systemd-invoke invoke-rc.d update-rc.d; do
  printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$cmd" "$work/calls" >"$stubs/$cmd"
done
# getent finds the user and group duanka only while $work/users-exist exists.
printf '#!/bin/sh\n[ -f "%s" ] && echo "duanka:x:999:999::/var/lib/duanka:/usr/sbin/nologin" && exit 0\nexit 2\n' \
  "$work/users-exist" >"$stubs/getent"
chmod +x "$stubs"/*

# Runs control script $1 with arguments $2...; systemd is taken to be running (the script's
# /run/systemd/system test is pointed at a directory that exists). The calls land in $work/calls.
run_script() {
  local script=$work/control/$1
  shift
  : >"$work/calls"
  if [ ! -x "$script" ]; then
    fail "control script ${script##*/} missing or not executable"
    return
  fi
  sed "s|/run/systemd/system|$work/run/systemd/system|g" "$script" >"$work/script"
  PATH="$stubs:$PATH" sh "$work/script" "$@" >"$work/script.out" 2>&1 ||
    fail "${script##*/} $*: exit $?: $(tr '\n' ' ' <"$work/script.out")"
}

# Enabling or starting, by any of the tools a maintainer script could use. try-restart (which
# restarts a running daemon after an upgrade and starts nothing) is allowed.
starts_service='^(systemctl|deb-systemd-helper|deb-systemd-invoke|update-rc\.d)(.* | )(enable|reenable|start|restart|reload-or-restart|defaults)( |$)|^invoke-rc\.d '

run_script postinst configure ""
grep -qE '^(adduser|useradd) .*--system.* duanka$' "$work/calls" ||
  fail "postinst configure did not create the system user duanka: $(tr '\n' ';' <"$work/calls")"
grep -qE '^(install -d .*-m 0?700 .*/var/lib/duanka|chmod 0?700 /var/lib/duanka)$' "$work/calls" ||
  fail "postinst configure did not make /var/lib/duanka mode 0700: $(tr '\n' ';' <"$work/calls")"
grep -qE '^(install -d .*-o duanka .*/var/lib/duanka|chown duanka(:duanka)? /var/lib/duanka)$' \
  "$work/calls" || fail "postinst configure did not give /var/lib/duanka to duanka"
if grep -E "$starts_service" "$work/calls" >"$work/starts"; then
  fail "postinst configure enables or starts the service: $(tr '\n' ';' <"$work/starts")"
fi
grep -qi 'not.*started\|neither.*enabled' "$work/script.out" ||
  fail "postinst configure does not tell the operator the service is not started"
# Static check too: a branch the stubs did not reach must not enable or start either.
if grep -vE '^\s*(#|echo |printf )' "$work/control/postinst" |
  grep -E 'systemctl\s+(enable|start)|deb-systemd-invoke\s+start|invoke-rc\.d' >"$work/starts"; then
  fail "postinst text enables or starts the service: $(tr '\n' ';' <"$work/starts")"
fi

run_script postinst configure 0.0.1
if grep -E "$starts_service" "$work/calls" >"$work/starts"; then
  fail "postinst on upgrade enables or starts the service: $(tr '\n' ';' <"$work/starts")"
fi

# A HOME already configured: no set-up hint (the script's HOME pointed at one that holds a
# duanka.toml).
mkdir -p "$work/configured"
touch "$work/configured/duanka.toml"
sed -i "s|^home=/var/lib/duanka\$|home=$work/configured|" "$work/control/postinst"
run_script postinst configure 0.0.1
if grep -qi 'not.*started\|neither.*enabled' "$work/script.out"; then
  fail "postinst prints the set-up hint although HOME holds duanka.toml: $(tr '\n' ' ' <"$work/script.out")"
fi

touch "$work/users-exist"
for args in remove purge; do
  run_script postrm "$args"
  if grep -E '^(rm|rmdir) .*/var/lib/duanka' "$work/calls" >"$work/removes"; then
    fail "postrm $args deletes data: $(tr '\n' ';' <"$work/removes")"
  fi
  removes_user=no
  grep -qE '^(deluser|userdel) (.* )?duanka$' "$work/calls" && removes_user=yes
  case "$args:$removes_user" in
    remove:yes) fail "postrm remove deletes the user duanka (only purge may)" ;;
    purge:no) fail "postrm purge does not delete the user duanka: $(tr '\n' ';' <"$work/calls")" ;;
  esac
done
grep -qE '^rm (-f )?/etc/systemd/system/multi-user\.target\.wants/duankad\.service$' "$work/calls" ||
  fail "postrm purge leaves the enabled unit's link: $(tr '\n' ';' <"$work/calls")"
# shellcheck disable=SC2016 # a literal $home in the script's text
if grep -qE 'rm -[a-zA-Z]*r[a-zA-Z]* .*(/var/lib/duanka|\$home)' "$work/control/postrm"; then
  fail "postrm text removes /var/lib/duanka recursively"
fi

if [ "$failures" -ne 0 ]; then
  echo "check_package: $failures failure(s)" >&2
  exit 1
fi
echo "check_package: $deb: ok"
