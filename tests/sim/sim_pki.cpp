#include "tests/sim/sim_pki.h"

#include <stdlib.h>

#include <ctime>
#include <stdexcept>

namespace duanka::sim {
namespace {

constexpr int64_t kDay = 24 * 3600;
// Certificates are valid from a year before the simulated clock's start to four years after it,
// well inside UTCTime (before 2050), so that every certificate encodes to the same size.
constexpr int64_t kValidFromBeforeBase = 365 * kDay;
constexpr int kValidityDays = 5 * 365;
// How long after the simulated clock's start the entries SignRun makes expire.
constexpr int64_t kEntryLifetime = 365 * kDay;

template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r) throw std::runtime_error(what + ": " + r.error().message);
  return std::move(r).value();
}

}  // namespace

std::vector<protocol::SignedRecord> SignRun(const SimIdentity& id, uint64_t first_seq,
                                            crypto::Hash256 prev, size_t count, int variant) {
  std::vector<protocol::SignedRecord> out;
  for (size_t i = 0; i < count; ++i) {
    protocol::Record r;
    r.issuer = id.institution;
    r.seq = first_seq + i;
    r.prev = prev;
    r.issued_at = kSimWallBase;
    r.signer_key_id = id.key_id;
    protocol::EntryBody e;
    const std::string subject =
        id.institution + "/" + std::to_string(variant) + "/" + std::to_string(r.seq);
    e.subject = crypto::Sha256(crypto::AsBytes(subject));
    e.id_type = protocol::IdType::kPhone;
    e.pepper_epoch = 1;
    e.category = protocol::Category::kFraudUse;
    e.basis = protocol::Basis::kInstitution;
    e.expires_at = kSimWallBase + kEntryLifetime;
    r.body = e;
    Result<protocol::SignedRecord> s = protocol::SignRecord(r, id.key);
    if (!s) throw std::runtime_error("cannot sign: " + s.error().message);
    prev = protocol::RecordHash(*s);
    out.push_back(std::move(*s));
  }
  return out;
}

SimPki& SimPki::Get() {
  static SimPki pki;
  return pki;
}

SimPki::SimPki() : consortium_("SIMNET") {
  std::string pattern = (std::filesystem::temp_directory_path() / "duanka-sim-pki-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot create " + pattern);
  dir_ = pattern;
  Status made = crypto::CreateCa(dir_ / "ca", crypto::CaOptions{consortium_});
  if (!made) throw std::runtime_error("cannot create the CA: " + made.error().message);
  ca_ = std::make_unique<crypto::TrustStore>(
      Must(crypto::TrustStore::Load(dir_ / "ca" / "ca.pem", std::nullopt), "CA"));
}

SimPki::~SimPki() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

const SimIdentity& SimPki::Identity(const std::string& institution) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = identities_.find(institution);
  if (it != identities_.end()) return *it->second;
  const std::string seed_text = "duanka-sim-signing-key:" + institution;
  crypto::Hash256 seed = crypto::Sha256(crypto::AsBytes(seed_text));
  crypto::SigningKey key = Must(crypto::SigningKey::FromSeed(seed.view()), "key");

  crypto::IssueOptions issue;
  issue.institution = institution;
  issue.kind = crypto::CertKind::kSigning;
  issue.subject_key = key.public_key();
  issue.validity_days = kValidityDays;
  issue.not_before_offset_seconds =
      kSimWallBase - kValidFromBeforeBase - static_cast<int64_t>(std::time(nullptr));
  std::string pem = Must(crypto::IssueCertificate(dir_ / "ca", issue), "certificate");
  std::string der = Must(crypto::PemCertificatesToDer(pem), "certificate").front();
  crypto::CertificateInfo info =
      Must(ca_->Verify(der, crypto::CertKind::kSigning, std::nullopt), "certificate");

  auto id = std::make_unique<SimIdentity>(
      SimIdentity{institution, std::move(key), der,
                  protocol::Signer{info.institution, info.role, info.public_key, info.not_before,
                                   info.not_after},
                  protocol::KeyId(info.public_key)});
  return *identities_.emplace(institution, std::move(id)).first->second;
}

}  // namespace duanka::sim
