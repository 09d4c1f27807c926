// The pieces every certificate of the consortium is built from: serial, validity, names,
// extensions.
#include <openssl/rand.h>

#include <array>
#include <cstring>

#include "crypto/detail/openssl_ptr.h"
#include "crypto/detail/pki_internal.h"

namespace duanka::crypto::detail {

namespace {

// 128 bits from the CSPRNG with the top bit forced on, so that every serial is positive and
// exactly 32 hex digits long (127 random bits, well above the CA/Browser Forum's 64).
constexpr size_t kSerialBytes = 16;
constexpr unsigned char kSerialTopBit = 0x80;

}  // namespace

Error InternalError(std::string_view what) {
  return MakeError(ErrorKind::kInternal, OpenSslError(what));
}

Error IoError(const std::filesystem::path& path, std::string_view what, int error_number) {
  return MakeError(ErrorKind::kIo,
                   path.string() + ": " + std::string(what) + ": " + std::strerror(error_number));
}

std::optional<std::string> ValidityProblem(int days) {
  if (days < 1 || days > kMaxValidityDays) {
    return "validity of " + std::to_string(days) + " days is outside 1.." +
           std::to_string(kMaxValidityDays);
  }
  return std::nullopt;
}

Status SetRandomSerial(X509* cert) {
  std::array<unsigned char, kSerialBytes> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return InternalError("drawing a random serial");
  }
  bytes[0] |= kSerialTopBit;
  BignumPtr number(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  if (!number || BN_to_ASN1_INTEGER(number.get(), X509_get_serialNumber(cert)) == nullptr) {
    return InternalError("setting the serial");
  }
  return Ok();
}

Status SetValidity(X509* cert, int64_t not_before, int validity_days) {
  int64_t not_after = not_before + int64_t{validity_days} * kSecondsPerDay;
  if (ASN1_TIME_set(X509_getm_notBefore(cert), static_cast<time_t>(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), static_cast<time_t>(not_after)) == nullptr) {
    return InternalError("setting the validity period");
  }
  return Ok();
}

Result<X509NamePtr> MakeName(const std::vector<std::pair<int, std::string>>& entries) {
  X509NamePtr name(X509_NAME_new());
  if (!name) return InternalError("allocating a name");
  for (const auto& [nid, value] : entries) {
    if (X509_NAME_add_entry_by_NID(name.get(), nid, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      return MakeError(ErrorKind::kInvalidInput,
                       OpenSslError(std::string(OBJ_nid2sn(nid)) + " " + QuoteForMessage(value) +
                                    " cannot go in a certificate name"));
    }
  }
  return name;
}

Status AddExtension(X509* cert, X509V3_CTX* context, int nid, const char* value) {
  X509ExtensionPtr extension(X509V3_EXT_nconf_nid(nullptr, context, nid, value));
  if (!extension || X509_add_ext(cert, extension.get(), -1) != 1) {
    return InternalError(std::string("adding ") + OBJ_nid2sn(nid));
  }
  return Ok();
}

}  // namespace duanka::crypto::detail
