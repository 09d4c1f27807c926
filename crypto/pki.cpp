// Certificate PEM <-> DER, and the OpenSSL helpers the other pki_*.cpp files share.
#include "crypto/pki.h"

#include <openssl/pem.h>

#include <climits>
#include <cstring>
#include <ctime>

#include "crypto/detail/openssl_ptr.h"
#include "crypto/detail/pki_internal.h"

namespace duanka::crypto {

namespace {

constexpr const char* kCertificatePemLabel = "CERTIFICATE";
// How much of a rejected input an error message quotes.
constexpr size_t kMaxQuotedChars = 40;

bool IsEndOfPem(unsigned long error) {
  return ERR_GET_LIB(error) == ERR_LIB_PEM && ERR_GET_REASON(error) == PEM_R_NO_START_LINE;
}

}  // namespace

Result<std::vector<std::string>> PemCertificatesToDer(std::string_view pem) {
  detail::BioPtr bio = detail::ReadOnlyBio(pem, detail::kMaxPemBundleSize);
  if (!bio) {
    return MakeError(
        ErrorKind::kInvalidInput,
        "PEM text is larger than " + std::to_string(detail::kMaxPemBundleSize) + " bytes");
  }
  std::vector<std::string> ders;
  ERR_clear_error();
  for (int block = 1;; ++block) {
    char* raw_name = nullptr;
    char* raw_header = nullptr;
    unsigned char* raw_data = nullptr;
    long length = 0;
    if (PEM_read_bio(bio.get(), &raw_name, &raw_header, &raw_data, &length) != 1) {
      if (IsEndOfPem(ERR_peek_last_error())) {
        ERR_clear_error();
        break;
      }
      return MakeError(
          ErrorKind::kInvalidInput,
          detail::OpenSslError("PEM block " + std::to_string(block) + " does not decode"));
    }
    detail::OpenSslString name(raw_name);
    detail::OpenSslString header(raw_header);
    detail::OpenSslBytes data(raw_data);
    // Other blocks (a key kept in the same file) are not ours to read; wipe them in case.
    if (std::strcmp(name.get(), kCertificatePemLabel) != 0) {
      OPENSSL_cleanse(data.get(), static_cast<size_t>(length));
      continue;
    }
    if (static_cast<size_t>(length) > detail::kMaxCertificateDerSize) {
      return MakeError(ErrorKind::kInvalidInput,
                       "certificate " + std::to_string(ders.size() + 1) + " is larger than " +
                           std::to_string(detail::kMaxCertificateDerSize) + " bytes");
    }
    const unsigned char* cursor = data.get();
    detail::X509Ptr cert(d2i_X509(nullptr, &cursor, length));
    if (!cert || cursor != data.get() + length) {
      return MakeError(ErrorKind::kInvalidInput,
                       detail::OpenSslError("certificate " + std::to_string(ders.size() + 1) +
                                            " in the PEM text is not valid X.509 DER"));
    }
    ders.emplace_back(reinterpret_cast<const char*>(data.get()), static_cast<size_t>(length));
  }
  if (ders.empty()) {
    return MakeError(ErrorKind::kInvalidInput,
                     "no \"BEGIN CERTIFICATE\" block found in the PEM text");
  }
  return ders;
}

std::string DerCertificateToPem(std::string_view der) {
  if (der.size() > static_cast<size_t>(INT_MAX)) return {};
  detail::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio(bio.get(), kCertificatePemLabel, "",
                            reinterpret_cast<const unsigned char*>(der.data()),
                            static_cast<long>(der.size())) <= 0) {
    ERR_clear_error();
    return {};
  }
  return detail::MemoryBioContents(bio.get());
}

namespace detail {

Result<EvpPkeyPtr> ToEvpPrivateKey(const SigningKey& key) {
  ByteView seed = key.seed();
  EvpPkeyPtr pkey(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!pkey) return MakeError(ErrorKind::kInternal, OpenSslError("loading an Ed25519 seed"));
  return pkey;
}

Result<EvpPkeyPtr> ToEvpPublicKey(const PublicKey& key) {
  EvpPkeyPtr pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.bytes.data(), key.bytes.size()));
  if (!pkey) {
    return MakeError(ErrorKind::kInvalidInput, OpenSslError("not an Ed25519 public key"));
  }
  return pkey;
}

std::optional<PublicKey> FromEvpPublicKey(const EVP_PKEY* pkey) {
  if (pkey == nullptr || EVP_PKEY_is_a(pkey, "ED25519") != 1) return std::nullopt;
  PublicKey key;
  size_t length = key.bytes.size();
  if (EVP_PKEY_get_raw_public_key(pkey, key.bytes.data(), &length) != 1 ||
      length != key.bytes.size()) {
    ERR_clear_error();
    return std::nullopt;
  }
  return key;
}

BioPtr ReadOnlyBio(std::string_view data, size_t max_size) {
  if (data.size() > max_size || data.size() > static_cast<size_t>(INT_MAX)) return nullptr;
  // BIO_new_mem_buf wants a non-null pointer even for zero bytes.
  const char* bytes = data.empty() ? "" : data.data();
  return BioPtr(BIO_new_mem_buf(bytes, static_cast<int>(data.size())));
}

std::string MemoryBioContents(BIO* bio) {
  char* bytes = nullptr;
  long length = BIO_get_mem_data(bio, &bytes);
  if (length <= 0 || bytes == nullptr) return {};
  return std::string(bytes, static_cast<size_t>(length));
}

Result<X509Ptr> ParseOneCertificatePem(std::string_view pem, std::string_view what) {
  auto ders = PemCertificatesToDer(pem);
  if (!ders.ok()) {
    return MakeError(ErrorKind::kInvalidInput, std::string(what) + ": " + ders.error().message);
  }
  if (ders->size() != 1) {
    return MakeError(ErrorKind::kInvalidInput, std::string(what) + " holds " +
                                                   std::to_string(ders->size()) +
                                                   " certificates; expected exactly one");
  }
  const std::string& der = ders->front();
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
  if (!cert) {
    return MakeError(ErrorKind::kInvalidInput, OpenSslError(std::string(what) + " is not X.509"));
  }
  return cert;
}

std::string CertificatePem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    ERR_clear_error();
    return {};
  }
  return MemoryBioContents(bio.get());
}

std::optional<std::string> SingleNameEntry(const X509_NAME* name, int nid) {
  if (name == nullptr) return std::nullopt;
  int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0 || X509_NAME_get_index_by_NID(name, nid, index) >= 0) return std::nullopt;
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* raw_utf8 = nullptr;
  int length = ASN1_STRING_to_UTF8(&raw_utf8, data);
  if (length < 0) {
    ERR_clear_error();
    return std::nullopt;
  }
  OpenSslBytes utf8(raw_utf8);
  return std::string(reinterpret_cast<const char*>(utf8.get()), static_cast<size_t>(length));
}

std::string SerialHex(const ASN1_INTEGER* serial) {
  BignumPtr number(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!number) {
    ERR_clear_error();
    return {};
  }
  OpenSslString hex(BN_bn2hex(number.get()));
  return hex ? std::string(hex.get()) : std::string();
}

std::string QuoteForMessage(std::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, kMaxQuotedChars)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (text.size() > kMaxQuotedChars) out += "...";
  return out + "\"";
}

std::optional<int64_t> ToUnixSeconds(const ASN1_TIME* time) {
  // ASN1_TIME_to_tm reads the current time when given nullptr; a missing field is an error here.
  if (time == nullptr) return std::nullopt;
  std::tm fields{};
  if (ASN1_TIME_to_tm(time, &fields) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  return static_cast<int64_t>(timegm(&fields));
}

}  // namespace detail

}  // namespace duanka::crypto
