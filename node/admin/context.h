// What the commands that work on a HOME load from it, and how they fail.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "node/admin/admin.h"
#include "node/common/audit.h"
#include "node/common/config.h"
#include "node/common/identity.h"
#include "store/store.h"

namespace duanka::admin {

// Prints "duanka-admin: <message>" on stderr and returns the exit code for the error's kind.
int Fail(const Error& error);
int Fail(ErrorKind kind, const std::string& message);

struct Home {
  node::Config config;
  std::unique_ptr<crypto::TrustStore> ca;
  std::unique_ptr<store::Store> store;
  protocol::Trust trust;  // every signing certificate held, verified against the CA
};

// Loads duanka.toml, the CA and the store (created if missing), and builds the Trust from the
// certificates in the store and HOME/signing.pem.
Result<Home> OpenHome(const std::optional<std::string>& home_flag);

// kConflict on a read replica, naming what to do at the institution's own node instead: `what`
// ("hold release without --everywhere") would make this node answer or alert unlike the others
// behind the same load balancer.
Status NotOnAReplica(const Home& home, const std::string& what);

// The institution's signing identity; its certificate is added to the store and the Trust.
Result<node::SigningIdentity> LoadIdentity(Home& home);

// Store::AppendOwn on the institution's own feed, refused (kConflict, before make() runs) while
// a peer has claimed the feed past the store's head, as duankad notes it: the store may be
// restored from a backup, and signing at a seq the network holds forks the feed. `i_know`
// publishes anyway, with a warning on stderr. Checked inside the write transaction, so the
// head compared is the one signed on.
Result<store::AppendResult> AppendToOwnFeed(Home& home, bool i_know,
                                            const store::Store::MakeRecords& make, int64_t now);

// Signs `record` (whose seq/prev the caller set from the head) with the institution's key and
// verifies it as any peer will.
Result<protocol::VerifiedRecord> SignOwnRecord(protocol::Record record,
                                               const node::SigningIdentity& id,
                                               const protocol::Trust& trust, int64_t now);

// Appends an admin action to the audit log, fsync'ed.
Status Audit(const Home& home, const std::string& json_object);

}  // namespace duanka::admin
