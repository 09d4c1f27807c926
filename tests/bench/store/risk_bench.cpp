// The cost of a lookup's risk (node/common/risk.h, issue 16 §1) as the daemon's POST /v1/lookup
// runs it, beside the same lookup without it: `Lookuper::Lookup` (the store's read and the issuers'
// profiles) + `AnswerJson`, against that + `PolicyCache::Get` + `Summarize` + `AnswerJson` with
// the risk; `store.Lookup` alone is printed as the floor. For a subject with 1 entry and one with
// 100 (from kIssuers issuers, each of which has published a profile, so the profile path runs),
// graded by the built-in default policy. Figures only, no assertions (design.md section 8); the
// aim is the answer with its risk within 1.5x the answer without.
//   build/release/tests/bench/store/risk_bench           # a few seconds
//   DUANKA_BENCH_MS=1000 build/release/tests/bench/store/risk_bench  # longer runs, steadier
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "node/common/lookup.h"
#include "node/common/risk.h"
#include "protocol/identifier.h"
#include "store/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_feed.h"

namespace duanka {
namespace {

using duanka::testing::kTestNow;
using duanka::testing::TestIssuer;

constexpr int kIssuers = 4;
constexpr int kManyEntries = 100;
// Each figure is the best of kRuns runs of about this many milliseconds (DUANKA_BENCH_MS).
constexpr int kDefaultRunMs = 150;
constexpr int kRuns = 3;
constexpr const char* kOnePhone = "13800000001";
constexpr const char* kManyPhone = "13800000002";

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "risk_bench: %s\n", what.c_str());
  std::exit(1);
}

int RunMs() {
  const char* env = std::getenv("DUANKA_BENCH_MS");
  const int ms = env != nullptr ? std::atoi(env) : kDefaultRunMs;
  if (ms <= 0) Die("DUANKA_BENCH_MS: expected a positive number of milliseconds");
  return ms;
}

// Nanoseconds per call of `f`: the rounds that fill about `ms` are found first, then the best of
// kRuns runs of that many.
template <typename F>
double NsPerCall(int ms, F&& f) {
  using Clock = std::chrono::steady_clock;
  long rounds = 1;
  for (;;) {
    const auto start = Clock::now();
    for (long i = 0; i < rounds; ++i) f();
    const std::chrono::duration<double, std::milli> took = Clock::now() - start;
    if (took.count() >= ms / 10.0) {
      rounds = std::max(1L, static_cast<long>(rounds * ms / std::max(took.count(), 1e-3)));
      break;
    }
    rounds *= 2;
  }
  double best = 1e18;
  for (int run = 0; run < kRuns; ++run) {
    const auto start = Clock::now();
    for (long i = 0; i < rounds; ++i) f();
    const std::chrono::duration<double, std::nano> took = Clock::now() - start;
    best = std::min(best, took.count() / static_cast<double>(rounds));
  }
  return best;
}

protocol::ProfileBody ProfileOf(int i) {
  return protocol::ProfileBody{"示例银行" + std::to_string(i),
                               "Example Bank " + std::to_string(i),
                               protocol::InstitutionKind::kBank,
                               "+86 10 9555 000" + std::to_string(i),
                               "北京市西城区金融大街" + std::to_string(i) + "号",
                               "https://bank" + std::to_string(i) + ".example/appeal"};
}

void Run() {
  const int ms = RunMs();
  duanka::testing::TempDir dir;
  store::Options o;
  o.path = dir / "store";
  Result<std::unique_ptr<store::Store>> opened = store::Store::Open(o);
  if (!opened) Die(opened.error().message);
  store::Store& s = **opened;
  // TestIssuer's entries are phone numbers under pepper epoch 1.
  const crypto::Pepper pepper = crypto::Pepper::Generate(1);
  const node::Lookuper lookuper(s, pepper);
  const auto subject_of = [&](const char* phone) {
    Result<std::string> canonical = protocol::Canonicalize(protocol::IdType::kPhone, phone);
    if (!canonical) Die(canonical.error().message);
    return lookuper.Subjects(protocol::IdType::kPhone, *canonical).front();
  };

  // Each issuer publishes its profile first, then its entries: the one entry of the first
  // subject (issuer 0) and its share of the second subject's kManyEntries.
  protocol::Trust trust;
  std::vector<std::unique_ptr<TestIssuer>> issuers;
  for (int i = 0; i < kIssuers; ++i) {
    issuers.push_back(std::make_unique<TestIssuer>("BANK" + std::to_string(i)));
    trust.Add(issuers.back()->signer());
  }
  for (int i = 0; i < kIssuers; ++i) {
    std::vector<protocol::SignedRecord> feed;
    feed.push_back(issuers[i]->Profile(ProfileOf(i), kTestNow - 400 * 86400));
    if (i == 0) feed.push_back(issuers[i]->Entry(subject_of(kOnePhone)));
    for (int j = 0; j < kManyEntries / kIssuers; ++j) {
      feed.push_back(issuers[i]->Entry(subject_of(kManyPhone), protocol::Category::kSold,
                                       kTestNow + 2 * testing::kYear,
                                       kTestNow - 86400 * (j * 20 + 1)));
    }
    Result<std::vector<protocol::VerifiedRecord>> v =
        protocol::VerifyChain(feed, trust, protocol::VerifyOptions{kTestNow});
    if (!v) Die(v.error().message);
    Result<store::AppendResult> appended = s.Append(*v, kTestNow);
    if (!appended) Die(appended.error().message);
  }

  const node::PolicyCache policies(s);
  const node::Purpose purpose = node::Purpose::kAccountOpening;
  std::printf("%-10s %9s %12s %12s %12s %7s\n", "subject", "listings", "store ns", "answer ns",
              "+risk ns", "ratio");
  for (const auto& [name, phone] :
       {std::pair{"1 entry", kOnePhone}, std::pair{"100 entries", kManyPhone}}) {
    // Once before timing: the check that the set-up is what is meant, and the profiles' first
    // scan, which a long-lived daemon does once per feed.
    Result<node::LookupAnswer> first =
        lookuper.Lookup(protocol::IdType::kPhone, phone, kTestNow, /*details=*/true);
    if (!first) Die(first.error().message);
    if (first->profiles.size() != std::min<size_t>(first->listings.size(), kIssuers)) {
      Die("the issuers' profiles were not found");
    }
    const std::vector<crypto::Hash256> subjects = {first->subject};
    const store::LookupOptions lo{kTestNow, /*details=*/true};
    std::vector<store::Listing> listings;
    uint64_t sink = 0;

    const double floor = NsPerCall(ms, [&] {
      listings.clear();
      if (Status st = s.Lookup(subjects, lo, listings); !st) Die(st.error().message);
      sink += listings.size();
    });
    const double plain = NsPerCall(ms, [&] {
      Result<node::LookupAnswer> a =
          lookuper.Lookup(protocol::IdType::kPhone, phone, kTestNow, /*details=*/true);
      if (!a) Die(a.error().message);
      sink += node::AnswerJson(*a, /*all=*/false, nullptr).size();
    });
    const double graded = NsPerCall(ms, [&] {
      Result<node::LookupAnswer> a =
          lookuper.Lookup(protocol::IdType::kPhone, phone, kTestNow, /*details=*/true);
      if (!a) Die(a.error().message);
      Result<std::shared_ptr<const node::GradingPolicy>> policy = policies.Get();
      if (!policy) Die(policy.error().message);
      const node::RiskSummary risk =
          node::Summarize(a->listings, kTestNow, **policy, nullptr, purpose);
      sink += node::AnswerJson(*a, /*all=*/false, nullptr, &risk).size();
    });
    std::printf("%-10s %9zu %12.0f %12.0f %12.0f %6.2fx  (sink %llu)\n", name,
                first->listings.size(), floor, plain, graded, graded / plain,
                static_cast<unsigned long long>(sink % 10));
    // Machine-readable copies for ops/bench (key<TAB>value<TAB>unit), beside the table above.
    const char* key = std::string_view(phone) == kOnePhone ? "risk_1" : "risk_many";
    std::printf("figure\t%s_listings\t%zu\tlistings\n", key, first->listings.size());
    std::printf("figure\t%s_answer_ns\t%.0f\tns\n", key, plain);
    std::printf("figure\t%s_graded_ns\t%.0f\tns\n", key, graded);
  }
}

}  // namespace
}  // namespace duanka

int main() {
  duanka::Run();
  return 0;
}
