// The sync core's catch-up budget (limits.max_uncommitted_records): the real core and a real
// store, a scripted peer that answers every want at once, and an ingest that commits only when the
// test says, so that what the core asks for while commits lag is seen exactly.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "node/common/ingest.h"
#include "node/daemon/sync_core.h"
#include "protocol/message.h"
#include "tests/sim/sim_pki.h"
#include "tests/support/temp_dir.h"

namespace duanka::sim {
namespace {

namespace msg = protocol::msg;

constexpr char kSource[] = "SOURCEBANK";
constexpr char kFresh[] = "FRESHBANK";
constexpr uint64_t kFeedRecords = 400;
constexpr uint32_t kRecordsPerWant = 10;
constexpr uint32_t kWantsInFlight = 2;
// A feed's share: wants in flight, answered or not, until committed.
constexpr uint64_t kShareRecords = uint64_t{kWantsInFlight} * kRecordsPerWant;
constexpr int64_t kNow = kSimWallBase + 60;
constexpr uint64_t kMapBytes = 4 << 20;

// The source as the core sees it: what the core sends is kept, decoded.
class ScriptedLink : public daemon::PeerLink {
 public:
  const std::string& institution() const override { return institution_; }
  const std::string& address() const override { return address_; }
  const std::string& certificate_serial() const override { return serial_; }
  bool outbound() const override { return true; }
  bool replica() const override { return false; }
  void Send(std::string payload) override {
    Result<protocol::Message> m = protocol::DecodeMessage(payload);
    ASSERT_TRUE(m) << m.error().message;
    if (auto* want = std::get_if<msg::Want>(&*m)) wants.push_back(*want);
  }
  void Close(std::string reason) override { closed = reason; }
  void FrameHandled(size_t) override {}
  size_t send_backlog() const override { return 0; }

  std::deque<msg::Want> wants;  // sent and not yet answered
  std::string closed;

 private:
  std::string institution_ = kSource;
  std::string address_ = "scripted";
  std::string serial_ = "01";
};

// Holds every batch until the test commits the oldest; a commit verifies and appends it for real.
class HeldIngest : public daemon::Ingest {
 public:
  HeldIngest(store::Store& store, daemon::TrustHolder& trust) : store_(store), trust_(trust) {}

  void Submit(std::vector<protocol::SignedRecord> records, Done done) override {
    held_records_ += records.size();
    held_.push_back(Batch{std::move(records), std::move(done)});
  }
  void SubmitEvidence(protocol::SignedRecord, protocol::SignedRecord, Done done) override {
    done(daemon::BatchOutcome{});
  }

  bool CommitOldest() {
    if (held_.empty()) return false;
    Batch batch = std::move(held_.front());
    held_.pop_front();
    held_records_ -= batch.records.size();
    Result<node::IngestReport> report =
        node::IngestFeed(store_, *trust_.Get(), batch.records, kNow);
    daemon::BatchOutcome outcome;
    if (!report) {
      outcome.refused = report.error();
    } else {
      outcome.appended = report->appended;
      outcome.duplicates = report->duplicates;
      outcome.refused = report->refused;
    }
    batch.done(outcome);
    return true;
  }
  uint64_t held_records() const { return held_records_; }

 private:
  struct Batch {
    std::vector<protocol::SignedRecord> records;
    Done done;
  };
  store::Store& store_;
  daemon::TrustHolder& trust_;
  std::deque<Batch> held_;
  uint64_t held_records_ = 0;
};

struct CatchUp {
  uint64_t peak_uncommitted = 0;  // records handed to the ingest and not yet committed
  uint64_t head = 0;              // the fresh store's head of the source's feed at the end
  std::string closed;             // why the core closed the link, if it did
  // The duanka_records_uncommitted gauge when the ingest held the most, and at the end.
  std::string gauge_at_peak, gauge_end;
};

// The value of the duanka_records_uncommitted sample, as /metrics renders it.
std::string UncommittedGauge(const daemon::Metrics& metrics) {
  const std::string text = metrics.Render(store::Stats{});
  const std::string name = "\nduanka_records_uncommitted ";
  const size_t at = text.find(name);
  if (at == std::string::npos) return "absent";
  const size_t begin = at + name.size();
  return text.substr(begin, text.find('\n', begin) - begin);
}

// A fresh node catches up on the source's whole feed. The source answers each want at once; the
// ingest commits one batch only when the core has stopped asking.
CatchUp RunCatchUp(uint32_t max_uncommitted_records) {
  SimPki& pki = SimPki::Get();
  const SimIdentity& source = pki.Identity(kSource);
  // The source's whole feed, chained and signed by its simulated certificate.
  const std::vector<protocol::SignedRecord> feed =
      SignRun(source, 1, crypto::Hash256{}, kFeedRecords, /*variant=*/0);

  testing::TempDir dir;
  store::Options options;
  options.path = dir / "store";
  options.initial_map_bytes = kMapBytes;
  Result<std::unique_ptr<store::Store>> opened = store::Store::Open(options);
  if (!opened) throw std::runtime_error("open: " + opened.error().message);
  store::Store& store = **opened;
  if (!store.PutCertificate(source.key_id, source.cert_der)) throw std::runtime_error("cert");

  daemon::Metrics metrics;
  daemon::TrustHolder trust;
  HeldIngest ingest(store, trust);
  const daemon::SteadyTime steady = daemon::SteadyTime(std::chrono::hours(1));
  daemon::SyncContext context{store,
                              pki.ca(),
                              trust,
                              ingest,
                              metrics,
                              daemon::SyncClock{[] { return kNow; }, [&] { return steady; }},
                              [](std::function<void()> f) { f(); }};
  daemon::SyncOptions sync;
  sync.institution = kFresh;
  sync.consortium = pki.consortium();
  sync.pepper_epochs = {1};
  sync.limits.records_per_want = kRecordsPerWant;
  sync.limits.wants_in_flight = kWantsInFlight;
  sync.limits.max_uncommitted_records = max_uncommitted_records;
  daemon::SyncCore core(std::move(context), std::move(sync));
  core.Start();

  auto link = std::make_shared<ScriptedLink>();
  core.OnOpen(link);
  const msg::Head claim{kSource, kFeedRecords, protocol::RecordHash(feed.back()), false};
  core.OnFrame(*link, protocol::EncodeMessage(msg::Hello{
                          protocol::kProtocolVersion, pki.consortium(), kSource, {1}, kNow}));
  core.OnFrame(*link, protocol::EncodeMessage(msg::Heads{{claim}}));

  CatchUp result;
  for (;;) {
    while (!link->wants.empty()) {
      msg::Want want = link->wants.front();
      link->wants.pop_front();
      const uint64_t last = std::min<uint64_t>(kFeedRecords, want.from_seq + want.count - 1);
      msg::Records answer;
      answer.records.assign(feed.begin() + static_cast<ptrdiff_t>(want.from_seq - 1),
                            feed.begin() + static_cast<ptrdiff_t>(last));
      core.OnFrame(*link, protocol::EncodeMessage(answer));
      if (ingest.held_records() > result.peak_uncommitted) {
        result.peak_uncommitted = ingest.held_records();
        result.gauge_at_peak = UncommittedGauge(metrics);
      }
    }
    if (!ingest.CommitOldest()) break;  // nothing asked, nothing held: done or stuck
  }
  Result<std::optional<store::Head>> head = store.GetHead(kSource);
  if (head && *head) result.head = (*head)->seq;
  result.closed = link->closed;
  result.gauge_end = UncommittedGauge(metrics);
  core.Stop();
  return result;
}

class CatchUpBudgetTest : public ::testing::Test {
 protected:
  void SetUp() override { spdlog::set_level(spdlog::level::off); }
};

TEST_F(CatchUpBudgetTest, WithoutABudgetAFeedHoldsNoMoreThanItsShare) {
  CatchUp c = RunCatchUp(0);
  EXPECT_EQ(c.head, kFeedRecords) << c.closed;
  EXPECT_EQ(c.peak_uncommitted, kShareRecords);
}

TEST_F(CatchUpBudgetTest, WithABudgetItKeepsAskingWhileCommitsLagButNoFurther) {
  constexpr uint32_t kBudget = 50;
  CatchUp c = RunCatchUp(kBudget);
  EXPECT_EQ(c.head, kFeedRecords) << c.closed;
  // More than the share was fetched while commits lagged: the commits can grow.
  EXPECT_GT(c.peak_uncommitted, kShareRecords);
  // Wants go out only while the budget has room for one more answer; those already asked land.
  EXPECT_LE(c.peak_uncommitted, kBudget + kShareRecords);
  // The gauge operators watch says the same.
  EXPECT_EQ(c.gauge_at_peak, std::to_string(c.peak_uncommitted));
  EXPECT_EQ(c.gauge_end, "0");
}

}  // namespace
}  // namespace duanka::sim
