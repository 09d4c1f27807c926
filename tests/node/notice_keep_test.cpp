// node::KeepNotice's order of notices about one subject, on a real store with real signatures:
// a later issue time wins, and of one issue time the greater SignedNotice bytes, whichever
// arrives first, so that two nodes never keep different notices in force.
#include <gtest/gtest.h>

#include "node/common/consortium_objects.h"
#include "node/common/risk.h"
#include "protocol/record.h"
#include "tests/support/temp_dir.h"

namespace duanka::node {
namespace {

constexpr int64_t kIssued = 1'790'000'000;

class NoticeKeepTest : public ::testing::Test {
 protected:
  // A fresh store per call: each order of arrival starts from nothing held.
  std::unique_ptr<store::Store> OpenStore() {
    store::Options o;
    o.path = dir_ / ("store-" + std::to_string(++stores_));
    Result<std::unique_ptr<store::Store>> s = store::Store::Open(o);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return s.ok() ? std::move(*s) : nullptr;
  }

  // A withdrawal of BANKA's certificate 1F; `since` tells two notices of one second apart.
  VerifiedNotice Withdrawal(int64_t issued_at, int64_t since) {
    protocol::Notice n{"TESTNET", issued_at, "", protocol::KeyWithdrawal{"BANKA", "1F", since}};
    Result<protocol::SignedNotice> s = protocol::SignNotice(n, ca_key_);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return VerifiedNotice{*s, n, "the consortium CA"};
  }

  static std::string Bytes(const VerifiedNotice& n) {
    return protocol::EncodeSignedNotice(n.signed_notice);
  }

  static std::string Held(const store::Store& s, const VerifiedNotice& about) {
    Result<std::optional<std::string>> held =
        s.GetObject(std::string(kNoticeObjectPrefix) + about.notice.Subject());
    EXPECT_TRUE(held.ok());
    return held.ok() && *held ? **held : "";
  }

  duanka::testing::TempDir dir_;
  int stores_ = 0;
  crypto::SigningKey ca_key_ = crypto::SigningKey::Generate();
};

TEST_F(NoticeKeepTest, OfOneIssueTimeTheGreaterBytesWinInEitherOrder) {
  const VerifiedNotice a = Withdrawal(kIssued, kIssued - 100);
  const VerifiedNotice b = Withdrawal(kIssued, kIssued - 200);
  ASSERT_EQ(a.notice.Subject(), b.notice.Subject());
  ASSERT_NE(Bytes(a), Bytes(b));
  const VerifiedNotice& winner = Bytes(a) > Bytes(b) ? a : b;
  const VerifiedNotice& loser = Bytes(a) > Bytes(b) ? b : a;

  // Loser first: the winner replaces it.
  std::unique_ptr<store::Store> one = OpenStore();
  ASSERT_TRUE(one);
  ASSERT_EQ(KeepNotice(*one, loser).value(), true);
  Result<bool> replaced = KeepNotice(*one, winner);
  ASSERT_TRUE(replaced.ok()) << replaced.error().message;
  EXPECT_TRUE(*replaced);
  EXPECT_EQ(Held(*one, a), Bytes(winner));

  // Winner first: the loser is refused, as older would be.
  std::unique_ptr<store::Store> two = OpenStore();
  ASSERT_TRUE(two);
  ASSERT_EQ(KeepNotice(*two, winner).value(), true);
  Result<bool> refused = KeepNotice(*two, loser);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kConflict);
  EXPECT_EQ(Held(*two, a), Bytes(winner));

  // Each node sends its own back on a conflict: both now hold the same, and neither moves.
  EXPECT_EQ(KeepNotice(*one, loser).error().kind, ErrorKind::kConflict);
  EXPECT_EQ(KeepNotice(*two, winner).value(), false);
}

TEST_F(NoticeKeepTest, ALaterNoticeWinsAnOlderIsRefusedTheSameIsNoChange) {
  const VerifiedNotice older = Withdrawal(kIssued, kIssued - 100);
  const VerifiedNotice later = Withdrawal(kIssued + 1, kIssued - 300);
  std::unique_ptr<store::Store> s = OpenStore();
  ASSERT_TRUE(s);
  ASSERT_EQ(KeepNotice(*s, older).value(), true);
  EXPECT_EQ(KeepNotice(*s, older).value(), false);
  ASSERT_EQ(KeepNotice(*s, later).value(), true);
  EXPECT_EQ(Held(*s, later), Bytes(later));
  Result<bool> refused = KeepNotice(*s, older);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kConflict);
  EXPECT_NE(refused.error().message.find("not newer"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(Held(*s, later), Bytes(later));
  EXPECT_EQ(KeepNotice(*s, later).value(), false);
}

// Grading policies are ordered by version, not issue time: a policy 1 signed later than a policy
// 2 (a regulator's clock, or a replayed file) never replaces it. Lookups read the one kept.
TEST_F(NoticeKeepTest, APolicyOfAHigherVersionWinsWhateverItsTime) {
  const auto policy = [&](uint32_t version, int64_t issued_at) {
    protocol::GradingPolicy p{version,
                              {{"default",
                                {protocol::GradingRule{"v" + std::to_string(version),
                                                       protocol::GradeTier::kDeny,
                                                       1,
                                                       1,
                                                       protocol::Basis::kInstitution,
                                                       {},
                                                       0}}}}};
    protocol::Notice n{"TESTNET", issued_at, "", p};
    Result<protocol::SignedNotice> s = protocol::SignNotice(n, ca_key_);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return VerifiedNotice{*s, n, "regulator PBOC"};
  };
  const VerifiedNotice v1 = policy(1, kIssued + 50);
  const VerifiedNotice v2 = policy(2, kIssued);
  std::unique_ptr<store::Store> s = OpenStore();
  ASSERT_TRUE(s);
  EXPECT_EQ(HeldPolicy(*s).value().version, 0u);  // the built-in default
  ASSERT_EQ(KeepNotice(*s, v1).value(), true);
  EXPECT_EQ(HeldPolicy(*s).value().version, 1u);
  ASSERT_EQ(KeepNotice(*s, v2).value(), true);
  Result<bool> refused = KeepNotice(*s, v1);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kConflict);
  EXPECT_NE(refused.error().message.find("grading policy version 1 is older than version 2"),
            std::string::npos)
      << refused.error().message;
  Result<GradingPolicy> held = HeldPolicy(*s);
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(held->version, 2u);
  EXPECT_EQ(held->purposes[0].rules[0].name, "v2");
  PolicyCache cache(*s);
  EXPECT_EQ(cache.Get().value()->version, 2u);
}

// A policy of version held + kMaxPolicyVersionStep is kept; one past it is refused, also as the
// first policy (held version 0): one signature of version 4294967295 must not fix the policy for
// good.
TEST_F(NoticeKeepTest, APolicyVersionMayNotJumpPastTheStep) {
  const auto policy = [&](uint32_t version) {
    protocol::GradingPolicy p{
        version,
        {{"default",
          {protocol::GradingRule{
              "r", protocol::GradeTier::kDeny, 1, 1, protocol::Basis::kInstitution, {}, 0}}}}};
    protocol::Notice n{"TESTNET", kIssued, "", p};
    Result<protocol::SignedNotice> s = protocol::SignNotice(n, ca_key_);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return VerifiedNotice{*s, n, "regulator PBOC"};
  };
  std::unique_ptr<store::Store> s = OpenStore();
  ASSERT_TRUE(s);
  for (uint32_t version : {protocol::kMaxPolicyVersionStep + 1, uint32_t{4'294'967'295}}) {
    Result<bool> refused = KeepNotice(*s, policy(version));
    ASSERT_FALSE(refused.ok()) << version;
    EXPECT_EQ(refused.error().kind, ErrorKind::kConflict);
    EXPECT_NE(refused.error().message.find("by more than 1000"), std::string::npos)
        << refused.error().message;
  }
  EXPECT_EQ(HeldPolicy(*s).value().version, 0u);
  ASSERT_EQ(KeepNotice(*s, policy(protocol::kMaxPolicyVersionStep)).value(), true);
  EXPECT_FALSE(KeepNotice(*s, policy(2 * protocol::kMaxPolicyVersionStep + 1)).ok());
  ASSERT_EQ(KeepNotice(*s, policy(2 * protocol::kMaxPolicyVersionStep)).value(), true);
  EXPECT_EQ(HeldPolicy(*s).value().version, 2 * protocol::kMaxPolicyVersionStep);
}

// A regulator's notice signed with a key withdrawn since before it is the thief's: refused,
// whatever it is about. One signed before the compromise time is kept.
TEST_F(NoticeKeepTest, ANoticeSignedWithAWithdrawnRegulatorKeyIsRefused) {
  duanka::testing::TempDir ca;
  ASSERT_TRUE(crypto::CreateCa(ca.path() / "ca", crypto::CaOptions{"TESTNET"}).ok());
  const crypto::SigningKey regulator_key = crypto::SigningKey::Generate();
  crypto::IssueOptions o;
  o.institution = "PBOC";
  o.role = crypto::Role::kRegulator;
  o.subject_key = regulator_key.public_key();
  Result<std::string> pem = crypto::IssueCertificate(ca.path() / "ca", o);
  ASSERT_TRUE(pem.ok()) << pem.error().message;
  Result<std::vector<std::string>> der = crypto::PemCertificatesToDer(*pem);
  ASSERT_TRUE(der.ok() && der->size() == 1u);
  const auto release = [&](int64_t issued_at) {
    protocol::Notice n{"TESTNET", issued_at, der->front(), protocol::HoldRelease{"BANKA", 20'000}};
    Result<protocol::SignedNotice> s = protocol::SignNotice(n, regulator_key);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return VerifiedNotice{*s, n, "regulator PBOC"};
  };
  std::unique_ptr<store::Store> s = OpenStore();
  ASSERT_TRUE(s);
  const int64_t since = kIssued;
  ASSERT_TRUE(
      s->WithdrawKey(protocol::KeyId(regulator_key.public_key()), "PBOC", since, kIssued).ok());
  Result<bool> refused = KeepNotice(*s, release(since));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kUnauthorized);
  EXPECT_NE(refused.error().message.find("signed by PBOC with a key withdrawn since"),
            std::string::npos)
      << refused.error().message;
  EXPECT_EQ(Held(*s, release(since)), "");
  EXPECT_EQ(KeepNotice(*s, release(since - 1)).value(), true);
}

}  // namespace
}  // namespace duanka::node
