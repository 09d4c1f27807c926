// duanka's record cryptography: Ed25519, SHA-256, HMAC-SHA256 subject keys and the pepper file.
//
// Everything here runs on libsodium and never touches OpenSSL, so the lookup CLI can link it
// statically and start in well under a millisecond. X.509, PEM and TLS live in crypto/pki.h.
//
// Secrets (signing keys, pepper keys, prepared HMAC states) are wiped when freed and cannot be
// copied by accident. All functions are safe to call from any thread; objects are immutable after
// construction unless a method says otherwise.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/base/base.h"

namespace duanka::crypto {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Calls sodium_init() once per process. Every function below that needs it calls it; main()
// may call it first so that the cost is not paid inside a measured path.
void EnsureInitialized();

// A 32-byte digest (SHA-256 or HMAC-SHA256). Ordered bytewise, as LMDB orders keys.
struct Hash256 {
  std::array<uint8_t, 32> bytes{};
  auto operator<=>(const Hash256&) const = default;
  std::string Hex() const;
  ByteView view() const { return bytes; }
};

std::string ToHex(ByteView bytes);
// Lowercase or uppercase hex, even length; nullopt on anything else.
std::optional<Bytes> FromHex(std::string_view hex);

Hash256 Sha256(ByteView data);
// SHA-256 of a ‖ b, without concatenating first.
Hash256 Sha256(ByteView a, ByteView b);

// ---- Institutions ----------------------------------------------------------------------------

// An institution's role in the consortium, carried as its certificates' OU. A replica is a
// further node of a member that follows the member's own node and serves lookups: it has a TLS
// certificate only, never a signing one, and no other member's node speaks to it.
enum class Role : uint8_t { kMember = 1, kRegulator = 2, kReplica = 3 };
const char* RoleName(Role role);  // "member", "regulator", "replica"
std::optional<Role> ParseRole(std::string_view name);

// Institution codes (base::IsValidInstitutionCode) are carried as certificates' CN.

// ---- Ed25519 -------------------------------------------------------------------------------

inline constexpr size_t kPublicKeySize = 32;
inline constexpr size_t kSignatureSize = 64;
inline constexpr size_t kSeedSize = 32;

struct PublicKey {
  std::array<uint8_t, kPublicKeySize> bytes{};
  auto operator<=>(const PublicKey&) const = default;
};

struct Signature {
  std::array<uint8_t, kSignatureSize> bytes{};
};

// An Ed25519 secret key. Move-only; wiped on destruction.
class SigningKey {
 public:
  static SigningKey Generate();
  // REQUIRES: seed.size() == kSeedSize, else kInvalidInput.
  static Result<SigningKey> FromSeed(ByteView seed);

  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;
  ~SigningKey();

  const PublicKey& public_key() const { return public_key_; }
  Signature Sign(ByteView message) const;
  // The 32-byte seed (RFC 8032 private key), for writing PKCS#8. Valid while *this lives.
  ByteView seed() const;

 private:
  SigningKey();
  std::array<uint8_t, 64> secret_{};  // libsodium's seed ‖ public key form
  PublicKey public_key_;
};

// Strict RFC 8032 verification (libsodium: canonical S, no small-order keys or R).
// A signature of any length other than kSignatureSize is simply invalid.
bool VerifySignature(const PublicKey& key, ByteView message, ByteView signature);

// ---- HMAC-SHA256 ---------------------------------------------------------------------------

Hash256 HmacSha256(ByteView key, ByteView message);

// An HMAC-SHA256 key with its inner and outer states prepared once, so that each MAC costs two
// compression calls for short messages. Move-only; wiped on destruction.
class HmacKey {
 public:
  explicit HmacKey(ByteView key);
  HmacKey(HmacKey&&) noexcept;
  HmacKey& operator=(HmacKey&&) noexcept;
  HmacKey(const HmacKey&) = delete;
  HmacKey& operator=(const HmacKey&) = delete;
  ~HmacKey();

  // MAC over the concatenation of the parts.
  Hash256 Mac(std::initializer_list<ByteView> parts) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// ---- Pepper: the consortium's subject-hashing keys ------------------------------------------

inline constexpr size_t kPepperKeySize = 32;

// The pepper file (format in protocol/README.md, "Pepper file"): one key per epoch, the newest
// epoch current. Holds prepared HmacKeys so that deriving a subject costs one HMAC.
class Pepper {
 public:
  // A new pepper with one random key at `epoch`.
  static Pepper Generate(uint32_t epoch);
  static Result<Pepper> Parse(std::string_view text);
  // kIo if unreadable (message names the path), kInvalidInput if malformed.
  static Result<Pepper> Load(const std::filesystem::path& path);

  std::string Serialize() const;
  // Writes mode 0600 atomically; refuses to replace an existing file unless overwrite.
  Status Save(const std::filesystem::path& path, bool overwrite) const;

  // Adds the next epoch (current + 1) with a fresh random key, for rotation, and returns it; 0
  // (nothing added) when the current epoch is already the last one a file can hold.
  uint32_t Rotate();
  // Drops an old epoch, once no active entry uses it. kInvalidInput for the current epoch (new
  // entries would silently go back to an older key) or one the pepper does not hold.
  Status Retire(uint32_t epoch);

  // Why this pepper cannot replace `older` as a rotation of it (nullopt when it can): it must hold
  // every epoch of `older` with the same key, and a newer current epoch. One line, never a key.
  std::optional<std::string> NotExtending(const Pepper& older) const;
  // The first epoch both hold under different keys: two different consortium peppers.
  std::optional<uint32_t> KeyConflict(const Pepper& other) const;

  uint32_t current_epoch() const { return current_; }
  std::vector<uint32_t> epochs() const;
  // nullptr if the epoch is unknown.
  const HmacKey* key(uint32_t epoch) const;

  // subject = HMAC-SHA256(pepper[epoch], type_tag ‖ 0x00 ‖ canonical). REQUIRES: key(epoch).
  Hash256 Subject(uint32_t epoch, std::string_view type_tag, std::string_view canonical) const;

 private:
  struct Epoch;
  Pepper() = default;
  Status Add(uint32_t epoch, ByteView key_bytes);
  std::map<uint32_t, std::shared_ptr<const Epoch>> epochs_;
  uint32_t current_ = 0;
};

}  // namespace duanka::crypto
