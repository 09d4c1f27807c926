// Issue 11, the sync layer under attack by a certified member: real daemons, real TLS, and a
// hostile member ("ROGUE") played by the test. One test per attack, each beside an honest control,
// each asserting the honest outcome while the attack runs:
//   - a report at an honest node reaches the victim within kPropagation (2 s, as the issue asks);
//   - the victim's anonymous resident memory stays under kMaxResidentBytes (256 MiB, default memory
//     limits; the store's file mapping is page cache and does not count);
//   - no honest node penalises another;
//   - the attacker is penalised where it misbehaved provably.
// The attacks: a liar that claims heads of an honest feed and never serves them; floods of heads
// naming uncertified issuers, of wants, and of frames sent faster than the victim reads; records
// whose own signatures nobody checked and fork evidence beyond the wire limit, which must not make
// honest relays ban each other; and clocks that disagree.
#include <utility>  // Boost 1.74's asio headers need it first on GCC 12

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "crypto/pki.h"
#include "node/common/audit.h"
#include "node/common/identity.h"
#include "protocol/bundle.h"
#include "tests/integration/consortium.h"
#include "tests/integration/http_probe.h"
#include "tests/integration/rogue_peer.h"

namespace duanka::integration {
namespace {

using Clock = std::chrono::steady_clock;
using protocol::IdType;
using protocol::Message;
namespace msg = protocol::msg;

// What the issue demands of honest propagation while an attack runs: from the moment
// `duanka-admin report` returned at one node to the entry being listed at its neighbour.
constexpr Millis kPropagation{2000};
// What the issue demands of the victim's resident memory under attack, with default memory limits.
constexpr uint64_t kMaxDaemonResidentBytes = 256ULL << 20;
#if defined(DUANKA_SANITIZED_PRODUCT)
// ASan's runtime adds a shadow byte per 8 bytes, red zones around every block and a quarantine of
// freed ones: about twice the memory, by its own documentation. The release build asserts the bound
// itself; the sanitizer build, which runs these attacks for memory errors, asserts it with ASan's
// share on top, so that it still fails on memory that grows with the flood.
constexpr uint64_t kSanitizerMemoryFactor = 2;
#else
constexpr uint64_t kSanitizerMemoryFactor = 1;
#endif
constexpr uint64_t kMaxResidentBytes = kMaxDaemonResidentBytes * kSanitizerMemoryFactor;
// The institution the rogue member plays, with certificates of the consortium's CA.
constexpr const char* kRogue = "ROGUE";
// How long a rogue waits for a node's greeting, or a connection attempt of a rogue takes at most.
constexpr Millis kAnswerDeadline{5000};
// How long a liar waits before connecting again after the node closed it (or refused it while
// banned): short, so that it is back as soon as its ban ends.
constexpr Millis kReconnectPause{250};
// Reports made during each attack: more than one, to see the attack go on and the victim cope
// with it repeatedly.
constexpr int kReportsUnderAttack = 3;
// How often a liar pings the node: well inside the test nodes' idle timeout.
constexpr Millis kLiarPingInterval{500};
// How far ahead of the truth a liar claims an honest feed to be.
constexpr uint64_t kFarAhead = 1'000'000;
// The penalty log line (node/daemon/sync.cpp Ban): "peer WHO (ADDRESS) refused for N s: WHY".
constexpr const char* kPenaltyWords = ") refused for ";

Millis WantTimeout() {
  return Millis(TestLimits().at("want_timeout_ms"));
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The lines of `text` that contain every one of `words`.
std::vector<std::string> LinesWith(const std::string& text, const std::vector<std::string>& words) {
  std::vector<std::string> out;
  for (const std::string& line : Lines(text)) {
    bool all = true;
    for (const std::string& w : words) all = all && line.find(w) != std::string::npos;
    if (all) out.push_back(line);
  }
  return out;
}

// The penalty lines in a node's log that name `who`.
std::vector<std::string> PenaltiesOf(const Consortium& c, const Node& n, const std::string& who) {
  return LinesWith(c.LogText(n), {"peer " + who + " (", kPenaltyWords});
}

// No node of `honest` penalised another of them, by its log; the offending lines if one did.
::testing::AssertionResult NoHonestPenalties(const Consortium& c,
                                             const std::vector<const Node*>& honest) {
  std::string found;
  for (const Node* n : honest) {
    for (const Node* other : honest) {
      if (n == other) continue;
      for (const std::string& line : PenaltiesOf(c, *n, other->code)) {
        found += n->code + ": " + line + "\n";
      }
    }
  }
  if (found.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "an honest node penalised another:\n" << found;
}

// The DER of the first certificate in a PEM text.
std::string DerOfPem(const std::string& pem) {
  Result<std::vector<std::string>> der = crypto::PemCertificatesToDer(pem);
  EXPECT_TRUE(der.ok() && !der->empty());
  return der.ok() && !der->empty() ? der->front() : std::string();
}

std::string Mib(uint64_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

// GET /v1/status, parsed (a discarded value if it failed).
nlohmann::json Status(const Node& n) {
  std::optional<std::string> body = HttpGet(n.api_port, "/v1/status");
  return body ? nlohmann::json::parse(*body, nullptr, false) : nlohmann::json();
}

// The entry of /v1/status "peers" for `institution`, or null.
nlohmann::json PeerStatus(const Node& n, const std::string& institution) {
  nlohmann::json status = Status(n);
  if (status.is_object() && status["peers"].is_array()) {
    for (const nlohmann::json& p : status["peers"]) {
      if (p.value("institution", "") == institution) return p;
    }
  }
  return nullptr;
}

// Like Eventually, but between checks the time goes to `drive` (an attacker's moves) instead of
// sleeping. A check that starts after the deadline does not count.
bool EventuallyDuring(const std::function<bool()>& condition, Millis deadline,
                      const std::function<void(Millis)>& drive) {
  const auto until = Clock::now() + deadline;
  while (Clock::now() <= until) {
    if (condition()) return true;
    auto left = std::chrono::duration_cast<Millis>(until - Clock::now());
    if (left <= Millis(0)) break;
    drive(std::min(left, kPollInterval));
  }
  return false;
}

// ---- The attackers -----------------------------------------------------------------------------

// A member that claims heads of an honest issuer's feed and never serves them. It claims far more
// than the truth, and, each time the test tells it the truth (a report just made), exactly the
// truth at once, racing the honest node's announcement. It answers each `want` with an empty
// `records` `answer_after` after it came (just before the want timeout), or never. Whenever the
// node closes it, it connects again after kReconnectPause and goes on, for as long as the test
// drives it: the attack lasts the whole test, bans or not.
class Liar {
 public:
  Liar(std::function<std::unique_ptr<RogueConnection>()> connect, std::string issuer,
       std::optional<Millis> answer_after)
      : connect_(std::move(connect)), issuer_(std::move(issuer)), answer_after_(answer_after) {}

  // The honest feed's true head now: claimed at once, and again with every other claim.
  void Tell(const store::Head& truth) {
    truth_ = truth;
    if (conn_) conn_->Send(msg::Announce{msg::Head{issuer_, truth.seq, truth.hash, false}});
  }

  // Plays for `budget`: (re)connects, reads what the node sends, answers what is due, claims.
  void Drive(Millis budget) {
    const auto until = Clock::now() + budget;
    if (!conn_ && Clock::now() >= next_connect_) Connect();
    while (conn_ && Clock::now() < until) {
      AnswerDue();
      // Alive and well, as far as the node's idle timeout can tell: only its wants go unserved.
      if (Clock::now() >= next_ping_) {
        conn_->Send(msg::Ping{++pings_});
        next_ping_ = Clock::now() + kLiarPingInterval;
      }
      auto next = until;
      if (answer_after_ && !pending_.empty()) next = std::min(next, pending_.front());
      next = std::min(next, next_ping_);
      auto left = std::chrono::duration_cast<Millis>(next - Clock::now());
      if (std::optional<Message> m = conn_->ReadMessage(std::max(left, Millis(1)))) {
        if (std::holds_alternative<msg::Want>(*m)) {
          ++wants_;
          pending_.push_back(Clock::now() + answer_after_.value_or(Millis(0)));
        }
      }
      if (conn_->closed()) {
        ++closed_by_node_;
        last_close_ = conn_->close_reason();
        conn_.reset();
        pending_.clear();
        next_connect_ = Clock::now() + kReconnectPause;
      }
    }
    if (!conn_ && Clock::now() < until) std::this_thread::sleep_for(until - Clock::now());
  }

  // Whether it is connected and holds a want of the node's unanswered.
  bool holding() const { return conn_ && !pending_.empty(); }
  int sessions() const { return sessions_; }
  int closed_by_node() const { return closed_by_node_; }
  int wants() const { return wants_; }
  int empty_answers() const { return empty_answers_; }
  std::string Describe() const {
    return "liar: " + std::to_string(sessions_) + " sessions, " + std::to_string(wants_) +
           " wants received, " + std::to_string(empty_answers_) + " answered empty, closed by " +
           "the node " + std::to_string(closed_by_node_) + " times (last: " + last_close_ + ")";
  }

 private:
  void Connect() {
    conn_ = connect_();
    if (!conn_) {
      next_connect_ = Clock::now() + kReconnectPause;
      return;
    }
    ++sessions_;
    // The truth first, then far ahead: the node keeps the latest claim.
    if (truth_) conn_->Send(msg::Heads{{msg::Head{issuer_, truth_->seq, truth_->hash, false}}});
    claims_ = 1;
    Claim();
  }

  // The far claim; before it, the truth if known (the node keeps the latest claim of a peer, so
  // the two alternate as the liar re-claims after each answer).
  void Claim() {
    if (truth_ && (claims_++ % 2 == 0)) {
      conn_->Send(msg::Heads{{msg::Head{issuer_, truth_->seq, truth_->hash, false}}});
      return;
    }
    const uint64_t base = truth_ ? truth_->seq : 0;
    conn_->Send(msg::Heads{
        {msg::Head{issuer_, base + kFarAhead, crypto::Sha256(crypto::AsBytes("a lie")), false}}});
  }

  void AnswerDue() {
    if (!answer_after_) return;
    while (conn_ && !pending_.empty() && pending_.front() <= Clock::now()) {
      pending_.erase(pending_.begin());
      if (!conn_->Send(msg::Records{})) return;
      ++empty_answers_;
      Claim();
    }
  }

  std::function<std::unique_ptr<RogueConnection>()> connect_;
  std::string issuer_;
  std::optional<Millis> answer_after_;
  std::unique_ptr<RogueConnection> conn_;
  std::optional<store::Head> truth_;
  std::vector<Clock::time_point> pending_;  // when each unanswered want is due for its answer
  Clock::time_point next_connect_{};
  Clock::time_point next_ping_{};
  uint64_t claims_ = 0;
  uint64_t pings_ = 0;
  int sessions_ = 0, closed_by_node_ = 0, wants_ = 0, empty_answers_ = 0;
  std::string last_close_;
};

// A connection that sends `chunk` over and over from its own thread, at up to `bytes_per_second`
// (far faster than the node can act on such frames, yet leaving the shared cores to the daemons),
// never reading, until `max_bytes` went out, the node closed it, or Stop(). A node that stops
// reading (backpressure) leaves the thread blocked in a write: Stop() interrupts it.
class Flood {
 public:
  Flood(std::unique_ptr<RogueConnection> conn, std::string chunk, uint64_t max_bytes,
        uint64_t bytes_per_second)
      : conn_(std::move(conn)), chunk_(std::move(chunk)) {
    // Generous: a write blocks while the node does not read, which is the point; Stop() ends it.
    constexpr Millis kBlockedWrite{120000};
    thread_ = std::thread([this, max_bytes, bytes_per_second] {
      const auto start = Clock::now();
      while (!stop_ && sent_ < max_bytes) {
        if (!conn_->SendRaw(chunk_, kBlockedWrite)) break;
        sent_ += chunk_.size();
        const auto due = start + std::chrono::microseconds(sent_ * 1'000'000 / bytes_per_second);
        while (!stop_ && Clock::now() < due) std::this_thread::sleep_for(Millis(5));
      }
      done_ = true;
    });
  }
  ~Flood() { Stop(); }
  Flood(const Flood&) = delete;
  Flood& operator=(const Flood&) = delete;

  void Stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    conn_->Interrupt();
    thread_.join();
  }
  uint64_t sent() const { return sent_; }
  bool done() const { return done_; }

 private:
  std::unique_ptr<RogueConnection> conn_;
  std::string chunk_;
  std::atomic<bool> stop_{false}, done_{false};
  std::atomic<uint64_t> sent_{0};
  std::thread thread_;
};

// ---- The fixture -------------------------------------------------------------------------------

// BANKA and VICTIM, VICTIM dialling BANKA, and certificates for the rogue member.
class HostileSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rogue_home_ = c_.dir() / kRogue;
    testing::RunResult issue =
        c_.AdminTool({"--home", rogue_home_.string(), "pki", "issue", "--ca-dir",
                      c_.ca_dir().string(), "--institution", kRogue, "--host", "127.0.0.1"});
    ASSERT_EQ(issue.exit_code, 0) << issue.err;
  }

  // The line, not started; `victim_limits` override TestLimits() at VICTIM.
  void MakeLine(const std::map<std::string, int64_t>& victim_limits = {}) {
    a_ = &c_.Add("BANKA");
    victim_ = &c_.Add("VICTIM", victim_limits);
    c_.Dial(*victim_, *a_);
  }

  // Starts BANKA and VICTIM and waits until a first report at BANKA reached VICTIM (no timed
  // claim).
  void StartLine() {
    ASSERT_TRUE(c_.Start(*a_));
    ASSERT_TRUE(c_.Start(*victim_));
    const std::string value = NextValue();
    ASSERT_FALSE(c_.Report(*a_, "qq", value).empty());
    ASSERT_TRUE(Eventually([&] { return c_.Listed(*victim_, IdType::kQq, value); }))
        << c_.Log(*a_) << c_.Log(*victim_);
  }

  std::string NextValue() { return std::to_string(50000 + values_++); }

  // A report at `from`; true if it is listed at `to` within kPropagation of the report's return,
  // with `drive` (the attack) having the time between checks. The measured time is kept in
  // last_propagation_.
  ::testing::AssertionResult Propagates(Node& from, Node& to,
                                        const std::function<void(Millis)>& drive) {
    const std::string value = NextValue();
    if (c_.Report(from, "qq", value).empty()) {
      return ::testing::AssertionFailure() << "the report at " << from.code << " failed";
    }
    if (on_report_) on_report_();
    const auto reported = Clock::now();
    bool arrived =
        EventuallyDuring([&] { return c_.Listed(to, IdType::kQq, value); }, kPropagation, drive);
    last_propagation_ = std::chrono::duration_cast<Millis>(Clock::now() - reported);
    if (arrived) return ::testing::AssertionSuccess();
    // How late it was, for the failure message (not asserted).
    bool later = Eventually([&] { return c_.Listed(to, IdType::kQq, value); });
    return ::testing::AssertionFailure()
           << "the report " << value << " at " << from.code << " was not listed at " << to.code
           << " within " << kPropagation.count() << " ms ("
           << (later
                   ? "it was after " +
                         std::to_string(
                             std::chrono::duration_cast<Millis>(Clock::now() - reported).count()) +
                         " ms"
                   : std::string("not even after kEventually"))
           << ")";
  }

  TlsContext RogueTls() {
    Result<TlsContext> tls =
        RogueTlsContext(rogue_home_ / "ca.pem", rogue_home_ / "tls.pem", rogue_home_ / "tls.key");
    EXPECT_TRUE(tls.ok()) << tls.error().message;
    return tls.ok() ? *tls : AnonymousTlsContext();
  }

  // A rogue session with `node`: its hello read and the rogue's own sent (with `node_time`), or
  // nullptr (quietly: a banned rogue is refused, which some tests expect).
  std::unique_ptr<RogueConnection> Greeted(Node& node, Millis timeout = kAnswerDeadline,
                                           int64_t node_time = node::SystemNow()) {
    Result<std::unique_ptr<RogueConnection>> conn =
        RogueConnection::Connect(node.port, RogueTls(), timeout);
    if (!conn) return nullptr;
    std::optional<msg::Hello> hello = (*conn)->ReadUntil<msg::Hello>(timeout);
    if (!hello) return nullptr;
    if (!(*conn)->Send(HelloFrom(kRogue, c_.name(), node_time))) return nullptr;
    return std::move(*conn);
  }

  std::string RogueSigningCert() { return DerOfPem(ReadAll(rogue_home_ / "signing.pem")); }

  crypto::SigningKey RogueKey() {
    Result<crypto::SigningKey> key = crypto::LoadPrivateKey(rogue_home_ / "signing.key");
    EXPECT_TRUE(key.ok()) << key.error().message;
    return key.ok() ? std::move(*key) : crypto::SigningKey::Generate();
  }

  // Writes a bundle and imports it at `n` with duanka-admin.
  testing::RunResult Import(Node& n, const protocol::Bundle& bundle, const std::string& name) {
    const std::filesystem::path file = c_.dir() / name;
    EXPECT_TRUE(base::WriteFileAtomic(file, protocol::EncodeBundle(bundle), 0600, true).ok());
    return c_.Admin(n, {"import", file.string()});
  }

  // A feed of `count` records of an institution that runs no node (signed with the keys in its
  // HOME), imported at BANKA as a bundle; returns once VICTIM holds all of it.
  void ImportFeedOf(const Node& issuer, size_t count) {
    Result<crypto::SigningKey> key = crypto::LoadPrivateKey(issuer.home / "signing.key");
    ASSERT_TRUE(key.ok()) << key.error().message;
    protocol::Bundle bundle{c_.name(), {DerOfPem(ReadAll(issuer.home / "signing.pem"))}, {}, {}};
    crypto::Hash256 prev;
    for (size_t seq = 1; seq <= count; ++seq) {
      bundle.records.push_back(
          SignedEntry(*key, issuer.code, seq, prev, issuer.code + std::to_string(seq)));
      prev = protocol::RecordHash(bundle.records.back());
    }
    testing::RunResult imported = Import(*a_, bundle, issuer.code + ".bundle");
    ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
    ASSERT_TRUE(Eventually([&] { return c_.HeadSeq(*victim_, issuer.code) == count; }))
        << c_.Log(*a_) << c_.Log(*victim_);
  }

  // The largest anonymous RSS of VICTIM seen by SampleVictim().
  void SampleVictim() {
    if (std::optional<uint64_t> rss = ResidentBytes(victim_->pid)) {
      max_rss_ = std::max(max_rss_, *rss);
    }
  }

  Consortium c_;
  Node* a_ = nullptr;
  Node* victim_ = nullptr;
  std::filesystem::path rogue_home_;
  int values_ = 0;
  Millis last_propagation_{0};
  std::function<void()> on_report_;
  uint64_t max_rss_ = 0;
};

// ---- 1. A liar holding a feed back -------------------------------------------------------------

class LiarTest : public HostileSyncTest, public ::testing::WithParamInterface<bool> {};

// The honest control: the same line, no liar.
TEST_F(HostileSyncTest, ControlLineWithoutLiarPropagatesEachReportWithinTwoSeconds) {
  MakeLine();
  ASSERT_NO_FATAL_FAILURE(StartLine());
  auto idle = [](Millis d) { std::this_thread::sleep_for(d); };
  for (int i = 0; i < kReportsUnderAttack; ++i) {
    EXPECT_TRUE(Propagates(*a_, *victim_, idle)) << c_.Log(*a_) << c_.Log(*victim_);
  }
  EXPECT_TRUE(NoHonestPenalties(c_, {a_, victim_}));
}

// GetParam(): true = the liar answers each want with an empty `records` just before the want
// timeout; false = it never answers.
TEST_P(LiarTest, LiarClaimingAnHonestFeedHoldsItBackNowhere) {
  const bool answers_empty = GetParam();
  MakeLine();
  ASSERT_NO_FATAL_FAILURE(StartLine());
  const std::optional<Millis> answer_after =
      answers_empty ? std::optional<Millis>(WantTimeout() - Millis(500)) : std::nullopt;
  Liar liar([&] { return Greeted(*victim_, Millis(1000)); }, "BANKA", answer_after);
  auto attack = [&](Millis d) { liar.Drive(d); };
  // The liar learns each new head of BANKA the moment the report returns, as a member that also
  // talks to BANKA would, and claims it at VICTIM at once.
  on_report_ = [&] {
    if (std::optional<store::Head> truth = c_.Head(*a_, "BANKA")) liar.Tell(*truth);
  };
  // Two sessions of the liar: the attack goes on after a penalty, as soon as the ban ends.
  constexpr int kSessions = 2;
  for (int session = 1; session <= kSessions; ++session) {
    for (int i = 0; i < kReportsUnderAttack; ++i) {
      // Each report while the liar is connected and holds a want of VICTIM's unanswered.
      EXPECT_TRUE(EventuallyDuring([&] { return liar.holding(); }, kEventually, attack))
          << "VICTIM asked the liar nothing; " << liar.Describe() << "\n"
          << c_.Log(*victim_);
      EXPECT_TRUE(Propagates(*a_, *victim_, attack))
          << "session " << session << ", report " << i << "; " << liar.Describe() << "\n"
          << c_.Log(*a_) << c_.Log(*victim_);
    }
    // The liar was caught: penalised, its connection closed by VICTIM ...
    EXPECT_TRUE(
        EventuallyDuring([&] { return liar.closed_by_node() >= session; }, kEventually, attack))
        << liar.Describe() << "\n"
        << c_.Log(*victim_);
  }
  EXPECT_GE(liar.sessions(), kSessions) << liar.Describe();
  EXPECT_FALSE(PenaltiesOf(c_, *victim_, kRogue).empty()) << liar.Describe() << "\n"
                                                          << c_.Log(*victim_);
  if (answers_empty) {
    // ... for the lie itself: it claimed a head and did not serve it.
    EXPECT_FALSE(
        LinesWith(c_.LogText(*victim_), {"peer ROGUE (", kPenaltyWords, "claimed head"}).empty())
        << liar.Describe() << "\n"
        << c_.Log(*victim_);
  }
  RecordProperty("liar", liar.Describe());
  // ... and never BANKA, whose feed it lied about.
  EXPECT_TRUE(NoHonestPenalties(c_, {a_, victim_}));
  EXPECT_TRUE(c_.SameHeads({a_, victim_}));
}

INSTANTIATE_TEST_SUITE_P(HostileSyncTest, LiarTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("AnswersEmptyJustBeforeTheTimeout")
                                             : std::string("NeverAnswers");
                         });

// ---- 2. Floods of state and of frames ----------------------------------------------------------

// Well-formed institution codes that no certificate names: UNK00000, UNK00001, …
std::string UnknownIssuer(size_t i) {
  char code[16];
  std::snprintf(code, sizeof code, "UNK%05zu", i);
  return code;
}

msg::Heads UnknownHeads(size_t first, size_t count) {
  msg::Heads m;
  for (size_t i = first; i < first + count; ++i) {
    m.heads.push_back(msg::Head{UnknownIssuer(i), 1 + i,
                                crypto::Sha256(crypto::AsBytes(UnknownIssuer(i))), false});
  }
  return m;
}

TEST_F(HostileSyncTest, HeadsNamingIssuersWithoutCertificateAreIgnoredAndPenalised) {
  // What VICTIM tolerates on one connection before a penalty (limits.max_unknown_feeds_per_peer,
  // default), and how many the flood names: thousands, in several messages.
  constexpr size_t kTolerated = 64;
  constexpr size_t kPerMessage = 4096;
  constexpr size_t kMessages = 4;
  MakeLine();
  ASSERT_NO_FATAL_FAILURE(StartLine());
  std::unique_ptr<RogueConnection> conn = Greeted(*victim_);
  ASSERT_NE(conn, nullptr) << c_.Log(*victim_);

  // Up to the limit: ignored, not penalised (a member may learn of a new member before its
  // certificate reaches this node).
  ASSERT_TRUE(conn->Send(UnknownHeads(0, kTolerated)));
  auto keep_alive = [&](Millis d) {
    conn->Send(msg::Ping{1});
    conn->ReadMessage(d);
  };
  EXPECT_TRUE(Propagates(*a_, *victim_, keep_alive)) << c_.Log(*victim_);
  EXPECT_FALSE(conn->closed()) << conn->close_reason() << "\n" << c_.Log(*victim_);
  EXPECT_TRUE(PenaltiesOf(c_, *victim_, kRogue).empty()) << c_.Log(*victim_);

  // The flood: sends stop mattering once VICTIM closed the connection.
  for (size_t m = 0; m < kMessages && !conn->closed(); ++m) {
    conn->Send(UnknownHeads(kTolerated + m * kPerMessage, kPerMessage));
  }
  auto sample = [&](Millis d) {
    SampleVictim();
    if (!conn->closed())
      conn->ReadMessage(d);
    else
      std::this_thread::sleep_for(d);
  };
  EXPECT_TRUE(Propagates(*a_, *victim_, sample)) << c_.Log(*victim_);
  EXPECT_TRUE(EventuallyDuring(
      [&] {
        return !LinesWith(c_.LogText(*victim_),
                          {"peer ROGUE (", kPenaltyWords, "issuers without a certificate here"})
                    .empty();
      },
      kEventually, sample))
      << c_.Log(*victim_);
  EXPECT_TRUE(conn->WaitClosed(kEventually)) << "VICTIM kept the flooding peer";
  SampleVictim();
  EXPECT_LT(max_rss_, kMaxResidentBytes) << Mib(max_rss_);

  // None of the names made it anywhere an operator looks.
  std::optional<std::string> status = HttpGet(victim_->api_port, "/v1/status");
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->find("UNK"), std::string::npos) << *status;
  testing::RunResult cli = c_.Duanka(*victim_, {"status", "--json"});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_EQ(cli.out.find("UNK"), std::string::npos) << cli.out;
  EXPECT_TRUE(c_.SameHeads({a_, victim_}));
  // Counted where an operator sees it.
  std::optional<std::string> metrics = HttpGet(victim_->api_port, "/metrics");
  ASSERT_TRUE(metrics.has_value());
  std::optional<double> unknown = MetricValue(*metrics, "duanka_peer_unknown_feeds_total");
  ASSERT_TRUE(unknown.has_value()) << *metrics;
  EXPECT_GT(*unknown, static_cast<double>(kTolerated)) << *metrics;
  EXPECT_TRUE(NoHonestPenalties(c_, {a_, victim_}));
}

// How fast a flood goes: several times what a victim can act on (a `records` answer of a few
// hundred KiB per 50-byte want; two signature checks per 500 bytes of evidence), and what one
// sending core manages easily.
constexpr uint64_t kFloodRate = 32ULL << 20;
// How much a flood sends at most: several times the memory bound.
constexpr uint64_t kFloodBytes = 1ULL << 30;

class FloodTest : public HostileSyncTest {
 protected:
  // Runs kReportsUnderAttack reports at BANKA while `flood` goes on, each listed at VICTIM within
  // kPropagation, then watches VICTIM's memory for a while after; its RSS stays under the bound
  // throughout.
  void ExpectHonestOutcomeDuring(Flood& flood) {
    auto sample = [&](Millis d) {
      SampleVictim();
      std::this_thread::sleep_for(d);
    };
    for (int i = 0; i < kReportsUnderAttack; ++i) {
      EXPECT_TRUE(Propagates(*a_, *victim_, sample)) << "flood: " << Mib(flood.sent()) << " sent\n"
                                                     << c_.Log(*victim_);
    }
    // Whatever was sent is taken in (or refused) meanwhile: the memory peak comes now if at all.
    constexpr Millis kAfterwards{5000};
    EventuallyDuring([] { return false; }, kAfterwards, sample);
    flood.Stop();
    SampleVictim();
    ASSERT_TRUE(c_.Running(*victim_)) << c_.Log(*victim_);
    EXPECT_LT(max_rss_, kMaxResidentBytes)
        << "VICTIM's RSS peaked at " << Mib(max_rss_) << " after a flood of " << Mib(flood.sent());
    EXPECT_TRUE(Propagates(*a_, *victim_, sample)) << c_.Log(*victim_);
    EXPECT_TRUE(NoHonestPenalties(c_, {a_, victim_}));
  }
};

TEST_F(FloodTest, WantsFromAPeerThatNeverReadsLeaveMemoryBoundedAndSyncUnhindered) {
  // Each want asks for a whole big feed: every answer is a full `records` message of a few
  // hundred KiB that the rogue never reads.
  constexpr size_t kBigFeed = 2000;
  constexpr int kWants = 20000;
  MakeLine();
  Node& x = c_.Add("BANKX");
  ASSERT_NO_FATAL_FAILURE(StartLine());
  ASSERT_NO_FATAL_FAILURE(ImportFeedOf(x, kBigFeed));
  SampleVictim();
  const uint64_t before = max_rss_;
  std::unique_ptr<RogueConnection> conn = Greeted(*victim_);
  ASSERT_NE(conn, nullptr) << c_.Log(*victim_);
  std::string wants;
  for (int i = 0; i < kWants; ++i) {
    wants += protocol::EncodeFrame(protocol::EncodeMessage(msg::Want{"BANKX", 1, 4096}));
  }
  Flood flood(std::move(conn), wants, kFloodBytes, kFloodRate);
  ExpectHonestOutcomeDuring(flood);
  RecordProperty("victim_rss_before_mib", static_cast<int>(before >> 20));
  RecordProperty("victim_rss_peak_mib", static_cast<int>(max_rss_ >> 20));
}

TEST_F(FloodTest, FramesFasterThanTheVictimTakesThemLeaveMemoryBoundedAndSyncUnhindered) {
  // Frames that are each fine to send and cost the victim work: `certs` full of a signing
  // certificate of another CA with the consortium's very name (a relay may pass on a certificate
  // this node does not take, e.g. one revoked here, so it is ignored, not penalised), each copy
  // checked against the CA anew; and pings whose pongs the rogue never reads.
  const protocol::MessageLimits wire;
  MakeLine();
  const std::filesystem::path other_ca = c_.dir() / "other-ca";
  const std::filesystem::path forger = c_.dir() / "forger";
  ASSERT_EQ(c_.AdminTool({"pki", "init-ca", "--dir", other_ca.string(), "--consortium", c_.name()})
                .exit_code,
            0);
  ASSERT_EQ(c_.AdminTool({"--home", forger.string(), "pki", "issue", "--ca-dir", other_ca.string(),
                          "--institution", "FORGER", "--host", "127.0.0.1"})
                .exit_code,
            0);
  const std::string forged = DerOfPem(ReadAll(forger / "signing.pem"));
  ASSERT_FALSE(forged.empty());
  ASSERT_NO_FATAL_FAILURE(StartLine());
  std::unique_ptr<RogueConnection> conn = Greeted(*victim_);
  ASSERT_NE(conn, nullptr) << c_.Log(*victim_);
  std::string chunk = protocol::EncodeFrame(
      protocol::EncodeMessage(msg::Certs{std::vector<std::string>(wire.max_certs, forged)}));
  chunk += protocol::EncodeFrame(protocol::EncodeMessage(msg::Ping{1}));
  Flood flood(std::move(conn), chunk, kFloodBytes, kFloodRate);
  ExpectHonestOutcomeDuring(flood);
  EXPECT_EQ(c_.Head(*victim_, "FORGER"), std::nullopt);
  RecordProperty("flood_mib", static_cast<int>(flood.sent() >> 20));
  RecordProperty("victim_rss_peak_mib", static_cast<int>(max_rss_ >> 20));
}

// ---- 3. Honest relays are never penalised ------------------------------------------------------

// A chain of ROGUE's records 1..n in which every record but the newest carries a garbage
// signature: the run verifies (the newest signature vouches for every record before it through
// the hash links), yet no inner record verifies on its own.
std::vector<protocol::SignedRecord> ChainWithGarbageInnerSignatures(const crypto::SigningKey& key,
                                                                    size_t n) {
  constexpr size_t kSignatureBytes = 64;
  std::vector<protocol::SignedRecord> chain;
  crypto::Hash256 prev;
  for (size_t seq = 1; seq <= n; ++seq) {
    protocol::SignedRecord r = SignedEntry(key, kRogue, seq, prev, "inner " + std::to_string(seq));
    if (seq < n) r.signature = std::string(kSignatureBytes, static_cast<char>('a' + seq));
    prev = protocol::RecordHash(r);
    chain.push_back(std::move(r));
  }
  return chain;
}

TEST_F(HostileSyncTest, RecordsWhoseOwnSignatureNobodyCheckedNeverGetAnHonestRelayPenalised) {
  constexpr size_t kChain = 7;
  // VICTIM asks for two records at a time: every range it asks of BANKA ends on a record whose own
  // signature is garbage, unless BANKA runs on to one whose signature verifies.
  MakeLine({{"records_per_want", 2}});
  ASSERT_NO_FATAL_FAILURE(StartLine());
  const crypto::SigningKey key = RogueKey();
  const std::vector<protocol::SignedRecord> chain = ChainWithGarbageInnerSignatures(key, kChain);
  {
    Result<crypto::TrustStore> ca = crypto::TrustStore::Load(c_.ca_pem(), std::nullopt);
    ASSERT_TRUE(ca.ok());
    protocol::Trust trust;
    const std::vector<std::string> ders = {RogueSigningCert()};
    node::AddSigners(*ca, ders, trust);
    const protocol::VerifyOptions now{node::SystemNow()};
    ASSERT_TRUE(protocol::VerifyChain(chain, trust, now).ok()) << "the run must verify";
    ASSERT_FALSE(protocol::Verify(chain[1], trust, now).ok()) << "an inner record must not";
  }
  // The rogue hands its chain to BANKA, an honest node, as a bundle.
  testing::RunResult imported =
      Import(*a_, protocol::Bundle{c_.name(), {RogueSigningCert()}, chain, {}}, "inner.bundle");
  ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
  ASSERT_EQ(c_.HeadSeq(*a_, kRogue), kChain);

  // BANKA relays it; VICTIM ends where BANKA is, and neither penalises the other.
  EXPECT_TRUE(Eventually([&] {
    std::optional<store::Head> at_a = c_.Head(*a_, kRogue);
    std::optional<store::Head> at_victim = c_.Head(*victim_, kRogue);
    return at_a && at_victim && at_a->seq == at_victim->seq && at_a->hash == at_victim->hash;
  })) << c_.Log(*a_)
      << c_.Log(*victim_);
  auto idle = [](Millis d) { std::this_thread::sleep_for(d); };
  for (int i = 0; i < kReportsUnderAttack; ++i) {
    EXPECT_TRUE(Propagates(*a_, *victim_, idle)) << c_.Log(*a_) << c_.Log(*victim_);
  }
  EXPECT_TRUE(NoHonestPenalties(c_, {a_, victim_}));

  // Then the rogue forks at one of those inner records, at VICTIM: a validly signed other record
  // at seq 3. The record VICTIM holds at 3 is the one whose own signature is garbage: it must not
  // reach BANKA as evidence (BANKA, verifying it alone, would penalise VICTIM).
  constexpr uint64_t kForkSeq = 3;
  const protocol::SignedRecord other = SignedEntry(
      key, kRogue, kForkSeq, protocol::RecordHash(chain[kForkSeq - 2]), "the other history");
  std::unique_ptr<RogueConnection> conn = Greeted(*victim_);
  ASSERT_NE(conn, nullptr) << c_.Log(*victim_);
  ASSERT_TRUE(
      conn->Send(msg::Heads{{msg::Head{kRogue, kForkSeq, protocol::RecordHash(other), false}}}));
  std::optional<msg::Want> want = conn->ReadUntil<msg::Want>(kAnswerDeadline);
  ASSERT_TRUE(want.has_value()) << conn->close_reason() << "\n" << c_.Log(*victim_);
  EXPECT_EQ(want->issuer, kRogue);
  EXPECT_EQ(want->from_seq, kForkSeq);
  ASSERT_TRUE(conn->Send(msg::Records{{other}}));
  auto keep_alive = [&](Millis d) {
    conn->Send(msg::Ping{1});
    conn->ReadMessage(d);
  };
  // The equivocation is caught ...
  EXPECT_TRUE(EventuallyDuring(
      [&] {
        std::optional<store::Head> h = c_.Head(*victim_, kRogue);
        return h && h->frozen;
      },
      kEventually, keep_alive))
      << c_.Log(*victim_);
  // ... and the honest nodes keep talking: reports flow both ways, and nobody was penalised.
  for (int i = 0; i < kReportsUnderAttack; ++i) {
    EXPECT_TRUE(Propagates(*a_, *victim_, keep_alive)) << c_.Log(*a_) << c_.Log(*victim_);
    EXPECT_TRUE(Propagates(*victim_, *a_, keep_alive)) << c_.Log(*a_) << c_.Log(*victim_);
  }
  EXPECT_TRUE(NoHonestPenalties(c_, {a_, victim_}));
}

// Fork evidence held per issuer at `n`: issuer → pairs.
std::map<std::string, size_t> EvidenceByIssuer(const Consortium& c, const Node& n,
                                               std::map<std::string, std::string>* seqs = nullptr) {
  std::map<std::string, size_t> by_issuer;
  for (const store::Evidence& e : c.AllEvidence(n)) {
    Result<protocol::Record> r = protocol::DecodeRecord(e.held.bytes);
    if (r) ++by_issuer[r->issuer];
    if (r && seqs) (*seqs)[r->issuer] += std::to_string(r->seq);
  }
  return by_issuer;
}

TEST_F(HostileSyncTest, EvidenceBeyondTheWireLimitReachesEveryNodeAndNodesThatConnectLater) {
  // Equivocating issuers (ROGUE and members of its making, each with a signing certificate of the
  // consortium's CA), each forking at as many seqs as a node keeps evidence of: together more
  // evidence than one `evidence` message may carry. (More per feed than a node keeps is not
  // something an honest relay sends; a node may penalise it.)
  constexpr size_t kIssuers = 100;
  constexpr uint64_t kForkedSeqs = store::kMaxEvidencePerFeed;
  constexpr size_t kPairsPerMessage = 250;
  const protocol::MessageLimits wire;
  ASSERT_GT(kIssuers * store::kMaxEvidencePerFeed, wire.max_evidence);
  ASSERT_LE(kPairsPerMessage, wire.max_evidence);
  MakeLine();
  Node& late = c_.Add("LATE");
  c_.Dial(late, *victim_);
  ASSERT_NO_FATAL_FAILURE(StartLine());

  std::vector<std::string> certs = {RogueSigningCert()};
  std::vector<std::pair<std::string, crypto::SigningKey>> issuers;
  issuers.emplace_back(kRogue, RogueKey());
  for (size_t i = 1; i < kIssuers; ++i) {
    char code[8];
    std::snprintf(code, sizeof code, "EQ%03zu", i);
    crypto::SigningKey key = crypto::SigningKey::Generate();
    crypto::IssueOptions o;
    o.institution = code;
    o.kind = crypto::CertKind::kSigning;
    o.subject_key = key.public_key();
    Result<std::string> pem = crypto::IssueCertificate(c_.ca_dir(), o);
    ASSERT_TRUE(pem.ok()) << pem.error().message;
    certs.push_back(DerOfPem(*pem));
    issuers.emplace_back(code, std::move(key));
  }
  std::vector<msg::EvidencePair> pairs;
  for (const auto& [code, key] : issuers) {
    for (uint64_t seq = 1; seq <= kForkedSeqs; ++seq) {
      const crypto::Hash256 prev =
          seq == 1 ? crypto::Hash256{}
                   : crypto::Sha256(crypto::AsBytes(code + std::to_string(seq)));
      pairs.push_back(msg::EvidencePair{SignedEntry(key, code, seq, prev, "one"),
                                        SignedEntry(key, code, seq, prev, "other")});
    }
  }
  // The rogue relays it all to BANKA, within the wire's limits.
  std::unique_ptr<RogueConnection> conn = Greeted(*a_);
  ASSERT_NE(conn, nullptr) << c_.Log(*a_);
  ASSERT_TRUE(conn->Send(msg::Certs{certs}));
  for (size_t i = 0; i < pairs.size(); i += kPairsPerMessage) {
    msg::Evidence m;
    for (size_t j = i; j < std::min(pairs.size(), i + kPairsPerMessage); ++j) {
      m.pairs.push_back(pairs[j]);
    }
    ASSERT_TRUE(conn->Send(m));
  }
  auto all_frozen_with_evidence = [&](const Node& n) {
    std::map<std::string, size_t> held = EvidenceByIssuer(c_, n);
    if (held.size() != kIssuers) return false;
    for (const auto& [code, key] : issuers) {
      std::optional<store::Head> head = c_.Head(n, code);
      if (!head || !head->frozen || held[code] != store::kMaxEvidencePerFeed) return false;
    }
    return true;
  };
  auto describe = [&](const Node& n) {
    std::map<std::string, std::string> seqs;
    std::map<std::string, size_t> held = EvidenceByIssuer(c_, n, &seqs);
    std::string text = n.code + " holds evidence against " + std::to_string(held.size()) +
                       " issuers, " + std::to_string(c_.AllEvidence(n).size()) + " pairs;";
    for (const auto& [code, key] : issuers) {
      std::optional<store::Head> head = c_.Head(n, code);
      if (held[code] != store::kMaxEvidencePerFeed || !head || !head->frozen) {
        text += " " + code + ":" + seqs[code] + (head && head->frozen ? "F" : "");
      }
    }
    return text + "\n";
  };
  ASSERT_TRUE(Eventually([&] { return all_frozen_with_evidence(*a_); }))
      << describe(*a_) << c_.Log(*a_);
  conn.reset();
  // VICTIM, connected all along, gets all of it from BANKA.
  EXPECT_TRUE(Eventually([&] { return all_frozen_with_evidence(*victim_); }))
      << describe(*victim_) << c_.Log(*a_) << c_.Log(*victim_);
  // LATE connects only now, to VICTIM: the evidence reaches it all the same.
  ASSERT_TRUE(c_.Start(late));
  EXPECT_TRUE(Eventually([&] { return all_frozen_with_evidence(late); }))
      << describe(late) << c_.Log(*victim_) << c_.Log(late);
  // Nobody penalised an honest relay on the way, and the other feeds still flow.
  auto idle = [](Millis d) { std::this_thread::sleep_for(d); };
  EXPECT_TRUE(Propagates(*a_, *victim_, idle)) << c_.Log(*a_) << c_.Log(*victim_);
  const std::string value = NextValue();
  ASSERT_FALSE(c_.Report(*a_, "qq", value).empty());
  EXPECT_TRUE(Eventually([&] { return c_.Listed(late, IdType::kQq, value); })) << c_.Log(late);
  EXPECT_TRUE(NoHonestPenalties(c_, {a_, victim_, &late}));
}

TEST_F(HostileSyncTest, EvidenceAgainstAFeedAlreadyFrozenIsPassedOnToo) {
  // The first pair freezes the feed and goes out with the alert; a second pair, at another seq,
  // arrives only after the feed is frozen and must travel all the same.
  MakeLine();
  ASSERT_NO_FATAL_FAILURE(StartLine());
  const crypto::SigningKey key = RogueKey();
  auto pair_at = [&](uint64_t seq) {
    const crypto::Hash256 prev =
        seq == 1 ? crypto::Hash256{}
                 : crypto::Sha256(crypto::AsBytes("late pair " + std::to_string(seq)));
    return msg::EvidencePair{SignedEntry(key, kRogue, seq, prev, "one"),
                             SignedEntry(key, kRogue, seq, prev, "other")};
  };
  std::unique_ptr<RogueConnection> conn = Greeted(*a_);
  ASSERT_NE(conn, nullptr) << c_.Log(*a_);
  ASSERT_TRUE(conn->Send(msg::Certs{{RogueSigningCert()}}));
  ASSERT_TRUE(conn->Send(msg::Evidence{{pair_at(1)}}));
  auto pairs_held = [&](const Node& n) { return EvidenceByIssuer(c_, n)[kRogue]; };
  ASSERT_TRUE(Eventually([&] { return pairs_held(*victim_) == 1; })) << c_.Log(*victim_);
  ASSERT_TRUE(conn->Send(msg::Evidence{{pair_at(2)}}));
  ASSERT_TRUE(Eventually([&] { return pairs_held(*a_) == 2; })) << c_.Log(*a_);
  EXPECT_TRUE(Eventually([&] { return pairs_held(*victim_) == 2; }))
      << c_.Log(*a_) << c_.Log(*victim_);
  EXPECT_TRUE(NoHonestPenalties(c_, {a_, victim_}));
}

// ---- 4. Clocks ---------------------------------------------------------------------------------

// How far a clock reading in a peer's hello may be from the truth by the time a slow machine took
// it: a few seconds at most, with a wide margin.
constexpr int64_t kSkewSlackSeconds = 60;

TEST_F(HostileSyncTest, PeerWhoseClockDiffersIsFlaggedNotPenalised) {
  constexpr int64_t kSkew = 600;
  MakeLine();
  ASSERT_NO_FATAL_FAILURE(StartLine());
  std::unique_ptr<RogueConnection> conn =
      Greeted(*victim_, kAnswerDeadline, node::SystemNow() + kSkew);
  ASSERT_NE(conn, nullptr) << c_.Log(*victim_);
  auto keep_alive = [&](Millis d) {
    conn->Send(msg::Ping{1});
    conn->ReadMessage(d);
  };
  EXPECT_TRUE(EventuallyDuring(
      [&] {
        return !LinesWith(c_.LogText(*victim_), {kRogue, "clock", "differs"}).empty();
      },
      kEventually, keep_alive))
      << c_.Log(*victim_);
  nlohmann::json rogue;
  EXPECT_TRUE(EventuallyDuring(
      [&] {
        rogue = PeerStatus(*victim_, kRogue);
        return rogue.is_object() && rogue.contains("clock_skew_seconds");
      },
      kEventually, keep_alive))
      << Status(*victim_).dump();
  if (rogue.is_object() && rogue["clock_skew_seconds"].is_number()) {
    const int64_t skew = rogue["clock_skew_seconds"].get<int64_t>();
    EXPECT_NEAR(std::abs(skew), kSkew, kSkewSlackSeconds) << rogue.dump();
  }
  std::optional<std::string> metrics = HttpGet(victim_->api_port, "/metrics");
  ASSERT_TRUE(metrics.has_value());
  std::optional<double> skew_metric =
      MetricValue(*metrics, "duanka_peer_clock_skew_seconds{peer=\"ROGUE\"}");
  ASSERT_TRUE(skew_metric.has_value()) << *metrics;
  EXPECT_NEAR(std::abs(*skew_metric), kSkew, kSkewSlackSeconds);
  // The control, side by side: BANKA's clock is the same as VICTIM's.
  nlohmann::json banka = PeerStatus(*victim_, "BANKA");
  ASSERT_TRUE(banka.is_object() && banka["clock_skew_seconds"].is_number()) << banka.dump();
  EXPECT_LE(std::abs(banka["clock_skew_seconds"].get<int64_t>()), kSkewSlackSeconds);
  EXPECT_TRUE(LinesWith(c_.LogText(*victim_), {"BANKA", "clock", "differs"}).empty());
  // A wrong clock is shown, not punished; and sync goes on.
  EXPECT_TRUE(Propagates(*a_, *victim_, keep_alive)) << c_.Log(*victim_);
  EXPECT_FALSE(conn->closed()) << conn->close_reason();
  EXPECT_TRUE(PenaltiesOf(c_, *victim_, kRogue).empty()) << c_.Log(*victim_);
  EXPECT_TRUE(NoHonestPenalties(c_, {a_, victim_}));
}

// What a node whose clock is behind by kSlowBy logs when records come from its future.
constexpr const char* kHeldBackLog = "dated ahead of this node's clock";

// The control: the same tolerance, clocks that agree.
TEST_F(HostileSyncTest, ControlNodesWithAgreeingClocksTakeFreshRecordsAtOnce) {
  MakeLine({{"max_clock_skew_seconds", 5}});
  ASSERT_NO_FATAL_FAILURE(StartLine());
  auto idle = [](Millis d) { std::this_thread::sleep_for(d); };
  EXPECT_TRUE(Propagates(*a_, *victim_, idle)) << c_.Log(*victim_);
  EXPECT_FALSE(c_.Logged(*victim_, kHeldBackLog)) << c_.Log(*victim_);
  EXPECT_TRUE(LinesWith(c_.LogText(*victim_), {"BANKA", "clock", "differs"}).empty());
  EXPECT_TRUE(NoHonestPenalties(c_, {a_, victim_}));
}

TEST_F(HostileSyncTest, RecordsFromTheFutureOfASlowNodeAreHeldBackAndTakenLaterNotPenalised) {
  // The record is dated kSlowBy - kTolerance = 10 s past what VICTIM's clock allows: long enough
  // to see it held back (checked while 5 s of that remain), short enough not to idle the suite.
  constexpr int64_t kSlowBy = 15;
  constexpr int64_t kTolerance = 5;
  // VICTIM's clock catches up with the record's date after kSlowBy - kTolerance seconds; this
  // leaves room for a busy machine.
  constexpr Millis kCaughtUp{60000};
  MakeLine({{"max_clock_skew_seconds", kTolerance}});
  victim_->env = FakeClock(-kSlowBy);
  ASSERT_FALSE(victim_->env.empty());
  ASSERT_TRUE(c_.Start(*a_));
  ASSERT_TRUE(c_.Start(*victim_));
  ASSERT_TRUE(Eventually([&] {
    nlohmann::json p = PeerStatus(*victim_, "BANKA");
    return p.is_object() && p.value("ready", false);
  })) << c_.Log(*victim_);
  const std::string value = NextValue();
  ASSERT_FALSE(c_.Report(*a_, "qq", value).empty());
  const auto reported = Clock::now();
  // Held back, and said so ...
  EXPECT_TRUE(Eventually([&] { return c_.Logged(*victim_, kHeldBackLog); })) << c_.Log(*victim_);
  if (Clock::now() - reported < std::chrono::seconds(kSlowBy - kTolerance) - Millis(5000)) {
    EXPECT_FALSE(c_.Listed(*victim_, IdType::kQq, value)) << "taken while still in the future";
  }
  // ... and taken once VICTIM's clock caught up, with BANKA never penalised meanwhile.
  EXPECT_TRUE(Eventually([&] { return c_.Listed(*victim_, IdType::kQq, value); }, kCaughtUp))
      << c_.Log(*a_) << c_.Log(*victim_);
  EXPECT_TRUE(NoHonestPenalties(c_, {a_, victim_}));
  EXPECT_TRUE(c_.SameHeads({a_, victim_}));
}

}  // namespace
}  // namespace duanka::integration
