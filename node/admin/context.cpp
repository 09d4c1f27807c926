#include "node/admin/context.h"

#include "node/common/consortium_objects.h"
#include "node/common/human_time.h"
#include "node/common/profile.h"

#include <iostream>

namespace duanka::admin {

int Fail(ErrorKind kind, const std::string& message) {
  std::cerr << "duanka-admin: " << message << "\n";
  return node::ExitCodeFor(kind);
}

int Fail(const Error& error) {
  return Fail(error.kind, error.message);
}

Result<Home> OpenHome(const std::optional<std::string>& home_flag) {
  Result<node::Config> config = node::LoadConfig(node::ResolveHome(home_flag));
  if (!config) {
    // A missing HOME is an operational problem (exit 3), not the user's input.
    Error e = std::move(config).error();
    if (e.kind == ErrorKind::kNotFound) e.kind = ErrorKind::kIo;
    return e;
  }
  Home home;
  home.config = std::move(*config);
  Result<crypto::TrustStore> ca = node::LoadTrustStore(home.config);
  if (!ca) return MakeError(ErrorKind::kIo, ca.error().message);
  home.ca = std::make_unique<crypto::TrustStore>(std::move(*ca));
  // Commands that open HOME write to its store and audit what they did: one that could not audit
  // (another user than the log's owner, a log that cannot be opened) refuses here, before it acts,
  // not after its work is committed and passed on.
  if (Status auditable = node::AuditLog(home.config.audit_log, home.config.institution).Open();
      !auditable) {
    return MakeError(ErrorKind::kIo, auditable.error().message);
  }
  Result<std::unique_ptr<store::Store>> store =
      store::Store::Open(node::StoreOptionsFrom(home.config));
  if (!store) return MakeError(ErrorKind::kIo, store.error().message);
  home.store = std::move(*store);
  // A CRL imported or received since crl.pem was written is in the store: it counts here too.
  if (Result<bool> applied = node::ApplyHeldCrl(*home.store, *home.ca); !applied) {
    return MakeError(ErrorKind::kIo, applied.error().message);
  }
  Result<std::vector<std::string>> certs = home.store->Certificates();
  if (!certs) return std::move(certs).error();
  // Certificates in the store were verified when they arrived; re-verifying keeps a CA change
  // (or a new CRL) effective for the records they sign.
  for (const Error& refused : node::AddSigners(*home.ca, *certs, home.trust)) {
    std::cerr << "duanka-admin: warning: a stored certificate is no longer trusted: "
              << refused.message << "\n";
  }
  return home;
}

Status NotOnAReplica(const Home& home, const std::string& what) {
  std::optional<std::string> primary = node::ReplicaOf(home.config);
  if (!primary) return Ok();
  return MakeError(ErrorKind::kConflict, "this node is a read replica of " + *primary + ": " +
                                             what + " at " + *primary +
                                             "'s own node, so that every replica answers alike");
}

Result<node::SigningIdentity> LoadIdentity(Home& home) {
  Result<node::SigningIdentity> id = node::LoadSigningIdentity(home.config, *home.ca);
  if (!id) {
    Error e = std::move(id).error();
    // A missing or unreadable key is operational; a wrong one is still not the user's typing.
    if (e.kind != ErrorKind::kIo) e.kind = ErrorKind::kIo;
    return e;
  }
  Status kept =
      home.store->PutCertificate(protocol::KeyId(id->key.public_key()), id->certificate.der);
  if (!kept) return std::move(kept).error();
  home.trust.Add(id->signer());
  return id;
}

Result<store::AppendResult> AppendToOwnFeed(Home& home, bool i_know,
                                            const store::Store::MakeRecords& make, int64_t now) {
  const std::string& me = home.config.institution;
  Result<store::AppendResult> result = home.store->AppendOwn(
      me,
      [&](const store::Head& head) -> Result<std::vector<protocol::VerifiedRecord>> {
        // Only duankad writes the seen head, and never while this transaction holds the writer
        // lock: the read below sees the latest.
        Result<std::optional<std::pair<uint64_t, int64_t>>> seen = home.store->SeenHead(me);
        if (!seen) return std::move(seen).error();
        if (*seen && (*seen)->first > head.seq) {
          const std::string held = "the network has seen " + me + ":" +
                                   std::to_string((*seen)->first) + " but this store holds " + me +
                                   " up to " + std::to_string(head.seq);
          if (!i_know) {
            return MakeError(ErrorKind::kConflict,
                             held +
                                 ": this store may be restored from a backup; let duankad fetch "
                                 "the rest (duanka status shows the own feed catching up) or "
                                 "pass --i-know to publish anyway (a fork freezes " +
                                 me + "'s feed everywhere)");
          }
          std::cerr << "duanka-admin: warning: --i-know: " << held << "; publishing " << me << ":"
                    << head.seq + 1 << " anyway\n";
        }
        return make(head);
      },
      now);
  // Said on stderr at once: every node now holds what passed the limit, so the operator must know
  // before anyone asks why a reported customer is not listed.
  if (result) {
    for (const store::LimitCrossing& c : result->crossings) {
      std::cerr << "duanka-admin: warning: " << c.issuer << " passed its daily limit of " << c.limit
                << " new entries for " << node::UtcDay(c.day)
                << " (UTC): entries past it are held at every node (answered as held, not listed) "
                   "until released (duanka-admin hold list; a regulator's hold release "
                   "--everywhere)\n";
    }
    // Only a start for the lookup CLI's profile reads (node/common/profile.h): if it cannot be
    // saved, readers read the feed themselves, and what was published stands.
    (void)node::SaveProfileScans(*home.store, {me});
  }
  return result;
}

Status Audit(const Home& home, const std::string& json_object) {
  return node::AuditLog(home.config.audit_log, home.config.institution)
      .Append(json_object, /*sync=*/true);
}

Result<protocol::VerifiedRecord> SignOwnRecord(protocol::Record record,
                                               const node::SigningIdentity& id,
                                               const protocol::Trust& trust, int64_t now) {
  record.signer_key_id = protocol::KeyId(id.key.public_key());
  Result<protocol::SignedRecord> signed_record = protocol::SignRecord(record, id.key);
  if (!signed_record) return std::move(signed_record).error();
  return protocol::Verify(*signed_record, trust, protocol::VerifyOptions{now});
}

}  // namespace duanka::admin
