// SHA-256, HMAC-SHA256 and hex. SHA-256 is on nettle rather than libsodium: nettle's fat build
// picks the CPU's SHA extensions at start (libsodium's SHA-256 is portable C), which more than
// doubles subject derivations per second; crypto_bench's BM_Hmac_* show the comparison.
#include <nettle/hmac.h>
#include <nettle/sha2.h>
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
  sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, data.size(), data.data());
  Hash256 out;
  sha256_digest(&ctx, out.bytes.size(), out.bytes.data());
  return out;
}

Hash256 Sha256(ByteView a, ByteView b) {
  sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, a.size(), a.data());
  sha256_update(&ctx, b.size(), b.data());
  Hash256 out;
  sha256_digest(&ctx, out.bytes.size(), out.bytes.data());
  return out;
}

Hash256 HmacSha256(ByteView key, ByteView message) {
  return HmacKey(key).Mac({message});
}

struct HmacKey::State {
  hmac_sha256_ctx prepared;
  ~State() { sodium_memzero(&prepared, sizeof prepared); }
};

// No sodium_init here: nettle needs none, and sodium_memzero none either. The lookup CLI derives
// subjects and nothing else of libsodium's, and sodium_init's CPU probes (cpuid traps to the
// hypervisor on a VM) were a measurable part of its start.
HmacKey::HmacKey(ByteView key) : state_(std::make_unique<State>()) {
  hmac_sha256_set_key(&state_->prepared, key.size(), key.data());
}
HmacKey::HmacKey(HmacKey&&) noexcept = default;
HmacKey& HmacKey::operator=(HmacKey&&) noexcept = default;
HmacKey::~HmacKey() = default;

Hash256 HmacKey::Mac(std::initializer_list<ByteView> parts) const {
  // Copying the prepared context skips re-hashing the padded key for every MAC; the copy is used
  // once, so Mac stays const and safe to call from many threads on one key.
  hmac_sha256_ctx ctx = state_->prepared;
  for (ByteView part : parts) hmac_sha256_update(&ctx, part.size(), part.data());
  Hash256 out;
  hmac_sha256_digest(&ctx, out.bytes.size(), out.bytes.data());
  sodium_memzero(&ctx, sizeof ctx);
  return out;
}

}  // namespace duanka::crypto
