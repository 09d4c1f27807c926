// Helpers shared by the pki_*.cpp files: limits, OpenSSL conversions of duanka's key types, PEM
// through memory BIOs, certificate names, and the pieces every certificate and CRL is built from.
// Private to crypto/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/crypto.h"
#include "crypto/detail/openssl_ptr.h"
#include "crypto/pki.h"

namespace duanka::crypto::detail {

// A certificate of ours is about 600 bytes of DER; 16 KiB leaves room for long SAN lists while a
// peer cannot make us parse megabytes of ASN.1 per handshake or bundle entry.
inline constexpr size_t kMaxCertificateDerSize = 16 * 1024;
// ca.pem, a key file, one certificate's PEM.
inline constexpr size_t kMaxPemFileSize = 1024 * 1024;
// A CRL grows by about 40 bytes of DER per revoked serial; 16 MiB holds hundreds of thousands.
inline constexpr size_t kMaxCrlFileSize = 16 * 1024 * 1024;
// A bundle of every member's certificates: a few KiB each, hundreds of members.
inline constexpr size_t kMaxPemBundleSize = 16 * 1024 * 1024;

// Members' clocks drift; a certificate or CRL valid only from the second it was made would be
// refused by a peer whose clock is a little behind. Both are backdated by this much.
inline constexpr int64_t kClockSkewBackdateSeconds = 60;
inline constexpr int64_t kSecondsPerDay = 24 * 60 * 60;

// The files of a CA directory.
inline constexpr const char* kCaCertificateFile = "ca.pem";
inline constexpr const char* kCaKeyFile = "ca.key";
inline constexpr const char* kIssuedLogFile = "issued.txt";
inline constexpr const char* kCrlFile = "crl.pem";

// ---- Building certificates and CRLs (pki_build.cpp) ----

// A century; more is a typo.
inline constexpr int kMaxValidityDays = 36500;

// kInternal with the OpenSSL error queue: OpenSSL failed where our input could not be the cause.
Error InternalError(std::string_view what);
// kIo naming the path and the OS reason.
Error IoError(const std::filesystem::path& path, std::string_view what, int error_number);
std::optional<std::string> ValidityProblem(int days);

// A random positive 128-bit serial, so that serials never repeat without a counter to keep.
Status SetRandomSerial(X509* cert);
// notBefore = not_before, notAfter = not_before + validity_days.
Status SetValidity(X509* cert, int64_t not_before, int validity_days);
// A name from (NID, UTF-8 text) pairs in order; kInvalidInput if a value cannot be encoded.
Result<X509NamePtr> MakeName(const std::vector<std::pair<int, std::string>>& entries);
// `value` in the syntax of openssl.cnf; only constant strings of ours go through it.
Status AddExtension(X509* cert, X509V3_CTX* context, int nid, const char* value);

// ---- The CA directory (pki_ca.cpp) ----

// The CA of ca_dir: its certificate and the private key that matches it.
struct CaMaterial {
  X509Ptr certificate;
  EvpPkeyPtr key;
};
// kIo if a file is unreadable, kInvalidInput if it does not parse or the key does not match.
Result<CaMaterial> LoadCa(const std::filesystem::path& ca_dir);

// ---- Conversions (pki.cpp) ----

// An Ed25519 EVP_PKEY holding the key's seed (OpenSSL wipes it when the key is freed).
Result<EvpPkeyPtr> ToEvpPrivateKey(const SigningKey& key);
Result<EvpPkeyPtr> ToEvpPublicKey(const PublicKey& key);
// The raw Ed25519 public key; nullopt if `pkey` is not Ed25519.
std::optional<PublicKey> FromEvpPublicKey(const EVP_PKEY* pkey);

// A read-only BIO over `data`, which must outlive it. nullptr if data exceeds max_size.
BioPtr ReadOnlyBio(std::string_view data, size_t max_size);
// Everything written to a memory BIO.
std::string MemoryBioContents(BIO* bio);

// Exactly one certificate in PEM text; kInvalidInput naming `what` otherwise.
Result<X509Ptr> ParseOneCertificatePem(std::string_view pem, std::string_view what);
std::string CertificatePem(X509* cert);

// The text (UTF-8) of the single entry `nid` in `name`; nullopt if it is absent or repeated.
std::optional<std::string> SingleNameEntry(const X509_NAME* name, int nid);

// Hex digits of a certificate serial, uppercase, as `openssl x509 -serial` prints them.
std::string SerialHex(const ASN1_INTEGER* serial);

// Outside text quoted for a one-line error message: non-printable bytes as '?', long text cut.
std::string QuoteForMessage(std::string_view text);

// Unix seconds of an ASN.1 time; nullopt if it does not parse.
std::optional<int64_t> ToUnixSeconds(const ASN1_TIME* time);

}  // namespace duanka::crypto::detail
