// TrustStore: a node's trust anchor, and the checks that make a DER certificate a member's.
#include <openssl/pem.h>

#include "crypto/detail/openssl_ptr.h"
#include "crypto/detail/pki_internal.h"
#include "crypto/pki.h"

#include <mutex>

namespace duanka::crypto {

namespace {

// Longer serials are not ours; quoting them would only lengthen the message.
constexpr size_t kMaxSerialHexInMessage = 40;

// "certificate CN=BANKA serial=8F3A..." with only what is safe and useful to print.
std::string Describe(X509* cert) {
  std::string text = "certificate";
  auto cn = detail::SingleNameEntry(X509_get_subject_name(cert), NID_commonName);
  if (cn && base::IsValidInstitutionCode(*cn)) text += " CN=" + *cn;
  std::string serial = detail::SerialHex(X509_get0_serialNumber(cert));
  if (!serial.empty() && serial.size() <= kMaxSerialHexInMessage) text += " serial=" + serial;
  return text;
}

Error Unauthorized(X509* cert, std::string_view reason) {
  return MakeError(ErrorKind::kUnauthorized, Describe(cert) + ": " + std::string(reason));
}

// The key usages that tell the two kinds apart. A signing certificate carries no extended key
// usage at all, so a TLS certificate (which must) can never pass for one, and the reverse.
std::optional<std::string> KindProblem(X509* cert, CertKind kind) {
  const uint32_t flags = X509_get_extension_flags(cert);
  if ((flags & EXFLAG_CA) != 0) return "a CA certificate, not a member's";
  const bool has_key_usage = (flags & EXFLAG_KUSAGE) != 0;
  const bool has_extended = (flags & EXFLAG_XKUSAGE) != 0;
  const uint32_t usage = X509_get_key_usage(cert);
  const uint32_t extended = X509_get_extended_key_usage(cert);
  if (kind == CertKind::kSigning) {
    const uint32_t needed = KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION;
    if (!has_key_usage || (usage & needed) != needed || has_extended) {
      return "not a signing certificate (needs keyUsage digitalSignature and nonRepudiation, "
             "and no extendedKeyUsage)";
    }
    return std::nullopt;
  }
  if (kind == CertKind::kTls) {
    const uint32_t needed = XKU_SSL_SERVER | XKU_SSL_CLIENT;
    if (!has_key_usage || (usage & KU_DIGITAL_SIGNATURE) == 0 || !has_extended ||
        (extended & needed) != needed) {
      return "not a TLS certificate (needs keyUsage digitalSignature and extendedKeyUsage "
             "serverAuth and clientAuth)";
    }
    return std::nullopt;
  }
  return "checked against an unknown certificate kind";
}

Result<detail::X509CrlPtr> ParseCrl(std::string_view pem, X509* ca) {
  detail::BioPtr bio = detail::ReadOnlyBio(pem, detail::kMaxCrlFileSize);
  if (!bio) {
    return MakeError(ErrorKind::kInvalidInput,
                     "CRL is larger than " + std::to_string(detail::kMaxCrlFileSize) + " bytes");
  }
  ERR_clear_error();
  detail::X509CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  if (!crl) {
    return MakeError(ErrorKind::kInvalidInput,
                     detail::OpenSslError("CRL is not a PEM \"BEGIN X509 CRL\" block"));
  }
  // A CRL from anyone else would let them revoke members, or would revoke nothing at all.
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca)) != 0 ||
      X509_CRL_verify(crl.get(), X509_get0_pubkey(ca)) != 1) {
    ERR_clear_error();
    return MakeError(ErrorKind::kInvalidInput, "CRL is not signed by the consortium CA");
  }
  return crl;
}

// What a parsed CRL of this CA says, or why it cannot be read.
Result<CrlInfo> DescribeCrl(X509_CRL* crl, std::string_view pem) {
  CrlInfo info;
  info.pem = std::string(pem);
  int critical = 0;
  detail::Asn1IntegerPtr number(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, &critical, nullptr)));
  if (!number || ASN1_INTEGER_get_int64(&info.number, number.get()) != 1) {
    ERR_clear_error();
    return MakeError(ErrorKind::kInvalidInput,
                     "CRL has no CRL number; newer CRLs cannot be told "
                     "from older ones");
  }
  auto this_update = detail::ToUnixSeconds(X509_CRL_get0_lastUpdate(crl));
  const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl);
  auto next_update = next != nullptr ? detail::ToUnixSeconds(next) : std::nullopt;
  if (!this_update || !next_update) {
    return MakeError(ErrorKind::kInvalidInput, "CRL lacks a readable thisUpdate or nextUpdate");
  }
  info.this_update = *this_update;
  info.next_update = *next_update;
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    info.revoked_serials.push_back(
        detail::SerialHex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))));
  }
  return info;
}

}  // namespace

struct TrustStore::Impl {
  detail::X509Ptr ca;
  detail::X509StorePtr store;
  std::string consortium;
  mutable std::mutex crl_mutex;  // guards crl and crl_info (UpdateCrl may run on any thread)
  detail::X509CrlPtr crl;        // the newest CRL in force; null when none
  std::optional<CrlInfo> crl_info;
};

TrustStore::TrustStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::optional<PublicKey> TrustStore::ca_key() const {
  return detail::FromEvpPublicKey(X509_get0_pubkey(impl_->ca.get()));
}
TrustStore::TrustStore(TrustStore&&) noexcept = default;
TrustStore& TrustStore::operator=(TrustStore&&) noexcept = default;
TrustStore::~TrustStore() = default;

Result<TrustStore> TrustStore::Create(std::string_view ca_pem,
                                      std::optional<std::string_view> crl_pem) {
  auto impl = std::make_unique<Impl>();
  auto ca = detail::ParseOneCertificatePem(ca_pem, "CA certificate");
  if (!ca.ok()) return std::move(ca).error();
  impl->ca = std::move(*ca);
  if (X509_check_ca(impl->ca.get()) == 0) {
    return MakeError(ErrorKind::kInvalidInput,
                     "CA certificate is not a CA (no basicConstraints CA:TRUE)");
  }
  if (X509_self_signed(impl->ca.get(), /*verify_signature=*/1) != 1) {
    ERR_clear_error();
    return MakeError(ErrorKind::kInvalidInput,
                     "CA certificate is not self-signed; expected the consortium root");
  }
  auto consortium =
      detail::SingleNameEntry(X509_get_subject_name(impl->ca.get()), NID_organizationName);
  if (!consortium || consortium->empty()) {
    return MakeError(ErrorKind::kInvalidInput,
                     "CA certificate has no single O (the consortium name) in its subject");
  }
  impl->consortium = std::move(*consortium);

  impl->store.reset(X509_STORE_new());
  if (!impl->store || X509_STORE_add_cert(impl->store.get(), impl->ca.get()) != 1) {
    return MakeError(ErrorKind::kInternal, detail::OpenSslError("building the trust store"));
  }
  // Strict RFC 5280 checks cost nothing for certificates of our own making and refuse odd ones.
  unsigned long flags = X509_V_FLAG_X509_STRICT;
  if (crl_pem) {
    auto crl = ParseCrl(*crl_pem, impl->ca.get());
    if (!crl.ok()) return std::move(crl).error();
    auto info = DescribeCrl(crl->get(), *crl_pem);
    if (!info.ok()) return std::move(info).error();
    impl->crl = std::move(*crl);
    impl->crl_info = std::move(*info);
    if (X509_STORE_add_crl(impl->store.get(), impl->crl.get()) != 1) {
      return MakeError(ErrorKind::kInternal, detail::OpenSslError("adding the CRL"));
    }
    flags |= X509_V_FLAG_CRL_CHECK;
  }
  // On the store, not per verification, so that the TLS layer's handshakes check the CRL too.
  if (X509_STORE_set_flags(impl->store.get(), flags) != 1) {
    return MakeError(ErrorKind::kInternal, detail::OpenSslError("setting verification flags"));
  }
  return TrustStore(std::move(impl));
}

Result<TrustStore> TrustStore::Load(const std::filesystem::path& ca_pem,
                                    const std::optional<std::filesystem::path>& crl_pem) {
  auto ca_text = base::ReadFile(ca_pem, detail::kMaxPemFileSize);
  if (!ca_text.ok()) return std::move(ca_text).error();
  std::optional<std::string> crl_text;
  if (crl_pem) {
    auto text = base::ReadFile(*crl_pem, detail::kMaxCrlFileSize);
    if (!text.ok()) return std::move(text).error();
    crl_text = std::move(*text);
  }
  auto store =
      Create(*ca_text, crl_text ? std::optional<std::string_view>(*crl_text) : std::nullopt);
  if (!store.ok()) {
    // Name the file the operator has to fix.
    bool about_crl = store.error().message.rfind("CRL", 0) == 0;
    const std::filesystem::path& file = about_crl && crl_pem ? *crl_pem : ca_pem;
    return MakeError(store.error().kind, file.string() + ": " + store.error().message);
  }
  return store;
}

const std::string& TrustStore::consortium() const {
  return impl_->consortium;
}

Result<CrlInfo> TrustStore::InspectCrl(std::string_view crl_pem) const {
  auto crl = ParseCrl(crl_pem, impl_->ca.get());
  if (!crl.ok()) return std::move(crl).error();
  return DescribeCrl(crl->get(), crl_pem);
}

std::optional<CrlInfo> TrustStore::crl() const {
  std::lock_guard<std::mutex> lock(impl_->crl_mutex);
  return impl_->crl_info;
}

Result<CrlInfo> TrustStore::UpdateCrl(std::string_view crl_pem) {
  auto crl = ParseCrl(crl_pem, impl_->ca.get());
  if (!crl.ok()) return std::move(crl).error();
  auto info = DescribeCrl(crl->get(), crl_pem);
  if (!info.ok()) return std::move(info).error();
  std::lock_guard<std::mutex> lock(impl_->crl_mutex);
  if (impl_->crl_info && info->number <= impl_->crl_info->number) {
    return MakeError(ErrorKind::kConflict, "CRL number " + std::to_string(info->number) +
                                               " is not newer than the CRL in force (number " +
                                               std::to_string(impl_->crl_info->number) + ")");
  }
  // Added beside the older one, not swapped: OpenSSL picks an issuer's newest CRL (by
  // thisUpdate) for every verification from now on, handshakes in progress included.
  if (X509_STORE_add_crl(impl_->store.get(), crl->get()) != 1) {
    return MakeError(ErrorKind::kInternal, detail::OpenSslError("adding the CRL"));
  }
  if (!impl_->crl) X509_STORE_set_flags(impl_->store.get(), X509_V_FLAG_CRL_CHECK);
  impl_->crl = std::move(*crl);
  impl_->crl_info = *info;
  return info;
}

void* TrustStore::x509_store() const {
  return impl_->store.get();
}

namespace {

Result<detail::X509Ptr> ParseDer(std::string_view der) {
  if (der.empty() || der.size() > detail::kMaxCertificateDerSize) {
    return MakeError(ErrorKind::kMalformed, "certificate of " + std::to_string(der.size()) +
                                                " bytes; expected 1 to " +
                                                std::to_string(detail::kMaxCertificateDerSize));
  }
  ERR_clear_error();
  const auto* begin = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* cursor = begin;
  detail::X509Ptr cert(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
  if (!cert) {
    return MakeError(ErrorKind::kMalformed, detail::OpenSslError("certificate is not X.509 DER"));
  }
  if (cursor != begin + der.size()) {
    return MakeError(ErrorKind::kMalformed, "certificate DER has bytes after its end");
  }
  return cert;
}

// What a certificate says (CN, OU, key, validity, serial), without judging its trust.
Result<CertificateInfo> InfoOf(X509* cert, std::string_view der) {
  const X509_NAME* subject = X509_get_subject_name(cert);
  CertificateInfo info;
  auto institution = detail::SingleNameEntry(subject, NID_commonName);
  if (!institution || !base::IsValidInstitutionCode(*institution)) {
    return Unauthorized(cert, "CN is not one institution code of 2 to 16 A-Z and 0-9");
  }
  info.institution = std::move(*institution);
  auto role_name = detail::SingleNameEntry(subject, NID_organizationalUnitName);
  std::optional<Role> role = role_name ? ParseRole(*role_name) : std::nullopt;
  if (!role) return Unauthorized(cert, "OU is not one role, member, regulator or replica");
  info.role = *role;
  auto key = detail::FromEvpPublicKey(X509_get0_pubkey(cert));
  if (!key) return Unauthorized(cert, "key is not Ed25519");
  info.public_key = *key;
  auto not_before = detail::ToUnixSeconds(X509_get0_notBefore(cert));
  auto not_after = detail::ToUnixSeconds(X509_get0_notAfter(cert));
  if (!not_before || !not_after) {
    return MakeError(ErrorKind::kMalformed, Describe(cert) + ": validity does not parse");
  }
  info.not_before = *not_before;
  info.not_after = *not_after;
  info.serial_hex = detail::SerialHex(X509_get0_serialNumber(cert));
  info.der = std::string(der);
  return info;
}

}  // namespace

Result<CertificateInfo> InspectCertificate(std::string_view der) {
  Result<detail::X509Ptr> cert = ParseDer(der);
  if (!cert) return std::move(cert).error();
  return InfoOf(cert->get(), der);
}

Result<CertificateInfo> TrustStore::Verify(std::string_view der, CertKind kind,
                                           std::optional<int64_t> check_time_at) const {
  Result<detail::X509Ptr> parsed = ParseDer(der);
  if (!parsed) return std::move(parsed).error();
  detail::X509Ptr cert = std::move(*parsed);

  detail::X509StoreCtxPtr context(X509_STORE_CTX_new());
  if (!context ||
      X509_STORE_CTX_init(context.get(), impl_->store.get(), cert.get(), nullptr) != 1) {
    return MakeError(ErrorKind::kInternal, detail::OpenSslError("starting verification"));
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(context.get());
  if (check_time_at) {
    X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(*check_time_at));
  } else {
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_NO_CHECK_TIME);
  }
  if (X509_verify_cert(context.get()) != 1) {
    int code = X509_STORE_CTX_get_error(context.get());
    if (code == X509_V_OK) {
      return MakeError(ErrorKind::kInternal, detail::OpenSslError("verifying a certificate"));
    }
    ERR_clear_error();
    return Unauthorized(cert.get(), X509_verify_cert_error_string(code));
  }

  if (auto problem = KindProblem(cert.get(), kind)) return Unauthorized(cert.get(), *problem);
  Result<CertificateInfo> info = InfoOf(cert.get(), der);
  if (!info) return info;
  auto organization =
      detail::SingleNameEntry(X509_get_subject_name(cert.get()), NID_organizationName);
  if (!organization || *organization != impl_->consortium) {
    return Unauthorized(cert.get(), "O is not the consortium's name");
  }
  // Whatever its key usage says, a replica's certificate vouches for no record: the CA never
  // issues one of the signing kind, and one that exists anyway is refused.
  if (kind == CertKind::kSigning && info->role == Role::kReplica) {
    return Unauthorized(cert.get(), "a replica's certificate, which signs nothing");
  }
  info->kind = kind;
  return info;
}

}  // namespace duanka::crypto
