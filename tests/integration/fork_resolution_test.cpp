// A forked feed resolved (issue 12, section 3), with real daemons in a 4-node line whose far end
// is the regulator: BANKA restores an old store backup while its neighbour is down and publishes
// at a seq the network holds, so every node freezes its feed; the regulator resolves the fork for
// the branch BANKA is on; every node sets the other branch aside (its entry no longer answered),
// unfreezes, and takes BANKA's next record; the fork stays provable offline.
#include <gtest/gtest.h>

#include "tests/integration/consortium.h"

namespace duanka::integration {
namespace {

namespace fs = std::filesystem;
using protocol::IdType;
using testing::RunResult;

// BANKA's feed forked at seq 2 in the line BANKA -- BANKB -- BANKC -- PBOC (the regulator): the
// network holds `network` (qq 61002) there, BANKA's own node `own` (qq 61003); every node frozen.
class ForkResolution : public ::testing::Test {
 protected:
  void SetUp() override {
    line_ = c_.Line({"BANKA", "BANKB", "BANKC", "PBOC"});
    RunResult role = c_.AdminTool({"--home", regulator().home.string(), "pki", "issue", "--ca-dir",
                                   c_.ca_dir().string(), "--institution", "PBOC", "--role",
                                   "regulator", "--host", "127.0.0.1", "--force"});
    ASSERT_EQ(role.exit_code, 0) << role.err;
    ASSERT_TRUE(c_.StartAll());
    ASSERT_EQ(c_.Report(a(), "qq", "61001", "sold"), "BANKA:1");
    ASSERT_TRUE(Eventually([&] { return c_.SameHeads(line_); }));

    // A backup of BANKA's store at seq 1; seq 2 published and everywhere.
    c_.Stop(a());
    const fs::path backup = c_.dir() / "banka-store-backup";
    fs::copy(a().store_dir(), backup, fs::copy_options::recursive);
    ASSERT_TRUE(c_.Start(a()));
    ASSERT_EQ(c_.Report(a(), "qq", "61002", "sold"), "BANKA:2");
    ASSERT_TRUE(Eventually([&] { return c_.SameHeads(line_); }));
    network_ = c_.Head(b(), "BANKA")->hash;

    // The backup restored while BANKB is down: BANKA signs another seq 2.
    c_.Stop(b());
    c_.Stop(a());
    fs::remove_all(a().store_dir());
    fs::copy(backup, a().store_dir(), fs::copy_options::recursive);
    ASSERT_TRUE(c_.Start(a()));
    RunResult forked = c_.Admin(a(), {"report", "qq", "61003", "--category", "sold", "--i-know"});
    ASSERT_EQ(forked.exit_code, 0) << forked.err;
    ASSERT_EQ(forked.out, "BANKA:2\n");
    own_ = c_.Head(a(), "BANKA")->hash;
    ASSERT_TRUE(c_.Start(b()));
    for (Node* n : line_) {
      ASSERT_TRUE(Eventually([&] {
        std::optional<store::Head> h = c_.Head(*n, "BANKA");
        return h && h->frozen && h->fork_seq == 2;
      })) << n->code
          << " never froze BANKA: " << c_.Log(*n);
    }
  }

  // Resolves for `kept` at PBOC; every node then holds BANKA up to seq 2 = kept, unfrozen, with
  // `kept_value` listed and `lost_value` not; BANKA publishes again and every node takes it.
  void ResolveAndCarryOn(const crypto::Hash256& kept, const std::string& kept_value,
                         const std::string& lost_value) {
    RunResult resolved =
        c_.Admin(regulator(), {"fork", "resolve", "BANKA", "--keep", kept.Hex().substr(0, 16)});
    ASSERT_EQ(resolved.exit_code, 0) << resolved.err;
    for (Node* n : line_) {
      EXPECT_TRUE(Eventually([&] {
        std::optional<store::Head> h = c_.Head(*n, "BANKA");
        return h && !h->frozen && h->seq == 2 && h->hash == kept;
      })) << n->code
          << " did not take the resolution: " << c_.Log(*n);
      EXPECT_TRUE(c_.Listed(*n, IdType::kQq, "61001")) << n->code;
      EXPECT_TRUE(c_.Listed(*n, IdType::kQq, kept_value)) << n->code;
      EXPECT_FALSE(c_.Listed(*n, IdType::kQq, lost_value))
          << n->code << ": the losing branch answered";
    }
    // BANKA publishes again (no --i-know: nothing it has heard of its feed is ahead of it), and
    // every node takes it.
    ASSERT_EQ(c_.Report(a(), "qq", "61004", "sold"), "BANKA:3");
    for (Node* n : line_) {
      EXPECT_TRUE(Eventually([&] { return c_.Listed(*n, IdType::kQq, "61004"); }))
          << n->code << ": " << c_.Log(*n);
    }
    EXPECT_TRUE(Eventually([&] { return c_.SameHeads(line_); })) << c_.SameHeads(line_);

    // The fork stays provable, offline, from the regulator's store.
    const fs::path proof = c_.dir() / "banka-fork.evidence";
    RunResult exported =
        c_.Admin(regulator(), {"evidence", "export", proof.string(), "--issuer", "BANKA"});
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
    RunResult verified =
        c_.AdminTool({"evidence", "verify", proof.string(), "--ca", c_.ca_pem().string()});
    EXPECT_EQ(verified.exit_code, 0) << verified.err << verified.out;
  }

  Node& a() { return *line_[0]; }
  Node& b() { return *line_[1]; }
  Node& regulator() { return *line_[3]; }

  Consortium c_;
  std::vector<Node*> line_;
  crypto::Hash256 network_;  // the record at seq 2 the network took first
  crypto::Hash256 own_;      // the one BANKA's restored node signed
};

TEST_F(ForkResolution, KeepingTheIssuersBranchUnfreezesTheFeedEverywhere) {
  // Frozen: BANKA cannot publish.
  RunResult refused = c_.Admin(a(), {"report", "qq", "61005", "--category", "sold", "--i-know"});
  EXPECT_NE(refused.exit_code, 0);
  // A member cannot resolve; a hash that is neither record is refused, naming both.
  RunResult member = c_.Admin(b(), {"fork", "resolve", "BANKA", "--keep", own_.Hex()});
  EXPECT_EQ(member.exit_code, 2);
  EXPECT_NE(member.err.find("only a regulator"), std::string::npos) << member.err;
  RunResult wrong =
      c_.Admin(regulator(), {"fork", "resolve", "BANKA", "--keep", "0123456789abcdef"});
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_NE(wrong.err.find(own_.Hex()), std::string::npos) << wrong.err;
  EXPECT_NE(wrong.err.find(network_.Hex()), std::string::npos) << wrong.err;
  ResolveAndCarryOn(own_, "61003", "61002");
}

TEST_F(ForkResolution, KeepingTheNetworksBranchRollsTheIssuersOwnNodeBack) {
  ResolveAndCarryOn(network_, "61002", "61003");
}

}  // namespace
}  // namespace duanka::integration
