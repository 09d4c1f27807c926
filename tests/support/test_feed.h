// Test institutions that sign real records with real keys, and the Trust that knows them: for
// tests of everything above protocol/ that need verified records without X.509 (the PKI is
// tested on its own in tests/crypto/pki_test.cpp).
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "protocol/record.h"

namespace duanka::testing {

inline constexpr int64_t kTestNow = 1'790'000'000;  // 2026-09
inline constexpr int64_t kYear = 365 * 24 * 3600;

// A valid profile body (names and an appeal contact), for tests that need one whatever it says.
inline protocol::ProfileBody SampleProfile() {
  protocol::ProfileBody p;
  p.legal_name_zh = "测试银行";
  p.legal_name_en = "Test Bank";
  p.appeal_web = "https://bank.example/appeal";
  return p;
}

class TestIssuer {
 public:
  explicit TestIssuer(std::string code, crypto::Role role = crypto::Role::kMember)
      : code_(std::move(code)), role_(role), key_(crypto::SigningKey::Generate()) {}

  const std::string& code() const { return code_; }
  crypto::Role role() const { return role_; }
  const crypto::SigningKey& key() const { return key_; }
  protocol::Signer signer() const {
    return protocol::Signer{code_, role_, key_.public_key(), kTestNow - 5 * kYear,
                            kTestNow + 5 * kYear};
  }
  uint64_t seq() const { return seq_; }
  const crypto::Hash256& head_hash() const { return prev_; }

  // The next record of this issuer's feed, signed; advances the feed.
  protocol::SignedRecord Entry(const crypto::Hash256& subject,
                               protocol::Category category = protocol::Category::kRentedOut,
                               int64_t expires_at = kTestNow + 2 * kYear,
                               int64_t issued_at = kTestNow - 60) {
    protocol::Record r = Base(issued_at);
    protocol::EntryBody e;
    e.subject = subject;
    e.id_type = protocol::IdType::kPhone;
    e.pepper_epoch = 1;
    e.category = category;
    e.basis = protocol::Basis::kPsbIdentified;
    e.expires_at = expires_at;
    e.case_ref = "case-" + std::to_string(r.seq);
    r.body = e;
    return SignAndAdvance(r);
  }

  protocol::SignedRecord Revoke(
      const protocol::EntryId& target,
      protocol::RevocationReason reason = protocol::RevocationReason::kAppealUpheld) {
    protocol::Record r = Base(kTestNow - 30);
    r.body = protocol::RevocationBody{target, reason};
    return SignAndAdvance(r);
  }

  // A profile record (the issuer's names and appeal contact); advances the feed.
  protocol::SignedRecord Profile(const protocol::ProfileBody& body,
                                 int64_t issued_at = kTestNow - 20) {
    protocol::Record r = Base(issued_at);
    r.body = body;
    return SignAndAdvance(r);
  }

  // A different record at a seq already issued (equivocation), not advancing the feed.
  protocol::SignedRecord Equivocate(uint64_t seq, const crypto::Hash256& prev,
                                    const crypto::Hash256& subject) {
    protocol::Record r = Base(kTestNow - 45);
    r.seq = seq;
    r.prev = prev;
    protocol::EntryBody e;
    e.subject = subject;
    e.id_type = protocol::IdType::kQq;
    e.pepper_epoch = 1;
    e.category = protocol::Category::kSold;
    e.basis = protocol::Basis::kInstitution;
    e.expires_at = kTestNow + kYear;
    r.body = e;
    return Sign(r);
  }

 private:
  protocol::Record Base(int64_t issued_at) const {
    protocol::Record r;
    r.issuer = code_;
    r.seq = seq_ + 1;
    r.prev = prev_;
    r.issued_at = issued_at;
    r.signer_key_id = protocol::KeyId(key_.public_key());
    return r;
  }
  protocol::SignedRecord Sign(const protocol::Record& r) const {
    Result<protocol::SignedRecord> s = protocol::SignRecord(r, key_);
    if (!s) throw std::runtime_error(s.error().message);
    return *s;
  }
  protocol::SignedRecord SignAndAdvance(const protocol::Record& r) {
    protocol::SignedRecord s = Sign(r);
    seq_ = r.seq;
    prev_ = protocol::RecordHash(s);
    return s;
  }

  std::string code_;
  crypto::Role role_;
  crypto::SigningKey key_;
  uint64_t seq_ = 0;
  crypto::Hash256 prev_;
};

inline crypto::Hash256 TestSubject(uint64_t n) {
  std::string s = "subject-" + std::to_string(n);
  return crypto::Sha256(crypto::AsBytes(s));
}

// Verifies one record with the trust of the given issuers, throwing on refusal (test set-up only).
inline protocol::VerifiedRecord MustVerify(const protocol::SignedRecord& s,
                                           const protocol::Trust& trust, int64_t now = kTestNow) {
  Result<protocol::VerifiedRecord> v = protocol::Verify(s, trust, protocol::VerifyOptions{now});
  if (!v) throw std::runtime_error(v.error().message);
  return std::move(v).value();
}

inline std::vector<protocol::VerifiedRecord> MustVerifyAll(
    const std::vector<protocol::SignedRecord>& records, const protocol::Trust& trust) {
  std::vector<protocol::VerifiedRecord> out;
  for (const auto& s : records) out.push_back(MustVerify(s, trust));
  return out;
}

}  // namespace duanka::testing
