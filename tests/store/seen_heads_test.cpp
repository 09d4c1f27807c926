// The seen_heads table (Store::NoteSeenHead, SeenHead, ClearSeenHead) on a real LMDB environment:
// the highest claim is kept, a claim found false is forgotten, it survives a reopen, and a store
// made before the table opens read-only as one without claims.
#include <gtest/gtest.h>
#include <lmdb.h>

#include "store/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_feed.h"

namespace duanka::store {
namespace {

using duanka::testing::kTestNow;
using duanka::testing::MustVerifyAll;
using duanka::testing::TestIssuer;
using duanka::testing::TestSubject;
using SeenAt = std::optional<std::pair<uint64_t, int64_t>>;

// Named LMDB databases the raw environment below may open: above the store's table count.
constexpr unsigned kRawMaxDbs = 32;

class SeenHeadsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> Open(bool read_only = false) {
    Options o;
    o.path = dir_ / "store";
    o.read_only = read_only;
    Result<std::unique_ptr<Store>> s = Store::Open(o);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return s.ok() ? std::move(s).value() : nullptr;
  }

  static SeenAt Seen(const Store& s, const std::string& issuer) {
    Result<SeenAt> seen = s.SeenHead(issuer);
    EXPECT_TRUE(seen.ok()) << (seen.ok() ? "" : seen.error().message);
    return seen.ok() ? *seen : SeenAt{};
  }

  // Removes the seen_heads table with LMDB itself, as a store made before the table has none.
  void DropTable() {
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, kRawMaxDbs);
    ASSERT_EQ(mdb_env_open(env, (dir_ / "store").c_str(), 0, 0600), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi dbi;
    ASSERT_EQ(mdb_dbi_open(txn, "seen_heads", 0, &dbi), 0);
    ASSERT_EQ(mdb_drop(txn, dbi, 1), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }

  duanka::testing::TempDir dir_;
};

TEST_F(SeenHeadsTest, NoneUntilNoted) {
  std::unique_ptr<Store> s = Open();
  ASSERT_NE(s, nullptr);
  EXPECT_FALSE(Seen(*s, "BANKA").has_value());
}

TEST_F(SeenHeadsTest, KeepsTheHighestClaimAndItsTime) {
  std::unique_ptr<Store> s = Open();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->NoteSeenHead("BANKA", 50, kTestNow).ok());
  EXPECT_EQ(Seen(*s, "BANKA"), SeenAt(std::make_pair(50u, kTestNow)));
  // Lower and equal claims change nothing, not even the time.
  ASSERT_TRUE(s->NoteSeenHead("BANKA", 40, kTestNow + 1).ok());
  ASSERT_TRUE(s->NoteSeenHead("BANKA", 50, kTestNow + 2).ok());
  EXPECT_EQ(Seen(*s, "BANKA"), SeenAt(std::make_pair(50u, kTestNow)));
  ASSERT_TRUE(s->NoteSeenHead("BANKA", 57, kTestNow + 3).ok());
  EXPECT_EQ(Seen(*s, "BANKA"), SeenAt(std::make_pair(57u, kTestNow + 3)));
  // One row per feed.
  EXPECT_FALSE(Seen(*s, "BANKB").has_value());
  ASSERT_TRUE(s->NoteSeenHead("BANKB", 3, kTestNow).ok());
  EXPECT_EQ(Seen(*s, "BANKB"), SeenAt(std::make_pair(3u, kTestNow)));
  EXPECT_EQ(Seen(*s, "BANKA"), SeenAt(std::make_pair(57u, kTestNow + 3)));
}

TEST_F(SeenHeadsTest, ClearForgetsOneFeedAndAllowsALowerClaim) {
  std::unique_ptr<Store> s = Open();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->NoteSeenHead("BANKA", 1'000'000, kTestNow).ok());
  ASSERT_TRUE(s->NoteSeenHead("BANKB", 9, kTestNow).ok());
  ASSERT_TRUE(s->ClearSeenHead("BANKA").ok());
  EXPECT_FALSE(Seen(*s, "BANKA").has_value());
  EXPECT_EQ(Seen(*s, "BANKB"), SeenAt(std::make_pair(9u, kTestNow)));
  // Clearing what is not held is not an error.
  ASSERT_TRUE(s->ClearSeenHead("BANKA").ok());
  ASSERT_TRUE(s->ClearSeenHead("NOSUCH").ok());
  // The liar's claim gone, an honest lower one is kept.
  ASSERT_TRUE(s->NoteSeenHead("BANKA", 57, kTestNow + 5).ok());
  EXPECT_EQ(Seen(*s, "BANKA"), SeenAt(std::make_pair(57u, kTestNow + 5)));
}

TEST_F(SeenHeadsTest, KeptAcrossReopenAndReadByReadOnlyOpens) {
  {
    std::unique_ptr<Store> s = Open();
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->NoteSeenHead("BANKA", 57, kTestNow).ok());
  }
  std::unique_ptr<Store> reader = Open(/*read_only=*/true);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(Seen(*reader, "BANKA"), SeenAt(std::make_pair(57u, kTestNow)));
  // A read-only open cannot write, and says so instead of crashing.
  Status noted = reader->NoteSeenHead("BANKA", 60, kTestNow);
  ASSERT_FALSE(noted.ok());
  EXPECT_EQ(noted.error().kind, ErrorKind::kIo);
  EXPECT_EQ(Seen(*reader, "BANKA"), SeenAt(std::make_pair(57u, kTestNow)));
  std::unique_ptr<Store> again = Open();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(Seen(*again, "BANKA"), SeenAt(std::make_pair(57u, kTestNow)));
}

TEST_F(SeenHeadsTest, ReadOnlyOpenOfAStoreMadeBeforeTheTableSeesNone) {
  TestIssuer bank_a{"BANKA"};
  protocol::Trust trust;
  trust.Add(bank_a.signer());
  {
    std::unique_ptr<Store> s = Open();
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->Append(MustVerifyAll({bank_a.Entry(TestSubject(1))}, trust), kTestNow).ok());
    ASSERT_TRUE(s->NoteSeenHead("BANKA", 5, kTestNow).ok());
  }
  DropTable();
  {
    std::unique_ptr<Store> reader = Open(/*read_only=*/true);
    ASSERT_NE(reader, nullptr);
    EXPECT_FALSE(Seen(*reader, "BANKA").has_value());
    Status noted = reader->NoteSeenHead("BANKA", 6, kTestNow);
    ASSERT_FALSE(noted.ok());
    EXPECT_EQ(noted.error().kind, ErrorKind::kIo);
    EXPECT_NE(noted.error().message.find("seen_heads"), std::string::npos) << noted.error().message;
    Status cleared = reader->ClearSeenHead("BANKA");
    ASSERT_FALSE(cleared.ok());
    EXPECT_EQ(cleared.error().kind, ErrorKind::kIo);
    // The rest of the store reads as before.
    Result<std::optional<Head>> head = reader->GetHead("BANKA");
    ASSERT_TRUE(head.ok() && head->has_value());
    EXPECT_EQ((*head)->seq, 1u);
  }
  // The next writable open adds the table, empty.
  std::unique_ptr<Store> writer = Open();
  ASSERT_NE(writer, nullptr);
  EXPECT_FALSE(Seen(*writer, "BANKA").has_value());
  ASSERT_TRUE(writer->NoteSeenHead("BANKA", 6, kTestNow).ok());
  EXPECT_EQ(Seen(*writer, "BANKA"), SeenAt(std::make_pair(6u, kTestNow)));
}

}  // namespace
}  // namespace duanka::store
