// Institution profiles and explanations (issue 16, sections 2 and 3) with real daemons in the line
// BANKA -- BANKB: BANKA publishes two profiles and a listing; at BANKB the newest profile names
// BANKA in lookup answers, `duanka explain` and POST /v1/explain tell the person who listed them
// and where to appeal, audited with purpose appeal; BANKA upholds the appeal and the person's
// record clears at BANKB. The identifier never appears in any output, log or audit line.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "node/common/profile.h"
#include "tests/integration/consortium.h"
#include "tests/integration/http_probe.h"
#include "tests/support/process.h"

namespace duanka::integration {
namespace {

using protocol::IdType;
using testing::RunProgram;
using testing::RunResult;

const std::string kCurl = CURL_BIN;
// Distinctive enough that finding it in a file means it was written there.
constexpr const char* kValue = "738291046";
constexpr const char* kOtherValue = "738291047";
constexpr const char* kNameZh = "示例银行股份有限公司";
constexpr const char* kNameEn = "Example Bank Co., Ltd.";
constexpr const char* kPhone = "+86 10 9555 8888";
constexpr const char* kWeb = "https://bank.example/appeal";

struct Http {
  unsigned status = 0;
  std::string body;
};

Http Post(const Node& n, const std::string& path, const std::string& data) {
  RunResult r = RunProgram({kCurl, "-s", "--max-time", "20", "-w", kCurlWriteOut, "-H",
                            "Content-Type: application/json", "--data", data,
                            "http://127.0.0.1:" + std::to_string(n.api_port) + path});
  CurlReply reply = CurlReplyOf("POST", path, r.out);  // recorded for the API contract
  return Http{reply.status, reply.body};
}

std::string LastLine(const std::string& text) {
  std::string t = text;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  const size_t at = t.rfind('\n');
  return at == std::string::npos ? t : t.substr(at + 1);
}

class ProfileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    line_ = c_.Line({"BANKA", "BANKB"});
    ASSERT_TRUE(c_.StartAll());
  }
  Node& a() { return *line_[0]; }
  Node& b() { return *line_[1]; }

  void Remember(const RunResult& r) { outputs_ += r.out + r.err; }

  RunResult SetProfile(const std::string& name_en) {
    RunResult r = c_.Admin(a(), {"profile", "set", "--name-zh", kNameZh, "--name-en", name_en,
                                 "--kind", "bank", "--appeal-phone", kPhone, "--appeal-web", kWeb});
    Remember(r);
    return r;
  }

  Consortium c_;
  std::vector<Node*> line_;
  std::string outputs_;  // every output of the programs run, searched for the identifier
};

TEST_F(ProfileTest, TheNewestProfileNamesTheIssuerAndTheNoticeTellsWhereToAppeal) {
  ASSERT_EQ(SetProfile("Old Name Bank").exit_code, 0);
  RunResult set = SetProfile(kNameEn);
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(set.out, "BANKA:2 profile of BANKA\n");
  const std::string entry = c_.Report(a(), "qq", kValue, "sold");
  ASSERT_EQ(entry, "BANKA:3");
  ASSERT_TRUE(Eventually([&] { return c_.Listed(b(), IdType::kQq, kValue); })) << c_.Log(b());

  // BANKB's daemon saved where BANKA's newest profile is, for the lookup CLI to start from.
  ASSERT_TRUE(Eventually([&] {
    std::optional<std::string> saved;
    c_.WithStore(b(), [&](const store::Store& s) {
      if (auto o = s.GetObject(std::string(node::kProfileScanObjectPrefix) + "BANKA"); o && *o) {
        saved = **o;
      }
    });
    return saved && saved->ends_with(" 2");
  }));

  // The profile, as BANKB holds it: the newest one.
  RunResult shown = c_.Admin(b(), {"profile", "show", "BANKA", "--json"});
  Remember(shown);
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  nlohmann::json profile = nlohmann::json::parse(shown.out);
  EXPECT_EQ(profile["profile"]["name"]["en"], kNameEn);
  EXPECT_EQ(profile["profile"]["entry"], "BANKA:2");
  EXPECT_EQ(profile["profile"]["appeal"]["phone"], kPhone);
  EXPECT_TRUE(profile["profile"]["appeal"]["address"].is_null());
  RunResult none = c_.Admin(b(), {"profile", "show"});
  Remember(none);
  EXPECT_EQ(none.exit_code, 1) << "BANKB published none: " << none.out;

  // Lookup answers name the issuer by its profile.
  RunResult json = c_.Duanka(b(), {"lookup", "qq", kValue, "--json"});
  Remember(json);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json answer = nlohmann::json::parse(json.out);
  ASSERT_EQ(answer["entries"].size(), 1u) << json.out;
  EXPECT_EQ(answer["entries"][0]["issuer_name"]["zh"], kNameZh);
  EXPECT_EQ(answer["entries"][0]["issuer_name"]["en"], kNameEn);
  RunResult human = c_.Duanka(b(), {"lookup", "qq", kValue});
  Remember(human);
  EXPECT_NE(human.out.find(std::string("BANKA (") + kNameZh + " / " + kNameEn + ")"),
            std::string::npos)
      << human.out;
  RunResult show = c_.Duanka(b(), {"show", entry});
  Remember(show);
  EXPECT_NE(show.out.find(std::string("Issuer      BANKA (") + kNameZh), std::string::npos)
      << show.out;
  RunResult show_profile = c_.Duanka(b(), {"show", "BANKA:2", "--json"});
  Remember(show_profile);
  ASSERT_EQ(show_profile.exit_code, 0) << show_profile.err;
  EXPECT_EQ(nlohmann::json::parse(show_profile.out)["kind"], "profile");

  // What to tell the person, from the CLI: audited with purpose appeal.
  RunResult told = c_.Duanka(b(), {"explain", "qq", kValue});
  Remember(told);
  ASSERT_EQ(told.exit_code, 0) << told.err;
  for (const char* words : {kNameZh, kNameEn, kPhone, kWeb, "BANKA:3", "selling", "出售"}) {
    EXPECT_NE(told.out.find(words), std::string::npos) << words << " in:\n" << told.out;
  }
  nlohmann::json audit_line = nlohmann::json::parse(LastLine(ReadAll(b().home / "audit.log")));
  EXPECT_EQ(audit_line["purpose"], "appeal");
  EXPECT_EQ(audit_line["action"], "explain");
  EXPECT_EQ(audit_line["program"], "duanka");
  EXPECT_EQ(audit_line["result"], "listed");

  RunResult told_json = c_.Duanka(b(), {"explain", "qq", kValue, "--json"});
  Remember(told_json);
  ASSERT_EQ(told_json.exit_code, 0) << told_json.err;
  nlohmann::json notice = nlohmann::json::parse(told_json.out);
  EXPECT_TRUE(notice["listed"].get<bool>());
  ASSERT_EQ(notice["notices"].size(), 1u);
  EXPECT_EQ(notice["notices"][0]["appeal"]["web"], kWeb);

  // The same answer from the daemon's API.
  Http http = Post(b(), "/v1/explain", std::string(R"({"type":"qq","value":")") + kValue + "\"}");
  outputs_ += http.body;
  ASSERT_EQ(http.status, 200u) << http.body;
  nlohmann::json api = nlohmann::json::parse(http.body);
  EXPECT_EQ(api["notices"], notice["notices"]);
  EXPECT_EQ(api["text_en"], notice["text_en"]);
  audit_line = nlohmann::json::parse(LastLine(ReadAll(b().home / "audit.log")));
  EXPECT_EQ(audit_line["purpose"], "appeal");
  EXPECT_EQ(audit_line["action"], "explain");
  EXPECT_EQ(audit_line["program"], "duankad");
  Http screening =
      Post(b(), "/v1/explain",
           std::string(R"({"type":"qq","value":")") + kValue + R"(","purpose":"account-opening"})");
  outputs_ += screening.body;
  EXPECT_EQ(screening.status, 400u) << screening.body;
  Http unknown =
      Post(b(), "/v1/explain", std::string(R"({"type":"qq","value":")") + kOtherValue + "\"}");
  outputs_ += unknown.body;
  ASSERT_EQ(unknown.status, 200u) << unknown.body;
  EXPECT_FALSE(nlohmann::json::parse(unknown.body)["listed"].get<bool>());

  // The appeal is upheld: the person's record clears at the other node.
  ASSERT_TRUE(c_.Revoke(a(), entry, "appeal-upheld"));
  ASSERT_TRUE(Eventually([&] { return c_.Revoked(b(), IdType::kQq, kValue); })) << c_.Log(b());
  RunResult cleared = c_.Duanka(b(), {"explain", "qq", kValue});
  Remember(cleared);
  EXPECT_EQ(cleared.exit_code, 1) << cleared.out << cleared.err;
  EXPECT_NE(cleared.out.find("no active entry"), std::string::npos) << cleared.out;

  // Nowhere the identifier: not in any output, log or audit line of either node.
  for (const char* value : {kValue, kOtherValue}) {
    EXPECT_EQ(outputs_.find(value), std::string::npos) << "an output echoes the identifier";
    for (Node* n : line_) {
      EXPECT_EQ(c_.LogText(*n).find(value), std::string::npos) << n->code << "'s log";
      EXPECT_EQ(ReadAll(n->home / "audit.log").find(value), std::string::npos)
          << n->code << "'s audit log";
    }
  }
}

TEST_F(ProfileTest, AProfileOutOfRangeIsRefusedByFieldAndNothingIsPublished) {
  RunResult bad = c_.Admin(a(), {"profile", "set", "--name-zh", kNameZh, "--name-en", kNameEn,
                                 "--kind", "bank", "--appeal-web", "bank.example"});
  EXPECT_EQ(bad.exit_code, 2) << bad.out << bad.err;
  EXPECT_NE(bad.err.find("appeal web address"), std::string::npos) << bad.err;
  RunResult regulator = c_.Admin(a(), {"profile", "set", "--name-zh", kNameZh, "--name-en", kNameEn,
                                       "--kind", "regulator", "--appeal-phone", kPhone});
  EXPECT_EQ(regulator.exit_code, 2) << regulator.err;
  RunResult kind = c_.Admin(a(), {"profile", "set", "--name-zh", kNameZh, "--name-en", kNameEn,
                                  "--kind", "credit-union", "--appeal-phone", kPhone});
  EXPECT_EQ(kind.exit_code, 2) << kind.err;
  EXPECT_NE(kind.err.find("payment-institution"), std::string::npos) << kind.err;
  // A right-to-left override would show the web page reversed in every notice; a line separator
  // would break the one-line answer. Each is named by option and code point, on one line.
  RunResult bidi =
      c_.Admin(a(), {"profile", "set", "--name-zh", kNameZh, "--name-en", kNameEn, "--kind", "bank",
                     "--appeal-web", "https://bank.example/\u202e/laeppa"});
  EXPECT_EQ(bidi.exit_code, 2) << bidi.out << bidi.err;
  EXPECT_NE(bidi.err.find("--appeal-web holds U+202E (a bidi control); expected plain text"),
            std::string::npos)
      << bidi.err;
  RunResult separator =
      c_.Admin(a(), {"profile", "set", "--name-zh", kNameZh, "--name-en",
                     "Example Bank\u2028Co., Ltd.", "--kind", "bank", "--appeal-phone", kPhone});
  EXPECT_EQ(separator.exit_code, 2) << separator.out << separator.err;
  EXPECT_NE(separator.err.find("--name-en holds U+2028 (a line separator)"), std::string::npos)
      << separator.err;
  for (const RunResult* r : {&bidi, &separator}) {
    std::string err = r->err;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
  EXPECT_EQ(c_.HeadSeq(a(), "BANKA"), 0u);
}

}  // namespace
}  // namespace duanka::integration
