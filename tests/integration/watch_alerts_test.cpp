// Re-screening (issue 14) with real daemons in the 4-node line BANKA -- BANKB -- BANKC -- PAYC:
// PAYC watches two of its customers; BANKA lists one of them three hops away and PAYC's alert log
// gets a `listed` alert naming PAYC's reference; BANKA's revocation raises `cleared` with its
// reason. No other node raises an alert or holds the watch list, and neither the raw values, the
// references nor the subject of the customer who is not listed appear in another node's store, in
// a bundle PAYC exports, or in what PAYC sends a peer over the wire.
#include <utility>  // Boost 1.74's asio headers need it first on GCC 12

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "crypto/crypto.h"
#include "node/common/lookup.h"
#include "protocol/identifier.h"
#include "tests/integration/consortium.h"
#include "tests/integration/rogue_peer.h"

namespace duanka::integration {
namespace {

using protocol::IdType;
using testing::RunResult;
namespace msg = protocol::msg;

constexpr const char* kListedPhone = "13800138021";
constexpr const char* kListedRef = "PAYC#CUST-0001";
constexpr const char* kQuietQq = "730045118";  // watched, never listed
constexpr const char* kQuietRef = "PAYC#CUST-0002";
// The member a test plays to see what PAYC sends a peer.
constexpr const char* kWireTap = "TAPPER";
// How long the wire tap reads what PAYC sends it after asking for every feed.
constexpr Millis kTapReadFor{2000};
constexpr Millis kAnswerDeadline{5000};

std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

// Every file under `dir`, concatenated (a store's data.mdb, a node's whole home).
std::string AllBytesUnder(const std::filesystem::path& dir) {
  std::string all;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) all += ReadAll(e.path());
  }
  return all;
}

class WatchAlerts : public ::testing::Test {
 protected:
  void SetUp() override {
    line_ = c_.Line({"BANKA", "BANKB", "BANKC", "PAYC"});
    ASSERT_TRUE(c_.StartAll());
    const std::filesystem::path customers = c_.dir() / "customers.csv";
    {
      std::ofstream out(customers);
      out << "phone," << kListedPhone << "," << kListedRef << "\n";
      out << "qq," << kQuietQq << "," << kQuietRef << "\n";
    }
    RunResult watched = c_.Admin(payc(), {"watch", "--batch", customers.string()});
    ASSERT_EQ(watched.exit_code, 0) << watched.err;
    EXPECT_TRUE(watched.out.empty()) << "nobody is listed yet: " << watched.out;
    std::filesystem::remove(customers);  // the raw values must now live nowhere on disk
  }

  std::vector<nlohmann::json> Alerts(const Node& n, uint64_t after = 0) {
    RunResult r = c_.Duanka(n, {"alerts", "--json", "--after", std::to_string(after)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return JsonLines(r.out);
  }

  // The quiet customer's subject under the consortium's pepper, as raw bytes.
  std::string QuietSubjectBytes() {
    Result<crypto::Pepper> pepper = crypto::Pepper::Load(payc().home / "pepper.key");
    EXPECT_TRUE(pepper.ok());
    Result<std::string> canonical = protocol::Canonicalize(IdType::kQq, kQuietQq);
    EXPECT_TRUE(canonical.ok());
    if (!pepper || !canonical) return "unavailable";
    crypto::Hash256 s =
        pepper->Subject(pepper->current_epoch(), protocol::IdTypeName(IdType::kQq), *canonical);
    return std::string(reinterpret_cast<const char*>(s.bytes.data()), s.bytes.size());
  }

  // What must never leave PAYC: the raw values, the references and the quiet customer's subject
  // (raw and as hex).
  ::testing::AssertionResult HoldsNoWatchList(const std::string& where, const std::string& bytes) {
    const std::string subject = QuietSubjectBytes();
    std::string hex;
    for (unsigned char c : subject) {
      static const char* kHex = "0123456789abcdef";
      hex += kHex[c >> 4];
      hex += kHex[c & 15];
    }
    for (const std::string& secret :
         {std::string(kListedPhone), std::string(kQuietQq), std::string(kListedRef),
          std::string(kQuietRef), subject, hex.substr(0, 16)}) {
      if (bytes.find(secret) != std::string::npos) {
        return ::testing::AssertionFailure() << where << " holds a piece of the watch list";
      }
    }
    return ::testing::AssertionSuccess();
  }

  Node& a() { return *line_[0]; }
  Node& payc() { return *line_[3]; }

  Consortium c_;
  std::vector<Node*> line_;
};

TEST_F(WatchAlerts, AListingThreeHopsAwayAlertsTheWatcherAndItsRevocationClears) {
  const std::string entry = c_.Report(a(), "phone", kListedPhone, "rented-out");
  ASSERT_EQ(entry, "BANKA:1");
  std::vector<nlohmann::json> alerts;
  ASSERT_TRUE(Eventually([&] { return !(alerts = Alerts(payc())).empty(); })) << c_.Log(payc());
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["id"], 1);
  EXPECT_EQ(alerts[0]["kind"], "listed");
  EXPECT_EQ(alerts[0]["entry"], entry);
  EXPECT_EQ(alerts[0]["issuer"], "BANKA");
  EXPECT_EQ(alerts[0]["type"], "phone");
  EXPECT_EQ(alerts[0]["category"], "rented-out");
  EXPECT_EQ(alerts[0]["refs"], nlohmann::json::array({kListedRef}));

  ASSERT_TRUE(c_.Revoke(a(), entry, "appeal-upheld"));
  std::vector<nlohmann::json> later;
  ASSERT_TRUE(Eventually([&] { return !(later = Alerts(payc(), 1)).empty(); })) << c_.Log(payc());
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0]["id"], 2);
  EXPECT_EQ(later[0]["kind"], "cleared");
  EXPECT_EQ(later[0]["reason"], "appeal-upheld");
  EXPECT_EQ(later[0]["refs"], nlohmann::json::array({kListedRef}));

  // Nobody else watches: the entry and its revocation raised nothing at the other nodes.
  for (Node* n : {line_[0], line_[1], line_[2]}) {
    ASSERT_TRUE(c_.WithStore(*n, [&](const store::Store& s) {
      EXPECT_EQ(s.LastAlertId().value(), 0u) << n->code;
      EXPECT_EQ(s.WatchCount().value(), 0u) << n->code;
    }));
  }
}

TEST_F(WatchAlerts, TheWatchListNeverLeavesTheNode) {
  const std::string entry = c_.Report(a(), "phone", kListedPhone, "sold");
  ASSERT_FALSE(entry.empty());
  ASSERT_TRUE(Eventually([&] { return !Alerts(payc()).empty(); }));
  ASSERT_TRUE(Eventually([&] { return c_.SameHeads(line_); }));
  // PAYC reports too, so that its own feed travels and is compared.
  ASSERT_FALSE(c_.Report(payc(), "qq", "730045119", "bought").empty());
  ASSERT_TRUE(Eventually([&] { return c_.SameHeads(line_); }));

  for (Node* n : {line_[0], line_[1], line_[2]}) {
    EXPECT_TRUE(HoldsNoWatchList(n->code + "'s home", AllBytesUnder(n->home)));
  }
  // PAYC's own store keeps refs (they are its), but never a raw value; nor do its logs.
  const std::string payc_home = AllBytesUnder(payc().home);
  EXPECT_EQ(payc_home.find(kListedPhone), std::string::npos);
  EXPECT_EQ(payc_home.find(kQuietQq), std::string::npos);
  EXPECT_EQ(c_.LogText(payc()).find(kQuietRef), std::string::npos);

  const std::filesystem::path bundle = c_.dir() / "payc.bundle";
  RunResult exported = c_.Admin(payc(), {"export", "--out", bundle.string()});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_TRUE(HoldsNoWatchList("PAYC's bundle", ReadAll(bundle)));

  // On the wire: a member asks PAYC for every feed and records all PAYC sends it.
  const std::filesystem::path tap_home = c_.dir() / kWireTap;
  RunResult issued =
      c_.AdminTool({"--home", tap_home.string(), "pki", "issue", "--ca-dir", c_.ca_dir().string(),
                    "--institution", kWireTap, "--host", "127.0.0.1"});
  ASSERT_EQ(issued.exit_code, 0) << issued.err;
  Result<TlsContext> tls =
      RogueTlsContext(tap_home / "ca.pem", tap_home / "tls.pem", tap_home / "tls.key");
  ASSERT_TRUE(tls.ok()) << tls.error().message;
  Result<std::unique_ptr<RogueConnection>> conn =
      RogueConnection::Connect(payc().port, *tls, kAnswerDeadline);
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  std::string wire;
  std::optional<std::string> first = (*conn)->ReadFrame(kAnswerDeadline);
  ASSERT_TRUE(first.has_value()) << "PAYC sent no hello";
  wire += *first;
  ASSERT_TRUE((*conn)->Send(HelloFrom(kWireTap, c_.name())));
  for (const char* issuer : {"BANKA", "PAYC"}) {
    ASSERT_TRUE((*conn)->Send(msg::Want{issuer, 1, 100}));
  }
  const auto until = std::chrono::steady_clock::now() + kTapReadFor;
  size_t frames = 1;
  while (std::chrono::steady_clock::now() < until) {
    std::optional<std::string> frame = (*conn)->ReadFrame(Millis(200));
    if (!frame) continue;
    wire += *frame;
    ++frames;
  }
  EXPECT_GT(frames, 2u) << "PAYC answered nothing the tap could check";
  // The records did travel (the listed subject is in BANKA's entry), and nothing of the list did.
  EXPECT_NE(wire.find("BANKA"), std::string::npos);
  EXPECT_TRUE(HoldsNoWatchList("what PAYC sent a peer", wire));
}

TEST_F(WatchAlerts, ABadWatchFileIsRefusedWithLineNumbersAndNothingIsWatched) {
  const std::filesystem::path bad = c_.dir() / "bad.csv";
  {
    std::ofstream out(bad);
    out << "phone,13800138099,GOOD-REF\n";
    out << "phone,12,SHORT\n";            // line 2: not a phone number
    out << "qq,730045120,13800138098\n";  // line 3: the ref is an identifier
    out << "phone,13800138097\n";         // line 4: no ref
  }
  RunResult r = c_.Admin(payc(), {"watch", "--batch", bad.string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  for (const char* where : {"line 2", "line 3", "line 4"}) {
    EXPECT_NE(r.err.find(where), std::string::npos) << r.err;
  }
  EXPECT_EQ(r.err.find("13800138098"), std::string::npos) << "a bad line is never echoed";
  ASSERT_TRUE(c_.WithStore(payc(), [](const store::Store& s) {
    EXPECT_EQ(s.WatchCount().value(), 2u) << "the two customers of SetUp alone";
  }));
}

}  // namespace
}  // namespace duanka::integration
