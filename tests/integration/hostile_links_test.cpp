// Attacks on a node's links, each against a real daemon with an honest control beside it:
// strangers holding handshake slots, a dialled address answered by another member, a peer that
// trickles bytes while being closed, and an accept loop out of descriptors (issue 11, items 4-6).
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "node/common/audit.h"
#include "tests/integration/consortium.h"
#include "tests/integration/rogue_peer.h"

namespace duanka::integration {
namespace {

using Clock = std::chrono::steady_clock;
using protocol::IdType;
namespace msg = protocol::msg;

// What the issue asks of an honest report while an attack runs: it reaches the victim in 2 s.
constexpr Millis kPropagation{2000};
// How long a rogue waits for the node to greet it.
constexpr Millis kAnswerDeadline{5000};
// A member institution the rogue plays, with certificates of the consortium's CA.
constexpr const char* kRogue = "ROGUE";

// ---- The handshake flood ----
// Loopback sources the strangers connect from (127.0.0.2 and up; honest daemons use 127.0.0.1).
constexpr int kFloodSources = 8;
// Connections each source keeps trying to hold: above the victim's per-address limit.
constexpr int kFloodPerSource = 3;
// How often the flood re-opens what the node closed.
constexpr Millis kFloodTick{50};
// Strangers' connections opened, in multiples of the flood, before the slots count as full.
constexpr uint64_t kFloodFullAfter = 3;
// The victim's budgets in the flood test: all of them far below the flood.
constexpr int64_t kFloodMaxInbound = 4;
constexpr int64_t kFloodMaxHandshaking = 8;
constexpr int64_t kFloodPerAddress = 2;
// Log lines the victim may write about refused strangers during the flood: a handful, not one
// per stranger.
constexpr size_t kMaxRefusalLines = 20;

// ---- The trickling closer ----
// Records in the victim's own feed: answers to kWants wants of them are far more than the socket
// buffers between the victim and a rogue that does not read.
constexpr int kFeedRecords = 3000;
constexpr int kWants = 30;
constexpr uint32_t kWantCount = 2048;
// Time for the node to queue its answers before the rogue says goodbye.
constexpr Millis kQueueingPause{500};
// Between two trickled bytes: well inside the idle timeout, so only an absolute close deadline
// ends the connection.
constexpr Millis kTrickleInterval{100};
// A loaded machine's slack beyond shutdown_timeout_ms for the node to cut the rogue off and for
// the rogue to notice.
constexpr Millis kCloseMargin{1500};
// A frame length the rogue announces (within the frame limit) and then never finishes.
constexpr uint32_t kUnfinishedFrameBytes = 1 << 20;

// ---- Accept out of descriptors ----
// The victim's RLIMIT_NOFILE at start: room for every budget (duankad fits them to it).
constexpr uint64_t kStartDescriptorLimit = 1024;
// Descriptors left free when the test then lowers the running victim's limit: a few strangers'
// worth, as if something else had taken the rest.
constexpr uint64_t kSpareDescriptors = 8;
// Strangers opened: many more than the spare descriptors.
constexpr int kDescriptorStrangers = 64;
// How long the victim is held at its limit.
constexpr Millis kExhaustedFor{3000};
// "accept failed" lines allowed for one exhaustion episode: one, and room for a second episode.
constexpr size_t kMaxAcceptFailureLines = 4;

// The `peers` entry for dialling `address` and expecting `institution` there.
std::string PeerEntry(const std::string& institution, const std::string& address) {
  return institution + "@" + address;
}

TlsContext TlsOf(const Consortium& c, const std::filesystem::path& home) {
  Result<TlsContext> tls = RogueTlsContext(c.ca_pem(), home / "tls.pem", home / "tls.key");
  EXPECT_TRUE(tls.ok()) << tls.error().message;
  return tls.ok() ? *tls : AnonymousTlsContext();
}

// Keys and certificates of the consortium's CA for an institution no daemon runs.
std::filesystem::path IssueRogue(Consortium& c, const std::string& code) {
  const std::filesystem::path home = c.dir() / code;
  testing::RunResult issue =
      c.AdminTool({"--home", home.string(), "pki", "issue", "--ca-dir", c.ca_dir().string(),
                   "--institution", code, "--host", "127.0.0.1"});
  EXPECT_EQ(issue.exit_code, 0) << issue.err;
  return home;
}

// A new report at `from` is listed at `to` within `within`.
::testing::AssertionResult Arrives(Consortium& c, Node& from, Node& to, const std::string& qq,
                                   Millis within) {
  if (c.Report(from, "qq", qq).empty()) return ::testing::AssertionFailure() << "report failed";
  if (Eventually([&] { return c.Listed(to, IdType::kQq, qq); }, within)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "a report at " << from.code << " did not reach "
                                       << to.code << " within " << within.count() << " ms\n"
                                       << c.Log(to) << "\n"
                                       << c.Log(from);
}

// Lines of the node's log that contain every one of `parts`.
size_t CountLines(Consortium& c, const Node& n, const std::vector<std::string>& parts) {
  std::istringstream in(c.LogText(n));
  size_t count = 0;
  for (std::string line; std::getline(in, line);) {
    bool all = true;
    for (const std::string& p : parts) all = all && line.find(p) != std::string::npos;
    count += all ? 1 : 0;
  }
  return count;
}

// Strangers from kFloodSources loopback addresses, each trying to hold kFloodPerSource TCP
// connections that never finish a TLS handshake (half silent, half a partial ClientHello), and
// re-opening whatever the node closes, as a patient attacker would.
class HandshakeFlood {
 public:
  explicit HandshakeFlood(uint16_t port) : port_(port), thread_([this] { Run(); }) {}
  ~HandshakeFlood() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Connections the node accepted at TCP level so far.
  uint64_t opened() const { return opened_; }

 private:
  void Run() {
    std::vector<std::unique_ptr<StalledClient>> held(kFloodSources * kFloodPerSource);
    while (!stop_) {
      for (size_t i = 0; i < held.size() && !stop_; ++i) {
        if (held[i] && !held[i]->ClosedByNode()) continue;
        held[i].reset();
        const std::string source = "127.0.0." + std::to_string(2 + i / kFloodPerSource);
        Result<std::unique_ptr<StalledClient>> c = StalledClient::Open(
            port_, source,
            i % 2 ? StalledClient::Mode::kSilent : StalledClient::Mode::kPartialClientHello);
        if (c) {
          held[i] = std::move(*c);
          ++opened_;
        }
      }
      std::this_thread::sleep_for(kFloodTick);
    }
  }

  uint16_t port_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> opened_{0};
  std::thread thread_;
};

// ---- Item 4: handshake slots ------------------------------------------------------------------

TEST(HostileLinksTest, StrangersStallingHandshakesDoNotKeepAnHonestPeerOut) {
  Consortium c;
  Node& a = c.Add("BANKA", {{"max_inbound_connections", kFloodMaxInbound},
                            {"max_handshaking_connections", kFloodMaxHandshaking},
                            {"handshakes_per_address", kFloodPerAddress}});
  Node& b = c.Add("BANKB");
  c.Dial(b, a);  // the honest link is inbound at the victim
  ASSERT_TRUE(c.StartAll());
  ASSERT_TRUE(Arrives(c, b, a, "81000", kEventually));

  HandshakeFlood flood(a.port);
  const uint64_t flood_size = kFloodSources * kFloodPerSource;
  // Every stranger connected, and the node has been closing the surplus for a while: the
  // handshake slots are full.
  ASSERT_TRUE(Eventually([&] { return flood.opened() >= kFloodFullAfter * flood_size; }))
      << flood.opened();
  // The established link is not touched by strangers.
  EXPECT_TRUE(Arrives(c, b, a, "81001", kPropagation));
  // The honest peer reconnects while the strangers hold on, and gets a slot each time.
  for (int round = 0; round < 2; ++round) {
    ASSERT_EQ(c.Stop(b), 0);
    ASSERT_TRUE(c.Start(b));
    EXPECT_TRUE(Arrives(c, b, a, "8101" + std::to_string(round), kPropagation))
        << "round " << round << ", strangers' connections so far " << flood.opened();
  }
  EXPECT_GT(flood.opened(), flood_size) << "the node never closed a stranger";
  flood.Stop();
  EXPECT_LE(CountLines(c, a, {"inbound connection from 127.0.0."}), kMaxRefusalLines) << c.Log(a);
}

// ---- Item 4: the dialled peer's identity ------------------------------------------------------

TEST(HostileLinksTest, DialledAddressAnsweredByAnotherMemberIsRefused) {
  Consortium c;
  Node& a = c.Add("BANKA");
  Node& b = c.Add("BANKB");
  Node& other = c.Add("BANKC");
  // BANKA expects BANKB at an address where BANKC answers (stale, or hijacked), and BANKB at
  // BANKB's: the control.
  a.peers.push_back(PeerEntry("BANKB", other.address()));
  c.Dial(a, b);
  ASSERT_FALSE(c.Report(other, "qq", "82000").empty());
  ASSERT_TRUE(c.StartAll());
  ASSERT_TRUE(Arrives(c, b, a, "82001", kEventually));
  EXPECT_TRUE(Eventually([&] {
    return CountLines(c, a, {"expected", "BANKB", "BANKC"}) > 0;
  })) << c.Log(a);
  // Several redials later, nothing of BANKC's reached BANKA: not a record, not a head.
  EXPECT_TRUE(Eventually([&] {
    return CountLines(c, a, {"expected", "BANKB", "BANKC"}) >= 3;
  })) << c.Log(a);
  EXPECT_FALSE(c.Listed(a, IdType::kQq, "82000"));
  EXPECT_EQ(c.Head(a, "BANKC"), std::nullopt) << c.Log(a);
  EXPECT_EQ(CountLines(c, a, {"peer BANKC", "connected"}), 0u) << c.Log(a);
}

TEST(HostileLinksTest, DialledRogueWithAnotherMembersCertificateHearsNothing) {
  Consortium c;
  Node& a = c.Add("BANKA");
  Node& b = c.Add("BANKB");
  c.Dial(a, b);
  RogueServer server(TlsOf(c, IssueRogue(c, kRogue)));
  a.peers.push_back(PeerEntry("BANKB", "127.0.0.1:" + std::to_string(server.port())));
  ASSERT_TRUE(c.StartAll());
  Result<std::unique_ptr<RogueConnection>> dialled = server.Accept(kAnswerDeadline);
  ASSERT_TRUE(dialled.ok()) << dialled.error().message << "\n" << c.Log(a);
  // The rogue speaks first, as a member would; BANKA hangs up without a frame either way.
  (*dialled)->Send(
      msg::Hello{protocol::kProtocolVersion, c.name(), kRogue, {1}, node::SystemNow()});
  EXPECT_TRUE((*dialled)->WaitClosed(kAnswerDeadline));
  EXPECT_TRUE((*dialled)->seen().empty()) << "BANKA talked to a member it did not dial";
  EXPECT_TRUE(Eventually([&] {
    return CountLines(c, a, {"expected", "BANKB", kRogue}) > 0;
  })) << c.Log(a);
  EXPECT_TRUE(Arrives(c, b, a, "82100", kEventually));
}

// ---- Item 6: absolute close deadlines ---------------------------------------------------------

TEST(HostileLinksTest, PeerTricklingBytesWhileBeingClosedIsCutOffAtTheCloseDeadline) {
  Consortium c;
  Node& a = c.Add("BANKA");
  Node& b = c.Add("BANKB");
  c.Dial(b, a);
  std::string list = "type,value,category\n";
  for (int i = 0; i < kFeedRecords; ++i) list += "qq," + std::to_string(20000000 + i) + ",sold\n";
  const std::filesystem::path file = c.dir() / "list.csv";
  std::ofstream(file, std::ios::binary) << list;
  testing::RunResult published = c.Admin(a, {"report", "--batch", file.string()});
  ASSERT_EQ(published.exit_code, 0) << published.err;
  const std::filesystem::path rogue = IssueRogue(c, kRogue);
  ASSERT_TRUE(c.StartAll());
  ASSERT_TRUE(Arrives(c, b, a, "83000", kEventually));

  Result<std::unique_ptr<RogueConnection>> conn =
      RogueConnection::Connect(a.port, TlsOf(c, rogue), kAnswerDeadline);
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  RogueConnection& r = **conn;
  ASSERT_TRUE(
      r.Send(msg::Hello{protocol::kProtocolVersion, c.name(), kRogue, {1}, node::SystemNow()}));
  // Far more answers than the socket buffers hold: the node's writes stall, as the rogue never
  // reads.
  for (int i = 0; i < kWants; ++i) ASSERT_TRUE(r.Send(msg::Want{"BANKA", 1, kWantCount}));
  std::this_thread::sleep_for(kQueueingPause);
  // The rogue says goodbye, so the node starts closing, then keeps it busy with a frame that
  // never ends, one byte at a time.
  ASSERT_TRUE(r.Send(msg::Error{msg::ErrorCode::kUnspecified, "goodbye"}));
  const auto closing = Clock::now();
  const std::string length = {static_cast<char>(kUnfinishedFrameBytes >> 24),
                              static_cast<char>(kUnfinishedFrameBytes >> 16 & 0xff),
                              static_cast<char>(kUnfinishedFrameBytes >> 8 & 0xff),
                              static_cast<char>(kUnfinishedFrameBytes & 0xff)};
  bool open = r.SendRaw(length);
  const Millis allowed = Millis(TestLimits().at("shutdown_timeout_ms")) + kCloseMargin;
  while (open && Clock::now() - closing < allowed) {
    std::this_thread::sleep_for(kTrickleInterval);
    open = r.SendRaw("x");
  }
  EXPECT_FALSE(open) << "BANKA still held a connection it began closing "
                     << std::chrono::duration_cast<Millis>(Clock::now() - closing).count()
                     << " ms ago\n"
                     << c.Log(a);
  // The honest link never noticed.
  EXPECT_TRUE(Arrives(c, b, a, "83001", kPropagation));
}

// ---- Item 5 (peer side): accept out of descriptors --------------------------------------------

// The highest descriptor number the process holds, or -1.
int HighestDescriptor(pid_t pid) {
  int highest = -1;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    highest = std::max(highest, std::atoi(it->path().filename().c_str()));
  }
  return highest;
}

TEST(HostileLinksTest, AcceptOutOfDescriptorsBacksOffAndRecovers) {
  Consortium c;
  // Budgets far above what the descriptors will allow, and a handshake deadline that lets the
  // strangers hold theirs for the whole test.
  Node& a = c.Add("BANKA", {{"handshake_timeout_ms", 60000},
                            {"max_handshaking_connections", 4096},
                            {"handshakes_per_address", 4096},
                            {"max_inbound_connections", 4096}});
  a.max_open_files = kStartDescriptorLimit;
  Node& b = c.Add("BANKB");
  c.Dial(b, a);
  ASSERT_TRUE(c.StartAll());
  ASSERT_TRUE(Arrives(c, b, a, "84000", kEventually));

  // Something else took the descriptors: only a few are left under the limit of the running node.
  const int highest = HighestDescriptor(a.pid);
  ASSERT_GE(highest, 0);
  const auto limit = static_cast<rlim_t>(highest + 1 + kSpareDescriptors);
  const rlimit lowered{limit, limit};
  ASSERT_EQ(::prlimit(a.pid, RLIMIT_NOFILE, &lowered, nullptr), 0) << std::strerror(errno);
  std::vector<std::unique_ptr<StalledClient>> strangers;
  for (int i = 0; i < kDescriptorStrangers; ++i) {
    Result<std::unique_ptr<StalledClient>> s =
        StalledClient::Open(a.port, "127.0.0.2", StalledClient::Mode::kSilent);
    ASSERT_TRUE(s.ok()) << s.error().message;
    strangers.push_back(std::move(*s));
  }
  ASSERT_TRUE(Eventually([&] { return c.Logged(a, "accept failed"); })) << c.Log(a);
  // The established link needs no new descriptor and goes on.
  EXPECT_TRUE(Arrives(c, b, a, "84001", kPropagation));
  std::this_thread::sleep_for(kExhaustedFor);
  // The accept loop backed off and said so once, rather than spinning and logging each attempt.
  EXPECT_LE(CountLines(c, a, {"accept failed"}), kMaxAcceptFailureLines) << c.Log(a);
  EXPECT_TRUE(c.Running(a));
  strangers.clear();
  // Accepting again once the strangers are gone: BANKB reconnects, and a report crosses.
  ASSERT_EQ(c.Stop(b), 0);
  ASSERT_TRUE(c.Start(b));
  EXPECT_TRUE(Arrives(c, b, a, "84002", kEventually));
  EXPECT_TRUE(c.Logged(a, "accepting peers again")) << c.Log(a);
}

}  // namespace
}  // namespace duanka::integration
