// duanka, the lookup CLI: its commands, their options and exit codes (design.md section 7;
// formats in node/lookup/README.md). main.cpp parses arguments into these structs; each command
// returns the process exit code and prints its own one-line error.
#pragma once

#include <optional>
#include <string>

#include "crypto/result.h"

namespace duanka::lookup {

// Exit codes, as grep's. Banks script against them: never renumber.
inline constexpr int kExitListed = 0;     // listed (batch: at least one line listed); also "done"
inline constexpr int kExitNotListed = 1;  // not listed (batch: no line listed); show: not held
inline constexpr int kExitInvalid = 2;    // usage error or invalid input
inline constexpr int kExitFailure = 3;    // operational: HOME, store, pepper or audit log

// The program name in messages and audit lines.
inline constexpr const char* kProgram = "duanka";

// Prints "duanka: <message>" as one line on stderr (newlines folded) and returns the exit code
// for the error's kind: kInvalidInput → 2, everything else → 3. Callers only pass errors that
// name no identifier (all of duanka's errors are built that way).
int Fail(const Error& error);
int Fail(ErrorKind kind, std::string_view message);

struct LookupOptions {
  std::optional<std::string> home;
  std::string type;
  std::string value;
  std::string purpose = "account-opening";
  bool json = false;
  bool all = false;
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

struct StatusOptions {
  std::optional<std::string> home;
  bool json = false;
};
int RunStatus(const StatusOptions& o);

}  // namespace duanka::lookup
