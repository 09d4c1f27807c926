// GET /v1/status and `duanka status --json` share one shape (node/common/status_json.h, issue 13
// section 1): the keys both have mean the same, so a monitoring script can read either.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "tests/integration/consortium.h"
#include "tests/integration/http_probe.h"

namespace duanka::integration {
namespace {

// Keys only one side has: the daemon's live state, and where the CLI looked and whom it asked.
const std::set<std::string> kDaemonOnly = {"consortium", "peers", "pepper", "crl"};
const std::set<std::string> kCliOnly = {"home", "daemon"};
// Read at different moments (the daemon writes its seen heads; peers' retry times move):
// compared by presence only.
const std::set<std::string> kMoving = {"now", "store", "store_bytes", "configured_peers"};

std::set<std::string> KeysWithout(const nlohmann::json& j, const std::set<std::string>& drop) {
  std::set<std::string> keys;
  for (const auto& [key, value] : j.items()) {
    if (!drop.count(key)) keys.insert(key);
  }
  return keys;
}

nlohmann::json DaemonStatus(const Node& n) {
  std::optional<std::string> body = HttpGet(n.api_port, "/v1/status");
  return body ? nlohmann::json::parse(*body, nullptr, false) : nlohmann::json();
}

TEST(Status, TheDaemonAndTheCliAgreeOnEveryKeyTheyShare) {
  Consortium c;
  std::vector<Node*> line = c.Line({"BANKA", "BANKB"});
  Node& a = *line[0];
  Node& b = *line[1];
  ASSERT_TRUE(c.StartAll());
  const std::string kept = c.Report(a, "qq", "52001");
  const std::string withdrawn = c.Report(a, "qq", "52002");
  ASSERT_FALSE(kept.empty() || withdrawn.empty());
  ASSERT_TRUE(c.Revoke(a, withdrawn));
  ASSERT_TRUE(Eventually([&] { return static_cast<bool>(c.SameHeads({&a, &b})); }));

  // The daemon's counts are cached for a few seconds: wait until they include the last record.
  nlohmann::json daemon;
  nlohmann::json cli;
  auto agree = [&] {
    testing::RunResult r = c.Duanka(b, {"status", "--json"});
    if (r.exit_code != 0) return false;
    cli = nlohmann::json::parse(r.out, nullptr, false);
    daemon = DaemonStatus(b);
    return daemon.is_object() && cli.is_object() && daemon["feeds"] == cli["feeds"] &&
           daemon["totals"] == cli["totals"];
  };
  ASSERT_TRUE(Eventually(agree)) << "daemon: " << daemon.dump() << "\ncli: " << cli.dump();

  EXPECT_EQ(KeysWithout(daemon, kDaemonOnly), KeysWithout(cli, kCliOnly))
      << "daemon: " << daemon.dump() << "\ncli: " << cli.dump();
  for (const std::string& key : KeysWithout(daemon, kDaemonOnly)) {
    if (kMoving.count(key)) continue;
    EXPECT_EQ(daemon[key], cli[key]) << key;
  }
  for (const std::string& key : kMoving) {
    EXPECT_TRUE(daemon.contains(key) && cli.contains(key)) << key;
    EXPECT_EQ(daemon[key].type(), cli[key].type()) << key;
  }
  EXPECT_EQ(daemon["store_bytes"], daemon["store"]["bytes_on_disk"]);
  EXPECT_TRUE(cli["store"].contains("path"));
  for (const std::string& key : kDaemonOnly) {
    if (key != "crl") {
      EXPECT_TRUE(daemon.contains(key)) << key;
    }
  }

  // What both say is what the store holds: BANKA's feed, two entries and a revocation.
  ASSERT_EQ(cli["feeds"].size(), 1U) << cli.dump();
  const nlohmann::json& feed = cli["feeds"][0];
  EXPECT_EQ(feed["issuer"], "BANKA");
  EXPECT_EQ(feed["seq"], 3);
  EXPECT_EQ(feed["head"], c.Head(b, "BANKA")->hash.Hex());
  EXPECT_EQ(feed["entries"], 2);
  EXPECT_EQ(feed["active"], 1);
  EXPECT_EQ(feed["revoked"], 1);
  EXPECT_EQ(feed["revocations"], 1);
  EXPECT_EQ(cli["totals"]["feeds"], 1);
  EXPECT_EQ(cli["institution"], "BANKB");
  EXPECT_EQ(cli["evidence"], 0);
  EXPECT_EQ(cli["forks"], nlohmann::json::array());
}

// `duanka status` shows every configured peer as the node's daemon sees it (issue 18 section 5),
// asking its GET /v1/status over loopback; with the daemon down it says so and still answers
// what the store holds.
TEST(Status, TheCliShowsEveryConfiguredPeerAsItsDaemonSeesIt) {
  Consortium c;
  std::vector<Node*> line = c.Line({"BANKA", "BANKB"});
  Node& a = *line[0];
  Node& b = *line[1];
  ASSERT_TRUE(c.StartAll());
  nlohmann::json cli;
  auto peer_state = [&] {
    testing::RunResult r = c.Duanka(a, {"status", "--json"});
    cli = nlohmann::json::parse(r.out, nullptr, false);
    if (r.exit_code != 0 || !cli.is_object() || !cli.contains("configured_peers") ||
        cli["configured_peers"].size() != 1) {
      return std::string();
    }
    return cli["configured_peers"][0].value("state", "");
  };
  ASSERT_TRUE(Eventually([&] { return peer_state() == "ready"; })) << cli.dump();
  EXPECT_EQ(cli["configured_peers"][0]["institution"], "BANKB");
  EXPECT_EQ(cli["daemon"]["answered"], true);
  testing::RunResult text = c.Duanka(a, {"status"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("Peers        as duankad on 127.0.0.1:" + std::to_string(a.api_port)),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("BANKB"), std::string::npos) << text.out;

  c.Stop(b);
  ASSERT_TRUE(Eventually([&] {
    const std::string state = peer_state();
    return !state.empty() && state != "ready";
  })) << cli.dump();

  c.Stop(a);
  testing::RunResult down = c.Duanka(a, {"status"});
  EXPECT_EQ(down.exit_code, 0) << down.err;
  EXPECT_NE(down.out.find("Peers        not known: duankad does not answer on 127.0.0.1:"),
            std::string::npos)
      << down.out;
  EXPECT_NE(down.out.find("Institution  BANKA"), std::string::npos);
  testing::RunResult down_json = c.Duanka(a, {"status", "--json"});
  nlohmann::json j = nlohmann::json::parse(down_json.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << down_json.out;
  EXPECT_EQ(j["daemon"]["answered"], false);
  EXPECT_FALSE(j.contains("configured_peers"));
}

}  // namespace
}  // namespace duanka::integration
