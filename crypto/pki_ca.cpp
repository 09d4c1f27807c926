// The consortium CA: creating its directory, key and self-signed certificate, and loading them.
#include <openssl/pem.h>

#include <algorithm>
#include <ctime>
#include <initializer_list>
#include <utility>

#include "crypto/detail/openssl_ptr.h"
#include "crypto/detail/pki_internal.h"
#include "crypto/pki.h"

namespace duanka::crypto {

namespace {

namespace fs = std::filesystem;
using detail::InternalError;

constexpr unsigned kCertificateFileMode = 0644;
// The CA directory holds the consortium's most valuable key: 0700.
constexpr fs::perms kCaDirectoryPerms = fs::perms::owner_all;
// X.520's upper bound for O and CN is 64 characters, and the CA's CN is "<consortium> CA".
constexpr std::string_view kCaCommonNameSuffix = " CA";
constexpr size_t kMaxDirectoryStringChars = 64;
constexpr size_t kMaxConsortiumChars = kMaxDirectoryStringChars - kCaCommonNameSuffix.size();

size_t Utf8Chars(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::optional<std::string> ConsortiumProblem(std::string_view name) {
  if (name.empty()) return "the consortium name is empty";
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return "the consortium name contains a control character";
    }
  }
  if (name.front() == ' ' || name.back() == ' ') {
    return "the consortium name begins or ends with a space";
  }
  if (Utf8Chars(name) > kMaxConsortiumChars) {
    return "the consortium name is longer than " + std::to_string(kMaxConsortiumChars) +
           " characters (X.509 limits the CA's CN \"<consortium> CA\" to " +
           std::to_string(kMaxDirectoryStringChars) + ")";
  }
  return std::nullopt;
}

}  // namespace

namespace detail {

Result<CaMaterial> LoadCa(const std::filesystem::path& ca_dir) {
  fs::path cert_path = ca_dir / kCaCertificateFile;
  fs::path key_path = ca_dir / kCaKeyFile;
  auto pem = base::ReadFile(cert_path, kMaxPemFileSize);
  if (!pem.ok()) return std::move(pem).error();
  auto certificate = ParseOneCertificatePem(*pem, cert_path.string());
  if (!certificate.ok()) return std::move(certificate).error();
  if (X509_check_ca(certificate->get()) == 0) {
    return MakeError(ErrorKind::kInvalidInput, cert_path.string() + " is not a CA certificate");
  }
  auto signing_key = LoadPrivateKey(key_path);
  if (!signing_key.ok()) return std::move(signing_key).error();
  auto key = ToEvpPrivateKey(*signing_key);
  if (!key.ok()) return std::move(key).error();
  if (X509_check_private_key(certificate->get(), key->get()) != 1) {
    ERR_clear_error();
    return MakeError(ErrorKind::kInvalidInput,
                     key_path.string() + " is not the key of " + cert_path.string());
  }
  return CaMaterial{std::move(*certificate), std::move(*key)};
}

}  // namespace detail

Status CreateCa(const std::filesystem::path& ca_dir, const CaOptions& options) {
  if (auto problem = ConsortiumProblem(options.consortium)) {
    return MakeError(ErrorKind::kInvalidInput, *problem);
  }
  if (auto problem = detail::ValidityProblem(options.validity_days)) {
    return MakeError(ErrorKind::kInvalidInput, "CA " + *problem);
  }
  const fs::path key_path = ca_dir / detail::kCaKeyFile;
  const fs::path cert_path = ca_dir / detail::kCaCertificateFile;
  std::error_code error;
  for (const fs::path& path : {key_path, cert_path}) {
    if (fs::exists(fs::symlink_status(path, error))) {
      return MakeError(ErrorKind::kConflict,
                       path.string() + " exists; refusing to replace a consortium CA");
    }
  }
  fs::create_directories(ca_dir, error);
  if (error) return detail::IoError(ca_dir, "cannot create directory", error.value());
  fs::permissions(ca_dir, kCaDirectoryPerms, fs::perm_options::replace, error);
  if (error) return detail::IoError(ca_dir, "cannot restrict to mode 0700", error.value());

  SigningKey key = SigningKey::Generate();
  auto pkey = detail::ToEvpPrivateKey(key);
  if (!pkey.ok()) return std::move(pkey).error();
  auto name =
      detail::MakeName({{NID_organizationName, options.consortium},
                        {NID_commonName, options.consortium + std::string(kCaCommonNameSuffix)}});
  if (!name.ok()) return std::move(name).error();

  detail::X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return InternalError("allocating the CA certificate");
  }
  if (Status s = detail::SetRandomSerial(cert.get()); !s.ok()) return s;
  if (X509_set_subject_name(cert.get(), name->get()) != 1 ||
      X509_set_issuer_name(cert.get(), name->get()) != 1 ||
      X509_set_pubkey(cert.get(), pkey->get()) != 1) {
    return InternalError("filling in the CA certificate");
  }
  int64_t not_before = static_cast<int64_t>(std::time(nullptr)) - detail::kClockSkewBackdateSeconds;
  if (Status s = detail::SetValidity(cert.get(), not_before, options.validity_days); !s.ok()) {
    return s;
  }
  X509V3_CTX context;
  X509V3_set_ctx(&context, cert.get(), cert.get(), nullptr, nullptr, 0);
  // pathlen:0: the consortium CA signs members directly and never a subordinate CA.
  for (const auto& [nid, value] : std::initializer_list<std::pair<int, const char*>>{
           {NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
           {NID_key_usage, "critical,keyCertSign,cRLSign"},
           {NID_subject_key_identifier, "hash"}}) {
    if (Status s = detail::AddExtension(cert.get(), &context, nid, value); !s.ok()) return s;
  }
  if (X509_sign(cert.get(), pkey->get(), nullptr) <= 0) {
    return InternalError("signing the CA certificate");
  }
  std::string pem = detail::CertificatePem(cert.get());
  if (pem.empty()) return InternalError("encoding the CA certificate");

  if (Status s = SavePrivateKey(key_path, key, /*overwrite=*/false); !s.ok()) return s;
  if (Status s = base::WriteFileAtomic(cert_path, pem, kCertificateFileMode, /*overwrite=*/false);
      !s.ok()) {
    // A key without its certificate would block the next attempt with kConflict.
    fs::remove(key_path, error);
    return s;
  }
  return Ok();
}

}  // namespace duanka::crypto
