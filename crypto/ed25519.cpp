// Ed25519 on libsodium.
#include <sodium.h>

#include <cstring>

#include "crypto/crypto.h"

namespace duanka::crypto {

static_assert(crypto_sign_PUBLICKEYBYTES == kPublicKeySize);
static_assert(crypto_sign_BYTES == kSignatureSize);
static_assert(crypto_sign_SEEDBYTES == kSeedSize);
static_assert(crypto_sign_SECRETKEYBYTES == 64);

SigningKey::SigningKey() = default;

SigningKey SigningKey::Generate() {
  EnsureInitialized();
  SigningKey key;
  crypto_sign_keypair(key.public_key_.bytes.data(), key.secret_.data());
  return key;
}

Result<SigningKey> SigningKey::FromSeed(ByteView seed) {
  if (seed.size() != kSeedSize) {
    return MakeError(ErrorKind::kInvalidInput, "Ed25519 seed must be 32 bytes");
  }
  EnsureInitialized();
  SigningKey key;
  crypto_sign_seed_keypair(key.public_key_.bytes.data(), key.secret_.data(), seed.data());
  return key;
}

SigningKey::SigningKey(SigningKey&& other) noexcept
    : secret_(other.secret_), public_key_(other.public_key_) {
  sodium_memzero(other.secret_.data(), other.secret_.size());
}

SigningKey& SigningKey::operator=(SigningKey&& other) noexcept {
  if (this != &other) {
    secret_ = other.secret_;
    public_key_ = other.public_key_;
    sodium_memzero(other.secret_.data(), other.secret_.size());
  }
  return *this;
}

SigningKey::~SigningKey() {
  sodium_memzero(secret_.data(), secret_.size());
}

Signature SigningKey::Sign(ByteView message) const {
  Signature sig;
  crypto_sign_detached(sig.bytes.data(), nullptr, message.data(), message.size(), secret_.data());
  return sig;
}

ByteView SigningKey::seed() const {
  return ByteView(secret_.data(), kSeedSize);
}

bool VerifySignature(const PublicKey& key, ByteView message, ByteView signature) {
  if (signature.size() != kSignatureSize) return false;
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     key.bytes.data()) == 0;
}

}  // namespace duanka::crypto
