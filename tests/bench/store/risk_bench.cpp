// The cost of a lookup's risk summary (node/common/risk.h, issue 16 §1) beside the lookup alone,
// for a subject with 1 entry and one with 100 (from 10 issuers), graded by the built-in default
// policy. Figures only, no assertions (design.md section 8); the aim is lookup + summary within
// 1.5x the lookup alone.
//   build/tests/bench/store/risk_bench
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "node/common/risk.h"
#include "store/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_feed.h"

namespace duanka {
namespace {

using duanka::testing::kTestNow;
using duanka::testing::TestIssuer;
using duanka::testing::TestSubject;

constexpr int kIssuers = 10;
constexpr int kManyEntries = 100;
// Enough rounds for a steady figure in well under a second per case.
constexpr int kRounds = 20'000;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "risk_bench: %s\n", what.c_str());
  std::exit(1);
}

// Nanoseconds per call of `f`, the best of three runs of kRounds.
template <typename F>
double NsPerCall(F&& f) {
  double best = 1e18;
  for (int run = 0; run < 3; ++run) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kRounds; ++i) f();
    const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
    best = std::min(best, took.count() / kRounds);
  }
  return best;
}

void Run() {
  duanka::testing::TempDir dir;
  store::Options o;
  o.path = dir / "store";
  Result<std::unique_ptr<store::Store>> opened = store::Store::Open(o);
  if (!opened) Die(opened.error().message);
  store::Store& s = **opened;

  // Subject 1: one entry; subject 2: kManyEntries entries spread over kIssuers issuers.
  protocol::Trust trust;
  std::vector<std::unique_ptr<TestIssuer>> issuers;
  for (int i = 0; i < kIssuers; ++i) {
    issuers.push_back(std::make_unique<TestIssuer>("BANK" + std::to_string(i)));
    trust.Add(issuers.back()->signer());
  }
  for (int i = 0; i < kIssuers; ++i) {
    std::vector<protocol::SignedRecord> feed;
    if (i == 0) feed.push_back(issuers[i]->Entry(TestSubject(1)));
    for (int j = 0; j < kManyEntries / kIssuers; ++j) {
      feed.push_back(issuers[i]->Entry(TestSubject(2), protocol::Category::kSold,
                                       kTestNow + 2 * testing::kYear, kTestNow - 86400 * (j + 1)));
    }
    Result<std::vector<protocol::VerifiedRecord>> v =
        protocol::VerifyChain(feed, trust, protocol::VerifyOptions{kTestNow});
    if (!v) Die(v.error().message);
    Result<store::AppendResult> appended = s.Append(*v, kTestNow);
    if (!appended) Die(appended.error().message);
  }

  const node::GradingPolicy& policy = node::DefaultPolicy();
  std::printf("%-28s %12s %16s %8s\n", "subject", "lookup ns", "+summary ns", "ratio");
  for (const auto& [name, subject] : {std::pair{"1 entry", TestSubject(1)},
                                      std::pair{"100 entries, 10 issuers", TestSubject(2)}}) {
    std::vector<store::Listing> listings;
    const std::vector<crypto::Hash256> subjects = {subject};
    const store::LookupOptions lo{kTestNow, /*details=*/true};
    if (Status st = s.Lookup(subjects, lo, listings); !st) Die(st.error().message);
    uint64_t sink = 0;
    const double alone = NsPerCall([&] {
      listings.clear();
      (void)s.Lookup(subjects, lo, listings);
      sink += listings.size();
    });
    const double graded = NsPerCall([&] {
      listings.clear();
      (void)s.Lookup(subjects, lo, listings);
      const node::RiskSummary r =
          node::Summarize(listings, kTestNow, policy, nullptr, node::Purpose::kAccountOpening);
      sink += static_cast<uint64_t>(r.tier) + r.issuers;
    });
    std::printf("%-28s %12.0f %16.0f %7.2fx  (%zu listings, sink %llu)\n", name, alone, graded,
                graded / alone, listings.size(), static_cast<unsigned long long>(sink % 10));
  }
}

}  // namespace
}  // namespace duanka

int main() {
  duanka::Run();
  return 0;
}
