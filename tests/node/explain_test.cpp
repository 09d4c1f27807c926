// What to tell the person (issue 16, section 3): the notice's words for every category and basis,
// in both languages, with and without the issuer's profile; and the issuers' profiles as read from
// a real store's feeds (issue 16, section 2): the newest wins, a grown feed is read again.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "node/common/audit.h"
#include "node/common/explain.h"
#include "node/common/human_time.h"
#include "node/common/profile.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_feed.h"

namespace duanka::node {
namespace {

using duanka::testing::kTestNow;
using duanka::testing::kYear;
using protocol::Basis;
using protocol::Category;

constexpr int64_t kIssued = kTestNow - 30 * 24 * 3600;
constexpr int64_t kExpires = kTestNow + kYear;

const Category kCategories[] = {Category::kRentedOut, Category::kLent,   Category::kSold,
                                Category::kBought,    Category::kBroker, Category::kImpersonation,
                                Category::kFraudUse};
const Basis kBases[] = {Basis::kPsbIdentified, Basis::kConvicted, Basis::kInstitution};

protocol::ProfileBody BankAProfile() {
  return protocol::ProfileBody{"示例银行股份有限公司",           "Example Bank Co., Ltd.",
                               protocol::InstitutionKind::kBank, "+86 10 9555 8888",
                               "北京市西城区金融大街1号",        "https://bank.example/appeal"};
}

store::Listing ListingOf(const std::string& issuer, uint64_t seq, Category c, Basis b,
                         store::EntryState state = store::EntryState::kActive) {
  store::Listing l;
  l.id = protocol::EntryId{issuer, seq};
  l.id_type = protocol::IdType::kPhone;
  l.category = c;
  l.basis = b;
  l.issued_at = kIssued;
  l.expires_at = kExpires;
  l.state = state;
  return l;
}

bool Has(const std::string& text, std::string_view what) {
  return text.find(what) != std::string::npos;
}

TEST(ExplainWords, EveryCategoryAndBasisHasItsOwnPlainWordsInBothLanguages) {
  for (Language lang : {Language::kZh, Language::kEn}) {
    std::set<std::string_view> seen;
    for (Category c : kCategories) {
      std::string_view w = CategoryPlain(c, lang);
      EXPECT_GT(w.size(), 8u) << protocol::CategoryName(c);
      EXPECT_TRUE(seen.insert(w).second) << "two categories read alike: " << w;
      // Plain words, not the code an operator types.
      EXPECT_FALSE(Has(std::string(w), protocol::CategoryName(c))) << w;
    }
    for (Basis b : kBases) {
      std::string_view w = BasisPlain(b, lang);
      EXPECT_GT(w.size(), 8u) << protocol::BasisName(b);
      EXPECT_TRUE(seen.insert(w).second) << "two bases read alike: " << w;
    }
  }
  EXPECT_TRUE(Has(std::string(BasisPlain(Basis::kPsbIdentified, Language::kZh)), "公安机关"));
  EXPECT_TRUE(Has(std::string(BasisPlain(Basis::kConvicted, Language::kEn)), "court"));
  EXPECT_TRUE(Has(std::string(CategoryPlain(Category::kSold, Language::kEn)), "selling"));
}

TEST(ExplainNotice, SaysWhoWhatOnWhichBasisUntilWhenAndWhereToAppealForEachCombination) {
  const IssuerProfiles profiles = {{"BANKA", {{"BANKA", 9}, kIssued, BankAProfile()}}};
  for (Category c : kCategories) {
    for (Basis b : kBases) {
      SCOPED_TRACE(std::string(protocol::CategoryName(c)) + " / " +
                   std::string(protocol::BasisName(b)));
      const store::Listing l = ListingOf("BANKA", 4, c, b);
      const std::string zh = NoticeText(l, profiles, Language::kZh);
      const std::string en = NoticeText(l, profiles, Language::kEn);
      EXPECT_TRUE(Has(zh, CategoryPlain(c, Language::kZh))) << zh;
      EXPECT_TRUE(Has(zh, BasisPlain(b, Language::kZh))) << zh;
      EXPECT_TRUE(Has(en, CategoryPlain(c, Language::kEn))) << en;
      EXPECT_TRUE(Has(en, BasisPlain(b, Language::kEn))) << en;
      for (const std::string& text : {zh, en}) {
        EXPECT_TRUE(Has(text, "BANKA:4")) << text;
        EXPECT_TRUE(Has(text, HumanDate(kIssued))) << text;
        EXPECT_TRUE(Has(text, HumanDate(kExpires))) << text;
        EXPECT_TRUE(Has(text, "+86 10 9555 8888")) << text;
        EXPECT_TRUE(Has(text, "北京市西城区金融大街1号")) << text;
        EXPECT_TRUE(Has(text, "https://bank.example/appeal")) << text;
        EXPECT_EQ(text.find('\n'), std::string::npos) << "one notice, one line: " << text;
      }
      EXPECT_TRUE(Has(zh, "示例银行股份有限公司")) << zh;
      EXPECT_TRUE(Has(zh, "中国标准时间")) << zh;
      EXPECT_TRUE(Has(en, "Example Bank Co., Ltd.")) << en;
      EXPECT_TRUE(Has(en, "China Standard Time")) << en;
    }
  }
}

TEST(ExplainNotice, AnIssuerWithoutAProfileIsNamedByItsCodeAndItsContactIsNotPublished) {
  const store::Listing l = ListingOf("BANKB", 2, Category::kLent, Basis::kInstitution);
  const std::string zh = NoticeText(l, {}, Language::kZh);
  const std::string en = NoticeText(l, {}, Language::kEn);
  EXPECT_TRUE(Has(zh, "BANKB")) << zh;
  EXPECT_TRUE(Has(zh, kNotPublishedZh)) << zh;
  EXPECT_TRUE(Has(en, "BANKB")) << en;
  EXPECT_TRUE(Has(en, kNotPublishedEn)) << en;
}

TEST(ExplainNotice, AProfileWithoutSomeContactSaysThatOneIsNotPublished) {
  protocol::ProfileBody p = BankAProfile();
  p.appeal_address.clear();
  const IssuerProfiles profiles = {{"BANKA", {{"BANKA", 1}, kIssued, p}}};
  const store::Listing l = ListingOf("BANKA", 3, Category::kSold, Basis::kConvicted);
  EXPECT_TRUE(Has(NoticeText(l, profiles, Language::kEn), "address: not published"));
  EXPECT_TRUE(Has(NoticeText(l, profiles, Language::kZh), "地址：未公布"));
  LookupAnswer answer;
  answer.type = protocol::IdType::kPhone;
  answer.listings = {l};
  answer.profiles = profiles;
  nlohmann::json j = nlohmann::json::parse(ExplainJson(answer, kTestNow));
  const nlohmann::json& appeal = j["notices"][0]["appeal"];
  EXPECT_TRUE(appeal["published"].get<bool>());
  EXPECT_TRUE(appeal["address"].is_null());
  EXPECT_EQ(appeal["web"], "https://bank.example/appeal");
}

TEST(Explain, ListsOnlyActiveEntriesAndAgreesInTextAndJson) {
  LookupAnswer answer;
  answer.type = protocol::IdType::kPhone;
  answer.listings = {
      ListingOf("BANKA", 4, Category::kRentedOut, Basis::kPsbIdentified),
      ListingOf("BANKB", 7, Category::kFraudUse, Basis::kConvicted),
      ListingOf("BANKC", 2, Category::kSold, Basis::kInstitution, store::EntryState::kRevoked),
      ListingOf("BANKC", 5, Category::kBought, Basis::kInstitution, store::EntryState::kHeld),
  };
  answer.profiles = {{"BANKA", {{"BANKA", 9}, kIssued, BankAProfile()}}};
  nlohmann::json j = nlohmann::json::parse(ExplainJson(answer, kTestNow));
  EXPECT_TRUE(j["listed"].get<bool>());
  EXPECT_EQ(j["type"], "phone");
  ASSERT_EQ(j["notices"].size(), 2u) << j.dump();
  EXPECT_EQ(j["notices"][0]["issuer"], "BANKA");
  EXPECT_EQ(j["notices"][0]["issuer_name"]["zh"], "示例银行股份有限公司");
  EXPECT_EQ(j["notices"][0]["category"]["code"], "rented-out");
  EXPECT_EQ(j["notices"][0]["basis"]["code"], "psb-identified");
  EXPECT_EQ(j["notices"][0]["since"], IsoTime(kIssued));
  EXPECT_EQ(j["notices"][0]["until"], IsoTime(kExpires));
  EXPECT_TRUE(j["notices"][1]["issuer_name"].is_null());
  EXPECT_FALSE(j["notices"][1]["appeal"]["published"].get<bool>());
  const std::string zh = j["text_zh"], en = j["text_en"];
  EXPECT_EQ(zh, ExplainText(answer, kTestNow, Language::kZh));
  EXPECT_EQ(en, ExplainText(answer, kTestNow, Language::kEn));
  EXPECT_TRUE(Has(en, "2 active entries")) << en;
  EXPECT_TRUE(Has(zh, "2 条有效记录")) << zh;
  EXPECT_FALSE(Has(en, "BANKC")) << "a revoked or held entry is no listing: " << en;
  EXPECT_EQ(j["notices"][0]["text_en"],
            NoticeText(answer.listings[0], answer.profiles, Language::kEn));
}

TEST(Explain, NotListedSaysSoInBothLanguages) {
  LookupAnswer answer;
  answer.type = protocol::IdType::kCnId;
  answer.listings = {
      ListingOf("BANKA", 1, Category::kSold, Basis::kInstitution, store::EntryState::kExpired)};
  nlohmann::json j = nlohmann::json::parse(ExplainJson(answer, kTestNow));
  EXPECT_FALSE(j["listed"].get<bool>());
  EXPECT_TRUE(j["notices"].empty());
  EXPECT_TRUE(Has(j["text_en"], "no active entry")) << j.dump();
  EXPECT_TRUE(Has(j["text_zh"], "没有")) << j.dump();
  EXPECT_TRUE(Has(j["text_en"], HumanDate(kTestNow))) << j.dump();
}

// ---- Profiles read from a real store ----

class ProfileReaderTest : public ::testing::Test {
 protected:
  ProfileReaderTest() {
    trust_.Add(bank_a_.signer());
    trust_.Add(bank_b_.signer());
    store::Options o;
    o.path = dir_.path() / "store";
    Result<std::unique_ptr<store::Store>> s = store::Store::Open(o);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    if (s.ok()) store_ = std::move(*s);
  }

  void Append(const std::vector<protocol::SignedRecord>& records) {
    std::vector<protocol::VerifiedRecord> v = duanka::testing::MustVerifyAll(records, trust_);
    Result<store::AppendResult> r = store_->Append(v, kTestNow);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  duanka::testing::TempDir dir_;
  duanka::testing::TestIssuer bank_a_{"BANKA"};
  duanka::testing::TestIssuer bank_b_{"BANKB"};
  protocol::Trust trust_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(ProfileReaderTest, TheNewestProfileWinsAndAGrownFeedIsReadAgain) {
  ASSERT_NE(store_, nullptr);
  const ProfileReader reader(*store_);
  std::vector<protocol::SignedRecord> feed;
  for (uint64_t i = 0; i < 3; ++i) feed.push_back(bank_a_.Entry(duanka::testing::TestSubject(i)));
  Append(feed);
  Result<std::optional<IssuerProfile>> none = reader.Latest("BANKA");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value()) << "no profile published yet";

  protocol::ProfileBody first = BankAProfile();
  first.legal_name_en = "Old Name Bank";
  feed = {bank_a_.Profile(first)};
  // More than one scan chunk of entries after it: the scan must cross chunks.
  for (uint64_t i = 0; i < kProfileScanChunk + 5; ++i) {
    feed.push_back(bank_a_.Entry(duanka::testing::TestSubject(100 + i)));
  }
  Append(feed);
  Result<std::optional<IssuerProfile>> p = reader.Latest("BANKA");
  ASSERT_TRUE(p.ok() && p->has_value());
  EXPECT_EQ((*p)->body.legal_name_en, "Old Name Bank");
  EXPECT_EQ((*p)->id, (protocol::EntryId{"BANKA", 4}));

  Append({bank_a_.Profile(BankAProfile()), bank_a_.Entry(duanka::testing::TestSubject(999))});
  p = reader.Latest("BANKA");
  ASSERT_TRUE(p.ok() && p->has_value());
  EXPECT_EQ((*p)->body.legal_name_en, "Example Bank Co., Ltd.") << "the newest profile wins";
  EXPECT_EQ((*p)->id.seq, bank_a_.seq() - 1);

  // A fresh reader (another process) reads the same.
  Result<IssuerProfiles> all = ProfileReader(*store_).ForIssuers({"BANKA", "BANKB", "BANKA"});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(IssuerLabel("BANKA", *all), "BANKA (示例银行股份有限公司 / Example Bank Co., Ltd.)");
  EXPECT_EQ(IssuerLabel("BANKB", *all), "BANKB");
}

TEST_F(ProfileReaderTest, AFreshReaderStartsFromTheSavedScanUnlessItsHeadWasReplaced) {
  ASSERT_NE(store_, nullptr);
  protocol::ProfileBody old_profile = BankAProfile();
  old_profile.legal_name_en = "Old Name Bank";
  Append({bank_a_.Profile(old_profile), bank_a_.Profile(BankAProfile())});
  for (uint64_t i = 0; i < 10; ++i) Append({bank_a_.Entry(duanka::testing::TestSubject(i))});
  ASSERT_TRUE(SaveProfileScans(*store_, {"BANKA", "NOSUCH"}).ok());
  const std::string name = std::string(kProfileScanObjectPrefix) + "BANKA";
  Result<std::optional<std::string>> saved = store_->GetObject(name);
  ASSERT_TRUE(saved.ok() && saved->has_value());
  EXPECT_EQ(**saved, "12 " + bank_a_.head_hash().Hex() + " 2");
  EXPECT_FALSE(store_->GetObject(std::string(kProfileScanObjectPrefix) + "NOSUCH")->has_value());

  // A saved scan naming the older profile at the current head is believed (nothing before the
  // head is read again): the proof that a fresh reader starts from it.
  ASSERT_TRUE(store_->PutObject(name, "12 " + bank_a_.head_hash().Hex() + " 1").ok());
  Result<std::optional<IssuerProfile>> p = ProfileReader(*store_).Latest("BANKA");
  ASSERT_TRUE(p.ok() && p->has_value());
  EXPECT_EQ((*p)->body.legal_name_en, "Old Name Bank");

  // One whose head no longer matches the feed (a fork resolution replaced it) is not: the whole
  // feed is read again.
  ASSERT_TRUE(store_->PutObject(name, "12 " + std::string(64, '0') + " 1").ok());
  p = ProfileReader(*store_).Latest("BANKA");
  ASSERT_TRUE(p.ok() && p->has_value());
  EXPECT_EQ((*p)->body.legal_name_en, "Example Bank Co., Ltd.");
  // Nor is one that does not parse, or names a record that is no profile.
  for (const std::string& bad :
       {std::string("garbage"), "12 " + bank_a_.head_hash().Hex() + " 5"}) {
    ASSERT_TRUE(store_->PutObject(name, bad).ok());
    p = ProfileReader(*store_).Latest("BANKA");
    ASSERT_TRUE(p.ok() && p->has_value()) << bad;
    EXPECT_EQ((*p)->body.legal_name_en, "Example Bank Co., Ltd.") << bad;
  }
  // Saving again repairs it; a few more records do not cause a write.
  ASSERT_TRUE(SaveProfileScans(*store_, {"BANKA"}).ok());
  EXPECT_EQ(*store_->GetObject(name).value(), "12 " + bank_a_.head_hash().Hex() + " 2");
  const std::string hash12 = bank_a_.head_hash().Hex();
  Append({bank_a_.Entry(duanka::testing::TestSubject(50))});
  ASSERT_TRUE(SaveProfileScans(*store_, {"BANKA"}).ok());
  EXPECT_EQ(*store_->GetObject(name).value(), "12 " + hash12 + " 2");
  // A new profile does.
  Append({bank_a_.Profile(old_profile)});
  ASSERT_TRUE(SaveProfileScans(*store_, {"BANKA"}).ok());
  EXPECT_EQ(*store_->GetObject(name).value(), "14 " + bank_a_.head_hash().Hex() + " 14");
}

// A thief holding BANKA's key publishes a profile sending BANKA's appeals to its own phone; the
// key is withdrawn since before it. Every reader (a warm one, a fresh one, one from a saved scan)
// falls back to BANKA's genuine profile, and moving the compromise time past the thief's profile
// brings it back.
TEST_F(ProfileReaderTest, AProfileSignedWithAWithdrawnKeyIsNoProfile) {
  ASSERT_NE(store_, nullptr);
  const int64_t compromised = kTestNow - 100;
  Append({bank_a_.Profile(BankAProfile(), compromised - 50)});
  protocol::ProfileBody forged = BankAProfile();
  forged.appeal_phone = "400-000-0000";
  Append(
      {bank_a_.Profile(forged, compromised + 10), bank_a_.Entry(duanka::testing::TestSubject(1))});
  const ProfileReader warm(*store_);
  Result<std::optional<IssuerProfile>> p = warm.Latest("BANKA");
  ASSERT_TRUE(p.ok() && p->has_value());
  ASSERT_EQ((*p)->body.appeal_phone, "400-000-0000") << "before the withdrawal, the newest wins";
  ASSERT_TRUE(SaveProfileScans(*store_, {"BANKA"}).ok());

  const crypto::Hash256 key = protocol::KeyId(bank_a_.key().public_key());
  ASSERT_TRUE(store_->WithdrawKey(key, "BANKA", compromised, kTestNow).ok());
  const auto expect_genuine = [&](const ProfileReader& reader, const char* which) {
    Result<std::optional<IssuerProfile>> got = reader.Latest("BANKA");
    ASSERT_TRUE(got.ok() && got->has_value()) << which;
    EXPECT_EQ((*got)->id.seq, 1u) << which;
    EXPECT_EQ((*got)->body.appeal_phone, BankAProfile().appeal_phone) << which;
  };
  expect_genuine(warm, "the warm reader, which remembered the forged one");
  expect_genuine(ProfileReader(*store_), "a fresh reader from the stale saved scan");
  ASSERT_TRUE(SaveProfileScans(*store_, {"BANKA"}).ok());
  const std::string name = std::string(kProfileScanObjectPrefix) + "BANKA";
  EXPECT_EQ(*store_->GetObject(name).value(), "3 " + bank_a_.head_hash().Hex() + " 1 " + key.Hex() +
                                                  ":" + std::to_string(compromised));
  expect_genuine(ProfileReader(*store_), "a fresh reader from the saved scan");

  // The compromise was later than thought: the profile signed before it is BANKA's again.
  ASSERT_TRUE(store_->WithdrawKey(key, "BANKA", compromised + 20, kTestNow).ok());
  for (const ProfileReader* reader : {&warm, static_cast<const ProfileReader*>(nullptr)}) {
    const ProfileReader fresh(*store_);
    Result<std::optional<IssuerProfile>> got = (reader ? *reader : fresh).Latest("BANKA");
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ((*got)->body.appeal_phone, "400-000-0000");
  }
}

// duankad saves after every commit through one reader kept across commits, which scans each feed
// from where it last reached rather than from the saved scan (up to kProfileScanSaveEvery records
// behind). Its answers stay those of a fresh reader: a withdrawal since is seen.
TEST_F(ProfileReaderTest, AKeptReaderSavesFromItsOwnScanAndStillSeesWithdrawals) {
  ASSERT_NE(store_, nullptr);
  const int64_t compromised = kTestNow - 100;
  protocol::ProfileBody forged = BankAProfile();
  forged.appeal_phone = "400-000-0000";
  Append({bank_a_.Profile(BankAProfile(), compromised - 50),
          bank_a_.Profile(forged, compromised + 10)});
  for (uint64_t i = 0; i < 10; ++i) Append({bank_a_.Entry(duanka::testing::TestSubject(i))});
  const ProfileReader kept(*store_);
  ASSERT_TRUE(SaveProfileScans(*store_, kept, {"BANKA"}).ok());
  const std::string name = std::string(kProfileScanObjectPrefix) + "BANKA";
  EXPECT_EQ(*store_->GetObject(name).value(), "12 " + bank_a_.head_hash().Hex() + " 2");

  // A saved scan further back that names the older profile (as if the newer one were not
  // there), and a feed grown since: a reader starting from it scans seqs 4..13, finds nothing
  // newer and keeps profile 1. The kept reader starts from its own scan at 12 and keeps 2.
  Result<std::vector<protocol::SignedRecord>> third = store_->Range("BANKA", 3, 1);
  ASSERT_TRUE(third.ok() && third->size() == 1u);
  ASSERT_TRUE(
      store_->PutObject(name, "3 " + protocol::RecordHash(third->front()).Hex() + " 1").ok());
  Append({bank_a_.Entry(duanka::testing::TestSubject(20))});
  ASSERT_TRUE(SaveProfileScans(*store_, kept, {"BANKA"}).ok());
  EXPECT_EQ(*store_->GetObject(name).value(), "13 " + bank_a_.head_hash().Hex() + " 2")
      << "the kept reader started from its own scan";
  // A fresh reader starts from the saved scan: it finds nothing newer than seq 3, so the same
  // answer stands and nothing is written.
  const std::string stale = "3 " + protocol::RecordHash(third->front()).Hex() + " 1";
  ASSERT_TRUE(store_->PutObject(name, stale).ok());
  ASSERT_TRUE(SaveProfileScans(*store_, {"BANKA"}).ok());
  EXPECT_EQ(*store_->GetObject(name).value(), stale) << "a fresh reader starts from the saved scan";

  // The key is withdrawn since before the forged profile: the kept reader's remembered answer
  // no longer holds, and it saves the genuine one.
  const crypto::Hash256 key = protocol::KeyId(bank_a_.key().public_key());
  ASSERT_TRUE(store_->WithdrawKey(key, "BANKA", compromised, kTestNow).ok());
  Append({bank_a_.Entry(duanka::testing::TestSubject(21))});
  ASSERT_TRUE(SaveProfileScans(*store_, kept, {"BANKA"}).ok());
  EXPECT_EQ(*store_->GetObject(name).value(), "14 " + bank_a_.head_hash().Hex() + " 1 " +
                                                  key.Hex() + ":" + std::to_string(compromised));
  Result<std::optional<IssuerProfile>> p = kept.Latest("BANKA");
  ASSERT_TRUE(p.ok() && p->has_value());
  EXPECT_EQ((*p)->body.appeal_phone, BankAProfile().appeal_phone);
}

TEST_F(ProfileReaderTest, AProfileExtendsTheFeedButIsNeitherAnEntryNorARevocation) {
  ASSERT_NE(store_, nullptr);
  Append({bank_b_.Entry(duanka::testing::TestSubject(1)), bank_b_.Profile(BankAProfile())});
  Result<store::Stats> stats = store_->GetStats(kTestNow);
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(stats->issuers.size(), 1u);
  EXPECT_EQ(stats->issuers[0].records, 2u);
  EXPECT_EQ(stats->issuers[0].entries, 1u);
  EXPECT_EQ(stats->issuers[0].revocations, 0u);
  EXPECT_EQ(stats->pending_revocations, 0u);
  Result<std::optional<store::Listing>> listing =
      store_->GetListing(protocol::EntryId{"BANKB", 2}, kTestNow);
  ASSERT_TRUE(listing.ok());
  EXPECT_FALSE(listing->has_value()) << "a profile is no listing";
}

}  // namespace
}  // namespace duanka::node
