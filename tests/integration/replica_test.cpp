// Read replicas (issue 15, "Scale beyond one machine"), with real daemons on loopback: a replica
// holds a TLS certificate of the replica role and no signing key, follows its institution's own
// node, serves lookups, signs nothing, and no one else speaks to it or is spoken to by it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "tests/integration/consortium.h"
#include "tests/integration/http_probe.h"
#include "tests/support/process.h"

namespace duanka::integration {
namespace {

using protocol::IdType;
using testing::RunResult;

nlohmann::json Status(const Node& n) {
  std::optional<std::string> body = HttpGet(n.api_port, "/v1/status");
  return body ? nlohmann::json::parse(*body, nullptr, false) : nlohmann::json();
}

// The peer sessions of a status that are past the hello, with `replica` as given.
size_t ReadyPeers(const nlohmann::json& status, const std::string& institution, bool replica) {
  size_t n = 0;
  if (!status.contains("peers")) return 0;
  for (const nlohmann::json& p : status["peers"]) {
    n += p["institution"] == institution && p["replica"] == replica && p["ready"] == true ? 1 : 0;
  }
  return n;
}

class ReplicaTest : public ::testing::Test {
 protected:
  ReplicaTest() : a_(c_.Add("BANKA")), b_(c_.Add("BANKB")), r1_(c_.AddReplica("BANKA-R1", a_)) {
    c_.Dial(b_, a_);
  }

  Consortium c_;
  Node& a_;
  Node& b_;
  Node& r1_;
};

TEST_F(ReplicaTest, AReplicaHoldsNoSigningKey) {
  EXPECT_TRUE(std::filesystem::exists(r1_.home / "tls.key"));
  EXPECT_TRUE(std::filesystem::exists(r1_.home / "tls.pem"));
  EXPECT_FALSE(std::filesystem::exists(r1_.home / "signing.key"));
  EXPECT_FALSE(std::filesystem::exists(r1_.home / "signing.pem"));

  // The machine that answers lookups must not hold the key that signs listings.
  std::filesystem::copy_file(a_.home / "signing.key", r1_.home / "signing.key");
  RunResult check =
      testing::RunProgram({DUANKAD_BIN, "--home", r1_.home.string(), "--check-config"});
  EXPECT_EQ(check.exit_code, 3) << check.err;
  EXPECT_NE(check.err.find("read replica of BANKA"), std::string::npos) << check.err;
  EXPECT_NE(check.err.find("must hold no signing key"), std::string::npos) << check.err;
}

TEST_F(ReplicaTest, AReplicaFollowsItsInstitutionServesLookupsAndSignsNothing) {
  ASSERT_TRUE(c_.StartAll());
  // Another member's entry reaches the replica through its institution's node, and so does the
  // institution's own.
  ASSERT_FALSE(c_.Report(b_, "qq", "10001").empty());
  ASSERT_FALSE(c_.Report(a_, "qq", "10002").empty());
  ASSERT_TRUE(Eventually([&] { return c_.Listed(r1_, IdType::kQq, "10001"); })) << c_.Log(r1_);
  ASSERT_TRUE(Eventually([&] { return c_.Listed(r1_, IdType::kQq, "10002"); })) << c_.Log(r1_);
  EXPECT_TRUE(c_.SameHeads({&a_, &r1_}));
  Result<uint64_t> feed = c_.VerifyFeed(r1_, "BANKB");
  ASSERT_TRUE(feed.ok()) << feed.error().message;
  EXPECT_EQ(*feed, 1u);

  RunResult lookup = c_.Duanka(r1_, {"lookup", "qq", "10001"});
  EXPECT_EQ(lookup.exit_code, 0) << lookup.err;

  // Its status says whose replica it is and how far behind; its institution's node lists it.
  nlohmann::json status;
  ASSERT_TRUE(Eventually([&] {
    status = Status(r1_);
    return status.contains("replica") && status["replica"]["connected"] == true &&
           status["replica"]["lag_records"] == 0;
  })) << status.dump();
  EXPECT_EQ(status["replica"]["of"], "BANKA");
  EXPECT_EQ(ReadyPeers(status, "BANKA", false), 1u) << status.dump();
  nlohmann::json primary = Status(a_);
  EXPECT_FALSE(primary.contains("replica"));
  EXPECT_EQ(ReadyPeers(primary, "BANKA", true), 1u) << primary.dump();

  // Nothing signs there: the refusal says where to go instead.
  RunResult report = c_.Admin(r1_, {"report", "qq", "10003", "--category", "rented-out"});
  EXPECT_EQ(report.exit_code, 3) << report.err;
  EXPECT_NE(report.err.find("read replica of BANKA"), std::string::npos) << report.err;
  EXPECT_NE(report.err.find("at BANKA's own node"), std::string::npos) << report.err;
  EXPECT_EQ(report.err.find('\n'), report.err.size() - 1) << report.err;  // one line
  RunResult revoke = c_.Admin(r1_, {"revoke", "BANKA:1", "--reason", "issued-in-error"});
  EXPECT_EQ(revoke.exit_code, 3) << revoke.err;
  EXPECT_FALSE(c_.Listed(r1_, IdType::kQq, "10003"));
  EXPECT_EQ(c_.HeadSeq(r1_, "BANKA"), c_.HeadSeq(a_, "BANKA"));

  // Nor does it keep a watch list: alerts go out once, from the institution's node.
  const std::filesystem::path customers = c_.dir() / "customers.csv";
  std::ofstream(customers) << "qq,10001,cust-1\n";
  RunResult watch = c_.Admin(r1_, {"watch", "--batch", customers.string()});
  EXPECT_EQ(watch.exit_code, 2) << watch.err;
  EXPECT_NE(watch.err.find("read replica of BANKA: keep the watch list at BANKA's own node"),
            std::string::npos)
      << watch.err;
  RunResult count = c_.Admin(r1_, {"watch", "count"});
  EXPECT_EQ(count.exit_code, 0) << count.err;
  EXPECT_EQ(count.out.substr(0, 1), "0") << count.out;
}

TEST_F(ReplicaTest, AReplicaConfiguredToDialAnotherMemberDoesNotStart) {
  r1_.peers.push_back("BANKB@" + b_.address());
  c_.WriteConfig(r1_);
  RunResult check =
      testing::RunProgram({DUANKAD_BIN, "--home", r1_.home.string(), "--check-config"});
  EXPECT_EQ(check.exit_code, 2) << check.err;
  EXPECT_NE(check.err.find("dials BANKA's own node only"), std::string::npos) << check.err;
  EXPECT_EQ(check.err.find('\n'), check.err.size() - 1) << check.err;  // one line

  r1_.peers.clear();
  c_.WriteConfig(r1_);
  check = testing::RunProgram({DUANKAD_BIN, "--home", r1_.home.string(), "--check-config"});
  EXPECT_EQ(check.exit_code, 2) << check.err;
  EXPECT_NE(check.err.find("needs one entry naming BANKA's own node"), std::string::npos)
      << check.err;
}

TEST_F(ReplicaTest, NoOneButItsInstitutionSpeaksToAReplica) {
  // BANKB dials the replica mistaking it for BANKA's node; the replica takes no peers anyway.
  b_.peers = {"BANKA@" + r1_.address()};
  ASSERT_TRUE(c_.Start(b_));
  ASSERT_TRUE(c_.Start(r1_));
  ASSERT_FALSE(c_.Report(b_, "qq", "10001").empty());
  EXPECT_TRUE(Eventually([&] {
    return c_.Logged(b_, "is a read replica's (of BANKA), which serves no peers") &&
           c_.Logged(r1_, "this node is a read replica of BANKA: it takes no peers");
  })) << c_.Log(b_)
      << c_.Log(r1_);
  EXPECT_FALSE(c_.Listed(r1_, IdType::kQq, "10001"));

  // A second replica mistaken for the node: refused by the replica that dials it, and the one
  // dialled takes no peers.
  Node& r2 = c_.AddReplica("BANKA-R2", a_);
  r2.peers = {"BANKA@" + r1_.address()};
  ASSERT_TRUE(c_.Start(r2));
  EXPECT_TRUE(Eventually([&] { return c_.Logged(r2, "is a read replica's (of BANKA)"); }))
      << c_.Log(r2);

  // Another member's replica, pointed at BANKB's node, is not served there.
  Node& foreign = c_.AddReplica("BANKA-R3", a_);
  foreign.peers = {"BANKA@" + b_.address()};
  ASSERT_TRUE(c_.Start(foreign));
  EXPECT_TRUE(Eventually([&] {
    return c_.Logged(b_, "a read replica of BANKA is served by BANKA only");
  })) << c_.Log(b_);
  EXPECT_FALSE(c_.Listed(foreign, IdType::kQq, "10001"));
}

TEST_F(ReplicaTest, TheNodeServesNoMoreReplicasThanItsLimit) {
  a_.limits["max_replicas"] = 1;
  Node& r2 = c_.AddReplica("BANKA-R2", a_);
  ASSERT_TRUE(c_.Start(a_));
  ASSERT_TRUE(c_.Start(r1_));
  ASSERT_TRUE(Eventually([&] { return ReadyPeers(Status(a_), "BANKA", true) == 1; }));
  ASSERT_TRUE(c_.Start(r2));
  EXPECT_TRUE(Eventually([&] {
    return c_.Logged(a_, "serving 1 of limits.max_replicas = 1 read replicas of BANKA");
  })) << c_.Log(a_);
  EXPECT_EQ(ReadyPeers(Status(a_), "BANKA", true), 1u);
}

}  // namespace
}  // namespace duanka::integration
