// Ed25519 keys as the PEM files OpenSSL's own tools read and write (PKCS#8, SPKI).
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <array>

#include "crypto/detail/openssl_ptr.h"
#include "crypto/detail/pki_internal.h"
#include "crypto/pki.h"

namespace duanka::crypto {

namespace {

constexpr unsigned kPrivateKeyFileMode = 0600;
constexpr std::string_view kEncryptedKeyLabel = "-----BEGIN ENCRYPTED PRIVATE KEY-----";

// Wipes a buffer that held key material when it goes out of scope, on every return path.
class WipeOnExit {
 public:
  WipeOnExit(void* data, size_t size) : data_(data), size_(size) {}
  explicit WipeOnExit(std::string& text) : WipeOnExit(text.data(), text.size()) {}
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;
  ~WipeOnExit() { OPENSSL_cleanse(data_, size_); }

 private:
  void* data_;
  size_t size_;
};

// Without a callback OpenSSL would prompt on the terminal for an encrypted key's passphrase,
// which would hang a daemon; duanka's keys are never encrypted.
int RefusePassphrase(char* /*buffer*/, int /*size*/, int /*rwflag*/, void* /*user*/) {
  return -1;
}

}  // namespace

std::string PrivateKeyPem(const SigningKey& key) {
  auto pkey = detail::ToEvpPrivateKey(key);
  if (!pkey.ok()) return {};
  // A secure-heap BIO is wiped when freed, so the PEM leaves no copy behind but the result.
  detail::BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey->get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    ERR_clear_error();
    return {};
  }
  return detail::MemoryBioContents(bio.get());
}

std::string PublicKeyPem(const PublicKey& key) {
  auto pkey = detail::ToEvpPublicKey(key);
  if (!pkey.ok()) return {};
  detail::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey->get()) != 1) {
    ERR_clear_error();
    return {};
  }
  return detail::MemoryBioContents(bio.get());
}

Result<SigningKey> ParsePrivateKeyPem(std::string_view pem) {
  if (pem.find(kEncryptedKeyLabel) != std::string_view::npos) {
    return MakeError(ErrorKind::kInvalidInput,
                     "encrypted private keys are not supported; write it unencrypted with "
                     "`openssl pkey -in KEY -out KEY.plain`");
  }
  detail::BioPtr bio = detail::ReadOnlyBio(pem, detail::kMaxPemFileSize);
  if (!bio) {
    return MakeError(
        ErrorKind::kInvalidInput,
        "private key PEM is larger than " + std::to_string(detail::kMaxPemFileSize) + " bytes");
  }
  ERR_clear_error();
  detail::EvpPkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, RefusePassphrase, nullptr));
  if (!pkey) {
    ERR_clear_error();  // "DECODER routines: unsupported" would tell an operator nothing
    return MakeError(ErrorKind::kInvalidInput,
                     "no private key found; expected a PEM \"BEGIN PRIVATE KEY\" block as "
                     "`openssl genpkey -algorithm ed25519` writes");
  }
  if (EVP_PKEY_is_a(pkey.get(), "ED25519") != 1) {
    const char* type = EVP_PKEY_get0_type_name(pkey.get());
    return MakeError(ErrorKind::kInvalidInput, std::string("private key is ") +
                                                   (type != nullptr ? type : "of another type") +
                                                   ", not Ed25519");
  }
  std::array<uint8_t, kSeedSize> seed{};
  WipeOnExit wipe_seed(seed.data(), seed.size());
  size_t length = seed.size();
  if (EVP_PKEY_get_raw_private_key(pkey.get(), seed.data(), &length) != 1 ||
      length != seed.size()) {
    return MakeError(ErrorKind::kInvalidInput,
                     detail::OpenSslError("Ed25519 private key has no 32-byte seed"));
  }
  return SigningKey::FromSeed(seed);
}

Result<SigningKey> LoadPrivateKey(const std::filesystem::path& path) {
  auto pem = base::ReadSecretFile(path, detail::kMaxPemFileSize);
  if (!pem.ok()) return std::move(pem).error();
  WipeOnExit wipe_pem(*pem);
  auto key = ParsePrivateKeyPem(*pem);
  if (!key.ok()) {
    return MakeError(key.error().kind, path.string() + ": " + key.error().message);
  }
  return key;
}

Status UsePrivateKeyFile(ssl_ctx_st* ctx, const std::filesystem::path& path) {
  auto pem = base::ReadSecretFile(path, detail::kMaxPemFileSize);
  if (!pem.ok()) return std::move(pem).error();
  WipeOnExit wipe_pem(*pem);
  if (pem->find(kEncryptedKeyLabel) != std::string::npos) {
    return MakeError(ErrorKind::kInvalidInput,
                     path.string() + ": encrypted private keys are not supported");
  }
  detail::BioPtr bio = detail::ReadOnlyBio(*pem, detail::kMaxPemFileSize);
  if (!bio) return detail::InternalError("cannot read a private key from memory");
  ERR_clear_error();
  detail::EvpPkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, RefusePassphrase, nullptr));
  if (!pkey) {
    return MakeError(
        ErrorKind::kInvalidInput,
        detail::OpenSslError(path.string() + ": no private key found; expected a PEM \"BEGIN "
                                             "PRIVATE KEY\" block"));
  }
  ERR_clear_error();
  if (SSL_CTX_use_PrivateKey(ctx, pkey.get()) != 1) {
    return MakeError(ErrorKind::kInvalidInput,
                     detail::OpenSslError("cannot use the key in " + path.string()));
  }
  return Ok();
}

Status SavePrivateKey(const std::filesystem::path& path, const SigningKey& key, bool overwrite) {
  std::string pem = PrivateKeyPem(key);
  if (pem.empty()) {
    return MakeError(ErrorKind::kInternal,
                     detail::OpenSslError("encoding an Ed25519 private key as PKCS#8 PEM"));
  }
  WipeOnExit wipe_pem(pem);
  return base::WriteFileAtomic(path, pem, kPrivateKeyFileMode, overwrite);
}

}  // namespace duanka::crypto
