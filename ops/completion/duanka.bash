# bash completion for duanka(1), duanka-admin(8) and duankad(8).                -*- shell-script -*-
# Installed as share/bash-completion/completions/{duanka,duanka-admin,duankad}; it needs
# bash-completion's helpers (_init_completion, _filedir).
# The value lists mirror the programs' own tables (protocol/vocabulary.cpp, protocol/identifier.cpp,
# node/common/lookup.cpp, node/admin/pki_commands.cpp); tests/package/check_completion.sh compares
# each with what the programs' --help says they accept, so they cannot drift apart.
# shellcheck shell=bash disable=SC2207 # COMPREPLY=($(compgen ...)) is the completion idiom

# ---- Values, one list per kind ----
# Identifier types a lookup accepts (duanka lookup/hash TYPE).
_duanka_types="cn-id phone bank-card bank-account wechat alipay qq uscc email passport ecny-wallet passport-icao"
# Identifier types a new report accepts (duanka-admin report TYPE, report --batch).
_duanka_report_types="cn-id phone bank-card bank-account wechat alipay qq uscc email ecny-wallet passport-icao"
_duanka_categories="rented-out lent sold bought broker impersonation fraud-use"
_duanka_bases="psb-identified convicted institution"
# Why an entry is withdrawn (duanka-admin revoke --reason).
_duanka_revocation_reasons="appeal-upheld issued-in-error court-order sanction-lifted rehashed superseded"
# Why a certificate is revoked (duanka-admin pki revoke --reason).
_duanka_crl_reasons="key-compromise ca-compromise affiliation-changed superseded cessation-of-operation privilege-withdrawn"
_duanka_purposes="account-opening periodic-review transaction-review appeal investigation"
_duanka_roles="member regulator replica"
# What a profile says its institution is (duanka-admin profile set --kind).
_duanka_institution_kinds="bank payment-institution regulator"
_duanka_log_formats="text json"

# ---- Commands and their options, by command path ("-" for the program itself) ----
_duanka_lookup_commands="lookup explain hash show status alerts"
declare -gA _duanka_lookup_options=(
  [-]="--home --help --version"
  [lookup]="--purpose --json --all --tier-exit --batch --help"
  [explain]="--json --help"
  [hash]="--json --help"
  [show]="--json --help"
  [status]="--json --help"
  [alerts]="--after --follow --json --help"
)
_duanka_admin_commands="pki pepper init report revoke list stats export import api-client evidence withdraw-key fork reaffirm hold policy audit watch profile"
declare -gA _duanka_admin_subcommands=(
  [pki]="init-ca issue revoke crl withdraw-key"
  [pepper]="new rotate install retire"
  [api-client]="add list remove"
  [evidence]="export verify"
  [fork]="resolve"
  [hold]="list release"
  [policy]="set show"
  [audit]="verify export"
  [watch]="remove count"
  [profile]="set show"
)
declare -gA _duanka_admin_options=(
  [-]="--home --help --version"
  [pki]="--help"
  ["pki init-ca"]="--dir --consortium --help"
  ["pki issue"]="--ca-dir --institution --role --host --force --help"
  ["pki revoke"]="--ca-dir --serial --institution --reason --next-update-days --help"
  ["pki crl"]="--ca-dir --help"
  ["pki withdraw-key"]="--ca-dir --serial --since --out --help"
  [pepper]="--help"
  ["pepper new"]="--out --force --help"
  ["pepper rotate"]="--in --out --help"
  ["pepper install"]="--help"
  ["pepper retire"]="--in --out --epoch --help"
  [init]="--institution --ca --pepper --listen --api --peer --force --help"
  [report]="--category --basis --case-ref --expires --batch --threads --json --i-know --help"
  [revoke]="--reason --batch --issuer --from --to --note --json --i-know --help"
  [list]="--issuer --all --json --help"
  [stats]="--json --help"
  [export]="--out --issuer --from --help"
  [import]="--help"
  [api-client]="--help"
  ["api-client add"]="--certificate --help"
  ["api-client list"]="--json --help"
  ["api-client remove"]="--help"
  [evidence]="--help"
  ["evidence export"]="--issuer --force --help"
  ["evidence verify"]="--ca --crl --json --help"
  [withdraw-key]="--institution --serial --since --out --help"
  [fork]="--help"
  ["fork resolve"]="--keep --out --help"
  [reaffirm]="--since --except --dry-run --json --i-know --help"
  [hold]="--help"
  ["hold list"]="--json --help"
  ["hold release"]="--day --everywhere --out --help"
  [policy]="--help"
  ["policy set"]="--out --help"
  ["policy show"]="--json --help"
  [audit]="--help"
  ["audit verify"]="--ca --help"
  ["audit export"]="--from --to --out --force --help"
  [watch]="--batch --help"
  ["watch remove"]="--batch --help"
  ["watch count"]="--help"
  [profile]="--help"
  ["profile set"]="--name-zh --name-en --kind --appeal-phone --appeal-address --appeal-web --json --i-know --help"
  ["profile show"]="--json --help"
)
# Options that take a value (the next word is that value, not a command or positional).
_duanka_valued_options="--home --purpose --batch --dir --consortium --ca-dir --institution --role --host --serial --reason --next-update-days --since --out --in --epoch --ca --pepper --listen --api --peer --category --basis --case-ref --expires --threads --issuer --from --to --note --crl --keep --except --day --after --log-format --name-zh --name-en --kind --appeal-phone --appeal-address --appeal-web"

# Sets _duanka_path to the command path typed so far (e.g. "pki issue"; "" for none) and
# _duanka_args to the number of positional arguments after it, before the word being completed.
# $1: the top-level commands; $2: "admin" when they have subcommands (_duanka_admin_subcommands).
_duanka_parse() {
  local commands=$1 nested=$2 word i
  _duanka_path="" _duanka_args=0
  for ((i = 1; i < cword; i++)); do
    word=${words[i]}
    if [[ $word == -* ]]; then
      [[ " $_duanka_valued_options " == *" $word "* ]] && ((i++))
    elif [[ -z $_duanka_path && " $commands " == *" $word "* ]]; then
      _duanka_path=$word
    elif [[ -n $nested && -n $_duanka_path && $_duanka_path != *" "* &&
      " ${_duanka_admin_subcommands[$_duanka_path]-} " == *" $word "* ]]; then
      _duanka_path+=" $word"
    else
      ((_duanka_args++))
    fi
  done
}

# Completes the value of option $1 ($cur); returns 1 if it takes none.
_duanka_option_value() {
  case $1 in
    --home | --dir | --ca-dir) _filedir -d ;;
    --batch | --ca | --pepper | --out | --in | --crl | --except) _filedir ;;
    --purpose) COMPREPLY=($(compgen -W "$_duanka_purposes" -- "$cur")) ;;
    --category) COMPREPLY=($(compgen -W "$_duanka_categories" -- "$cur")) ;;
    --basis) COMPREPLY=($(compgen -W "$_duanka_bases" -- "$cur")) ;;
    --role) COMPREPLY=($(compgen -W "$_duanka_roles" -- "$cur")) ;;
    --kind) COMPREPLY=($(compgen -W "$_duanka_institution_kinds" -- "$cur")) ;;
    --log-format) COMPREPLY=($(compgen -W "$_duanka_log_formats" -- "$cur")) ;;
    --reason)
      if [[ $_duanka_path == "pki revoke" ]]; then
        COMPREPLY=($(compgen -W "$_duanka_crl_reasons" -- "$cur"))
      else
        COMPREPLY=($(compgen -W "$_duanka_revocation_reasons" -- "$cur"))
      fi
      ;;
    *)
      # A value nothing can guess (a code, a serial, a time): offer nothing.
      [[ " $_duanka_valued_options " == *" $1 "* ]] || return 1
      ;;
  esac
  return 0
}

_duanka() {
  local cur prev words cword
  _init_completion || return
  _duanka_parse "$_duanka_lookup_commands" ""
  _duanka_option_value "$prev" && return
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "${_duanka_lookup_options[${_duanka_path:--}]}" -- "$cur"))
  elif [[ -z $_duanka_path ]]; then
    COMPREPLY=($(compgen -W "$_duanka_lookup_commands" -- "$cur"))
  elif [[ $_duanka_path == lookup || $_duanka_path == hash || $_duanka_path == explain ]] &&
    ((_duanka_args == 0)); then
    COMPREPLY=($(compgen -W "$_duanka_types" -- "$cur"))
  fi
} && complete -F _duanka duanka

_duanka_admin() {
  local cur prev words cword
  _init_completion || return
  _duanka_parse "$_duanka_admin_commands" admin
  _duanka_option_value "$prev" && return
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "${_duanka_admin_options[${_duanka_path:--}]-}" -- "$cur"))
  elif [[ -z $_duanka_path ]]; then
    COMPREPLY=($(compgen -W "$_duanka_admin_commands" -- "$cur"))
  elif [[ -n ${_duanka_admin_subcommands[$_duanka_path]-} ]]; then
    COMPREPLY=($(compgen -W "${_duanka_admin_subcommands[$_duanka_path]}" -- "$cur"))
  elif ((_duanka_args == 0)) || [[ $_duanka_path == "audit verify" ]]; then
    # audit verify takes any number of files; the other commands one positional at most.
    case $_duanka_path in
      report) COMPREPLY=($(compgen -W "$_duanka_report_types" -- "$cur")) ;;
      import | "pepper install" | "evidence export" | "evidence verify" | "audit verify" | "policy set") _filedir ;;
    esac
  fi
} && complete -F _duanka_admin duanka-admin

_duankad() {
  local cur prev words cword
  _init_completion || return
  _duanka_path=""
  _duanka_option_value "$prev" && return
  COMPREPLY=($(compgen -W "--home --verbose --log-format --check-config --version --help" -- "$cur"))
} && complete -F _duankad duankad

# ex: filetype=sh
