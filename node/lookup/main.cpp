// duanka: the lookup CLI (design.md section 7). This file only parses arguments and dispatches;
// each command lives in its own file, output formats are in node/lookup/README.md.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "crypto/crypto.h"
#include "node/common/lookup.h"
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

// CLI11's messages quote unexpected arguments, and an unexpected argument is often part of an
// identifier (`duanka lookup phone 138 0013 8000`). Only messages that name our own options are
// passed on; the rest are replaced by our own words.
std::string UsageMessage(const CLI::ParseError& e, const CLI::App& app, const std::string& where,
                         const std::vector<std::string>& args) {
  const std::string hint = "; see " + where + " --help";
  if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr ||
      dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr) {
    return OneLine(e.what()) + hint;
  }
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    if (app.get_subcommands().empty()) {
      return "unknown command; expected one of lookup, hash, show, status" + hint;
    }
    for (const std::string& arg : args) {
      if (LooksLikeOptionName(arg)) return "unknown option " + arg + hint;
    }
    return "unexpected argument (a VALUE with spaces must be quoted as one argument)" + hint;
  }
  return "invalid arguments" + hint;
}

constexpr const char* kHomeHelp =
    "the institution's HOME directory (default $DUANKA_HOME, else /var/lib/duanka); before or "
    "after the command";

}  // namespace

int main(int argc, char** argv) {
  EnsureStandardDescriptors();
  std::optional<std::string> home;
  CLI::App app{
      "duanka: look identifiers up in the consortium's blocklist, read-only, from this node's "
      "store. Exit codes: 0 listed, 1 not listed, 2 usage or invalid input, 3 operational "
      "failure (HOME, store, pepper or audit log)."};
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--home", home, kHomeHelp);
  app.footer("Example: duanka --home /var/lib/duanka lookup phone '+86 138 0013 8000'");

  int code = kExitInvalid;
  const std::string type_help = "identifier type: " + TypeNames();

  // lookup TYPE VALUE | lookup --batch FILE
  LookupOptions lookup;
  std::optional<std::string> batch_file;
  CLI::App* lookup_cmd = app.add_subcommand(
      "lookup", "is an identifier listed? one identifier, or a batch of TYPE,VALUE lines");
  lookup_cmd->add_option("TYPE", lookup.type, type_help);
  lookup_cmd->add_option("VALUE", lookup.value,
                         "the identifier as typed (spaces, +86, full-width digits are fine); "
                         "never logged, only the first 8 hex digits of its keyed hash are");
  lookup_cmd->add_option("--purpose", lookup.purpose,
                         "why you look, written to the audit log: " +
                             duanka::node::AllPurposeNames() + " (default account-opening)");
  lookup_cmd->add_flag("--json", lookup.json,
                       "one JSON object (batch: one per line), as the daemon's HTTP API answers");
  lookup_cmd->add_flag("--all", lookup.all,
                       "also show revoked and expired entries (they never count as listed)");
  lookup_cmd->add_option("--batch", batch_file,
                         "FILE (or - for stdin) of TYPE,VALUE lines; one result line per input "
                         "line, in order, summary on stderr");
  lookup_cmd->footer(
      "Exit codes: 0 listed (batch: at least one line listed), 1 not listed, 2 usage or invalid "
      "input (a batch reports invalid lines on their own line and goes on), 3 operational "
      "failure. Every lookup is written to the audit log (purpose, OS user, type, first 8 hex "
      "digits of the subject, never the identifier); if the audit log cannot be written the "
      "lookup fails with exit 3 and no answer: an unaudited lookup must not happen.\n"
      "Examples:\n"
      "  duanka lookup phone '+86 138 0013 8000' --purpose periodic-review\n"
      "  duanka lookup cn-id 11010519491231002X --json --all\n"
      "  duanka lookup --batch customers.csv > results.csv    (lines like phone,13800138000)");

  HashOptions hash;
  CLI::App* hash_cmd = app.add_subcommand(
      "hash", "print an identifier's canonical form and its subject (keyed hash) under the "
              "current pepper epoch; reads no store, writes no audit line");
  hash_cmd->add_option("TYPE", hash.type, type_help)->required();
  hash_cmd->add_option("VALUE", hash.value, "the identifier as typed")->required();
  hash_cmd->add_flag("--json", hash.json, "print {\"type\",\"canonical\",\"epoch\",\"subject\"}");
  hash_cmd->footer("Exit codes: 0 done, 2 invalid input, 3 pepper missing.\n"
                   "Example: duanka hash bank-card '6222 0212 3456 7890 128'");

  ShowOptions show;
  CLI::App* show_cmd = app.add_subcommand("show", "show one entry (or revocation) held in the store");
  show_cmd->add_option("ENTRY_ID", show.entry, "ISSUER:SEQ, e.g. BANKA:42")->required();
  show_cmd->add_flag("--json", show.json, "print the entry as JSON, as in lookup --json");
  show_cmd->footer("Exit codes: 0 shown, 1 no such record held, 2 invalid ENTRY_ID, 3 operational.\n"
                   "Example: duanka show BANKA:42 --json");

  StatusOptions status;
  CLI::App* status_cmd = app.add_subcommand(
      "status", "the node's institution, every feed's head and when it last grew, counts per "
                "issuer and state, forks held, bytes on disk");
  status_cmd->add_flag("--json", status.json, "print one JSON object");
  status_cmd->footer("Exit codes: 0 done, 3 operational.\nExample: duanka status --json");

  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string where = "duanka";
    for (const CLI::App* sub : app.get_subcommands()) where += " " + sub->get_name();
    return Fail(duanka::ErrorKind::kInvalidInput, UsageMessage(e, app, where, args));
  }

  if (lookup_cmd->parsed()) {
    lookup.home = home;
    const bool has_type = lookup_cmd->count("TYPE") > 0;
    const bool has_value = lookup_cmd->count("VALUE") > 0;
    if (batch_file) {
      if (has_type || has_value) {
        return Fail(duanka::ErrorKind::kInvalidInput,
                    "lookup: --batch takes its identifiers from the file; expected either "
                    "TYPE VALUE or --batch FILE");
      }
      if (lookup.all) {
        return Fail(duanka::ErrorKind::kInvalidInput,
                    "lookup: --all is for one identifier; a batch reports active entries only");
      }
      BatchOptions batch{home, *batch_file, lookup.purpose, lookup.json};
      code = RunBatch(batch);
    } else if (!has_type || !has_value) {
      return Fail(duanka::ErrorKind::kInvalidInput,
                  std::string(has_type ? "VALUE" : "TYPE") +
                      " is required; expected lookup TYPE VALUE or lookup --batch FILE; see "
                      "duanka lookup --help");
    } else {
      code = RunLookup(lookup);
    }
  } else if (hash_cmd->parsed()) {
    hash.home = home;
    code = RunHash(hash);
  } else if (show_cmd->parsed()) {
    show.home = home;
    code = RunShow(show);
  } else if (status_cmd->parsed()) {
    status.home = home;
    code = RunStatus(status);
  }
  std::fflush(stdout);
  return code;
}
