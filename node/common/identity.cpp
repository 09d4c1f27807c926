#include "node/common/identity.h"

#include "node/common/audit.h"

namespace duanka::node {

Result<crypto::TrustStore> LoadTrustStore(const Config& config) {
  return crypto::TrustStore::Load(config.ca, config.crl);
}

protocol::Signer SignerOf(const crypto::CertificateInfo& c) {
  return protocol::Signer{c.institution, c.role, c.public_key, c.not_before, c.not_after};
}

protocol::Signer SigningIdentity::signer() const {
  return SignerOf(certificate);
}

namespace {
// A PEM file of a certificate chain: a few certificates of a few KiB each.
constexpr size_t kMaxCertificateFileBytes = 64 * 1024;
}  // namespace

Result<std::vector<std::string>> ReadCertificates(const std::filesystem::path& file) {
  Result<std::string> pem = base::ReadFile(file, kMaxCertificateFileBytes);
  if (!pem) return std::move(pem).error();
  Result<std::vector<std::string>> ders = crypto::PemCertificatesToDer(*pem);
  if (!ders) return MakeError(ders.error().kind, file.string() + ": " + ders.error().message);
  return ders;
}

std::optional<std::string> ReplicaOf(const Config& config) {
  Result<std::vector<std::string>> ders = ReadCertificates(config.tls_cert);
  if (!ders) return std::nullopt;
  return ReplicaOfCertificate(ders->front());
}

std::optional<std::string> ReplicaOfCertificate(std::string_view der) {
  Result<crypto::CertificateInfo> cert = crypto::InspectCertificate(der);
  if (!cert || cert->role != crypto::Role::kReplica) return std::nullopt;
  return cert->institution;
}

Result<SigningIdentity> LoadSigningIdentity(const Config& config, const crypto::TrustStore& ca) {
  if (std::optional<std::string> primary = ReplicaOf(config)) {
    return MakeError(ErrorKind::kConflict,
                     "this node is a read replica of " + *primary + " (" +
                         config.tls_cert.string() +
                         " has the replica role): it holds no signing key; sign (report, revoke, "
                         "notices, audit exports) at " +
                         *primary + "'s own node");
  }
  Result<crypto::SigningKey> key = crypto::LoadPrivateKey(config.signing_key);
  if (!key) return std::move(key).error();
  Result<std::vector<std::string>> ders = ReadCertificates(config.signing_cert);
  if (!ders) return std::move(ders).error();
  Result<crypto::CertificateInfo> cert =
      ca.Verify(ders->front(), crypto::CertKind::kSigning, SystemNow());
  if (!cert) {
    return MakeError(cert.error().kind, config.signing_cert.string() + ": " + cert.error().message);
  }
  if (cert->institution != config.institution) {
    return MakeError(ErrorKind::kUnauthorized, config.signing_cert.string() + " is issued to " +
                                                   cert->institution + ", but this node is " +
                                                   config.institution);
  }
  if (cert->public_key != key->public_key()) {
    return MakeError(ErrorKind::kUnauthorized, config.signing_cert.string() +
                                                   " does not certify the key in " +
                                                   config.signing_key.string());
  }
  return SigningIdentity{std::move(*key), std::move(*cert)};
}

std::vector<Error> AddSigners(const crypto::TrustStore& ca, std::span<const std::string> ders,
                              protocol::Trust& trust) {
  std::vector<Error> refused;
  for (const std::string& der : ders) {
    // Validity is checked per record against its issue time, so an expired signing certificate
    // still vouches for the records it signed while valid.
    Result<crypto::CertificateInfo> cert = ca.Verify(der, crypto::CertKind::kSigning, std::nullopt);
    if (!cert) {
      refused.push_back(std::move(cert).error());
      continue;
    }
    trust.Add(SignerOf(*cert));
  }
  return refused;
}

}  // namespace duanka::node
