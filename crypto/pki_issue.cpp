// Issuing a member's signing or TLS certificate, and recording it in the CA's ledger.
//
// ca_dir/issued.txt is the ledger, one line per certificate, so that an operator can find the
// serial to revoke:
//   SERIAL INSTITUTION ROLE KIND NOT_BEFORE NOT_AFTER
// SERIAL as `openssl x509 -serial` prints it, KIND "signing" or "tls", times ISO 8601 UTC.
// Lines starting with '#' are comments.
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <ctime>
#include <utility>

#include "crypto/detail/openssl_ptr.h"
#include "crypto/detail/pki_internal.h"
#include "crypto/pki.h"

namespace duanka::crypto {

namespace {

namespace fs = std::filesystem;
using detail::InternalError;
using detail::IoError;

constexpr mode_t kIssuedLogFileMode = 0600;
constexpr const char* kIssuedLogHeader =
    "# serial institution role kind not_before not_after (UTC)\n";
// Keeps a TLS certificate far below detail::kMaxCertificateDerSize.
constexpr size_t kMaxHosts = 32;
constexpr size_t kMaxDnsNameLength = 253;
constexpr size_t kMaxDnsLabelLength = 63;
constexpr size_t kIpv4Bytes = 4;
constexpr size_t kIpv6Bytes = 16;

std::optional<Bytes> ParseIpAddress(const std::string& host) {
  std::array<uint8_t, kIpv6Bytes> address{};
  if (inet_pton(AF_INET, host.c_str(), address.data()) == 1) {
    return Bytes(address.begin(), address.begin() + kIpv4Bytes);
  }
  if (inet_pton(AF_INET6, host.c_str(), address.data()) == 1) {
    return Bytes(address.begin(), address.end());
  }
  return std::nullopt;
}

bool IsValidDnsName(std::string_view name) {
  if (name.empty() || name.size() > kMaxDnsNameLength) return false;
  std::string_view last_label;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = std::min(name.find('.', start), name.size());
    std::string_view label = name.substr(start, end - start);
    if (label.empty() || label.size() > kMaxDnsLabelLength) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
    last_label = label;
    start = end + 1;
  }
  // "10.0.0.300" is a mistyped address, not a host name: no top-level domain is all digits.
  return !std::all_of(last_label.begin(), last_label.end(),
                      [](char c) { return c >= '0' && c <= '9'; });
}

std::string Lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

Status CheckIssueOptions(const IssueOptions& options) {
  auto invalid = [](std::string message) {
    return MakeError(ErrorKind::kInvalidInput, std::move(message));
  };
  if (!base::IsValidInstitutionCode(options.institution)) {
    return invalid("institution code " + detail::QuoteForMessage(options.institution) +
                   " is not 2 to 16 characters of A-Z and 0-9");
  }
  if (options.role != Role::kMember && options.role != Role::kRegulator &&
      options.role != Role::kReplica) {
    return invalid("certificate role must be member, regulator or replica");
  }
  if (options.role == Role::kReplica && options.kind != CertKind::kTls) {
    return invalid("a replica gets a TLS certificate only: it signs nothing");
  }
  if (options.kind != CertKind::kSigning && options.kind != CertKind::kTls) {
    return invalid("certificate kind must be signing or TLS");
  }
  if (options.kind == CertKind::kSigning && !options.hosts.empty()) {
    return invalid("hosts (subjectAltName) belong in a TLS certificate, not a signing certificate");
  }
  if (options.hosts.size() > kMaxHosts) {
    return invalid("more than " + std::to_string(kMaxHosts) + " hosts for one TLS certificate");
  }
  for (const std::string& host : options.hosts) {
    if (!ParseIpAddress(host) && !IsValidDnsName(host)) {
      return invalid("host " + detail::QuoteForMessage(host) +
                     " is neither an IP address nor a DNS name");
    }
  }
  if (auto problem = detail::ValidityProblem(options.validity_days)) return invalid(*problem);
  constexpr int64_t kMaxOffsetSeconds = int64_t{detail::kMaxValidityDays} * detail::kSecondsPerDay;
  if (options.not_before_offset_seconds < -kMaxOffsetSeconds ||
      options.not_before_offset_seconds > kMaxOffsetSeconds) {
    return invalid("not_before_offset_seconds is beyond " +
                   std::to_string(detail::kMaxValidityDays) + " days");
  }
  return Ok();
}

// Built from GENERAL_NAMEs, not a config string, so that no host text is ever parsed as syntax.
Status AddSubjectAltNames(X509* cert, const std::vector<std::string>& hosts) {
  detail::GeneralNamesPtr names(GENERAL_NAMES_new());
  if (!names) return InternalError("allocating subjectAltName");
  std::vector<std::string> seen;
  for (const std::string& host : hosts) {
    detail::GeneralNamePtr name(GENERAL_NAME_new());
    if (!name) return InternalError("allocating subjectAltName");
    if (auto address = ParseIpAddress(host)) {
      detail::Asn1OctetStringPtr octets(ASN1_OCTET_STRING_new());
      if (!octets || ASN1_OCTET_STRING_set(octets.get(), address->data(),
                                           static_cast<int>(address->size())) != 1) {
        return InternalError("encoding an IP address");
      }
      GENERAL_NAME_set0_value(name.get(), GEN_IPADD, octets.release());
    } else {
      // Host names compare case-insensitively; one spelling keeps the certificate tidy.
      std::string dns = Lowercase(host);
      if (std::find(seen.begin(), seen.end(), dns) != seen.end()) continue;
      seen.push_back(dns);
      detail::Asn1Ia5StringPtr text(ASN1_IA5STRING_new());
      if (!text || ASN1_STRING_set(text.get(), dns.data(), static_cast<int>(dns.size())) != 1) {
        return InternalError("encoding a DNS name");
      }
      GENERAL_NAME_set0_value(name.get(), GEN_DNS, text.release());
    }
    if (sk_GENERAL_NAME_push(names.get(), name.get()) == 0) return InternalError("adding a host");
    name.release();  // now owned by `names`
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return InternalError("adding subjectAltName");
  }
  return Ok();
}

std::string IsoTime(int64_t unix_seconds) {
  std::time_t time = static_cast<std::time_t>(unix_seconds);
  std::tm fields{};
  std::array<char, sizeof "YYYY-MM-DDTHH:MM:SSZ"> text{};
  if (gmtime_r(&time, &fields) == nullptr ||
      std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &fields) == 0) {
    return std::to_string(unix_seconds);
  }
  return text.data();
}

const char* KindName(CertKind kind) {
  return kind == CertKind::kTls ? "tls" : "signing";
}

// One write() with O_APPEND, so that concurrent issuers never interleave within a line; fsync,
// because a certificate must not be handed out before its serial is on record.
Status AppendToLedger(const fs::path& path, const std::string& line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, kIssuedLogFileMode);
  if (fd < 0) return IoError(path, "cannot open", errno);
  struct stat info {};
  std::string text = (::fstat(fd, &info) == 0 && info.st_size == 0) ? kIssuedLogHeader : "";
  text += line;
  ssize_t written = ::write(fd, text.data(), text.size());
  int write_errno = errno;
  if (written != static_cast<ssize_t>(text.size())) {
    ::close(fd);
    return IoError(path, "cannot append", written < 0 ? write_errno : EIO);
  }
  if (::fsync(fd) != 0) {
    int sync_errno = errno;
    ::close(fd);
    return IoError(path, "cannot sync", sync_errno);
  }
  if (::close(fd) != 0) return IoError(path, "cannot close", errno);
  return Ok();
}

}  // namespace

Result<std::string> IssueCertificate(const std::filesystem::path& ca_dir,
                                     const IssueOptions& options) {
  if (Status s = CheckIssueOptions(options); !s.ok()) return std::move(s).error();
  auto ca = detail::LoadCa(ca_dir);
  if (!ca.ok()) return std::move(ca).error();
  X509* ca_cert = ca->certificate.get();
  auto consortium = detail::SingleNameEntry(X509_get_subject_name(ca_cert), NID_organizationName);
  if (!consortium) {
    return MakeError(ErrorKind::kInvalidInput, (ca_dir / detail::kCaCertificateFile).string() +
                                                   " has no single O (consortium) in its subject");
  }
  auto subject_key = detail::ToEvpPublicKey(options.subject_key);
  if (!subject_key.ok()) return std::move(subject_key).error();
  auto name = detail::MakeName({{NID_organizationName, *consortium},
                                {NID_organizationalUnitName, RoleName(options.role)},
                                {NID_commonName, options.institution}});
  if (!name.ok()) return std::move(name).error();

  detail::X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return InternalError("allocating the certificate");
  }
  if (Status s = detail::SetRandomSerial(cert.get()); !s.ok()) return std::move(s).error();
  if (X509_set_subject_name(cert.get(), name->get()) != 1 ||
      X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert)) != 1 ||
      X509_set_pubkey(cert.get(), subject_key->get()) != 1) {
    return InternalError("filling in the certificate");
  }
  int64_t not_before = static_cast<int64_t>(std::time(nullptr)) +
                       options.not_before_offset_seconds - detail::kClockSkewBackdateSeconds;
  if (Status s = detail::SetValidity(cert.get(), not_before, options.validity_days); !s.ok()) {
    return std::move(s).error();
  }

  X509V3_CTX context;
  X509V3_set_ctx(&context, ca_cert, cert.get(), nullptr, nullptr, 0);
  std::vector<std::pair<int, const char*>> extensions = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"}};
  if (options.kind == CertKind::kSigning) {
    extensions.emplace_back(NID_key_usage, "critical,digitalSignature,nonRepudiation");
  } else {
    extensions.emplace_back(NID_key_usage, "critical,digitalSignature");
    extensions.emplace_back(NID_ext_key_usage, "serverAuth,clientAuth");
  }
  for (const auto& [nid, value] : extensions) {
    if (Status s = detail::AddExtension(cert.get(), &context, nid, value); !s.ok()) {
      return std::move(s).error();
    }
  }
  if (!options.hosts.empty()) {
    if (Status s = AddSubjectAltNames(cert.get(), options.hosts); !s.ok()) {
      return std::move(s).error();
    }
  }
  if (X509_sign(cert.get(), ca->key.get(), nullptr) <= 0) {
    return InternalError("signing the certificate");
  }
  std::string pem = detail::CertificatePem(cert.get());
  if (pem.empty()) return InternalError("encoding the certificate");

  std::string line =
      detail::SerialHex(X509_get0_serialNumber(cert.get())) + " " + options.institution + " " +
      RoleName(options.role) + " " + KindName(options.kind) + " " + IsoTime(not_before) + " " +
      IsoTime(not_before + int64_t{options.validity_days} * detail::kSecondsPerDay) + "\n";
  if (Status s = AppendToLedger(ca_dir / detail::kIssuedLogFile, line); !s.ok()) {
    return std::move(s).error();
  }
  return pem;
}

}  // namespace duanka::crypto
