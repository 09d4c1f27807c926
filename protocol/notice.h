// Consortium notices (design section 9): what the consortium's authority says about members'
// keys and feeds, signed by the CA's key or a regulator's signing key. This header knows their
// bytes and signatures; which signer is entitled to which notice, and the certificate checks,
// are the node's (node/common/consortium_objects.h), since only it links the PKI.
// Format in protocol/README.md section 6.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "crypto/crypto.h"
#include "protocol/record.h"

namespace duanka::protocol {

using crypto::Hash256;

inline constexpr uint16_t kNoticeVersion = 1;
// A notice is a few hundred bytes plus at most one signing certificate (< 2 KiB).
inline constexpr size_t kMaxNoticeBytes = 8 << 10;
// A notice file: this line, then the SignedNotice's Cap'n Proto bytes.
inline constexpr std::string_view kNoticeFileMagic = "duanka-notice-1\n";
// The peer protocol's object name for a notice (one object per notice).
inline constexpr std::string_view kNoticeObjectName = "notice";

struct KeyWithdrawal {
  std::string issuer;
  std::string certificate_serial;  // uppercase hex
  int64_t since = 0;               // compromise time, Unix seconds
  bool operator==(const KeyWithdrawal&) const = default;
};

struct ForkResolution {
  std::string issuer;
  uint64_t seq = 0;
  Hash256 keep;
  bool operator==(const ForkResolution&) const = default;
};

// The flood guard's hold on an issuer's entries of one day (store::DayOf), released.
struct HoldRelease {
  std::string issuer;
  uint32_t day = 0;
  bool operator==(const HoldRelease&) const = default;
};

// A grading policy (design section 9; node/common/risk.h grades with it). Tiers in order of
// severity; a rule's tier is never kNone.
enum class GradeTier : uint8_t { kNone = 0, kWatch = 1, kReview = 2, kDeny = 3 };
inline constexpr size_t kMaxGradingPurposes = 16;
inline constexpr size_t kMaxGradingRulesPerPurpose = 32;
inline constexpr size_t kMaxGradingNameChars = 32;
// Fifty years: a window longer than any listing lives.
inline constexpr uint32_t kMaxGradingWithinDays = 18'300;
// How far one policy's version may pass the one it replaces (or 0, when none is held). Versions
// order policies whatever their signing times; without a bound, one signature of version
// 4294967295 (a typo, or a stolen regulator key) would fix the policy for good.
inline constexpr uint32_t kMaxPolicyVersionStep = 1000;

struct GradingRule {
  std::string name;  // [a-z0-9-]{1,32}
  GradeTier tier = GradeTier::kWatch;
  uint32_t min_entries = 1;
  uint32_t min_issuers = 1;
  Basis min_basis = Basis::kInstitution;
  std::vector<Category> categories;  // empty: any
  uint32_t within_days = 0;          // 0: any age
  bool operator==(const GradingRule&) const = default;
};

struct PurposeRules {
  std::string purpose;  // a lookup purpose's name or "default" ([a-z0-9-]{1,32})
  std::vector<GradingRule> rules;
  bool operator==(const PurposeRules&) const = default;
};

struct GradingPolicy {
  uint32_t version = 0;  // signed ones >= 1; 0 is the built-in default
  std::vector<PurposeRules> purposes;
  bool operator==(const GradingPolicy&) const = default;
};

// Range checks shared by the notice and the node's own files: names, tiers, counts >= 1, at most
// kMaxGradingPurposes purposes of at most kMaxGradingRulesPerPurpose rules, no purpose twice.
// kInvalidInput naming the purpose and rule at fault. Purpose names are the node's to check.
Status CheckGradingPolicy(const GradingPolicy& policy);

struct Notice {
  std::string consortium;
  int64_t issued_at = 0;
  std::string signer_certificate;  // DER; empty when the CA's own key signs
  std::variant<KeyWithdrawal, ForkResolution, HoldRelease, GradingPolicy> body;

  const KeyWithdrawal* withdrawal() const { return std::get_if<KeyWithdrawal>(&body); }
  const ForkResolution* resolution() const { return std::get_if<ForkResolution>(&body); }
  const HoldRelease* release() const { return std::get_if<HoldRelease>(&body); }
  const GradingPolicy* policy() const { return std::get_if<GradingPolicy>(&body); }
  // What the notice is about: notices with one subject replace each other, the newest winning.
  // "withdrawal:BANKA:1F2E…", "resolution:BANKA:7" (a feed that forks twice gets two),
  // "release:BANKA:20428" (one per released day), "policy" (one in force; the highest version).
  std::string Subject() const;
};

struct SignedNotice {
  std::string bytes;      // canonical Cap'n Proto encoding of a Notice
  std::string signature;  // Ed25519 over `bytes`
};

// Range-checks, encodes canonically and signs. kInvalidInput names the field out of range.
Result<SignedNotice> SignNotice(const Notice& notice, const crypto::SigningKey& key);

// Decodes a SignedNotice (as carried in an `objects` message) and its Notice, range-checked, the
// signature not checked. kMalformed names what is wrong.
Result<std::pair<SignedNotice, Notice>> DecodeSignedNotice(std::string_view bytes);
std::string EncodeSignedNotice(const SignedNotice& notice);

// The notice file: kNoticeFileMagic then EncodeSignedNotice. DecodeNoticeFile refuses a file
// without the magic line with kMalformed ("not a duanka notice").
std::string EncodeNoticeFile(const SignedNotice& notice);
Result<std::pair<SignedNotice, Notice>> DecodeNoticeFile(std::string_view bytes);

}  // namespace duanka::protocol
