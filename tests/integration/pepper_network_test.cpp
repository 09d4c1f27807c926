// Pepper rotation across a network of real daemons (issue 12, section 4): the operator rotates,
// each member installs the new file and restarts, entries made under either epoch travel and are
// found by `duanka lookup` at every node; a node that has not installed the new epoch holds the
// new entries but cannot find them (what the hello.pepperEpochs alert is for) until it does.
// Then re-keying: the issuer re-publishes under the new epoch, revokes the old entries as
// superseded, and the old epoch is retired everywhere with every listing still found.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "crypto/crypto.h"
#include "tests/integration/consortium.h"
#include "tests/integration/http_probe.h"

namespace duanka::integration {
namespace {

namespace fs = std::filesystem;
using protocol::IdType;
using testing::RunResult;

// `duanka lookup qq VALUE --json` at the node: listed, and the epochs of its active entries.
struct Answer {
  bool listed = false;
  std::vector<uint32_t> epochs;
};
Answer LookupAt(const Consortium& c, const Node& n, const std::string& value) {
  RunResult r = c.Duanka(n, {"lookup", "qq", value, "--json"});
  Answer a;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return a;
  a.listed = j.value("listed", false);
  for (const nlohmann::json& e : j["entries"]) a.epochs.push_back(e.value("pepper_epoch", 0u));
  return a;
}

bool Install(Consortium& c, Node& n, const fs::path& file) {
  RunResult r = c.Admin(n, {"pepper", "install", file.string()});
  EXPECT_EQ(r.exit_code, 0) << n.code << ": " << r.err;
  if (r.exit_code != 0) return false;
  c.Stop(n);
  return c.Start(n);
}

TEST(PepperRotation, EntriesUnderBothEpochsAreFoundEverywhereAndTheOldEpochRetires) {
  Consortium c;
  std::vector<Node*> line = c.Line({"BANKA", "BANKB", "BANKC"});
  Node& a = *line[0];
  Node& b = *line[1];
  Node& late = *line[2];  // installs the new epoch last
  ASSERT_TRUE(c.StartAll());
  const std::string old_entry = c.Report(a, "qq", "41001", "sold");
  ASSERT_EQ(old_entry, "BANKA:1");

  const fs::path p2 = c.dir() / "pepper-2.key";
  RunResult rotated =
      c.AdminTool({"pepper", "rotate", "--in", c.pepper_file().string(), "--out", p2.string()});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  ASSERT_TRUE(Install(c, a, p2));
  ASSERT_TRUE(Install(c, b, p2));
  ASSERT_EQ(c.Report(a, "qq", "41002", "sold"), "BANKA:2");  // under epoch 2

  // The late node holds the new entry but, without epoch 2, cannot find it.
  ASSERT_TRUE(Eventually([&] { return c.HeadSeq(late, "BANKA") == 2; })) << c.Log(late);
  EXPECT_TRUE(LookupAt(c, late, "41001").listed);
  EXPECT_FALSE(LookupAt(c, late, "41002").listed);
  // And it says so: its neighbour's hello names epoch 2, which its pepper lacks.
  EXPECT_TRUE(Eventually([&] { return c.Logged(late, "holds pepper epoch(s) 2"); })) << c.Log(late);
  // The status is a snapshot rebuilt at most every 250 ms, so it may trail the log line.
  std::optional<std::string> status;
  auto pepper_status = [&] {
    status = HttpGet(late.api_port, "/v1/status");
    if (!status) return nlohmann::json();
    nlohmann::json all = nlohmann::json::parse(*status, nullptr, false);
    return all.is_object() ? all["pepper"] : nlohmann::json();
  };
  EXPECT_TRUE(Eventually([&] {
    nlohmann::json pepper = pepper_status();
    return pepper.is_object() && pepper["epochs_missing"] == nlohmann::json::array({2}) &&
           pepper["peers_ahead"] == nlohmann::json::array({"BANKB"});
  })) << status.value_or("no answer from /v1/status");
  std::optional<std::string> metrics = HttpGet(late.api_port, "/metrics");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_EQ(MetricValue(*metrics, "duanka_pepper_epoch_missing"), 1.0);
  ASSERT_TRUE(Install(c, late, p2));
  // Installed and restarted: nothing missing any more.
  status = HttpGet(late.api_port, "/v1/status");
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(nlohmann::json::parse(*status)["pepper"]["epochs_missing"].empty()) << *status;
  for (Node* n : line) {
    Answer first = LookupAt(c, *n, "41001");
    Answer second = LookupAt(c, *n, "41002");
    EXPECT_TRUE(first.listed && second.listed) << n->code;
    EXPECT_EQ(first.epochs, std::vector<uint32_t>{1}) << n->code;
    EXPECT_EQ(second.epochs, std::vector<uint32_t>{2}) << n->code;
  }

  // Re-keying: BANKA re-publishes its list under epoch 2 and revokes the epoch-1 entry.
  const fs::path list = c.dir() / "list.csv";
  ASSERT_TRUE(base::WriteFileAtomic(list, "qq,41001,sold\nqq,41002,sold\n", 0600, false).ok());
  RunResult again = c.Admin(a, {"report", "--batch", list.string()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "1,published,BANKA:3\n2,already-listed,BANKA:2\n");
  ASSERT_TRUE(c.Revoke(a, old_entry, "superseded"));
  ASSERT_TRUE(Eventually([&] { return c.SameHeads(line); })) << c.SameHeads(line);

  // Epoch 1 retires (checked against the operator's node store), and every node installs it.
  const fs::path p3 = c.dir() / "pepper-3.key";
  RunResult retired =
      c.Admin(b, {"pepper", "retire", "--in", p2.string(), "--out", p3.string(), "--epoch", "1"});
  ASSERT_EQ(retired.exit_code, 0) << retired.err;
  for (Node* n : line) ASSERT_TRUE(Install(c, *n, p3));
  for (Node* n : line) {
    Answer first = LookupAt(c, *n, "41001");
    EXPECT_TRUE(first.listed) << n->code;
    EXPECT_EQ(first.epochs, std::vector<uint32_t>{2}) << n->code;  // BANKA:3, not BANKA:1
    EXPECT_TRUE(LookupAt(c, *n, "41002").listed) << n->code;
  }
}

}  // namespace
}  // namespace duanka::integration
