// Speed of duanka's record cryptography, printed beside the raw libraries it stands on.
//
// Figures only, no assertions (design.md section 8: speed is shown by benchmarks, never by timed
// tests). The aims these figures are read against:
//   - Ed25519 verify through crypto/ within 5% of raw libsodium (the wrapper must cost nothing),
//     and libsodium ahead of OpenSSL 3 (the reason record crypto is on libsodium);
//   - a subject derivation (canonical form + keyed HMAC) at >= 3,000,000/s on one core, so that a
//     batch lookup at 700,000 lines/s spends no more than about a quarter of its time there;
//   - VerifyChain over a contiguous feed far faster per record than Verify of each record, which
//     is what makes catch-up at >= 150,000 records/s possible.
// Every benchmark reports items/s, where an item is one signature, one derivation or one record.
#include <benchmark/benchmark.h>
#include <cpuid.h>
#include <immintrin.h>
#include <nettle/hmac.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "crypto/crypto.h"
#include "protocol/identifier.h"
#include "protocol/record.h"

namespace duanka {
namespace {

using crypto::AsBytes;
using protocol::IdType;

// Pools of identifiers are cycled through so that branch predictors and caches see varied input,
// as a batch lookup would; a power of two keeps the index a mask.
constexpr size_t kPoolSize = 4096;
static_assert((kPoolSize & (kPoolSize - 1)) == 0, "kPoolSize must be a power of two");
// Catch-up fetches feeds in batches; 1,000 records is the batch size the chain benchmark models.
constexpr int kFeedLength = 1000;
constexpr uint32_t kEpoch = 1;
// Fixed so that every run signs and verifies the same bytes.
constexpr uint64_t kRandomSeed = 20240601;
constexpr std::array<uint8_t, crypto::kSeedSize> kKeySeed = {
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};
constexpr int64_t kNow = 1'790'000'000;  // 2026-09
constexpr int64_t kYear = 365 * 24 * 3600;
constexpr std::string_view kIssuer = "BANKA";

struct EvpPkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct EvpMdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct EvpMacFree {
  void operator()(EVP_MAC* p) const { EVP_MAC_free(p); }
};
struct EvpMacCtxFree {
  void operator()(EVP_MAC_CTX* p) const { EVP_MAC_CTX_free(p); }
};

// A resident identity number with a valid ISO 7064 MOD 11-2 check character and a real birth date.
std::string MakeCnId(std::mt19937_64& rng) {
  // Real county codes (Beijing Dongcheng, Shanghai Huangpu, Shenzhen Futian, Chengdu Jinjiang …).
  static constexpr std::array<std::string_view, 6> kRegions = {"110101", "310101", "440304",
                                                               "510104", "420102", "330106"};
  static constexpr std::array<int, 17> kWeights = {7, 9, 10, 5,  8, 4, 2, 1, 6,
                                                   3, 7, 9,  10, 5, 8, 4, 2};
  static constexpr std::string_view kCheck = "10X98765432";
  char digits[18];
  std::snprintf(digits, sizeof digits, "%s%04d%02d%02d%03d",
                kRegions[rng() % kRegions.size()].data(), static_cast<int>(1950 + rng() % 55),
                static_cast<int>(1 + rng() % 12), static_cast<int>(1 + rng() % 28),
                static_cast<int>(rng() % 1000));
  std::string id(digits, 17);
  int sum = 0;
  for (size_t i = 0; i < kWeights.size(); ++i) sum += (id[i] - '0') * kWeights[i];
  id.push_back(kCheck[sum % 11]);
  return id;
}

// A mainland mobile number in one of the shapes people type: "+86 138-0013-8000",
// "0086 13800138000", "138 0013 8000".
std::string MakePhone(std::mt19937_64& rng) {
  char national[12];
  std::snprintf(national, sizeof national, "1%d%09llu", static_cast<int>(3 + rng() % 7),
                static_cast<unsigned long long>(rng() % 1'000'000'000));
  const std::string n(national, 11);
  switch (rng() % 3) {
    case 0:
      return "+86 " + n.substr(0, 3) + "-" + n.substr(3, 4) + "-" + n.substr(7);
    case 1:
      return "0086 " + n;
    default:
      return n.substr(0, 3) + " " + n.substr(3, 4) + " " + n.substr(7);
  }
}

protocol::Record MakeEntry(const crypto::SigningKey& key, uint64_t seq,
                           const crypto::Hash256& prev) {
  protocol::Record r;
  r.issuer = kIssuer;
  r.seq = seq;
  r.prev = prev;
  r.issued_at = kNow - 3600;
  r.signer_key_id = protocol::KeyId(key.public_key());
  protocol::EntryBody e;
  e.subject = crypto::Sha256(AsBytes(std::to_string(seq)));
  e.id_type = IdType::kPhone;
  e.pepper_epoch = kEpoch;
  e.category = protocol::Category::kRentedOut;
  e.basis = protocol::Basis::kPsbIdentified;
  e.expires_at = r.issued_at + 2 * kYear;
  e.case_ref = "(2024)京0105刑初123号";  // a typical decision number: the record's usual size
  r.body = e;
  return r;
}

// Everything the benchmarks share, built once before any timing starts.
struct Fixture {
  crypto::SigningKey key = crypto::SigningKey::FromSeed(kKeySeed).value();
  std::string message;  // one real record's bytes, the message every signature here covers
  crypto::Signature signature;
  crypto::Pepper pepper = crypto::Pepper::Generate(kEpoch);
  std::vector<std::string> phones, cn_ids, cn_ids_canonical;
  protocol::Trust trust;
  protocol::VerifyOptions options{.now = kNow};
  std::vector<protocol::SignedRecord> feed;  // kFeedLength records of one issuer, chained
  bool ok = true;

  Fixture() {
    crypto::EnsureInitialized();
    std::mt19937_64 rng(kRandomSeed);
    for (size_t i = 0; i < kPoolSize; ++i) {
      phones.push_back(MakePhone(rng));
      cn_ids.push_back(MakeCnId(rng));
      Result<std::string> phone = protocol::Canonicalize(IdType::kPhone, phones.back());
      Result<std::string> cn_id = protocol::Canonicalize(IdType::kCnId, cn_ids.back());
      if (!phone || !cn_id) ok = false;
      cn_ids_canonical.push_back(cn_id ? *cn_id : "");
    }
    trust.Add(protocol::Signer{std::string(kIssuer), crypto::Role::kMember, key.public_key(),
                               kNow - kYear, kNow + kYear});
    crypto::Hash256 prev;
    for (int seq = 1; seq <= kFeedLength; ++seq) {
      Result<protocol::SignedRecord> s = protocol::SignRecord(MakeEntry(key, seq, prev), key);
      if (!s) {
        ok = false;
        break;
      }
      prev = protocol::RecordHash(*s);
      feed.push_back(std::move(*s));
    }
    if (!feed.empty()) message = feed.front().bytes;
    signature = key.Sign(AsBytes(message));
  }
};

const Fixture& F() {
  static const Fixture fixture;
  return fixture;
}

// Skips the benchmark (printing why) if the shared inputs could not be built.
bool Ready(benchmark::State& state) {
  if (!F().ok) state.SkipWithError("fixture failed: an input did not canonicalize or sign");
  return F().ok;
}

// As Ready, and shows the size of the signed message beside the figures.
bool ReadyToSign(benchmark::State& state) {
  state.counters["msg_bytes"] = static_cast<double>(F().message.size());
  return Ready(state);
}

// ---- Ed25519: our wrapper beside raw libsodium and raw OpenSSL 3 ----------------------------

void BM_Ed25519Sign_Duanka(benchmark::State& state) {
  if (!ReadyToSign(state)) return;
  const auto& f = F();
  for (auto _ : state) benchmark::DoNotOptimize(f.key.Sign(AsBytes(f.message)));
  state.SetItemsProcessed(state.iterations());
}

void BM_Ed25519Sign_Libsodium(benchmark::State& state) {
  if (!ReadyToSign(state)) return;
  const auto& f = F();
  std::array<uint8_t, crypto_sign_PUBLICKEYBYTES> pk;
  std::array<uint8_t, crypto_sign_SECRETKEYBYTES> sk;
  crypto_sign_seed_keypair(pk.data(), sk.data(), kKeySeed.data());
  std::array<uint8_t, crypto_sign_BYTES> sig;
  const auto* msg = reinterpret_cast<const uint8_t*>(f.message.data());
  for (auto _ : state) {
    crypto_sign_detached(sig.data(), nullptr, msg, f.message.size(), sk.data());
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Ed25519Sign_OpenSSL(benchmark::State& state) {
  if (!ReadyToSign(state)) return;
  const auto& f = F();
  std::unique_ptr<EVP_PKEY, EvpPkeyFree> pkey(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, kKeySeed.data(), kKeySeed.size()));
  std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree> ctx(EVP_MD_CTX_new());
  if (!pkey || !ctx) return state.SkipWithError("OpenSSL: no Ed25519 key");
  std::array<uint8_t, 64> sig;
  const auto* msg = reinterpret_cast<const uint8_t*>(f.message.data());
  // Ed25519 is one-shot in OpenSSL: each EVP_DigestSign needs a fresh Init, but the context
  // itself is reused, as a careful caller would.
  for (auto _ : state) {
    size_t sig_len = sig.size();
    if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1 ||
        EVP_DigestSign(ctx.get(), sig.data(), &sig_len, msg, f.message.size()) != 1) {
      return state.SkipWithError("OpenSSL: EVP_DigestSign failed");
    }
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Ed25519Verify_Duanka(benchmark::State& state) {
  if (!ReadyToSign(state)) return;
  const auto& f = F();
  const crypto::PublicKey& pk = f.key.public_key();
  for (auto _ : state) {
    if (!crypto::VerifySignature(pk, AsBytes(f.message), f.signature.bytes)) {
      return state.SkipWithError("signature did not verify");
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Ed25519Verify_Libsodium(benchmark::State& state) {
  if (!ReadyToSign(state)) return;
  const auto& f = F();
  const uint8_t* pk = f.key.public_key().bytes.data();
  const auto* msg = reinterpret_cast<const uint8_t*>(f.message.data());
  for (auto _ : state) {
    if (crypto_sign_verify_detached(f.signature.bytes.data(), msg, f.message.size(), pk) != 0) {
      return state.SkipWithError("signature did not verify");
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Ed25519Verify_OpenSSL(benchmark::State& state) {
  if (!ReadyToSign(state)) return;
  const auto& f = F();
  const crypto::PublicKey& public_key = f.key.public_key();
  std::unique_ptr<EVP_PKEY, EvpPkeyFree> pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, public_key.bytes.data(), public_key.bytes.size()));
  std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree> ctx(EVP_MD_CTX_new());
  if (!pkey || !ctx) return state.SkipWithError("OpenSSL: no Ed25519 key");
  const auto* msg = reinterpret_cast<const uint8_t*>(f.message.data());
  for (auto _ : state) {
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1 ||
        EVP_DigestVerify(ctx.get(), f.signature.bytes.data(), f.signature.bytes.size(), msg,
                         f.message.size()) != 1) {
      return state.SkipWithError("OpenSSL: signature did not verify");
    }
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_Ed25519Sign_Duanka);
BENCHMARK(BM_Ed25519Sign_Libsodium);
BENCHMARK(BM_Ed25519Sign_OpenSSL);
BENCHMARK(BM_Ed25519Verify_Duanka);
BENCHMARK(BM_Ed25519Verify_Libsodium);
BENCHMARK(BM_Ed25519Verify_OpenSSL);

// ---- Subjects: canonical form, keyed hash, and both together ---------------------------------

// The lookup path per identifier: raw text -> canonical form -> HMAC under the current epoch.
void DeriveSubjects(benchmark::State& state, IdType type, const std::vector<std::string>& pool) {
  if (!Ready(state)) return;
  const auto& f = F();
  const std::string_view tag = protocol::IdTypeName(type);
  size_t i = 0;
  for (auto _ : state) {
    Result<std::string> canonical = protocol::Canonicalize(type, pool[i++ & (kPoolSize - 1)]);
    if (!canonical) return state.SkipWithError("input did not canonicalize");
    benchmark::DoNotOptimize(f.pepper.Subject(kEpoch, tag, *canonical));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Subject_Phone(benchmark::State& state) {
  DeriveSubjects(state, IdType::kPhone, F().phones);
}
void BM_Subject_CnId(benchmark::State& state) {
  DeriveSubjects(state, IdType::kCnId, F().cn_ids);
}

void Canonicalize(benchmark::State& state, IdType type, const std::vector<std::string>& pool) {
  if (!Ready(state)) return;
  size_t i = 0;
  for (auto _ : state) {
    Result<std::string> canonical = protocol::Canonicalize(type, pool[i++ & (kPoolSize - 1)]);
    if (!canonical) return state.SkipWithError("input did not canonicalize");
    benchmark::DoNotOptimize(canonical->data());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Canonicalize_Phone(benchmark::State& state) {
  Canonicalize(state, IdType::kPhone, F().phones);
}
void BM_Canonicalize_CnId(benchmark::State& state) {
  Canonicalize(state, IdType::kCnId, F().cn_ids);
}

// HMAC alone over already-canonical cn-ids: the prepared HmacKey, then Pepper::Subject (which
// adds the epoch lookup).
void BM_Hmac_PreparedKey(benchmark::State& state) {
  if (!Ready(state)) return;
  const auto& f = F();
  const crypto::HmacKey* key = f.pepper.key(kEpoch);
  static constexpr uint8_t kSeparator = 0;
  const crypto::ByteView tag = AsBytes(protocol::IdTypeName(IdType::kCnId));
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(key->Mac({tag, crypto::ByteView(&kSeparator, 1),
                                       AsBytes(f.cn_ids_canonical[i++ & (kPoolSize - 1)])}));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Hmac_PepperSubject(benchmark::State& state) {
  if (!Ready(state)) return;
  const auto& f = F();
  const std::string_view tag = protocol::IdTypeName(IdType::kCnId);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        f.pepper.Subject(kEpoch, tag, f.cn_ids_canonical[i++ & (kPoolSize - 1)]));
  }
  state.SetItemsProcessed(state.iterations());
}

// The same MAC on raw libsodium (prepared state copied per MAC, as HmacKey did before nettle) and
// on raw OpenSSL 3 (one EVP_MAC_CTX keyed once and re-initialised per MAC, which restores the
// prepared state). OpenSSL uses the CPU's SHA extensions where present; libsodium's SHA-256 is
// portable C.
void BM_Hmac_Libsodium(benchmark::State& state) {
  if (!Ready(state)) return;
  const auto& f = F();
  crypto_auth_hmacsha256_state prepared;
  crypto_auth_hmacsha256_init(&prepared, kKeySeed.data(), kKeySeed.size());
  static constexpr uint8_t kSeparator = 0;
  const std::string_view tag = protocol::IdTypeName(IdType::kCnId);
  std::array<uint8_t, crypto_auth_hmacsha256_BYTES> out;
  size_t i = 0;
  for (auto _ : state) {
    const std::string& canonical = f.cn_ids_canonical[i++ & (kPoolSize - 1)];
    crypto_auth_hmacsha256_state s = prepared;
    crypto_auth_hmacsha256_update(&s, reinterpret_cast<const uint8_t*>(tag.data()), tag.size());
    crypto_auth_hmacsha256_update(&s, &kSeparator, 1);
    crypto_auth_hmacsha256_update(&s, reinterpret_cast<const uint8_t*>(canonical.data()),
                                  canonical.size());
    crypto_auth_hmacsha256_final(&s, out.data());
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Hmac_OpenSSL(benchmark::State& state) {
  if (!Ready(state)) return;
  const auto& f = F();
  std::unique_ptr<EVP_MAC, EvpMacFree> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) return state.SkipWithError("OpenSSL: no HMAC");
  std::unique_ptr<EVP_MAC_CTX, EvpMacCtxFree> ctx(EVP_MAC_CTX_new(mac.get()));
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  if (!ctx || EVP_MAC_init(ctx.get(), kKeySeed.data(), kKeySeed.size(), params) != 1) {
    return state.SkipWithError("OpenSSL: HMAC init failed");
  }
  static constexpr uint8_t kSeparator = 0;
  const std::string_view tag = protocol::IdTypeName(IdType::kCnId);
  std::array<uint8_t, 32> out;
  size_t i = 0;
  for (auto _ : state) {
    const std::string& canonical = f.cn_ids_canonical[i++ & (kPoolSize - 1)];
    size_t out_len = 0;
    if (EVP_MAC_init(ctx.get(), nullptr, 0, nullptr) != 1 ||
        EVP_MAC_update(ctx.get(), reinterpret_cast<const uint8_t*>(tag.data()), tag.size()) != 1 ||
        EVP_MAC_update(ctx.get(), &kSeparator, 1) != 1 ||
        EVP_MAC_update(ctx.get(), reinterpret_cast<const uint8_t*>(canonical.data()),
                       canonical.size()) != 1 ||
        EVP_MAC_final(ctx.get(), out.data(), &out_len, out.size()) != 1) {
      return state.SkipWithError("OpenSSL: HMAC failed");
    }
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}

// nettle (the fat build picks SHA-NI at start): one context keyed once, copied per MAC.
void BM_Hmac_Nettle(benchmark::State& state) {
  if (!Ready(state)) return;
  const auto& f = F();
  hmac_sha256_ctx prepared;
  hmac_sha256_set_key(&prepared, kKeySeed.size(), kKeySeed.data());
  static constexpr uint8_t kSeparator = 0;
  const std::string_view tag = protocol::IdTypeName(IdType::kCnId);
  std::array<uint8_t, SHA256_DIGEST_SIZE> out;
  size_t i = 0;
  for (auto _ : state) {
    const std::string& canonical = f.cn_ids_canonical[i++ & (kPoolSize - 1)];
    hmac_sha256_ctx ctx = prepared;
    hmac_sha256_update(&ctx, tag.size(), reinterpret_cast<const uint8_t*>(tag.data()));
    hmac_sha256_update(&ctx, 1, &kSeparator);
    hmac_sha256_update(&ctx, canonical.size(), reinterpret_cast<const uint8_t*>(canonical.data()));
    hmac_sha256_digest(&ctx, out.size(), out.data());
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_Subject_Phone);
BENCHMARK(BM_Subject_CnId);
BENCHMARK(BM_Canonicalize_Phone);
BENCHMARK(BM_Canonicalize_CnId);
BENCHMARK(BM_Hmac_PreparedKey);
BENCHMARK(BM_Hmac_PepperSubject);
BENCHMARK(BM_Hmac_Libsodium);
BENCHMARK(BM_Hmac_OpenSSL);
BENCHMARK(BM_Hmac_Nettle);

// ---- A floor for the keyed hash: HMAC-SHA256 on the CPU's SHA extensions ---------------------
//
// Not product code: a measured lower bound for what crypto/ could reach on this machine. Both
// libsodium (portable C) and OpenSSL (SHA-NI, but EVP dispatch per call) leave most of the time
// on the table for a one-block message such as "cn-id\0" + 18 characters. With the inner and
// outer pads hashed once, one MAC is exactly two compressions.

bool CpuHasShaExtensions() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return false;
  constexpr unsigned kShaBit = 1u << 29;  // CPUID.(EAX=7,ECX=0):EBX.SHA[bit 29]
  unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
  if (__get_cpuid(1, &a1, &b1, &c1, &d1) == 0) return false;
  constexpr unsigned kSse41Bit = 1u << 19;  // CPUID.1:ECX.SSE4_1[bit 19]
  return (b & kShaBit) != 0 && (c1 & kSse41Bit) != 0;
}

alignas(16) constexpr std::array<uint32_t, 64> kSha256K = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
constexpr std::array<uint32_t, 8> kSha256Iv = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

// One SHA-256 compression of a 64-byte block into `state` (a..h), with the SHA-NI instructions.
__attribute__((target("sha,sse4.1"))) void Sha256CompressShaNi(std::array<uint32_t, 8>& state,
                                                               const uint8_t* block) {
  const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i cdab =
      _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(&state[0])), 0xB1);
  __m128i efgh =
      _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(&state[4])), 0x1B);
  __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
  __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
  const __m128i abef_in = abef, cdgh_in = cdgh;
  __m128i w[4];
  for (int i = 0; i < 4; ++i) {
    w[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16 * i)),
                            byte_swap);
  }
  for (int i = 0; i < 16; ++i) {
    __m128i msg =
        _mm_add_epi32(w[i & 3], _mm_load_si128(reinterpret_cast<const __m128i*>(&kSha256K[4 * i])));
    cdgh = _mm_sha256rnds2_epu32(cdgh, abef, msg);
    abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(msg, 0x0E));
    if (i < 12) {  // schedule words 4i+16 .. 4i+19 from the four groups before them
      __m128i next = _mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]);
      next = _mm_add_epi32(next, _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4));
      w[i & 3] = _mm_sha256msg2_epu32(next, w[(i + 3) & 3]);
    }
  }
  abef = _mm_add_epi32(abef, abef_in);
  cdgh = _mm_add_epi32(cdgh, cdgh_in);
  const __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  const __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(&state[0]), _mm_blend_epi16(feba, dchg, 0xF0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(&state[4]), _mm_alignr_epi8(dchg, feba, 8));
}

// HMAC-SHA256 with both pads pre-hashed. Messages of at most kMaxOneBlock bytes only (they and
// their padding fit in one block), which covers every subject input but long e-mail addresses.
class ShaNiHmac {
 public:
  static constexpr size_t kMaxOneBlock = 55;

  explicit ShaNiHmac(crypto::ByteView key) {  // REQUIRES: key.size() <= 64
    std::array<uint8_t, 64> ipad{}, opad{};
    std::memcpy(ipad.data(), key.data(), key.size());
    opad = ipad;
    for (auto& b : ipad) b ^= 0x36;
    for (auto& b : opad) b ^= 0x5c;
    inner_ = outer_ = kSha256Iv;
    Sha256CompressShaNi(inner_, ipad.data());
    Sha256CompressShaNi(outer_, opad.data());
  }

  // REQUIRES: message.size() <= kMaxOneBlock.
  std::array<uint8_t, 32> Mac(crypto::ByteView message) const {
    std::array<uint8_t, 64> block{};
    std::memcpy(block.data(), message.data(), message.size());
    Pad(block, message.size());
    std::array<uint32_t, 8> h = inner_;
    Sha256CompressShaNi(h, block.data());
    block = {};
    for (int i = 0; i < 8; ++i) StoreBigEndian(&block[4 * i], h[i]);
    Pad(block, 32);
    h = outer_;
    Sha256CompressShaNi(h, block.data());
    std::array<uint8_t, 32> out;
    for (int i = 0; i < 8; ++i) StoreBigEndian(&out[4 * i], h[i]);
    return out;
  }

 private:
  static void StoreBigEndian(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
  }
  // The final block of a message that follows one 64-byte pad block.
  static void Pad(std::array<uint8_t, 64>& block, size_t len) {
    block[len] = 0x80;
    const uint32_t bits = static_cast<uint32_t>((64 + len) * 8);
    StoreBigEndian(&block[60], bits);
  }
  std::array<uint32_t, 8> inner_, outer_;
};

void BM_Hmac_ShaNiFloor(benchmark::State& state) {
  if (!Ready(state)) return;
  if (!CpuHasShaExtensions()) return state.SkipWithError("this CPU has no SHA extensions");
  const auto& f = F();
  const ShaNiHmac hmac(kKeySeed);
  // Messages prepared as Pepper::Subject would hash them: type tag, 0, canonical form.
  std::vector<std::string> messages;
  for (const std::string& c : f.cn_ids_canonical) {
    messages.push_back(std::string(protocol::IdTypeName(IdType::kCnId)) + '\0' + c);
    if (messages.back().size() > ShaNiHmac::kMaxOneBlock) {
      return state.SkipWithError("a message does not fit one block");
    }
  }
  // The floor is only worth printing if it computes the same MAC as libsodium.
  const crypto::Hash256 expected = crypto::HmacSha256(kKeySeed, AsBytes(messages[0]));
  if (hmac.Mac(AsBytes(messages[0])) != expected.bytes) {
    return state.SkipWithError("SHA-NI HMAC disagrees with libsodium");
  }
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(hmac.Mac(AsBytes(messages[i++ & (kPoolSize - 1)])));
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_Hmac_ShaNiFloor);

// ---- Records: one at a time, and a chained batch ---------------------------------------------

void BM_Record_Decode(benchmark::State& state) {
  if (!Ready(state)) return;
  const auto& f = F();
  size_t i = 0;
  for (auto _ : state) {
    Result<protocol::Record> r = protocol::DecodeRecord(f.feed[i++ % f.feed.size()].bytes);
    if (!r) return state.SkipWithError("record did not decode");
    benchmark::DoNotOptimize(r->seq);
  }
  state.SetItemsProcessed(state.iterations());
}

// What a profile scan pays for each stored record that is no profile (node/common/profile.cpp).
void BM_Record_IsProfile(benchmark::State& state) {
  if (!Ready(state)) return;
  const auto& f = F();
  size_t i = 0;
  for (auto _ : state) {
    const bool profile = protocol::IsProfileRecord(f.feed[i++ % f.feed.size()].bytes);
    if (profile) return state.SkipWithError("an entry read as a profile");
    benchmark::DoNotOptimize(profile);
  }
  state.SetItemsProcessed(state.iterations());
}

// Decode, range checks, signer lookup, one Ed25519 verify and the record hash, per record.
void BM_Record_Verify(benchmark::State& state) {
  if (!Ready(state)) return;
  const auto& f = F();
  size_t i = 0;
  for (auto _ : state) {
    Result<protocol::VerifiedRecord> v =
        protocol::Verify(f.feed[i++ % f.feed.size()], f.trust, f.options);
    if (!v) return state.SkipWithError(v.error().message.c_str());
    benchmark::DoNotOptimize(v->hash());
  }
  state.SetItemsProcessed(state.iterations());
}

// The whole feed in one call: the same per-record checks and hash links, but only the newest
// record's signature is verified.
void BM_Record_VerifyChain1000(benchmark::State& state) {
  if (!Ready(state)) return;
  const auto& f = F();
  for (auto _ : state) {
    Result<std::vector<protocol::VerifiedRecord>> v =
        protocol::VerifyChain(f.feed, f.trust, f.options);
    if (!v) return state.SkipWithError(v.error().message.c_str());
    benchmark::DoNotOptimize(v->back().hash());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(f.feed.size()));
}

// The store's packed form of a record (protocol::PackRecordBytes), each way; the mean packed size
// beside the canonical one.
void BM_Record_Pack(benchmark::State& state) {
  if (!Ready(state)) return;
  const auto& f = F();
  size_t i = 0, packed = 0, canonical = 0;
  for (auto _ : state) {
    const std::string& bytes = f.feed[i++ % f.feed.size()].bytes;
    std::string p = protocol::PackRecordBytes(bytes);
    packed += p.size();
    canonical += bytes.size();
    benchmark::DoNotOptimize(p.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["canonical_B"] = static_cast<double>(canonical) / static_cast<double>(i);
  state.counters["packed_B"] = static_cast<double>(packed) / static_cast<double>(i);
}

void BM_Record_Unpack(benchmark::State& state) {
  if (!Ready(state)) return;
  const auto& f = F();
  std::vector<std::string> packed;
  for (const protocol::SignedRecord& r : f.feed)
    packed.push_back(protocol::PackRecordBytes(r.bytes));
  size_t i = 0;
  for (auto _ : state) {
    std::optional<std::string> bytes = protocol::UnpackRecordBytes(packed[i++ % packed.size()]);
    if (!bytes) return state.SkipWithError("a packed record did not unpack");
    benchmark::DoNotOptimize(bytes->data());
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_Record_Decode);
BENCHMARK(BM_Record_IsProfile);
BENCHMARK(BM_Record_Pack);
BENCHMARK(BM_Record_Unpack);
BENCHMARK(BM_Record_Verify);
BENCHMARK(BM_Record_VerifyChain1000);

}  // namespace
}  // namespace duanka

BENCHMARK_MAIN();
