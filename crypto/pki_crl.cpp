// The consortium CA's certificate revocation list.
#include <openssl/pem.h>

#include <ctime>
#include <set>
#include <sstream>

#include "crypto/detail/openssl_ptr.h"
#include "crypto/detail/pki_internal.h"
#include "crypto/pki.h"

namespace duanka::crypto {

namespace {

namespace fs = std::filesystem;
using detail::InternalError;

// A CRL is public: nodes and `openssl verify -CRLfile` read it.
constexpr unsigned kCrlFileMode = 0644;
// Nodes refuse certificates once the CRL is past nextUpdate, so a long period weakens revocation
// only if the operator chooses it; ten years bounds typos.
constexpr int kMaxNextUpdateDays = 3650;
// RFC 5280 caps serials at 20 octets.
constexpr size_t kMaxSerialHexDigits = 40;
// issued.txt grows by about 100 bytes per certificate.
constexpr size_t kMaxIssuedLogSize = 64 * 1024 * 1024;

// The serial as `openssl x509 -serial` and issued.txt spell it (uppercase, no extra leading
// zeros), or nullopt if `hex` is not a serial.
std::optional<std::string> CanonicalSerial(std::string_view hex) {
  if (hex.empty() || hex.size() > kMaxSerialHexDigits) return std::nullopt;
  for (char c : hex) {
    bool digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!digit) return std::nullopt;
  }
  BIGNUM* raw = nullptr;
  std::string text(hex);
  if (BN_hex2bn(&raw, text.c_str()) != static_cast<int>(text.size())) {
    BN_free(raw);
    return std::nullopt;
  }
  detail::BignumPtr number(raw);
  detail::Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(number.get(), nullptr));
  if (!serial) return std::nullopt;
  return detail::SerialHex(serial.get());
}

// The serials ca_dir/issued.txt records; an empty set if nothing was issued yet.
Result<std::set<std::string>> IssuedSerials(const fs::path& path) {
  std::set<std::string> serials;
  std::error_code error;
  if (!fs::exists(path, error)) return serials;
  auto text = base::ReadFile(path, kMaxIssuedLogSize);
  if (!text.ok()) return std::move(text).error();
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.front() == '#') continue;
    if (auto serial = CanonicalSerial(line.substr(0, line.find(' ')))) serials.insert(*serial);
  }
  return serials;
}

Result<detail::Asn1TimePtr> AsnTime(int64_t unix_seconds) {
  detail::Asn1TimePtr time(ASN1_TIME_set(nullptr, static_cast<time_t>(unix_seconds)));
  if (!time) return InternalError("encoding a time");
  return time;
}

}  // namespace

Result<std::vector<IssuedCertificate>> IssuedCertificates(const std::filesystem::path& ca_dir) {
  std::vector<IssuedCertificate> out;
  const fs::path path = ca_dir / detail::kIssuedLogFile;
  std::error_code error;
  if (!fs::exists(path, error)) return out;
  auto text = base::ReadFile(path, kMaxIssuedLogSize);
  if (!text.ok()) return std::move(text).error();
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.front() == '#') continue;
    std::istringstream fields(line);
    IssuedCertificate c;
    std::string serial;
    if (!(fields >> serial >> c.institution >> c.role >> c.kind)) continue;
    auto canonical = CanonicalSerial(serial);
    if (!canonical) continue;
    c.serial_hex = *canonical;
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::string> CreateCrl(const std::filesystem::path& ca_dir,
                              const std::vector<std::string>& revoked_serials_hex,
                              int next_update_days) {
  if (next_update_days < 1 || next_update_days > kMaxNextUpdateDays) {
    return MakeError(ErrorKind::kInvalidInput,
                     "CRL next update in " + std::to_string(next_update_days) +
                         " days is outside 1.." + std::to_string(kMaxNextUpdateDays));
  }
  auto ca = detail::LoadCa(ca_dir);
  if (!ca.ok()) return std::move(ca).error();
  const fs::path ledger = ca_dir / detail::kIssuedLogFile;
  auto issued = IssuedSerials(ledger);
  if (!issued.ok()) return std::move(issued).error();
  std::set<std::string> revoked;
  for (const std::string& hex : revoked_serials_hex) {
    auto serial = CanonicalSerial(hex);
    if (!serial) {
      return MakeError(ErrorKind::kInvalidInput,
                       "serial " + detail::QuoteForMessage(hex) + " is not 1 to " +
                           std::to_string(kMaxSerialHexDigits) + " hex digits");
    }
    // A mistyped serial would otherwise leave the certificate meant valid without any warning.
    if (issued->count(*serial) == 0) {
      return MakeError(
          ErrorKind::kInvalidInput,
          "serial " + *serial + " was not issued by this CA (not in " + ledger.string() + ")");
    }
    revoked.insert(*serial);
  }

  X509* ca_cert = ca->certificate.get();
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto this_update = AsnTime(now - detail::kClockSkewBackdateSeconds);
  auto next_update = AsnTime(now + int64_t{next_update_days} * detail::kSecondsPerDay);
  if (!this_update.ok()) return std::move(this_update).error();
  if (!next_update.ok()) return std::move(next_update).error();

  detail::X509CrlPtr crl(X509_CRL_new());
  if (!crl || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca_cert)) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), this_update->get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_update->get()) != 1) {
    return InternalError("filling in the CRL");
  }
  for (const std::string& hex : revoked) {
    BIGNUM* raw = nullptr;
    if (BN_hex2bn(&raw, hex.c_str()) == 0) return InternalError("decoding a serial");
    detail::BignumPtr number(raw);
    detail::Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(number.get(), nullptr));
    detail::X509RevokedPtr entry(X509_REVOKED_new());
    // The ledger does not say when a certificate went bad; the revocation date is this CRL's.
    if (!serial || !entry || X509_REVOKED_set_serialNumber(entry.get(), serial.get()) != 1 ||
        X509_REVOKED_set_revocationDate(entry.get(), this_update->get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), entry.get()) != 1) {
      return InternalError("adding a revoked serial");
    }
    entry.release();  // now owned by the CRL
  }
  X509_CRL_sort(crl.get());

  X509V3_CTX context;
  X509V3_set_ctx(&context, ca_cert, nullptr, nullptr, crl.get(), 0);
  detail::X509ExtensionPtr key_id(
      X509V3_EXT_nconf_nid(nullptr, &context, NID_authority_key_identifier, "keyid:always"));
  if (!key_id || X509_CRL_add_ext(crl.get(), key_id.get(), -1) != 1) {
    return InternalError("adding authorityKeyIdentifier to the CRL");
  }
  // RFC 5280 wants a CRL number that grows with each CRL; the issue time does without a counter
  // file that could be lost or rolled back.
  detail::Asn1IntegerPtr number(ASN1_INTEGER_new());
  if (!number || ASN1_INTEGER_set_int64(number.get(), now) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return InternalError("adding the CRL number");
  }
  if (X509_CRL_sign(crl.get(), ca->key.get(), nullptr) <= 0)
    return InternalError("signing the CRL");

  detail::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1) {
    return InternalError("encoding the CRL");
  }
  std::string pem = detail::MemoryBioContents(bio.get());
  if (Status s =
          base::WriteFileAtomic(ca_dir / detail::kCrlFile, pem, kCrlFileMode, /*overwrite=*/true);
      !s.ok()) {
    return std::move(s).error();
  }
  return pem;
}

}  // namespace duanka::crypto
