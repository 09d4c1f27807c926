// duanka-admin revoke --batch / revoke --issuer, the real binary, on temporary HOMEs of a test
// consortium (BANKA, BANKB, and REG with the regulator role): results per line, who may revoke
// what, the time range, refusals, and a run killed half-way then run again.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "node/common/audit.h"
#include "node/common/config.h"
#include "store/store.h"
#include "tests/support/process.h"
#include "tests/support/read_file.h"
#include "tests/support/temp_dir.h"

namespace duanka {
namespace {

using testing::Lines;
using testing::ReadAll;
using testing::RunProgram;
using testing::RunResult;

const std::string kAdmin = DUANKA_ADMIN_BIN;
constexpr int kLongRunSeconds = 900;
// As node/admin/batch_report_limits.h's kLinesPerTransaction: revocations commit in steps of it.
constexpr uint64_t kPerTransaction = 10'000;

// "qq,N,sold" lines of distinct QQ numbers.
std::string QqLines(uint64_t count, uint64_t first) {
  std::string out;
  for (uint64_t i = 0; i < count; ++i) out += "qq," + std::to_string(first + i) + ",sold\n";
  return out;
}

std::string Ids(const std::string& issuer, uint64_t from, uint64_t to) {
  std::string out;
  for (uint64_t s = from; s <= to; ++s) out += issuer + ":" + std::to_string(s) + "\n";
  return out;
}

// The text results by line: "N,RESULT,REST".
std::map<uint64_t, std::pair<std::string, std::string>> ByLine(const std::string& out) {
  std::map<uint64_t, std::pair<std::string, std::string>> m;
  for (const std::string& line : Lines(out)) {
    size_t a = line.find(','), b = line.find(',', a + 1);
    EXPECT_NE(b, std::string::npos) << line;
    if (b == std::string::npos) continue;
    EXPECT_TRUE(m.emplace(std::stoull(line.substr(0, a)),
                          std::pair{line.substr(a + 1, b - a - 1), line.substr(b + 1)})
                    .second)
        << line;
  }
  return m;
}

std::string UtcTime(int64_t t) {
  return node::IsoTime(t);
}

class BulkRevokeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(Admin({"pki", "init-ca", "--dir", Ca(), "--consortium", "TESTNET"}).exit_code, 0);
    ASSERT_EQ(Admin({"pepper", "new", "--out", Pepper()}).exit_code, 0);
    Join("BANKA", "member");
    Join("BANKB", "member");
    Join("REG", "regulator");
  }

  std::string Ca() const { return (dir_ / "ca").string(); }
  std::string Pepper() const { return (dir_ / "pepper.key").string(); }
  std::string Home(const std::string& code) const { return (dir_ / code).string(); }

  RunResult Admin(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), kAdmin);
    return RunProgram(args, input, kLongRunSeconds);
  }
  RunResult At(const std::string& code, std::vector<std::string> args,
               const std::string& input = "") {
    args.insert(args.begin(), {"--home", Home(code)});
    return Admin(args, input);
  }

  void Join(const std::string& code, const std::string& role) {
    RunResult issue = Admin({"--home", Home(code), "pki", "issue", "--ca-dir", Ca(),
                             "--institution", code, "--role", role});
    ASSERT_EQ(issue.exit_code, 0) << issue.err;
    RunResult init = Admin({"init", "--home", Home(code), "--institution", code, "--ca",
                            Ca() + "/ca.pem", "--pepper", Pepper()});
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    std::filesystem::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

  void Publish(const std::string& code, uint64_t count, uint64_t first) {
    RunResult r =
        At(code, {"report", "--batch", WriteFile(code + "-in.csv", QqLines(count, first))});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Copies `from`'s feed into `to`'s store, as a peer would hand it over.
  void Carry(const std::string& from, const std::string& to) {
    std::string bundle = (dir_ / (from + ".bundle")).string();
    ASSERT_EQ(At(from, {"export", "--out", bundle, "--issuer", from}).exit_code, 0);
    RunResult r = At(to, {"import", bundle});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  std::unique_ptr<store::Store> OpenStore(const std::string& code) {
    Result<node::Config> config = node::LoadConfig(Home(code));
    EXPECT_TRUE(config.ok());
    store::Options o;
    o.path = config->store;
    o.read_only = true;
    Result<std::unique_ptr<store::Store>> s = store::Store::Open(o);
    EXPECT_TRUE(s.ok());
    return s.ok() ? std::move(*s) : nullptr;
  }
  uint64_t HeadSeq(const std::string& holder, const std::string& issuer) {
    std::unique_ptr<store::Store> s = OpenStore(holder);
    if (!s) return 0;
    Result<std::optional<store::Head>> head = s->GetHead(issuer);
    return head.ok() && *head ? (*head)->seq : 0;
  }
  // State of issuer:seq in holder's store: "revoked by X:n", "active", or "missing".
  std::string State(const std::string& holder, const std::string& entry) {
    std::unique_ptr<store::Store> s = OpenStore(holder);
    Result<protocol::EntryId> id = protocol::ParseEntryId(entry);
    Result<std::optional<store::Listing>> l = s->GetListing(*id, node::SystemNow());
    if (!l.ok() || !*l) return "missing";
    if ((*l)->revocation) return "revoked by " + (*l)->revocation->by.ToString();
    return store::EntryStateName((*l)->state);
  }
  size_t RevokedCount(const std::string& holder, const std::string& issuer) {
    std::unique_ptr<store::Store> s = OpenStore(holder);
    size_t n = 0;
    EXPECT_TRUE(s->ForEachListing(issuer, node::SystemNow(), [&](const store::Listing& l) {
                   n += l.state == store::EntryState::kRevoked;
                 }).ok());
    return n;
  }
  std::vector<nlohmann::json> AuditRuns(const std::string& code,
                                        const std::set<std::string>& actions = {"revoke-batch",
                                                                                "revoke-range"}) {
    std::vector<nlohmann::json> out;
    for (const std::string& line : Lines(ReadAll(dir_ / code / "audit.log"))) {
      nlohmann::json j = nlohmann::json::parse(line);
      if (j.contains("action") && actions.count(j["action"].get<std::string>())) out.push_back(j);
    }
    return out;
  }

  testing::TempDir dir_;
};

TEST_F(BulkRevokeTest, MemberBatchRevokesGoodLinesAndNamesEachBadOneByNumber) {
  Publish("BANKA", 5, 100'000'000);
  Publish("BANKB", 2, 200'000'000);
  Carry("BANKB", "BANKA");
  ASSERT_EQ(At("BANKA", {"revoke", "BANKA:3", "--reason", "appeal-upheld"}).exit_code, 0);
  const std::string file = WriteFile("ids.txt",
                                     "BANKA:1\n"       // 1 revoked
                                     "  BANKA:2 \r\n"  // 2 revoked (spaces, CRLF)
                                     "BANKA:3\n"       // 3 already revoked (by BANKA:6)
                                     "\n"              // 4 blank: skipped, no result
                                     "BANKA:999\n"     // 5 unknown
                                     "BANKB:1\n"       // 6 foreign, for a member
                                     "13800138000\n"   // 7 malformed (an identifier by mistake)
                                     "BANKA:0\n"       // 8 malformed
                                     "BANKA:1\n"       // 9 repeats line 1
                                     "BANKA:4\n"       // 10 revoked
                                     "BANKA:999\n");   // 11 repeats line 5: unknown all the same
  RunResult r =
      At("BANKA", {"revoke", "--batch", file, "--reason", "issued-in-error", "--note", "ticket 7"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  auto m = ByLine(r.out);
  ASSERT_EQ(m.size(), 10u) << r.out;
  EXPECT_EQ(m[1].first, "revoked");
  EXPECT_EQ(m[1].second, "BANKA:1,BANKA:7");
  EXPECT_EQ(m[2].second, "BANKA:2,BANKA:8");
  EXPECT_EQ(m[3].first, "already-revoked");
  EXPECT_EQ(m.count(4), 0u);
  EXPECT_EQ(m[5].first, "invalid");
  EXPECT_NE(m[5].second.find("no entry BANKA:999"), std::string::npos) << m[5].second;
  EXPECT_EQ(m[6].first, "invalid");
  EXPECT_NE(m[6].second.find("may revoke only its own"), std::string::npos) << m[6].second;
  EXPECT_EQ(m[7].first, "invalid");
  EXPECT_EQ(m[8].first, "invalid");
  EXPECT_EQ(m[9].first, "already-revoked");
  EXPECT_EQ(m[10].second, "BANKA:4,BANKA:9");
  EXPECT_EQ(m[11].first, "invalid");
  // The reason is one CSV field, quoted: it may hold commas.
  EXPECT_EQ(m[5].second.front(), '"') << m[5].second;
  EXPECT_EQ(m[5].second.back(), '"') << m[5].second;
  // Each bad line named by number on stderr, and the mistaken identifier nowhere.
  for (const char* n : {"line 5:", "line 6:", "line 7:", "line 8:"}) {
    EXPECT_NE(r.err.find(n), std::string::npos) << n << "\n" << r.err;
  }
  EXPECT_EQ((r.out + r.err).find("13800138000"), std::string::npos);
  EXPECT_NE(r.err.find("3 revoked, 2 already revoked, 5 invalid"), std::string::npos) << r.err;
  EXPECT_EQ(State("BANKA", "BANKA:1"), "revoked by BANKA:7");
  EXPECT_EQ(State("BANKA", "BANKA:3"), "revoked by BANKA:6");
  EXPECT_EQ(State("BANKA", "BANKA:5"), "active");
  EXPECT_EQ(State("BANKA", "BANKB:1"), "active");
  EXPECT_EQ(HeadSeq("BANKA", "BANKA"), 9u);
  std::vector<nlohmann::json> audit = AuditRuns("BANKA");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0]["revoked"], 3);
  EXPECT_EQ(audit[0]["invalid"], 5);
  EXPECT_EQ(audit[0]["note"], "ticket 7");
  EXPECT_EQ(audit[0]["first_revocation"], "BANKA:7");
  EXPECT_EQ(audit[0]["last_revocation"], "BANKA:9");
  EXPECT_EQ(ReadAll(dir_ / "BANKA" / "audit.log").find("13800138000"), std::string::npos);

  // Again: nothing new is signed; the bad lines are still bad.
  RunResult again = At("BANKA", {"revoke", "--batch", file, "--reason", "issued-in-error"});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("0 revoked, 5 already revoked, 5 invalid"), std::string::npos)
      << again.err;
  EXPECT_EQ(HeadSeq("BANKA", "BANKA"), 9u);
}

TEST_F(BulkRevokeTest, RegulatorBatchFromStdinRevokesAnyIssuersEntries) {
  Publish("BANKA", 3, 100'000'000);
  Publish("BANKB", 3, 200'000'000);
  Carry("BANKA", "REG");
  Carry("BANKB", "REG");
  RunResult r = At("REG", {"revoke", "--batch", "-", "--reason", "court-order", "--json"},
                   "BANKA:1\nBANKB:2\nBANKB:3\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 3u);
  nlohmann::json j = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(j["line"], 2);
  EXPECT_EQ(j["result"], "revoked");
  EXPECT_EQ(j["entry"], "BANKB:2");
  EXPECT_EQ(j["by"], "REG:2");
  EXPECT_EQ(State("REG", "BANKB:3"), "revoked by REG:3");
  EXPECT_EQ(State("REG", "BANKA:2"), "active");
}

TEST_F(BulkRevokeTest, IssuerRangeByRegulatorAndByMemberForItsOwnFeed) {
  Publish("BANKA", 4, 100'000'000);  // issued before `mid`
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const int64_t mid = node::SystemNow();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  Publish("BANKA", 3, 110'000'000);  // issued at or after `mid` + 1
  ASSERT_EQ(At("BANKA", {"revoke", "BANKA:2", "--reason", "appeal-upheld"}).exit_code, 0);
  Carry("BANKA", "REG");

  // The regulator: the active entries issued in [mid - 1 h, mid): 1, 3 and 4 (2 is revoked).
  RunResult r = At("REG", {"revoke", "--issuer", "BANKA", "--from", UtcTime(mid - 3600), "--to",
                           UtcTime(mid), "--reason", "issued-in-error"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out),
            (std::vector<std::string>{"revoked,BANKA:1,REG:1", "revoked,BANKA:3,REG:2",
                                      "revoked,BANKA:4,REG:3"}));
  EXPECT_EQ(State("REG", "BANKA:5"), "active");
  EXPECT_EQ(AuditRuns("REG").at(0)["action"], "revoke-range");
  // Again: no active entry is left in the range.
  RunResult again = At("REG", {"revoke", "--issuer", "BANKA", "--from", UtcTime(mid - 3600), "--to",
                               UtcTime(mid), "--reason", "issued-in-error"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "");
  EXPECT_EQ(HeadSeq("REG", "REG"), 3u);

  // The member, on its own feed, from `mid` on (in China Standard Time, as people type it).
  char cst[32];
  const std::time_t shifted = static_cast<std::time_t>(mid + 8 * 3600);
  std::tm tm{};
  gmtime_r(&shifted, &tm);
  std::strftime(cst, sizeof cst, "%Y-%m-%d %H:%M:%S", &tm);
  RunResult own = At("BANKA", {"revoke", "--issuer", "BANKA", "--from", cst, "--to",
                               UtcTime(mid + 3600), "--reason", "superseded"});
  ASSERT_EQ(own.exit_code, 0) << own.err;
  EXPECT_EQ(Lines(own.out).size(), 3u) << own.out;
  EXPECT_EQ(State("BANKA", "BANKA:7"), "revoked by BANKA:11");
  EXPECT_EQ(State("BANKA", "BANKA:1"), "active");  // REG's revocation has not reached BANKA
}

TEST_F(BulkRevokeTest, RefusalsAreOneLineAndExitTwo) {
  Publish("BANKA", 2, 100'000'000);
  Publish("BANKB", 2, 200'000'000);
  Carry("BANKB", "BANKA");
  const std::string from = UtcTime(node::SystemNow() - 3600);
  const std::string to = UtcTime(node::SystemNow() + 3600);
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"revoke", "--issuer", "BANKB", "--from", from, "--to", to, "--reason", "appeal-upheld"},
       "may revoke only its own entries"},
      {{"revoke", "--issuer", "NOSUCH", "--from", from, "--to", to, "--reason", "appeal-upheld"},
       "no feed of NOSUCH"},
      {{"revoke", "--issuer", "BANKA", "--from", to, "--to", from, "--reason", "appeal-upheld"},
       "is not before --to"},
      {{"revoke", "--issuer", "BANKA", "--from", from, "--to", from, "--reason", "appeal-upheld"},
       "is not before --to"},
      {{"revoke", "--issuer", "BANKA", "--from", "yesterday", "--to", to, "--reason",
        "appeal-upheld"},
       "--from: expected a time"},
      {{"revoke", "--issuer", "BANKA", "--from", from, "--to", to}, "--reason"},
      {{"revoke", "--issuer", "BANKA", "--from", from, "--to", to, "--reason", "oops"},
       "--reason: expected one of"},
      {{"revoke", "--batch", "-", "--issuer", "BANKA", "--reason", "appeal-upheld"}, "either"},
      {{"revoke", "BANKA:1", "--batch", "-", "--reason", "appeal-upheld"}, "not more than one"},
      {{"revoke", "--batch", (dir_ / "none.txt").string(), "--reason", "appeal-upheld"},
       "cannot open"},
  };
  for (const Case& c : cases) {
    RunResult r = At("BANKA", c.args);
    EXPECT_EQ(r.exit_code, 2) << c.says << "\n" << r.err;
    EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(HeadSeq("BANKA", "BANKA"), 2u);
  EXPECT_EQ(State("BANKA", "BANKB:1"), "active");
}

TEST_F(BulkRevokeTest, RunKilledHalfWayThenRunAgainRevokesTheRestAndNothingTwice) {
#if defined(DUANKA_SANITIZED_PRODUCT)
  // Two transactions: the sanitized product is slow enough to be killed inside the second.
  const uint64_t n = 2 * kPerTransaction;
#else
  const uint64_t n = 40'000;
#endif
  Publish("BANKA", n, 100'000'000);
  const std::string file = WriteFile("all.txt", Ids("BANKA", 1, n));
  pid_t pid = ::fork();
  if (pid == 0) {
    int out = ::open((dir_ / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(out, 1);
    ::dup2(out, 2);
    std::string home = Home("BANKA");
    ::execl(kAdmin.c_str(), kAdmin.c_str(), "--home", home.c_str(), "revoke", "--batch",
            file.c_str(), "--reason", "issued-in-error", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(pid, 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kLongRunSeconds);
  while (HeadSeq("BANKA", "BANKA") < n + kPerTransaction &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const uint64_t revoked_before = HeadSeq("BANKA", "BANKA") - n;
  ASSERT_GE(revoked_before, kPerTransaction);
  if (revoked_before == n) GTEST_LOG_(WARNING) << "the run finished before it could be killed";
  EXPECT_EQ(revoked_before % kPerTransaction, 0u);  // whole transactions only
  EXPECT_EQ(RevokedCount("BANKA", "BANKA"), revoked_before);
  // The killed run left who started it, on what and why, though not its outcome.
  std::vector<nlohmann::json> opened = AuditRuns("BANKA", {"revoke-batch-started"});
  ASSERT_EQ(opened.size(), 1u) << ReadAll(dir_ / "BANKA" / "audit.log");
  EXPECT_EQ(opened[0]["targets"], n);
  EXPECT_EQ(opened[0]["reason"], "issued-in-error");
  if (revoked_before < n) {
    EXPECT_TRUE(AuditRuns("BANKA").empty());
  }

  RunResult rerun = At("BANKA", {"revoke", "--batch", file, "--reason", "issued-in-error"});
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  auto m = ByLine(rerun.out);
  ASSERT_EQ(m.size(), n);
  size_t revoked = 0, already = 0;
  for (const auto& [line, r] : m) {
    revoked += r.first == "revoked";
    already += r.first == "already-revoked";
  }
  EXPECT_EQ(already, revoked_before);
  EXPECT_EQ(revoked, n - revoked_before);
  // One revocation per entry: the feed holds n entries and n revocations, every entry revoked.
  EXPECT_EQ(HeadSeq("BANKA", "BANKA"), 2 * n);
  EXPECT_EQ(RevokedCount("BANKA", "BANKA"), n);
}

}  // namespace
}  // namespace duanka
