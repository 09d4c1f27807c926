// Consortium notices' bytes and signatures (protocol/notice.h), and the rule that issue times rise
// along a feed (kIssueTimesRiseFrom) as VerifyChain applies it.
#include "protocol/notice.h"

#include <gtest/gtest.h>

#include "protocol/record.h"
#include "tests/support/test_feed.h"

namespace duanka::protocol {
namespace {

using duanka::testing::TestIssuer;
using duanka::testing::TestSubject;

constexpr int64_t kAfterRule = kIssueTimesRiseFrom + 1000;

Notice Withdrawal() {
  return Notice{"TESTNET", kAfterRule, "", KeyWithdrawal{"BANKA", "1F2E3D", kAfterRule - 60}};
}

TEST(NoticeTest, SignedNoticesRoundTripAndVerifyUnderTheSignersKey) {
  crypto::SigningKey key = crypto::SigningKey::Generate();
  for (const Notice& n : {Withdrawal(), Notice{"TESTNET", kAfterRule, "",
                                               ForkResolution{"BANKB", 7, TestSubject(3)}}}) {
    Result<SignedNotice> s = SignNotice(n, key);
    ASSERT_TRUE(s.ok()) << s.error().message;
    Result<std::pair<SignedNotice, Notice>> back = DecodeNoticeFile(EncodeNoticeFile(*s));
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->first.bytes, s->bytes);
    EXPECT_EQ(back->second.body, n.body);
    EXPECT_EQ(back->second.Subject(), n.Subject());
    EXPECT_TRUE(crypto::VerifySignature(key.public_key(), crypto::AsBytes(back->first.bytes),
                                        crypto::AsBytes(back->first.signature)));
  }
  EXPECT_EQ(Withdrawal().Subject(), "withdrawal:BANKA:1F2E3D");
}

TEST(NoticeTest, OutOfRangeFieldsAreRefusedByName) {
  crypto::SigningKey key = crypto::SigningKey::Generate();
  Notice n = Withdrawal();
  std::get<KeyWithdrawal>(n.body).since = n.issued_at + 1;
  Result<SignedNotice> later = SignNotice(n, key);
  ASSERT_FALSE(later.ok());
  EXPECT_NE(later.error().message.find("compromise time is after"), std::string::npos);
  n = Withdrawal();
  std::get<KeyWithdrawal>(n.body).certificate_serial = "1f2e";
  EXPECT_NE(SignNotice(n, key).error().message.find("serial"), std::string::npos);
  n = Withdrawal();
  std::get<KeyWithdrawal>(n.body).issuer = "bank a";
  EXPECT_NE(SignNotice(n, key).error().message.find("institution code"), std::string::npos);
  Notice r{"TESTNET", kAfterRule, "", ForkResolution{"BANKB", 0, TestSubject(3)}};
  EXPECT_NE(SignNotice(r, key).error().message.find("sequence number is 0"), std::string::npos);
}

protocol::GradingPolicy Policy(uint32_t version) {
  return GradingPolicy{
      version,
      {{"account-opening",
        {GradingRule{"strong", GradeTier::kDeny, 1, 1, Basis::kPsbIdentified, {}, 1826},
         GradingRule{"sold",
                     GradeTier::kReview,
                     2,
                     2,
                     Basis::kInstitution,
                     {Category::kSold, Category::kBought},
                     365}}},
       {"default", {GradingRule{"any", GradeTier::kWatch, 1, 1, Basis::kInstitution, {}, 0}}}}};
}

TEST(NoticeTest, APolicyRoundTripsUnderOneSubjectAndBadRulesAreRefusedByName) {
  crypto::SigningKey key = crypto::SigningKey::Generate();
  Notice n{"TESTNET", kAfterRule, "", Policy(3)};
  Result<SignedNotice> s = SignNotice(n, key);
  ASSERT_TRUE(s.ok()) << s.error().message;
  Result<std::pair<SignedNotice, Notice>> back = DecodeNoticeFile(EncodeNoticeFile(*s));
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_NE(back->second.policy(), nullptr);
  EXPECT_EQ(*back->second.policy(), Policy(3));
  EXPECT_EQ(back->second.Subject(), "policy");
  EXPECT_EQ(Notice({"TESTNET", kAfterRule, "", Policy(9)}).Subject(), "policy");
  EXPECT_TRUE(crypto::VerifySignature(key.public_key(), crypto::AsBytes(back->first.bytes),
                                      crypto::AsBytes(back->first.signature)));

  struct Bad {
    GradingPolicy policy;
    std::string says;
  };
  std::vector<Bad> bad;
  bad.push_back({Policy(0), "version is 0"});
  bad.push_back({Policy(1), "min_entries is 0"});
  bad.back().policy.purposes[0].rules[0].min_entries = 0;
  bad.push_back({Policy(1), "min_issuers is 0"});
  bad.back().policy.purposes[0].rules[1].min_issuers = 0;
  bad.push_back({Policy(1), "tier is not"});
  bad.back().policy.purposes[1].rules[0].tier = GradeTier::kNone;
  bad.push_back({Policy(1), "name is not"});
  bad.back().policy.purposes[1].rules[0].name = "Any Rule";
  bad.push_back({Policy(1), "two lists"});
  bad.back().policy.purposes[1].purpose = "account-opening";
  for (const Bad& b : bad) {
    Result<SignedNotice> refused = SignNotice(Notice{"TESTNET", kAfterRule, "", b.policy}, key);
    ASSERT_FALSE(refused.ok()) << b.says;
    EXPECT_EQ(refused.error().kind, ErrorKind::kInvalidInput);
    EXPECT_NE(refused.error().message.find(b.says), std::string::npos) << refused.error().message;
  }
}

// A policy within every per-field limit may still not fit in a notice: refused when signed,
// naming the size and what to cut, never signed and then refused by every node.
TEST(NoticeTest, APolicyTooLargeForANoticeIsRefusedNamingTheLimit) {
  crypto::SigningKey key = crypto::SigningKey::Generate();
  GradingPolicy big{1, {}};
  for (size_t p = 0; p < kMaxGradingPurposes; ++p) {
    PurposeRules pr{"purpose-" + std::to_string(p), {}};
    for (size_t r = 0; r < kMaxGradingRulesPerPurpose; ++r) {
      pr.rules.push_back(GradingRule{"rule-" + std::to_string(r),
                                     GradeTier::kDeny,
                                     1,
                                     1,
                                     Basis::kInstitution,
                                     {Category::kSold},
                                     365});
    }
    big.purposes.push_back(std::move(pr));
  }
  Result<SignedNotice> refused = SignNotice(Notice{"TESTNET", kAfterRule, "", big}, key);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kInvalidInput);
  EXPECT_NE(refused.error().message.find("more than the 8192 every node accepts; expected fewer "
                                         "rules"),
            std::string::npos)
      << refused.error().message;
}

TEST(NoticeTest, ForeignTruncatedAndAlteredBytesAreMalformed) {
  crypto::SigningKey key = crypto::SigningKey::Generate();
  std::string file = EncodeNoticeFile(*SignNotice(Withdrawal(), key));
  Result<std::pair<SignedNotice, Notice>> foreign = DecodeNoticeFile("duanka-bundle-1\nxxxx");
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.error().kind, ErrorKind::kMalformed);
  EXPECT_NE(foreign.error().message.find("not a duanka notice"), std::string::npos);
  for (size_t cut : {kNoticeFileMagic.size(), kNoticeFileMagic.size() + 8, file.size() - 8}) {
    Result<std::pair<SignedNotice, Notice>> truncated = DecodeNoticeFile(file.substr(0, cut));
    ASSERT_FALSE(truncated.ok()) << cut;
    EXPECT_EQ(truncated.error().kind, ErrorKind::kMalformed) << cut;
  }
  // Any single flipped bit either fails to decode or changes the bytes the signature covers.
  for (size_t i = kNoticeFileMagic.size(); i < file.size(); ++i) {
    std::string altered = file;
    altered[i] ^= 0x01;
    Result<std::pair<SignedNotice, Notice>> d = DecodeNoticeFile(altered);
    if (!d) continue;
    EXPECT_FALSE(crypto::VerifySignature(key.public_key(), crypto::AsBytes(d->first.bytes),
                                         crypto::AsBytes(d->first.signature)))
        << "bit flip at byte " << i << " left a valid signature";
  }
  EXPECT_FALSE(DecodeSignedNotice(std::string(kMaxNoticeBytes + 8, '\0')).ok());
}

class IssueTimeTest : public ::testing::Test {
 protected:
  IssueTimeTest() { trust_.Add(bank_.signer()); }
  Result<std::vector<VerifiedRecord>> Chain(std::vector<int64_t> times) {
    std::vector<SignedRecord> run;
    for (int64_t t : times)
      run.push_back(
          bank_.Entry(TestSubject(run.size()), Category::kSold, t + duanka::testing::kYear, t));
    return VerifyChain(run, trust_, VerifyOptions{times.back() + 60});
  }
  TestIssuer bank_{"BANKA"};
  Trust trust_;
};

TEST_F(IssueTimeTest, AfterTheRuleATimeBeforeTheRecordFollowedIsRefused) {
  Result<std::vector<VerifiedRecord>> falling = Chain({kAfterRule, kAfterRule - 1});
  ASSERT_FALSE(falling.ok());
  EXPECT_EQ(falling.error().kind, ErrorKind::kMalformed);
  EXPECT_NE(falling.error().message.find("is dated before BANKA:1"), std::string::npos)
      << falling.error().message;
}

TEST_F(IssueTimeTest, EqualTimesAndFeedsFromBeforeTheRuleKeepVerifying) {
  EXPECT_TRUE(Chain({kAfterRule, kAfterRule, kAfterRule + 5}).ok());
  // Written before the rule: a clock set back once does not make an old feed unverifiable.
  EXPECT_TRUE(Chain({kIssueTimesRiseFrom - 100, kIssueTimesRiseFrom - 200}).ok());
  EXPECT_TRUE(IssueTimeFollows(kIssueTimesRiseFrom - 1, 1));
  EXPECT_FALSE(IssueTimeFollows(kIssueTimesRiseFrom, kIssueTimesRiseFrom - 1));
}

}  // namespace
}  // namespace duanka::protocol
