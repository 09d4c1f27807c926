// duanka, the lookup CLI: its commands, their options and exit codes (design.md section 7;
// formats in node/lookup/README.md). main.cpp parses arguments into these structs; each command
// returns the process exit code and prints its own one-line error.
#pragma once

#include <optional>
#include <string>

#include "crypto/base/result.h"
#include "node/common/exit_codes.h"

namespace duanka::lookup {

// Exit codes, as grep's: the three programs' shared codes (node/common/exit_codes.h) under the
// names of what they mean here.
// Listed (batch: at least one line listed); also "done".
inline constexpr int kExitListed = node::kExitOk;
// Not listed (batch: no line listed); show: not held.
inline constexpr int kExitNotListed = node::kExitNotFound;
// Usage error or invalid input.
inline constexpr int kExitInvalid = node::kExitInvalid;
// Operational: HOME, store, pepper or audit log.
inline constexpr int kExitFailure = node::kExitFailure;

// The program name in messages and audit lines.
inline constexpr const char* kProgram = "duanka";

// Prints "duanka: <message>" as one line on stderr (newlines folded) and returns the exit code
// for the error's kind (node::ExitCodeFor). OpenHome turns every failure of HOME into kIo, so
// only the command line's own errors are exit 2. Callers only pass errors that name no
// identifier (all of duanka's errors are built that way).
int Fail(const Error& error);
int Fail(ErrorKind kind, std::string_view message);

// --tier-exit: the answer's risk tier as the exit code, for scripts that act on it.
inline constexpr int kExitTierDeny = node::kExitOk;
inline constexpr int kExitTierReview = 4;
inline constexpr int kExitTierOther = node::kExitNotFound;  // none or watch

struct LookupOptions {
  std::optional<std::string> home;
  std::string type;
  std::string value;
  std::string purpose = "account-opening";
  bool json = false;
  bool all = false;
  bool tier_exit = false;
};
int RunLookup(const LookupOptions& o);

struct BatchOptions {
  std::optional<std::string> home;
  std::string file;  // "-" for stdin
  std::string purpose = "account-opening";
  bool json = false;
};
int RunBatch(const BatchOptions& o);

struct HashOptions {
  std::optional<std::string> home;
  std::string type;
  std::string value;
  bool json = false;
};
int RunHash(const HashOptions& o);

struct ShowOptions {
  std::optional<std::string> home;
  std::string entry;
  bool json = false;
};
int RunShow(const ShowOptions& o);

// explain TYPE VALUE: the notice for a person asking whether and why they are listed
// (node/common/explain.h), audited as a lookup with purpose appeal.
struct ExplainOptions {
  std::optional<std::string> home;
  std::string type;
  std::string value;
  bool json = false;
};
int RunExplain(const ExplainOptions& o);

struct StatusOptions {
  std::optional<std::string> home;
  bool json = false;
};
int RunStatus(const StatusOptions& o);

// alerts: the store's alert log after an id, page by page; with follow, waiting for more until
// SIGINT or SIGTERM (node/lookup/alerts_command.cpp). Exit 0, 2 for a bad --after, 3 operational.
struct AlertsOptions {
  std::optional<std::string> home;
  std::optional<std::string> after;  // as typed; checked by RunAlerts
  bool follow = false;
  bool json = false;
};
int RunAlerts(const AlertsOptions& o);

}  // namespace duanka::lookup
