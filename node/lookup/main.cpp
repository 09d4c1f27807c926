// duanka: the lookup CLI (design.md section 7). This file only parses arguments and dispatches;
// each command lives in its own file, output formats are in node/lookup/README.md.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iterator>
#include <string>
#include <string_view>

#include "node/common/lookup.h"
#include "node/common/version.h"
#include "node/lookup/cli.h"
#include "node/lookup/text.h"

namespace {

using namespace duanka::lookup;

// Bounds an argument we quote back in an error: option names are short, anything longer is not one.
constexpr size_t kMaxQuotedOptionChars = 32;

// A file descriptor 0-2 that the parent closed would be handed to the next file we open (the
// store, the audit log); output meant for stdout would then land inside it. Reopen them on
// /dev/null first, as daemons do.
void EnsureStandardDescriptors() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1) {
      int opened = ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
      if (opened >= 0 && opened != fd) ::close(opened);
    }
  }
}

// True for something shaped like an option name ("--jsn", "-x"), which is safe to quote back: no
// identifier type's canonical form starts with a dash followed by a letter.
bool LooksLikeOptionName(const std::string& arg) {
  if (arg.size() < 2 || arg.size() > kMaxQuotedOptionChars || arg[0] != '-') return false;
  size_t i = arg[1] == '-' ? 2 : 1;
  if (i >= arg.size() || !std::isalpha(static_cast<unsigned char>(arg[i]))) return false;
  for (; i < arg.size(); ++i) {
    char c = arg[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

// Options of our own, which an "unknown option" message must not blame.
bool IsKnownOption(const std::string& arg) {
  static const char* const kKnown[] = {"--home",  "--purpose", "--json", "--all",       "--batch",
                                       "--after", "--follow",  "--help", "--tier-exit", "-h"};
  for (const char* k : kKnown) {
    if (arg == k || arg.rfind(std::string(k) + "=", 0) == 0) return true;
  }
  return false;
}

// The command word in argv ("lookup", "hash", …): the first argument that is neither an option
// nor the value of --home. Empty when there is none.
std::string CommandWord(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--home") {
      ++i;
      continue;
    }
    if (args[i].empty() || args[i][0] != '-') return args[i];
  }
  return {};
}

// CLI11's messages quote unexpected arguments, and an unexpected argument is often part of an
// identifier (`duanka lookup phone 138 0013 8000`). Only messages that name our own options are
// passed on; the rest are replaced by our own words.
std::string UsageMessage(const CLI::ParseError& e, const CLI::App& app, const std::string& where,
                         const std::vector<std::string>& args) {
  const std::string hint = "; see " + where + " --help";
  constexpr const char* kCommands = "expected one of lookup, hash, show, status, alerts, explain";
  if (app.get_subcommands().empty()) {
    return (!CommandWord(args).empty() ? "unknown command; " : "a command is required; ") +
           std::string(kCommands) + hint;
  }
  if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr ||
      dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr) {
    return OneLine(e.what()) + hint;
  }
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    for (const std::string& arg : args) {
      if (LooksLikeOptionName(arg) && !IsKnownOption(arg)) return "unknown option " + arg + hint;
    }
    return "unexpected argument (a VALUE with spaces must be quoted as one argument)" + hint;
  }
  return "invalid arguments" + hint;
}

constexpr const char* kHomeHelp =
    "the institution's HOME directory (default $DUANKA_HOME, else /var/lib/duanka); before or "
    "after the command";

// Everything main() parses into, one struct per command.
struct Parsed {
  std::optional<std::string> home;
  LookupOptions lookup;
  std::optional<std::string> batch_file;
  HashOptions hash;
  ShowOptions show;
  ExplainOptions explain;
  StatusOptions status;
  AlertsOptions alerts;
};

// Each Add* declares one command. Only the command being run gets its options and help text
// ("full"); the others are declared bare, by name and one-line description, which is all that
// `duanka --help` shows of them. CLI11 allocates a few hundred bytes per option, and in this
// process every fresh page of heap costs more than the lookup itself.
CLI::App* AddLookup(CLI::App& app, Parsed& p, bool full) {
  CLI::App* cmd = app.add_subcommand(
      "lookup", "is an identifier listed? one identifier, or a batch of TYPE,VALUE lines");
  if (!full) return cmd;
  cmd->add_option("TYPE", p.lookup.type, "identifier type: " + TypeNames());
  cmd->add_option("VALUE", p.lookup.value,
                  "the identifier as typed (spaces, +86, full-width digits are fine); never "
                  "logged, only the first 8 hex digits of its keyed hash are");
  cmd->add_option("--purpose", p.lookup.purpose,
                  "why you look, written to the audit log: " + duanka::node::AllPurposeNames() +
                      " (default account-opening)");
  cmd->add_flag("--json", p.lookup.json,
                "one JSON object (batch: one per line), as the daemon's HTTP API answers");
  cmd->add_flag("--all", p.lookup.all,
                "also show revoked and expired entries (they never count as listed)");
  cmd->add_flag("--tier-exit", p.lookup.tier_exit,
                "exit by the answer's risk tier: 0 deny, 4 review, 1 watch or none (2, 3 as "
                "always)");
  cmd->add_option("--batch", p.batch_file,
                  "FILE (or - for stdin) of TYPE,VALUE lines; one result line per input line, "
                  "in order, summary on stderr");
  cmd->footer(
      "Exit codes: 0 listed (batch: at least one line listed), 1 not listed, 2 usage or invalid "
      "input (a batch reports invalid lines on their own line and goes on), 3 operational "
      "failure; with --tier-exit: 0 deny, 4 review, 1 watch or none. Every lookup is written "
      "to the audit log (purpose, OS user, type, first 8 hex digits of the subject, never the "
      "identifier); if the audit log cannot be written the lookup fails with exit 3 and no "
      "answer: an unaudited lookup must not happen.\n"
      "Examples:\n"
      "  duanka lookup phone '+86 138 0013 8000' --purpose periodic-review\n"
      "  duanka lookup cn-id 11010519491231002X --json --all\n"
      "  duanka lookup --batch customers.csv > results.csv    (lines like phone,13800138000)");
  return cmd;
}

CLI::App* AddHash(CLI::App& app, Parsed& p, bool full) {
  CLI::App* cmd = app.add_subcommand(
      "hash",
      "print an identifier's canonical form and its subject (keyed hash) under the "
      "current pepper epoch; reads no store, writes no audit line");
  if (!full) return cmd;
  cmd->add_option("TYPE", p.hash.type, "identifier type: " + TypeNames())->required();
  cmd->add_option("VALUE", p.hash.value, "the identifier as typed")->required();
  cmd->add_flag("--json", p.hash.json, "print {\"type\",\"canonical\",\"epoch\",\"subject\"}");
  cmd->footer(
      "Exit codes: 0 done, 2 invalid input, 3 pepper missing.\n"
      "Example: duanka hash bank-card '4111 1111 1111 1111'");
  return cmd;
}

CLI::App* AddShow(CLI::App& app, Parsed& p, bool full) {
  CLI::App* cmd = app.add_subcommand("show", "show one entry (or revocation) held in the store");
  if (!full) return cmd;
  cmd->add_option("ENTRY_ID", p.show.entry, "ISSUER:SEQ, e.g. BANKA:42")->required();
  cmd->add_flag("--json", p.show.json, "print the entry as JSON, as in lookup --json");
  cmd->footer(
      "Exit codes: 0 shown, 1 no such record held, 2 invalid ENTRY_ID, 3 operational.\n"
      "Example: duanka show BANKA:42 --json");
  return cmd;
}

CLI::App* AddExplain(CLI::App& app, Parsed& p, bool full) {
  CLI::App* cmd = app.add_subcommand(
      "explain",
      "what to tell a person asking whether and why they are listed: who listed them, what for, "
      "on which basis, until when, where to appeal; in Chinese and English");
  if (!full) return cmd;
  cmd->add_option("TYPE", p.explain.type, "identifier type: " + TypeNames())->required();
  cmd->add_option("VALUE", p.explain.value,
                  "the person's identifier as typed; never logged and never printed back")
      ->required();
  cmd->add_flag("--json", p.explain.json,
                "one JSON object, as the daemon's POST /v1/explain answers");
  cmd->footer(
      "Audited as a lookup with purpose appeal. Exit codes: 0 listed, 1 not listed, 2 usage or "
      "invalid input, 3 operational failure.\n"
      "Example: duanka explain phone '+86 138 0013 8000'");
  return cmd;
}

CLI::App* AddStatus(CLI::App& app, Parsed& p, bool full) {
  CLI::App* cmd = app.add_subcommand(
      "status",
      "the node's institution, every feed's head and when it last grew, counts per "
      "issuer and state, forks held, bytes on disk");
  if (!full) return cmd;
  cmd->add_flag("--json", p.status.json, "print one JSON object");
  cmd->footer("Exit codes: 0 done, 3 operational.\nExample: duanka status --json");
  return cmd;
}

CLI::App* AddAlerts(CLI::App& app, Parsed& p, bool full) {
  CLI::App* cmd = app.add_subcommand(
      "alerts",
      "the alert log: watched customers (duanka-admin watch) listed or cleared, oldest first");
  if (!full) return cmd;
  cmd->add_option("--after", p.alerts.after,
                  "only alerts after this id: the last one you saw (default 0, every alert)")
      ->type_name("ID");
  cmd->add_flag("--follow", p.alerts.follow,
                "after the alerts held, wait for new ones and print each as it comes, until "
                "interrupted (SIGINT or SIGTERM)");
  cmd->add_flag("--json", p.alerts.json,
                "one JSON object per line, as GET /v1/alerts and the webhook give them");
  cmd->footer(
      "Each read is audited (ids and counts, never refs). Exit codes: 0 done, 2 bad --after, 3 "
      "operational.\n"
      "Examples:\n"
      "  duanka alerts --after 1041 --json\n"
      "  duanka alerts --follow --json --after \"$(cat last-alert-id)\"");
  return cmd;
}

// Runs the parsed lookup command: one identifier or a batch.
int DispatchLookup(CLI::App* cmd, Parsed& p) {
  p.lookup.home = p.home;
  const bool has_type = cmd->count("TYPE") > 0;
  const bool has_value = cmd->count("VALUE") > 0;
  if (p.batch_file) {
    if (has_type || has_value) {
      return Fail(duanka::ErrorKind::kInvalidInput,
                  "lookup: --batch takes its identifiers from the file; expected either "
                  "TYPE VALUE or --batch FILE");
    }
    if (p.lookup.all) {
      return Fail(duanka::ErrorKind::kInvalidInput,
                  "lookup: --all is for one identifier; a batch reports active entries only");
    }
    if (p.lookup.tier_exit) {
      return Fail(duanka::ErrorKind::kInvalidInput,
                  "lookup: --tier-exit is for one identifier; a batch's JSON lines carry each "
                  "line's tier");
    }
    return RunBatch(BatchOptions{p.home, *p.batch_file, p.lookup.purpose, p.lookup.json});
  }
  if (!has_type || !has_value) {
    return Fail(duanka::ErrorKind::kInvalidInput,
                std::string(has_type ? "VALUE" : "TYPE") +
                    " is required; expected lookup TYPE VALUE or lookup --batch FILE; see "
                    "duanka lookup --help");
  }
  return RunLookup(p.lookup);
}

}  // namespace

int main(int argc, char** argv) {
  EnsureStandardDescriptors();
  const std::vector<std::string> args(argv + 1, argv + argc);
  const std::string word = CommandWord(args);
  Parsed p;
  CLI::App app{
      "duanka: look identifiers up in the consortium's blocklist, read-only, from this node's "
      "store. Exit codes: 0 listed, 1 not listed, 2 usage or invalid input, 3 operational "
      "failure (HOME, store, pepper or audit log)."};
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--home", p.home, kHomeHelp);
  app.set_version_flag("--version", std::string("duanka ") + duanka::node::kVersion,
                       "print the version and exit");
  app.footer("Example: duanka --home /var/lib/duanka lookup phone '+86 138 0013 8000'");
  // When the command word names a command, only that one is declared: each other one would cost
  // a CLI::App with its own help flag, more than the lookup's reads of the store. Without a known
  // word (`duanka --help`, a mistyped command) all are declared, for the help and the message.
  static constexpr std::string_view kCommandWords[] = {"lookup",  "hash",   "show",
                                                       "explain", "status", "alerts"};
  const bool known_word = std::ranges::find(kCommandWords, word) != std::end(kCommandWords);
  const auto declare = [&](std::string_view name) { return !known_word || word == name; };
  CLI::App* lookup_cmd = declare("lookup") ? AddLookup(app, p, word == "lookup") : nullptr;
  CLI::App* hash_cmd = declare("hash") ? AddHash(app, p, word == "hash") : nullptr;
  CLI::App* show_cmd = declare("show") ? AddShow(app, p, word == "show") : nullptr;
  CLI::App* explain_cmd = declare("explain") ? AddExplain(app, p, word == "explain") : nullptr;
  CLI::App* status_cmd = declare("status") ? AddStatus(app, p, word == "status") : nullptr;
  CLI::App* alerts_cmd = declare("alerts") ? AddAlerts(app, p, word == "alerts") : nullptr;
  const auto ran = [](const CLI::App* cmd) { return cmd != nullptr && cmd->parsed(); };

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string where = "duanka";
    for (const CLI::App* sub : app.get_subcommands()) where += " " + sub->get_name();
    return Fail(duanka::ErrorKind::kInvalidInput, UsageMessage(e, app, where, args));
  }

  int code = kExitInvalid;
  if (ran(lookup_cmd)) {
    code = DispatchLookup(lookup_cmd, p);
  } else if (ran(hash_cmd)) {
    p.hash.home = p.home;
    code = RunHash(p.hash);
  } else if (ran(show_cmd)) {
    p.show.home = p.home;
    code = RunShow(p.show);
  } else if (ran(explain_cmd)) {
    p.explain.home = p.home;
    code = RunExplain(p.explain);
  } else if (ran(status_cmd)) {
    p.status.home = p.home;
    code = RunStatus(p.status);
  } else if (ran(alerts_cmd)) {
    p.alerts.home = p.home;
    code = RunAlerts(p.alerts);
  }
  std::fflush(stdout);
  return code;
}
