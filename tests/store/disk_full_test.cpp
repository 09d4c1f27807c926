// A store on a full disk: with MDB_WRITEMAP (store::Options) LMDB writes pages through the map,
// and a write into an unallocated block of a full filesystem would kill the process with SIGBUS.
// The store allocates its map's blocks before any transaction writes into them, so a full disk
// is an error that names it, and every batch acknowledged before it stays.
//
// The full disk is a small tmpfs mounted for the test, which needs root (as CI runs).
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_feed.h"

namespace duanka::store {
namespace {

using duanka::testing::kTestNow;
using duanka::testing::MustVerifyAll;
using duanka::testing::TestIssuer;
using duanka::testing::TestSubject;
using protocol::VerifiedRecord;

// Small enough to fill in a few thousand entries, large enough for the store's first map.
constexpr const char* kFilesystemSize = "size=4m";
constexpr uint64_t kFirstMapBytes = 1ULL << 20;
constexpr uint64_t kMapLargerThanTheDisk = 8ULL << 20;
constexpr int kEntriesPerBatch = 250;
// The disk is full long before this many batches (4 MiB at a few hundred bytes per entry).
constexpr int kMaxBatches = 200;

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mount_point_ = dir_ / "small-disk";
    std::filesystem::create_directories(mount_point_);
    // In a mount namespace of this process's own, so that the small disk never shows, or stays
    // mounted, outside the test even if it dies.
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("tmpfs", mount_point_.c_str(), "tmpfs", 0, kFilesystemSize) != 0) {
      GTEST_SKIP() << "mounting a small tmpfs needs root: " << std::strerror(errno);
    }
    mounted_ = true;
    trust_.Add(bank_a_.signer());
  }
  void TearDown() override {
    if (mounted_) ::umount2(mount_point_.c_str(), MNT_DETACH);
  }

  // What filling a store batch by batch came to: the entries appended before the first refusal,
  // that refusal, and the batch it refused.
  struct Filled {
    uint64_t acknowledged = 0;
    std::optional<Error> failure;
    std::vector<VerifiedRecord> refused;
  };
  Filled FillUntilRefused(Store& store) {
    Filled f;
    for (int batch = 0; batch < kMaxBatches; ++batch) {
      std::vector<protocol::SignedRecord> records;
      for (int i = 0; i < kEntriesPerBatch; ++i) {
        records.push_back(bank_a_.Entry(TestSubject(f.acknowledged + records.size() + 1)));
      }
      std::vector<VerifiedRecord> verified = MustVerifyAll(records, trust_);
      Result<AppendResult> r = store.Append(verified, kTestNow);
      if (!r) {
        f.failure = r.error();
        f.refused = std::move(verified);
        break;
      }
      EXPECT_EQ(r->appended, records.size());
      f.acknowledged += r->appended;
    }
    return f;
  }

  Options StoreOn(uint64_t initial_map_bytes) const {
    Options o;
    o.path = mount_point_ / "store";
    o.initial_map_bytes = initial_map_bytes;
    return o;
  }

  duanka::testing::TempDir dir_;
  std::filesystem::path mount_point_;
  bool mounted_ = false;
  TestIssuer bank_a_{"BANKA"};
  protocol::Trust trust_;
};

TEST_F(DiskFullTest, TheStoreUsesWriteMapSoThisTestMeansSomething) {
  EXPECT_TRUE(Options{}.write_map);
  EXPECT_TRUE(Options{}.no_readahead);
}

TEST_F(DiskFullTest, AGrowthPastTheDiskFailsNamingItAndKeepsWhatWasAcknowledged) {
  uint64_t acknowledged = 0;
  {
    Result<std::unique_ptr<Store>> store = Store::Open(StoreOn(kFirstMapBytes));
    ASSERT_TRUE(store.ok()) << store.error().message;
    Filled filled = FillUntilRefused(**store);
    acknowledged = filled.acknowledged;
    const std::optional<Error>& failure = filled.failure;
    ASSERT_TRUE(failure.has_value()) << "the disk never filled";
    EXPECT_EQ(failure->kind, ErrorKind::kIo);
    EXPECT_NE(failure->message.find("cannot reserve disk space"), std::string::npos)
        << failure->message;
    EXPECT_NE(failure->message.find(std::strerror(ENOSPC)), std::string::npos) << failure->message;
    ASSERT_GT(acknowledged, 0u);

    // The store goes on answering from what it holds, and a retry (as the daemon retries a
    // batch) fails the same way rather than writing into the map past the disk.
    Result<std::optional<Head>> head = (*store)->GetHead("BANKA");
    ASSERT_TRUE(head.ok() && head->has_value());
    EXPECT_EQ((*head)->seq, acknowledged);
    Result<AppendResult> retried = (*store)->Append(filled.refused, kTestNow);
    ASSERT_FALSE(retried.ok());
    EXPECT_EQ(retried.error().kind, ErrorKind::kIo);
    head = (*store)->GetHead("BANKA");
    ASSERT_TRUE(head.ok() && head->has_value());
    EXPECT_EQ((*head)->seq, acknowledged);
  }
  // And every acknowledged entry is there after a reopen.
  Options again = StoreOn(kFirstMapBytes);
  again.read_only = true;
  Result<std::unique_ptr<Store>> reopened = Store::Open(again);
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  for (uint64_t subject = 1; subject <= acknowledged; subject += 97) {
    std::vector<Listing> found;
    crypto::Hash256 s = TestSubject(subject);
    ASSERT_TRUE(
        (*reopened)
            ->Lookup(std::span<const crypto::Hash256>(&s, 1), LookupOptions{kTestNow}, found)
            .ok());
    EXPECT_EQ(found.size(), 1u) << subject;
  }
}

TEST_F(DiskFullTest, AFirstMapLargerThanTheDiskIsRefusedAtOpenAndLeavesNoHoleBehind) {
  Result<std::unique_ptr<Store>> store = Store::Open(StoreOn(kMapLargerThanTheDisk));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().kind, ErrorKind::kIo);
  EXPECT_NE(store.error().message.find("cannot reserve disk space"), std::string::npos)
      << store.error().message;

  // A later open with a map that fits, filled to the end of the disk: errors, never SIGBUS.
  Result<std::unique_ptr<Store>> fits = Store::Open(StoreOn(kFirstMapBytes));
  if (!fits.ok()) {
    EXPECT_EQ(fits.error().kind, ErrorKind::kIo) << fits.error().message;
    return;
  }
  Filled filled = FillUntilRefused(**fits);
  ASSERT_TRUE(filled.failure.has_value()) << "the disk never filled";
  EXPECT_EQ(filled.failure->kind, ErrorKind::kIo) << filled.failure->message;
}

}  // namespace
}  // namespace duanka::store
