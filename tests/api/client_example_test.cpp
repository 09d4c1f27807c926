// docs/api/examples/client.py against a real duankad, as a bank's integration team would run it:
// the API over TLS (the node's certificate, issued by the consortium CA for 127.0.0.1), a token
// client made by the real `duanka-admin api-client add`, and a peer configured so that status has
// something to show. The example must keep working: its answers are checked here.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/integration/consortium.h"

namespace duanka::integration {
namespace {

using testing::RunProgram;
using testing::RunResult;

const std::string kPython = PYTHON3_BIN;
const std::string kClient = CLIENT_EXAMPLE;
constexpr const char* kListedQq = "10001";
constexpr const char* kRevokedPhone = "13911112222";
constexpr const char* kInvalidPhone = "12345";

class ClientExampleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<Node*> line = c_.Line({"BANKA", "BANKB"});
    a_ = line[0];
    listed_ = c_.Report(*a_, "qq", kListedQq);
    ASSERT_FALSE(listed_.empty());
    const std::string revoked = c_.Report(*a_, "phone", kRevokedPhone);
    ASSERT_FALSE(revoked.empty());
    ASSERT_TRUE(c_.Revoke(*a_, revoked));
    std::filesystem::copy_file(a_->home / "tls.pem", a_->home / "api-tls.pem");
    std::filesystem::copy_file(a_->home / "tls.key", a_->home / "api-tls.key");
    RunResult added = c_.Admin(*a_, {"api-client", "add", "crm"});
    ASSERT_EQ(added.exit_code, 0) << added.err;
    token_file_ = c_.dir() / "crm.token";
    std::ofstream(token_file_) << added.out;
    ::chmod(token_file_.c_str(), 0600);
    ASSERT_TRUE(c_.StartAll());
  }

  // client.py CONNECTION ARGS..., with the token unless `with_token` is false.
  RunResult Client(std::vector<std::string> args, bool with_token = true) const {
    std::vector<std::string> argv = {
        kPython,    kClient,
        "--url",    "https://127.0.0.1:" + std::to_string(a_->api_port),
        "--cacert", c_.ca_pem().string()};
    if (with_token) argv.insert(argv.end(), {"--token-file", token_file_.string()});
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv);
  }

  Consortium c_;
  Node* a_ = nullptr;
  std::string listed_;
  std::filesystem::path token_file_;
};

TEST_F(ClientExampleTest, StatusLookupAndBatchGetTheAnswersTheStoreHolds) {
  RunResult status;
  ASSERT_TRUE(Eventually([&] {
    status = Client({"status"});
    return status.out.find("1 of 1 configured peers ready") != std::string::npos;
  })) << status.out
      << status.err;
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("institution BANKA, consortium TESTNET"), std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("1 active entries"), std::string::npos) << status.out;

  RunResult listed = Client({"lookup", "qq", kListedQq});
  EXPECT_EQ(listed.exit_code, 0) << listed.out << listed.err;
  EXPECT_NE(listed.out.find("listed: " + listed_ + " rented-out"), std::string::npos) << listed.out;

  RunResult revoked = Client({"lookup", "phone", kRevokedPhone, "--purpose", "periodic-review"});
  EXPECT_EQ(revoked.exit_code, 1) << revoked.out << revoked.err;
  EXPECT_NE(revoked.out.find(": not listed"), std::string::npos) << revoked.out;

  RunResult invalid = Client({"lookup", "phone", kInvalidPhone});
  EXPECT_EQ(invalid.exit_code, 2) << invalid.out << invalid.err;
  EXPECT_NE(invalid.err.find("HTTP 400: phone: "), std::string::npos) << invalid.err;

  RunResult batch =
      Client({"batch", std::string("qq:") + kListedQq, std::string("phone:") + kRevokedPhone,
              std::string("phone:") + kInvalidPhone});
  EXPECT_EQ(batch.exit_code, 0) << batch.out << batch.err;
  std::istringstream lines(batch.out);
  std::vector<std::string> got;
  for (std::string line; std::getline(lines, line);) got.push_back(line);
  ASSERT_EQ(got.size(), 3u) << batch.out;
  EXPECT_TRUE(got[0].starts_with("batch 1 qq ")) << got[0];
  EXPECT_NE(got[0].find("listed: " + listed_ + " rented-out"), std::string::npos) << got[0];
  EXPECT_TRUE(got[1].starts_with("batch 2 phone ")) << got[1];
  EXPECT_TRUE(got[1].ends_with(": not listed")) << got[1];
  EXPECT_TRUE(got[2].starts_with("batch 3: invalid: phone: ")) << got[2];

  // The answers name entries and subjects, never the identifier asked about.
  for (const RunResult* r : {&listed, &revoked, &invalid, &batch}) {
    EXPECT_EQ(r->out.find(kRevokedPhone), std::string::npos) << r->out;
    EXPECT_EQ(r->err.find(kRevokedPhone), std::string::npos) << r->err;
  }
}

TEST_F(ClientExampleTest, WithoutTheTokenTheNodeRefusesAndTheClientSaysWhy) {
  RunResult refused = Client({"lookup", "qq", kListedQq}, /*with_token=*/false);
  EXPECT_EQ(refused.exit_code, 3) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("HTTP 401: missing or wrong bearer token"), std::string::npos)
      << refused.err;
  EXPECT_TRUE(refused.out.empty()) << refused.out;
}

}  // namespace
}  // namespace duanka::integration
