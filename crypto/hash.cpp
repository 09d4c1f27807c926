// SHA-256, HMAC-SHA256 and hex on libsodium.
#include <sodium.h>

#include "crypto/crypto.h"

namespace duanka::crypto {

void EnsureInitialized() {
  // sodium_init() is itself idempotent and thread-safe; the static only skips its lock.
  static const bool initialized = [] { return sodium_init() >= 0; }();
  if (!initialized) std::abort();  // no randomness source: nothing safe can run
}

std::string Hash256::Hex() const {
  return ToHex(bytes);
}

std::string ToHex(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

std::optional<Bytes> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

Hash256 Sha256(ByteView data) {
  Hash256 out;
  crypto_hash_sha256(out.bytes.data(), data.data(), data.size());
  return out;
}

Hash256 Sha256(ByteView a, ByteView b) {
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  crypto_hash_sha256_update(&state, a.data(), a.size());
  crypto_hash_sha256_update(&state, b.data(), b.size());
  Hash256 out;
  crypto_hash_sha256_final(&state, out.bytes.data());
  return out;
}

Hash256 HmacSha256(ByteView key, ByteView message) {
  return HmacKey(key).Mac({message});
}

struct HmacKey::State {
  crypto_auth_hmacsha256_state prepared;
  ~State() { sodium_memzero(&prepared, sizeof prepared); }
};

HmacKey::HmacKey(ByteView key) : state_(std::make_unique<State>()) {
  EnsureInitialized();
  crypto_auth_hmacsha256_init(&state_->prepared, key.data(), key.size());
}
HmacKey::HmacKey(HmacKey&&) noexcept = default;
HmacKey& HmacKey::operator=(HmacKey&&) noexcept = default;
HmacKey::~HmacKey() = default;

Hash256 HmacKey::Mac(std::initializer_list<ByteView> parts) const {
  // Copying the prepared state skips re-hashing the padded key for every MAC.
  crypto_auth_hmacsha256_state state = state_->prepared;
  for (ByteView part : parts) crypto_auth_hmacsha256_update(&state, part.data(), part.size());
  Hash256 out;
  crypto_auth_hmacsha256_final(&state, out.bytes.data());
  sodium_memzero(&state, sizeof state);
  return out;
}

}  // namespace duanka::crypto
