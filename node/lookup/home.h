// What duanka's commands load from HOME, each only what it needs, and how they audit.
//
// Everything here is opened read-only: the store with Options::read_only and without
// create_if_missing, so that a lookup works while the daemon or duanka-admin writes and never
// creates or changes anything but the audit log.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "crypto/crypto.h"
#include "node/common/audit.h"
#include "node/common/config.h"
#include "node/common/lookup.h"
#include "store/store.h"

namespace duanka::lookup {

enum Need : unsigned {
  kNeedPepper = 1,
  kNeedStore = 2,
};

struct Home {
  node::Config config;
  std::optional<crypto::Pepper> pepper;  // when kNeedPepper
  std::unique_ptr<store::Store> store;   // when kNeedStore
};

// Loads duanka.toml and what `needs` asks for. Every failure is operational (kIo, exit 3): a
// missing HOME, config, pepper or store, or one that cannot be read. The message names the file
// and says what is expected.
Result<Home> OpenHome(const std::optional<std::string>& home_flag, unsigned needs);

// The effective OS user's name for audit lines: from /etc/passwd when it is there (a file read,
// where glibc's getpwuid would first try nscd's socket twice), else as node::OsUserName().
std::string AuditUserName();

// Appends one audit line without fsync (an fsync would cost more than the lookup). kIo when it
// cannot be written; the caller must then not reveal the answer.
duanka::Status AuditLookup(const Home& home, std::string_view json_object);

// Appends complete lines (node::AuditLog::AppendLines) to a log held open for a batch, without
// fsync; failures as AuditLookup's. Empty `lines` only opens the log.
duanka::Status AuditLines(const node::AuditLog& log, std::string_view lines);

// One identifier looked up, with details, in HOME's store, and audited (`action` "lookup" or
// "explain", for `purpose`) before anything is shown: if the audit line cannot be written there is
// no answer. The value is checked against `type` before HOME is touched, so a typing mistake is
// exit 2 even on a machine without a node. Errors are ready for Fail (a store's as kIo).
struct AuditedAnswer {
  Home home;
  node::LookupAnswer answer;
  int64_t now = 0;
};
Result<AuditedAnswer> LookUpAudited(const std::optional<std::string>& home_flag,
                                    protocol::IdType type, std::string_view value,
                                    node::Purpose purpose, std::string_view action);

}  // namespace duanka::lookup
