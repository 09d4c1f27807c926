// One exit-code mapping for duankad, duanka-admin and duanka (node/common/exit_codes.h), and the
// status JSON both GET /v1/status and `duanka status --json` are built from
// (node/common/status_json.h). The status shapes are compared end to end in
// tests/integration/status_test.cpp.
#include <gtest/gtest.h>

#include "node/admin/admin.h"
#include "node/common/audit.h"
#include "node/common/exit_codes.h"
#include "node/common/status_json.h"
#include "node/lookup/cli.h"

namespace duanka::node {
namespace {

TEST(ExitCodes, TheNumbersBanksScriptAgainstNeverChange) {
  EXPECT_EQ(kExitOk, 0);
  EXPECT_EQ(kExitNotFound, 1);
  EXPECT_EQ(kExitInvalid, 2);
  EXPECT_EQ(kExitFailure, 3);
  // The programs' own names are the shared codes.
  EXPECT_EQ(admin::kExitOk, kExitOk);
  EXPECT_EQ(admin::kExitNotFound, kExitNotFound);
  EXPECT_EQ(admin::kExitInvalid, kExitInvalid);
  EXPECT_EQ(admin::kExitFailure, kExitFailure);
  EXPECT_EQ(lookup::kExitListed, kExitOk);
  EXPECT_EQ(lookup::kExitNotListed, kExitNotFound);
  EXPECT_EQ(lookup::kExitInvalid, kExitInvalid);
  EXPECT_EQ(lookup::kExitFailure, kExitFailure);
}

TEST(ExitCodes, OperationalKindsAreThreeAndRefusalsOfWhatWasAskedAreTwo) {
  for (ErrorKind kind : {ErrorKind::kIo, ErrorKind::kOverloaded, ErrorKind::kInternal}) {
    EXPECT_EQ(ExitCodeFor(kind), kExitFailure) << ErrorKindName(kind);
    EXPECT_EQ(ConfigExitCodeFor(kind), kExitFailure) << ErrorKindName(kind);
  }
  for (ErrorKind kind : {ErrorKind::kInvalidInput, ErrorKind::kMalformed, ErrorKind::kUnauthorized,
                         ErrorKind::kNotFound, ErrorKind::kGap, ErrorKind::kConflict,
                         ErrorKind::kFrozen, ErrorKind::kNotYet}) {
    EXPECT_EQ(ExitCodeFor(kind), kExitInvalid) << ErrorKindName(kind);
  }
  // Usable where a constant is needed.
  static_assert(ExitCodeFor(ErrorKind::kInvalidInput) == 2);
  static_assert(ExitCodeFor(ErrorKind::kIo) == 3);
}

TEST(ExitCodes, AMissingConfigIsOperationalAWrongOneIsInvalid) {
  EXPECT_EQ(ConfigExitCodeFor(ErrorKind::kNotFound), kExitFailure);
  EXPECT_EQ(ConfigExitCodeFor(ErrorKind::kInvalidInput), kExitInvalid);
  EXPECT_EQ(ConfigExitCodeFor(ErrorKind::kIo), kExitFailure);
}

store::Head MakeHead(const std::string& issuer, uint64_t seq, uint8_t fill, bool frozen) {
  store::Head h;
  h.issuer = issuer;
  h.seq = seq;
  h.hash.bytes.fill(fill);
  h.frozen = frozen;
  h.fork_seq = frozen ? seq : 0;
  return h;
}

TEST(StatusJson, FeedsCarryTheirHeadsAndTotalsAddUp) {
  StatusFacts facts;
  facts.institution = "BANKA";
  facts.now = 1'800'000'000;
  store::IssuerStats a{"BANKA", 5, 4, 1, 1, 1, 2, false, 1'799'000'000};
  store::IssuerStats b{"BANKB", 3, 3, 0, 0, 0, 3, true, 1'798'000'000};
  store::IssuerStats c{"PAYC", 1, 1, 0, 0, 0, 1, false, 1'797'000'000};  // no head held
  facts.stats.issuers = {a, b, c};
  facts.stats.pending_revocations = 2;
  facts.stats.evidence = 1;
  facts.stats.bytes_on_disk = 77'824;
  facts.stats.map_bytes = 1 << 26;
  facts.heads = {MakeHead("BANKA", 5, 0xaa, false), MakeHead("BANKB", 3, 0xbb, true)};
  facts.forks = {StatusFork{"BANKB", 3}};

  nlohmann::json j = StatusJson(facts);
  EXPECT_EQ(j["institution"], "BANKA");
  EXPECT_EQ(j["now"], IsoTime(facts.now));
  ASSERT_EQ(j["feeds"].size(), 3U);
  const nlohmann::json& fa = j["feeds"][0];
  EXPECT_EQ(fa["issuer"], "BANKA");
  EXPECT_EQ(fa["seq"], 5);
  EXPECT_EQ(fa["head"], std::string(64, 'a'));
  EXPECT_FALSE(fa.contains("fork_seq"));
  EXPECT_EQ(fa["records"], 5);
  EXPECT_EQ(fa["entries"], 4);
  EXPECT_EQ(fa["revocations"], 1);
  EXPECT_EQ(fa["revoked"], 1);
  EXPECT_EQ(fa["expired"], 1);
  EXPECT_EQ(fa["active"], 2);
  EXPECT_EQ(fa["last_grew_at"], IsoTime(1'799'000'000));
  EXPECT_EQ(j["feeds"][1]["frozen"], true);
  EXPECT_EQ(j["feeds"][1]["fork_seq"], 3);
  EXPECT_FALSE(j["feeds"][2].contains("seq"));
  EXPECT_FALSE(j["feeds"][2].contains("head"));

  EXPECT_EQ(j["totals"]["feeds"], 3);
  EXPECT_EQ(j["totals"]["frozen_feeds"], 1);
  EXPECT_EQ(j["totals"]["records"], 9);
  EXPECT_EQ(j["totals"]["entries"], 8);
  EXPECT_EQ(j["totals"]["active"], 6);
  EXPECT_EQ(j["totals"]["revocations"], 1);
  EXPECT_EQ(j["pending_revocations"], 2);
  EXPECT_EQ(j["evidence"], 1);
  EXPECT_EQ(j["forks"], nlohmann::json::parse(R"([{"issuer":"BANKB","seq":3}])"));
  EXPECT_EQ(j["store"]["bytes_on_disk"], 77'824);
  EXPECT_EQ(j["store"]["map_bytes"], 1 << 26);
  // duankad's earlier name for the same figure.
  EXPECT_EQ(j["store_bytes"], 77'824);
}

}  // namespace
}  // namespace duanka::node
