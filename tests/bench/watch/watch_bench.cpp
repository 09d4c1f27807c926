// Re-screening's figures (issue 14), on a real store, printed beside their floors measured in the
// same run. Figures only, no assertions (design.md section 8).
//
//   import     N phone numbers canonicalised, keyed (HMAC under the pepper), sorted by subject and
//              added to the watch list in chunks of kChunk, its filter saved, as `duanka-admin
//              watch --batch` does;
//              beside the floor: deriving the subjects alone. Aim: >= 500,000/s at 10M.
//   size       bytes on disk per watched identifier (pages in use after / N). Aim: <= 80.
//   catch-up   M pre-verified records appended in batches of kCatchUpBatch (the daemon's commit
//              size) into a store without a watch list and into one holding the N-entry list,
//              1 in kWatchedEvery of the records about a watched subject (so alerts are raised).
//              Aim: within 10% of the store without one.
//
//   build/release/tests/bench/watch/watch_bench            # N = 1,000,000, M = 100,000
//   build/release/tests/bench/watch/watch_bench --big      # N = 10,000,000, M = 1,000,000
//   build/release/tests/bench/watch/watch_bench --watch 2000000 --records 200000
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "protocol/identifier.h"
#include "store/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_feed.h"

namespace duanka::store {
namespace {

using duanka::testing::kTestNow;
using duanka::testing::TestIssuer;
using protocol::SignedRecord;
using protocol::VerifiedRecord;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kDefaultWatch = 1'000'000;
constexpr uint64_t kDefaultRecords = 100'000;
constexpr uint64_t kBigWatch = 10'000'000;
constexpr uint64_t kBigRecords = 1'000'000;
// Items per Store::Watch call: the admin tool's chunk.
constexpr size_t kChunk = 100'000;
constexpr size_t kCatchUpBatch = 10'000;
// Records per verified chain while signing the catch-up feed.
constexpr size_t kVerifyChunk = 1'000;
constexpr uint64_t kWatchedEvery = 1'000;
// Phone numbers 13000000000 + i: valid mainland mobile numbers, one per watched customer.
constexpr uint64_t kFirstPhone = 13'000'000'000ULL;
// A typical core-banking customer number as the reference.
constexpr const char* kRefPrefix = "CUST#";

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "watch_bench: %s\n", what.c_str());
  std::exit(1);
}

std::unique_ptr<Store> OpenStore(const std::filesystem::path& path) {
  Options o;
  o.path = path;
  o.initial_map_bytes = 1ULL << 30;
  Result<std::unique_ptr<Store>> s = Store::Open(o);
  if (!s) Die(s.error().message);
  return std::move(*s);
}

crypto::Hash256 PhoneSubject(const crypto::Pepper& pepper, uint64_t i) {
  Result<std::string> canonical =
      protocol::Canonicalize(protocol::IdType::kPhone, std::to_string(kFirstPhone + i));
  if (!canonical) Die(canonical.error().message);
  return pepper.Subject(pepper.current_epoch(), "phone", *canonical);
}

uint64_t BytesOnDisk(const Store& s) {
  Result<Stats> stats = s.GetStats(kTestNow);
  if (!stats) Die(stats.error().message);
  return stats->bytes_on_disk;
}

struct Args {
  uint64_t watch = kDefaultWatch;
  uint64_t records = kDefaultRecords;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--big") {
      a.watch = kBigWatch;
      a.records = kBigRecords;
    } else if (arg == "--watch" && i + 1 < argc) {
      a.watch = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--records" && i + 1 < argc) {
      a.records = std::strtoull(argv[++i], nullptr, 10);
    } else {
      Die("unknown argument " + arg + " (expected --big, --watch N, --records M)");
    }
  }
  if (a.watch == 0 || a.records == 0) Die("--watch and --records take a positive number");
  return a;
}

// The catch-up feed: `records` entries of one issuer, every kWatchedEvery-th about a watched
// phone, verified as chains as a peer's batches are.
std::vector<VerifiedRecord> CatchUpFeed(const crypto::Pepper& pepper, uint64_t records,
                                        uint64_t watched, protocol::Trust& trust) {
  TestIssuer issuer("FEEDA");
  trust.Add(issuer.signer());
  std::vector<VerifiedRecord> out;
  std::vector<SignedRecord> chunk;
  for (uint64_t i = 0; i < records; ++i) {
    const crypto::Hash256 subject = i % kWatchedEvery == 0
                                        ? PhoneSubject(pepper, (i / kWatchedEvery) % watched)
                                        : duanka::testing::TestSubject(i);
    chunk.push_back(issuer.Entry(subject));
    if (chunk.size() == kVerifyChunk || i + 1 == records) {
      Result<std::vector<VerifiedRecord>> v =
          protocol::VerifyChain(chunk, trust, protocol::VerifyOptions{kTestNow});
      if (!v) Die("verify: " + v.error().message);
      for (VerifiedRecord& r : *v) out.push_back(std::move(r));
      chunk.clear();
    }
  }
  return out;
}

double CatchUpRate(Store& s, const std::vector<VerifiedRecord>& feed) {
  const auto start = Clock::now();
  for (size_t i = 0; i < feed.size(); i += kCatchUpBatch) {
    const size_t n = std::min(kCatchUpBatch, feed.size() - i);
    Result<AppendResult> r = s.Append(std::span(feed.data() + i, n), kTestNow);
    if (!r) Die(r.error().message);
  }
  return static_cast<double>(feed.size()) / Seconds(start);
}

void Run(const Args& a) {
  duanka::testing::TempDir dir;
  const crypto::Pepper pepper = crypto::Pepper::Generate(1);

  // The floor: deriving the subjects alone.
  auto start = Clock::now();
  std::vector<crypto::Hash256> subjects(std::min<uint64_t>(a.watch, kChunk));
  for (uint64_t i = 0; i < subjects.size(); ++i) subjects[i] = PhoneSubject(pepper, i);
  const double derive_rate = static_cast<double>(subjects.size()) / Seconds(start);

  std::unique_ptr<Store> watched = OpenStore(dir.path() / "watched");
  const uint64_t empty_bytes = BytesOnDisk(*watched);
  start = Clock::now();
  std::vector<WatchItem> items;
  items.reserve(a.watch);
  for (uint64_t i = 0; i < a.watch; ++i) {
    items.push_back(WatchItem{{PhoneSubject(pepper, i)}, kRefPrefix + std::to_string(i)});
  }
  std::sort(items.begin(), items.end(),
            [](const WatchItem& x, const WatchItem& y) { return x.subjects[0] < y.subjects[0]; });
  for (size_t first = 0; first < items.size(); first += kChunk) {
    const size_t n = std::min<size_t>(kChunk, items.size() - first);
    Result<WatchChange> change = watched->Watch(std::span(items.data() + first, n), kTestNow);
    if (!change) Die(change.error().message);
  }
  if (Status saved = watched->SaveWatchFilter(); !saved) Die(saved.error().message);
  const double import_rate = static_cast<double>(a.watch) / Seconds(start);
  const double bytes_per_watch =
      static_cast<double>(BytesOnDisk(*watched) - empty_bytes) / static_cast<double>(a.watch);
  const double ref_bytes =
      static_cast<double>(std::strlen(kRefPrefix) + std::to_string(a.watch / 2).size());

  protocol::Trust trust;
  const std::vector<VerifiedRecord> feed = CatchUpFeed(pepper, a.records, a.watch, trust);
  std::unique_ptr<Store> plain = OpenStore(dir.path() / "plain");
  const double plain_rate = CatchUpRate(*plain, feed);
  const double watched_rate = CatchUpRate(*watched, feed);
  Result<uint64_t> alerts = watched->LastAlertId();
  if (!alerts) Die(alerts.error().message);

  std::printf("| figure | ours | floor or alternative, same run | ratio | aim |\n");
  std::printf("| --- | --- | --- | --- | --- |\n");
  std::printf(
      "| watch import, %llu phones into an empty list | %.0f /s | subject derivation alone %.0f "
      "/s | %.2f | >= 500,000 /s |\n",
      static_cast<unsigned long long>(a.watch), import_rate, derive_rate,
      import_rate / derive_rate);
  std::printf(
      "| bytes on disk per watched identifier | %.1f B | subject + ref, %.0f B | %.2f | <= 80 "
      "B |\n",
      bytes_per_watch, 32 + ref_bytes, bytes_per_watch / (32 + ref_bytes));
  std::printf(
      "| catch-up, %llu records, with the %llu-entry watch list (%llu alerts raised) | %.0f "
      "records/s | without a watch list %.0f records/s | %.2f | >= 0.90 |\n",
      static_cast<unsigned long long>(a.records), static_cast<unsigned long long>(a.watch),
      static_cast<unsigned long long>(*alerts), watched_rate, plain_rate,
      watched_rate / plain_rate);
  // Machine-readable copies for ops/bench (key<TAB>value<TAB>unit), beside the table above.
  std::printf("figure\twatch_count\t%llu\tidentifiers\n", static_cast<unsigned long long>(a.watch));
  std::printf("figure\twatch_import_per_s\t%.0f\tidentifiers/s\n", import_rate);
  std::printf("figure\twatch_derive_per_s\t%.0f\tsubjects/s\n", derive_rate);
  std::printf("figure\twatch_bytes_per_identifier\t%.1f\tB\n", bytes_per_watch);
  std::printf("figure\twatch_subject_ref_bytes\t%.0f\tB\n", 32 + ref_bytes);
  std::printf("figure\twatch_catch_up_records\t%llu\trecords\n",
              static_cast<unsigned long long>(a.records));
  std::printf("figure\twatch_catch_up_watched_per_s\t%.0f\trecords/s\n", watched_rate);
  std::printf("figure\twatch_catch_up_plain_per_s\t%.0f\trecords/s\n", plain_rate);
}

}  // namespace
}  // namespace duanka::store

int main(int argc, char** argv) {
  duanka::store::Run(duanka::store::Parse(argc, argv));
  return 0;
}
