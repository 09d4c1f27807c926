#include "node/admin/context.h"

#include "node/common/consortium_objects.h"

#include <iostream>

namespace duanka::admin {

int Fail(ErrorKind kind, const std::string& message) {
  std::cerr << "duanka-admin: " << message << "\n";
  switch (kind) {
    case ErrorKind::kIo:
    case ErrorKind::kInternal:
    case ErrorKind::kOverloaded:
      return kExitFailure;
    default:
      return kExitInvalid;
  }
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
  store::Options options;
  options.path = home.config.store;
  options.initial_map_bytes = home.config.store_settings.initial_map_mb << 20;
  options.max_map_bytes = home.config.store_settings.max_map_gb << 30;
  Result<std::unique_ptr<store::Store>> store = store::Store::Open(options);
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

Status Audit(const Home& home, const std::string& json_object) {
  return node::AuditLog(home.config.audit_log).Append(json_object, /*sync=*/true);
}

}  // namespace duanka::admin
