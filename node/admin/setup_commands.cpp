// Standing up a consortium and an institution's HOME: pki init-ca, pki issue, pepper new, init.
#include <sys/stat.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "crypto/pki.h"
#include "node/admin/context.h"

namespace duanka::admin {
namespace {

namespace fs = std::filesystem;

// A PEM certificate file or a pepper file is a few kilobytes.
constexpr size_t kMaxSmallFileBytes = 1 << 20;

Status MakePrivateDir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return MakeError(ErrorKind::kIo, "cannot create " + dir.string() + ": " + ec.message());
  }
  if (::chmod(dir.c_str(), 0700) != 0) {
    return MakeError(ErrorKind::kIo, "cannot make " + dir.string() + " private (mode 0700)");
  }
  return Ok();
}

Status CopyFile(const fs::path& from, const fs::path& to, unsigned mode, bool overwrite) {
  Result<std::string> data = base::ReadFile(from, kMaxSmallFileBytes);
  if (!data) return std::move(data).error();
  return base::WriteFileAtomic(to, *data, mode, overwrite);
}

void AuditIfHome(const fs::path& home, const nlohmann::json& event) {
  if (!fs::exists(home / node::kConfigFileName)) return;
  Result<node::Config> config = node::LoadConfig(home);
  if (!config) return;
  Status s = node::AuditLog(config->audit_log, config->institution).Append(event.dump(), true);
  if (!s) std::cerr << "duanka-admin: warning: " << s.error().message << "\n";
}

}  // namespace

int InitCa(const InitCaOptions& o) {
  if (o.consortium.empty()) return Fail(ErrorKind::kInvalidInput, "--consortium must not be empty");
  Status s = crypto::CreateCa(o.dir, crypto::CaOptions{o.consortium});
  if (!s) return Fail(s.error());
  std::cout << "created consortium CA \"" << o.consortium << "\" in " << o.dir
            << " (ca.pem, ca.key; keep ca.key offline)\n";
  return kExitOk;
}

int Issue(const IssueOptions& o) {
  if (!base::IsValidInstitutionCode(o.institution)) {
    return Fail(ErrorKind::kInvalidInput,
                "--institution: expected 2 to 16 capital letters and digits, e.g. BANKA");
  }
  std::optional<crypto::Role> role = crypto::ParseRole(o.role);
  if (!role) {
    return Fail(ErrorKind::kInvalidInput, "--role: expected member, regulator or replica");
  }
  // A read replica follows its institution's node and serves lookups: it gets a TLS identity
  // only, so that the machine answering lookups never holds a key that signs listings.
  const bool replica = *role == crypto::Role::kReplica;
  const fs::path home = o.home;
  std::vector<const char*> keys = {"tls.key"};
  if (!replica) keys.push_back("signing.key");
  for (const char* key : keys) {
    if (fs::exists(home / key) && !o.force) {
      return Fail(ErrorKind::kConflict, (home / key).string() +
                                            " already exists; refusing to replace a key (use "
                                            "--force)");
    }
  }
  if (Status s = MakePrivateDir(home); !s) return Fail(s.error());
  std::vector<std::string> hosts = o.hosts;
  if (hosts.empty()) hosts = {"localhost", "127.0.0.1"};
  crypto::SigningKey signing = crypto::SigningKey::Generate();
  crypto::SigningKey tls = crypto::SigningKey::Generate();
  Result<std::string> signing_pem = std::string();
  if (!replica) {
    signing_pem = crypto::IssueCertificate(
        o.ca_dir, crypto::IssueOptions{
                      o.institution, *role, crypto::CertKind::kSigning, signing.public_key(), {}});
    if (!signing_pem) return Fail(signing_pem.error());
  }
  Result<std::string> tls_pem = crypto::IssueCertificate(
      o.ca_dir,
      crypto::IssueOptions{o.institution, *role, crypto::CertKind::kTls, tls.public_key(), hosts});
  if (!tls_pem) return Fail(tls_pem.error());
  if (!replica) {
    for (Status s : {crypto::SavePrivateKey(home / "signing.key", signing, o.force),
                     base::WriteFileAtomic(home / "signing.pem", *signing_pem, 0644, true)}) {
      if (!s) return Fail(s.error());
    }
  }
  for (Status s : {crypto::SavePrivateKey(home / "tls.key", tls, o.force),
                   base::WriteFileAtomic(home / "tls.pem", *tls_pem, 0644, true)}) {
    if (!s) return Fail(s.error());
  }
  if (!fs::exists(home / "ca.pem")) {
    if (Status s = CopyFile(fs::path(o.ca_dir) / "ca.pem", home / "ca.pem", 0644, false); !s) {
      return Fail(s.error());
    }
  }
  AuditIfHome(home, {{"time", node::IsoTime(node::SystemNow())},
                     {"program", "duanka-admin"},
                     {"user", node::OsUserName()},
                     {"action", "pki-issue"},
                     {"institution", o.institution},
                     {"role", o.role}});
  std::cout << "issued " << o.role << " certificates for " << o.institution << " into " << o.home
            << (replica ? " (tls.key/.pem; a replica signs nothing)\n"
                        : " (signing.key/.pem, tls.key/.pem)\n");
  return kExitOk;
}

int PepperNew(const PepperNewOptions& o) {
  Status s = crypto::Pepper::Generate(1).Save(o.out, o.force);
  if (!s) return Fail(s.error());
  std::cout << "wrote a new pepper (epoch 1) to " << o.out
            << "; hand it to members out of band, never by e-mail\n";
  return kExitOk;
}

int Init(const InitOptions& o) {
  if (!base::IsValidInstitutionCode(o.institution)) {
    return Fail(ErrorKind::kInvalidInput,
                "--institution: expected 2 to 16 capital letters and digits, e.g. BANKA");
  }
  for (const std::string& peer : o.peers) {
    if (Result<node::PeerEntry> entry = node::ParsePeerEntry(peer); !entry) {
      return Fail(ErrorKind::kInvalidInput, "--peer " + entry.error().message);
    }
  }
  const fs::path home = o.home;
  if (fs::exists(home / node::kConfigFileName) && !o.force) {
    return Fail(ErrorKind::kConflict,
                (home / node::kConfigFileName).string() +
                    " already exists; refusing to overwrite it (use --force)");
  }
  // Check what we are given before writing anything.
  Result<std::string> ca_pem = base::ReadFile(o.ca, kMaxSmallFileBytes);
  if (!ca_pem) return Fail(ca_pem.error());
  Result<crypto::TrustStore> ca = crypto::TrustStore::Create(*ca_pem, std::nullopt);
  if (!ca) return Fail(ErrorKind::kInvalidInput, "--ca " + o.ca + ": " + ca.error().message);
  Result<crypto::Pepper> pepper = crypto::Pepper::Load(o.pepper);
  if (!pepper) return Fail(pepper.error());
  node::Config config = node::Config::Defaults(home, o.institution);
  if (!o.listen.empty()) config.network.listen = o.listen;
  if (!o.api.empty()) config.network.api = o.api;
  config.network.peers = o.peers;
  if (Status s = MakePrivateDir(home); !s) return Fail(s.error());
  for (Status s :
       {base::WriteFileAtomic(home / "ca.pem", *ca_pem, 0644, true),
        pepper->Save(home / "pepper.key", true),
        base::WriteFileAtomic(home / node::kConfigFileName, config.ToToml(), 0644, true)}) {
    if (!s) return Fail(s.error());
  }
  // Validate what we wrote exactly as every program will read it.
  Result<node::Config> reread = node::LoadConfig(home);
  if (!reread) return Fail(reread.error());
  store::Options options;
  options.path = reread->store;
  Result<std::unique_ptr<store::Store>> store = store::Store::Open(options);
  if (!store) return Fail(ErrorKind::kIo, store.error().message);
  Status audited = node::AuditLog(reread->audit_log, reread->institution)
                       .Append(nlohmann::json{{"time", node::IsoTime(node::SystemNow())},
                                              {"program", "duanka-admin"},
                                              {"user", node::OsUserName()},
                                              {"action", "init"},
                                              {"institution", o.institution},
                                              {"consortium", ca->consortium()}}
                                   .dump(),
                               true);
  if (!audited) return Fail(audited.error());
  std::cout << "initialised " << o.institution << " in " << o.home << " (consortium "
            << ca->consortium() << ")\n";
  return kExitOk;
}

}  // namespace duanka::admin
