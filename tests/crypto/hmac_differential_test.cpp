// crypto/'s SHA-256 and HMAC-SHA256 (nettle, SHA-NI where the CPU has it) against libsodium's
// portable ones, which subjects were derived with before: any difference would silently change
// every subject, and a node could no longer match the listings of the others.
#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "crypto/crypto.h"

namespace duanka::crypto {
namespace {

// Keys past one 64-byte block (which HMAC hashes first) and messages of up to five
// blocks, so that every padding case and a key longer than the block are crossed.
constexpr size_t kMaxKey = 100;
constexpr size_t kMaxMessage = 300;
constexpr size_t kMaxParts = 3;
// About a second in a release build; each pair runs every function under test once.
constexpr int kRandomPairs = 100'000;
// Fixed so that a failure reproduces.
constexpr uint64_t kSeed = 0x5eed'15'2026;
// Key lengths at the block edges, each tried with every message length up to kMaxMessage.
constexpr std::array<size_t, 9> kEdgeKeyLengths = {0, 1, 31, 32, 55, 63, 64, 65, kMaxKey};
constexpr int kThreads = 4;
constexpr int kMacsPerThread = 2'000;

// libsodium declares its input pointers non-null, and an empty span's data() may be null (the
// sanitizer build reports the call): empty inputs get a valid pointer to no bytes.
const uint8_t* NonNull(ByteView bytes) {
  static constexpr uint8_t kNothing = 0;
  return bytes.data() != nullptr ? bytes.data() : &kNothing;
}

Hash256 SodiumHmac(ByteView key, ByteView message) {
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, NonNull(key), key.size());
  crypto_auth_hmacsha256_update(&state, NonNull(message), message.size());
  Hash256 out;
  crypto_auth_hmacsha256_final(&state, out.bytes.data());
  return out;
}

Hash256 SodiumSha256(ByteView message) {
  Hash256 out;
  crypto_hash_sha256(out.bytes.data(), NonNull(message), message.size());
  return out;
}

Bytes RandomBytes(std::mt19937_64& rng, size_t size) {
  Bytes out(size);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

// Cut points 0 <= a <= b <= size; unused cuts make empty parts, which must change nothing.
std::array<ByteView, kMaxParts> Split(std::mt19937_64& rng, const Bytes& message, size_t parts) {
  const size_t n = message.size();
  size_t a = parts >= 2 ? rng() % (n + 1) : n;
  size_t b = parts >= 3 ? rng() % (n + 1) : n;
  if (a > b) std::swap(a, b);
  const ByteView all(message);
  return {all.subspan(0, a), all.subspan(a, b - a), all.subspan(b)};
}

class HmacDifferential : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GE(sodium_init(), 0); }
};

TEST_F(HmacDifferential, RandomKeysAndSplitMessagesMatchLibsodium) {
  std::mt19937_64 rng(kSeed);
  for (int i = 0; i < kRandomPairs; ++i) {
    const Bytes key = RandomBytes(rng, rng() % (kMaxKey + 1));
    const Bytes message = RandomBytes(rng, rng() % (kMaxMessage + 1));
    const auto [p0, p1, p2] = Split(rng, message, 1 + rng() % kMaxParts);
    const Hash256 expected = SodiumHmac(key, message);

    const HmacKey prepared(key);
    ASSERT_EQ(prepared.Mac({p0, p1, p2}), expected)
        << "pair " << i << ": key " << key.size() << " B, parts " << p0.size() << "+" << p1.size()
        << "+" << p2.size() << " B";
    // A second MAC on the same key must start from the untouched prepared state.
    ASSERT_EQ(prepared.Mac({ByteView(message)}), expected) << "pair " << i << ", second MAC";
    ASSERT_EQ(HmacSha256(key, message), expected) << "pair " << i << ", one-off HMAC";

    const Hash256 digest = SodiumSha256(message);
    ASSERT_EQ(Sha256(message), digest) << "pair " << i << ": " << message.size() << " B";
    const ByteView all(message);
    const size_t cut = p0.size();
    ASSERT_EQ(Sha256(all.subspan(0, cut), all.subspan(cut)), digest)
        << "pair " << i << ": two-part hash cut at " << cut << " of " << message.size() << " B";
  }
}

TEST_F(HmacDifferential, EveryMessageLengthAtEdgeKeyLengthsMatchesLibsodium) {
  std::mt19937_64 rng(kSeed + 1);
  for (size_t key_size : kEdgeKeyLengths) {
    const Bytes key = RandomBytes(rng, key_size);
    const HmacKey prepared(key);
    for (size_t size = 0; size <= kMaxMessage; ++size) {
      const Bytes message = RandomBytes(rng, size);
      ASSERT_EQ(prepared.Mac({ByteView(message)}), SodiumHmac(key, message))
          << "key " << key_size << " B, message " << size << " B";
      ASSERT_EQ(Sha256(message), SodiumSha256(message)) << "message " << size << " B";
    }
  }
}

TEST_F(HmacDifferential, KnownAnswerForEmptyInputs) {
  // FIPS 180-4 / RFC 4231-style fixed points, independent of both libraries.
  EXPECT_EQ(Sha256({}).Hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HmacSha256({}, {}).Hex(),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST_F(HmacDifferential, OneKeySharedByThreadsGivesTheSameMacs) {
  std::mt19937_64 rng(kSeed + 2);
  const Bytes key = RandomBytes(rng, 32);
  const HmacKey prepared(key);
  std::vector<Bytes> messages;
  std::vector<Hash256> expected;
  for (int i = 0; i < kMacsPerThread; ++i) {
    messages.push_back(RandomBytes(rng, rng() % (kMaxMessage + 1)));
    expected.push_back(SodiumHmac(key, messages.back()));
  }
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kMacsPerThread; ++i) {
        // Each thread walks the messages from a different start, so that MACs overlap in time.
        const int m = (i + t * kMacsPerThread / kThreads) % kMacsPerThread;
        if (prepared.Mac({ByteView(messages[m])}) != expected[m]) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace duanka::crypto
