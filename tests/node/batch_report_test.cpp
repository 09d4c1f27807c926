// duanka-admin report --batch, the real binary, on temporary HOMEs of a test consortium: counts,
// idempotence, a run killed half-way and resumed, two runs at once, stdin, audit, privacy.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "crypto/crypto.h"
#include "node/common/audit.h"
#include "node/common/config.h"
#include "node/common/identity.h"
#include "node/common/lookup.h"
#include "protocol/identifier.h"
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
// Generous: the big files run under sanitizers and on a machine busy with other builds.
constexpr int kLongRunSeconds = 900;
// As node/admin/batch_report.cpp's kLinesPerTransaction: a run of distinct valid lines commits
// in steps of this many entries.
constexpr uint64_t kLinesPerTransaction = 10'000;

// Lines of distinct valid QQ numbers, cycling through the categories: "qq,100000000,sold".
std::string QqLines(uint64_t count, uint64_t first = 100'000'000) {
  static const char* kCategories[] = {"rented-out", "lent", "sold", "bought", "broker"};
  std::string out;
  out.reserve(count * 28);
  for (uint64_t i = 0; i < count; ++i) {
    out += "qq," + std::to_string(first + i) + "," + kCategories[i % 5] + "\n";
  }
  return out;
}

uint64_t LinesFromEnv(uint64_t fallback) {
  const char* v = std::getenv("DUANKA_BATCH_TEST_LINES");
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 10);
}

// "N,result,rest" lines of the text output, by line number.
std::map<uint64_t, std::pair<std::string, std::string>> ParseText(const std::string& out) {
  std::map<uint64_t, std::pair<std::string, std::string>> m;
  for (const std::string& line : Lines(out)) {
    size_t a = line.find(','), b = line.find(',', a + 1);
    EXPECT_NE(b, std::string::npos) << line;
    if (b == std::string::npos) continue;
    uint64_t n = std::stoull(line.substr(0, a));
    EXPECT_TRUE(m.emplace(n, std::pair{line.substr(a + 1, b - a - 1), line.substr(b + 1)}).second)
        << "line " << n << " reported twice";
  }
  return m;
}

size_t CountResult(const std::map<uint64_t, std::pair<std::string, std::string>>& m,
                   const std::string& result) {
  size_t n = 0;
  for (const auto& [line, r] : m) n += r.first == result;
  return n;
}

class BatchReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(Admin({"pki", "init-ca", "--dir", Ca(), "--consortium", "TESTNET"}).exit_code, 0);
    ASSERT_EQ(Admin({"pepper", "new", "--out", Pepper()}).exit_code, 0);
    Join("BANKA");
  }

  std::string Ca() const { return (dir_ / "ca").string(); }
  std::string Pepper() const { return (dir_ / "pepper.key").string(); }
  std::string Home(const std::string& code = "BANKA") const { return (dir_ / code).string(); }

  RunResult Admin(std::vector<std::string> args, const std::string& input = "",
                  int timeout = testing::kDefaultRunTimeoutSeconds) {
    args.insert(args.begin(), kAdmin);
    return RunProgram(args, input, timeout);
  }

  void Join(const std::string& code) {
    RunResult issue =
        Admin({"--home", Home(code), "pki", "issue", "--ca-dir", Ca(), "--institution", code});
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

  RunResult Batch(const std::string& file, std::vector<std::string> extra = {},
                  const std::string& code = "BANKA", const std::string& input = "") {
    std::vector<std::string> args = {"--home", Home(code), "report", "--batch", file};
    args.insert(args.end(), extra.begin(), extra.end());
    return Admin(args, input, kLongRunSeconds);
  }

  std::unique_ptr<store::Store> OpenStore(const std::string& code = "BANKA") {
    Result<node::Config> config = node::LoadConfig(Home(code));
    EXPECT_TRUE(config.ok());
    store::Options o;
    o.path = config->store;
    o.read_only = true;
    Result<std::unique_ptr<store::Store>> s = store::Store::Open(o);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return s.ok() ? std::move(*s) : nullptr;
  }

  uint64_t HeadSeq(const std::string& code = "BANKA") {
    std::unique_ptr<store::Store> s = OpenStore(code);
    if (!s) return 0;
    Result<std::optional<store::Head>> head = s->GetHead(code);
    return head.ok() && *head ? (*head)->seq : 0;
  }

  // Looks identifiers up in `code`'s store in-process, as the lookup CLI does.
  std::vector<std::vector<store::Listing>> Find(
      const std::vector<std::pair<protocol::IdType, std::string>>& ids,
      const std::string& code = "BANKA") {
    Result<node::Config> config = node::LoadConfig(Home(code));
    Result<crypto::Pepper> pepper = crypto::Pepper::Load(config->pepper);
    std::unique_ptr<store::Store> s = OpenStore(code);
    node::Lookuper lookuper(*s, *pepper);
    std::vector<std::vector<store::Listing>> out;
    for (const auto& [type, value] : ids) {
      Result<node::LookupAnswer> a = lookuper.Lookup(type, value, node::SystemNow(), true);
      EXPECT_TRUE(a.ok());
      out.push_back(a.ok() ? a->listings : std::vector<store::Listing>{});
    }
    return out;
  }
  std::vector<store::Listing> Find(protocol::IdType type, const std::string& value,
                                   const std::string& code = "BANKA") {
    return Find({{type, value}}, code)[0];
  }

  // Verifies `code`'s whole feed as a peer would: page by page as chains, each page linked to the
  // one before, with a Trust built from HOME/signing.pem. Returns the number of records.
  uint64_t VerifyFeed(const std::string& code = "BANKA") {
    Result<node::Config> config = node::LoadConfig(Home(code));
    Result<crypto::TrustStore> ca = node::LoadTrustStore(*config);
    EXPECT_TRUE(ca.ok());
    Result<node::SigningIdentity> id = node::LoadSigningIdentity(*config, *ca);
    EXPECT_TRUE(id.ok()) << (id.ok() ? "" : id.error().message);
    protocol::Trust trust;
    trust.Add(id->signer());
    std::unique_ptr<store::Store> s = OpenStore(code);
    crypto::Hash256 prev;  // zero before seq 1
    uint64_t seq = 0;
    for (;;) {
      Result<std::vector<protocol::SignedRecord>> page = s->Range(code, seq + 1, 10'000);
      EXPECT_TRUE(page.ok());
      if (!page.ok() || page->empty()) break;
      Result<std::vector<protocol::VerifiedRecord>> verified =
          protocol::VerifyChain(*page, trust, protocol::VerifyOptions{node::SystemNow()});
      EXPECT_TRUE(verified.ok()) << (verified.ok() ? "" : verified.error().message);
      if (!verified.ok()) break;
      EXPECT_EQ(verified->front().record().seq, seq + 1);
      EXPECT_EQ(verified->front().record().prev, prev) << "feed broken before seq " << seq + 1;
      seq = verified->back().record().seq;
      prev = verified->back().hash();
    }
    return seq;
  }

  // Starts a batch run in the background, stdout and stderr to files; returns its pid.
  pid_t Spawn(const std::string& file, const std::filesystem::path& out,
              const std::filesystem::path& err) {
    pid_t pid = ::fork();
    if (pid == 0) {
      int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(o, 1);
      ::dup2(e, 2);
      std::string home = Home();
      ::execl(kAdmin.c_str(), kAdmin.c_str(), "--home", home.c_str(), "report", "--batch",
              file.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    return pid;
  }

  // Waits until BANKA's head has reached `seq`; false if it never does.
  bool WaitForHead(uint64_t seq) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kLongRunSeconds);
    while (std::chrono::steady_clock::now() < deadline) {
      if (HeadSeq() >= seq) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  std::vector<nlohmann::json> AuditBatchLines(const std::string& code = "BANKA") {
    std::vector<nlohmann::json> out;
    for (const std::string& line : Lines(ReadAll(dir_ / code / "audit.log"))) {
      nlohmann::json j = nlohmann::json::parse(line);
      if (j["action"] == "report-batch") out.push_back(j);
    }
    return out;
  }

  testing::TempDir dir_;
};

// A file with a header, blank lines, spellings of one identifier, one identifier under two
// categories, and every kind of invalid line.
const char* const kMixedFile =
    "type,value,category,basis,case_ref,expires\n"                             // 1 header
    "phone,+86 139-1234-5678,rented-out,psb-identified,PSB-2026-0042\n"        // 2 published
    "qq,12345678,sold,convicted,\"(2026)京01刑初7号, 第二部分\",2029-01-31\n"  // 3 published
    "\n"                                                                       // 4 blank
    "phone,13912345678,rented-out\n"                                           // 5 same as 2
    "phone,0086 139 1234 5678,lent\n"                                          // 6 other category
    "   \t \r\n"                                                               // 7 blank
    "QQ,98765,Broker,Institution\r\n"                                          // 8 published
    "qq,0123,sold\n"                                                           // 9 bad value
    "iban,DE89370400440532013000,sold\n"                                       // 10 bad type
    "qq,55555,stolen\n"                                                        // 11 bad category
    "qq,55556,sold,rumour\n"                                                   // 12 bad basis
    "qq,55557,sold,,x,2001-01-01\n"                                            // 13 past
    "qq,55558,sold,,x,2030-02-30\n"                                            // 14 no such day
    "qq,55559,sold,,\"open\n"                                                  // 15 open quote
    "qq,55560,sold,,a,2030-01-01,extra\n"                                      // 16 7 fields
    "qq,55561\n"                                                               // 17 2 fields
    "cn-id,11010519491231002X,fraud-use,,,\n"                                  // 18 published
    "qq,55562,sold,,0123456789012345678901234567890123456789012345678901234567890123456789\n"
    "12345678,qq,sold\n";  // 19 case ref too long; 20 columns swapped: type is a number

TEST_F(BatchReportTest, MixedFileGivesExactCountsAndNamesInvalidLines) {
  std::string file = WriteFile("mixed.csv", kMixedFile);
  RunResult r = Batch(file);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  auto results = ParseText(r.out);
  std::map<uint64_t, std::string> expected = {
      {2, "published"}, {3, "published"}, {5, "already-listed"}, {6, "published"},
      {8, "published"}, {9, "invalid"},   {10, "invalid"},       {11, "invalid"},
      {12, "invalid"},  {13, "invalid"},  {14, "invalid"},       {15, "invalid"},
      {16, "invalid"},  {17, "invalid"},  {18, "published"},     {19, "invalid"},
      {20, "invalid"}};
  ASSERT_EQ(results.size(), expected.size()) << r.out;
  for (const auto& [line, result] : expected) {
    EXPECT_EQ(results[line].first, result) << "line " << line << ": " << results[line].second;
  }
  // Entries in line order; a repeated listing names the entry it repeats.
  EXPECT_EQ(results[2].second, "BANKA:1");
  EXPECT_EQ(results[3].second, "BANKA:2");
  EXPECT_EQ(results[5].second, "BANKA:1");
  EXPECT_EQ(results[6].second, "BANKA:3");
  EXPECT_EQ(results[8].second, "BANKA:4");
  EXPECT_EQ(results[18].second, "BANKA:5");
  // Reasons name the field or the type, never the value.
  EXPECT_NE(results[9].second.find("qq:"), std::string::npos);
  EXPECT_NE(results[10].second.find("TYPE"), std::string::npos);
  EXPECT_NE(results[11].second.find("CATEGORY"), std::string::npos);
  EXPECT_NE(results[12].second.find("BASIS"), std::string::npos);
  EXPECT_NE(results[13].second.find("passed"), std::string::npos);
  EXPECT_NE(results[14].second.find("no such day"), std::string::npos);
  EXPECT_NE(results[15].second.find("quote"), std::string::npos);
  EXPECT_NE(results[16].second.find("more than 6 fields"), std::string::npos);
  EXPECT_NE(results[17].second.find("found 2 fields"), std::string::npos);
  EXPECT_NE(results[19].second.find("CASE_REF"), std::string::npos);
  // stderr names each invalid line by number, then the summary.
  for (int line : {9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 20}) {
    EXPECT_NE(r.err.find("line " + std::to_string(line) + ": "), std::string::npos) << line;
  }
  EXPECT_NE(r.err.find("5 published, 1 already listed, 0 withdrawn, 11 invalid; 20 lines"),
            std::string::npos)
      << r.err;
  for (const std::string& raw :
       {std::string("139-1234-5678"), std::string("13912345678"), std::string("12345678"),
        std::string("98765"), std::string("0123"), std::string("DE89370400440532013000"),
        std::string("5555"), std::string("11010519491231002X")}) {
    EXPECT_EQ(r.out.find(raw), std::string::npos) << raw;
    EXPECT_EQ(r.err.find(raw), std::string::npos) << raw;
  }

  // The entries are what the lines said.
  auto found = Find({{protocol::IdType::kPhone, "13912345678"},
                     {protocol::IdType::kQq, "12345678"},
                     {protocol::IdType::kQq, "98765"},
                     {protocol::IdType::kCnId, "11010519491231002x"},
                     {protocol::IdType::kQq, "55562"}});
  ASSERT_EQ(found[0].size(), 2u);
  std::set<std::string> phone_categories;
  for (const store::Listing& l : found[0]) {
    phone_categories.insert(std::string(protocol::CategoryName(l.category)));
  }
  EXPECT_EQ(phone_categories, (std::set<std::string>{"rented-out", "lent"}));
  ASSERT_EQ(found[1].size(), 1u);
  EXPECT_EQ(found[1][0].case_ref, "(2026)京01刑初7号, 第二部分");
  EXPECT_EQ(found[1][0].basis, protocol::Basis::kConvicted);
  EXPECT_EQ(node::IsoTime(found[1][0].expires_at), "2029-01-30T16:00:00Z");
  ASSERT_EQ(found[2].size(), 1u);
  EXPECT_EQ(found[2][0].category, protocol::Category::kBroker);
  EXPECT_EQ(found[2][0].basis, protocol::Basis::kInstitution);
  // One year for an institution's own finding, by default.
  EXPECT_NEAR(static_cast<double>(found[2][0].expires_at - found[2][0].issued_at), 365.0 * 86400,
              86400);
  ASSERT_EQ(found[3].size(), 1u);
  EXPECT_TRUE(found[4].empty());  // nothing of an invalid line is written
  EXPECT_EQ(VerifyFeed(), 5u);
}

TEST_F(BatchReportTest, RerunPublishesNothingAndExitsZeroWhenAllLinesValid) {
  std::string file = WriteFile("list.csv", QqLines(2'500));
  RunResult first = Batch(file);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(CountResult(ParseText(first.out), "published"), 2'500u);
  RunResult again = Batch(file, {"--threads", "1"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  auto results = ParseText(again.out);
  EXPECT_EQ(CountResult(results, "already-listed"), 2'500u);
  EXPECT_EQ(results[1].second, "BANKA:1");
  EXPECT_EQ(results[2'500].second, "BANKA:2500");
  EXPECT_NE(again.err.find("0 published, 2,500 already listed"), std::string::npos) << again.err;
  EXPECT_EQ(HeadSeq(), 2'500u);
  // The mixed file too: its invalid lines stay invalid (exit 2) and nothing is added.
  std::string mixed = WriteFile("mixed.csv", kMixedFile);
  ASSERT_EQ(Batch(mixed).exit_code, 2);
  RunResult mixed_again = Batch(mixed);
  EXPECT_EQ(mixed_again.exit_code, 2);
  EXPECT_EQ(CountResult(ParseText(mixed_again.out), "published"), 0u);
  EXPECT_EQ(HeadSeq(), 2'505u);
}

TEST_F(BatchReportTest, JsonOutputHasOneObjectPerDataLine) {
  std::string file = WriteFile("mixed.csv", kMixedFile);
  RunResult r = Batch(file, {"--json"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 17u);
  nlohmann::json first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first, nlohmann::json({{"line", 2}, {"result", "published"}, {"entry", "BANKA:1"}}));
  nlohmann::json dup = nlohmann::json::parse(lines[2]);
  EXPECT_EQ(dup, nlohmann::json({{"line", 5}, {"result", "already-listed"}, {"entry", "BANKA:1"}}));
  nlohmann::json bad = nlohmann::json::parse(lines[5]);
  EXPECT_EQ(bad["line"], 9);
  EXPECT_EQ(bad["result"], "invalid");
  EXPECT_TRUE(bad["reason"].get<std::string>().starts_with("qq: ")) << bad;
  EXPECT_FALSE(bad.contains("entry"));
}

TEST_F(BatchReportTest, StdinWorksAndHeaderWithByteOrderMarkIsSkipped) {
  std::string input = "\xEF\xBB\xBFType,Value,Category\n" + QqLines(30);
  RunResult r = Batch("-", {}, "BANKA", input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto results = ParseText(r.out);
  ASSERT_EQ(results.size(), 30u);
  EXPECT_EQ(results.begin()->first, 2u);
  EXPECT_EQ(results[2].second, "BANKA:1");
  EXPECT_EQ(HeadSeq(), 30u);
  ASSERT_EQ(AuditBatchLines().size(), 1u);
  EXPECT_EQ(AuditBatchLines()[0]["input"], "stdin");
  // A header anywhere but the first line is an invalid line like any other.
  RunResult late = Batch("-", {}, "BANKA", "qq,77777,sold\ntype,value,category\n");
  EXPECT_EQ(late.exit_code, 2);
  EXPECT_EQ(ParseText(late.out)[2].first, "invalid");
}

TEST_F(BatchReportTest, AuditLogHasOneLinePerRunAndNoRawValues) {
  std::string file = WriteFile("mixed.csv", kMixedFile);
  Batch(file);
  Batch(file, {"--json"});
  std::vector<nlohmann::json> lines = AuditBatchLines();
  ASSERT_EQ(lines.size(), 2u);
  const nlohmann::json& j = lines[0];
  EXPECT_EQ(j["published"], 5);
  EXPECT_EQ(j["already_listed"], 1);
  EXPECT_EQ(j["withdrawn"], 0);
  EXPECT_EQ(j["invalid"], 11);
  EXPECT_EQ(j["lines"], 20);
  EXPECT_EQ(j["first_entry"], "BANKA:1");
  EXPECT_EQ(j["last_entry"], "BANKA:5");
  EXPECT_EQ(j["completed"], true);
  EXPECT_TRUE(j.contains("time") && j.contains("user") && j.contains("seconds"));
  EXPECT_EQ(lines[1]["published"], 0);
  EXPECT_EQ(lines[1]["already_listed"], 6);
  // No per-entry lines: init, and the two batches.
  EXPECT_EQ(Lines(ReadAll(dir_ / "BANKA" / "audit.log")).size(), 3u);
  std::string log = ReadAll(dir_ / "BANKA" / "audit.log");
  std::string store_bytes = ReadAll(dir_ / "BANKA" / "store" / "data.mdb");
  for (const std::string& raw :
       {std::string("139-1234-5678"), std::string("13912345678"), std::string("+8613912345678"),
        std::string("12345678"), std::string("98765"), std::string("11010519491231002X"),
        std::string("DE89370400440532013000")}) {
    EXPECT_EQ(log.find(raw), std::string::npos) << raw;
    EXPECT_EQ(store_bytes.find(raw), std::string::npos) << raw;
  }
}

TEST_F(BatchReportTest, KilledRunLeavesAVerifiableFeedAndRerunCompletesItOnce) {
#if defined(DUANKA_SANITIZED_PRODUCT)
  // Two transactions: the sanitized product is slow enough to be killed inside the second.
  const uint64_t n = 2 * kLinesPerTransaction;
#else
  const uint64_t n = 50'000;
#endif
  std::string file = WriteFile("big.csv", QqLines(n));
  pid_t pid = Spawn(file, dir_ / "out", dir_ / "err");
  ASSERT_GT(pid, 0);
  // Kill it once the first transaction is in, in the middle of the next ones.
  EXPECT_TRUE(WaitForHead(kLinesPerTransaction));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  uint64_t after_kill = HeadSeq();
  ASSERT_GE(after_kill, kLinesPerTransaction);
  if (after_kill == n) GTEST_LOG_(WARNING) << "the run finished before it could be killed";
  // Whole transactions only, and a chain that verifies.
  EXPECT_EQ(after_kill % kLinesPerTransaction, 0u) << after_kill;
  EXPECT_EQ(VerifyFeed(), after_kill);

  RunResult rerun = Batch(file);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  auto results = ParseText(rerun.out);
  ASSERT_EQ(results.size(), n);
  EXPECT_EQ(CountResult(results, "already-listed"), after_kill);
  EXPECT_EQ(CountResult(results, "published"), n - after_kill);
  EXPECT_EQ(HeadSeq(), n);
  EXPECT_EQ(VerifyFeed(), n);
  // Each line is listed exactly once, under its own entry.
  std::vector<std::pair<protocol::IdType, std::string>> ids;
  for (uint64_t i = 0; i < n; i += 7)
    ids.emplace_back(protocol::IdType::kQq, std::to_string(100'000'000 + i));
  std::set<std::string> entries;
  for (const std::vector<store::Listing>& found : Find(ids)) {
    ASSERT_EQ(found.size(), 1u);
    EXPECT_TRUE(entries.insert(found[0].id.ToString()).second);
  }
  // The killed run wrote no audit line; the rerun one.
  EXPECT_EQ(AuditBatchLines().size(), 1u);
}

TEST_F(BatchReportTest, InterruptedRunCommitsWhatItHasAuditsAndExitsThree) {
  const uint64_t n = 50'000;
  std::string file = WriteFile("big.csv", QqLines(n));
  pid_t pid = Spawn(file, dir_ / "out", dir_ / "err");
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(WaitForHead(kLinesPerTransaction));
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  const uint64_t published = HeadSeq();
  if (published == n) {
    GTEST_LOG_(WARNING) << "the run finished before the signal arrived";
    EXPECT_EQ(WEXITSTATUS(status), 0);
    return;
  }
  EXPECT_EQ(WEXITSTATUS(status), 3);
  std::string err = ReadAll(dir_ / "err");
  EXPECT_NE(err.find("interrupted after line"), std::string::npos) << err;
  // Every committed entry was reported on stdout, and nothing else.
  auto results = ParseText(ReadAll(dir_ / "out"));
  EXPECT_EQ(results.size(), published);
  EXPECT_EQ(CountResult(results, "published"), published);
  std::vector<nlohmann::json> audit = AuditBatchLines();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0]["completed"], false);
  EXPECT_EQ(audit[0]["published"], published);
  EXPECT_NE(audit[0]["error"].get<std::string>().find("interrupted"), std::string::npos);
  EXPECT_EQ(VerifyFeed(), published);
  RunResult rerun = Batch(file);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_EQ(HeadSeq(), n);
}

TEST_F(BatchReportTest, TwoRunsAtOncePublishEachLineOnce) {
  const uint64_t n = 3 * kLinesPerTransaction;
  std::string file = WriteFile("list.csv", QqLines(n));
  RunResult a, b;
  std::thread other([&] { b = Batch(file, {"--threads", "1"}); });
  a = Batch(file);
  other.join();
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  auto ra = ParseText(a.out), rb = ParseText(b.out);
  EXPECT_EQ(CountResult(ra, "published") + CountResult(rb, "published"), n);
  EXPECT_EQ(CountResult(ra, "already-listed") + CountResult(rb, "already-listed"), n);
  EXPECT_EQ(HeadSeq(), n);
  EXPECT_EQ(VerifyFeed(), n);
  // Both name the same entry for each line.
  for (uint64_t line = 1; line <= n; line += 997) EXPECT_EQ(ra[line].second, rb[line].second);
}

TEST_F(BatchReportTest, LargeFileFinishes) {
  const uint64_t n = LinesFromEnv(100'000);
  std::string file = WriteFile("large.csv", "type,value,category\n" + QqLines(n));
  RunResult r = Batch(file, {"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(HeadSeq(), n);
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), n);
  EXPECT_EQ(nlohmann::json::parse(lines.back())["entry"], "BANKA:" + std::to_string(n));
  std::vector<nlohmann::json> audit = AuditBatchLines();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0]["published"], n);
  std::cout << r.err;  // the summary, with its rate: shown, not asserted
}

TEST_F(BatchReportTest, PublishedEntriesTravelInBundles) {
  Join("BANKB");
  std::string file = WriteFile("list.csv", QqLines(12'345));
  ASSERT_EQ(Batch(file).exit_code, 0);
  const std::string bundle = (dir_ / "a.bundle").string();
  RunResult exported = Admin({"--home", Home(), "export", "--out", bundle});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  RunResult imported = Admin({"--home", Home("BANKB"), "import", bundle}, "", kLongRunSeconds);
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_NE(imported.out.find("BANKA: 12345 imported"), std::string::npos) << imported.out;
  std::vector<store::Listing> at_b = Find(protocol::IdType::kQq, "100012344", "BANKB");
  ASSERT_EQ(at_b.size(), 1u);
  EXPECT_EQ(at_b[0].id.ToString(), "BANKA:12345");
  EXPECT_EQ(at_b[0].category, protocol::Category::kBroker);
  // BANKB's own batch of the same identifiers is its own listing, not "already listed".
  RunResult own = Batch(file, {}, "BANKB");
  ASSERT_EQ(own.exit_code, 0) << own.err;
  EXPECT_EQ(CountResult(ParseText(own.out), "published"), 12'345u);
  EXPECT_EQ(Find(protocol::IdType::kQq, "100012344", "BANKB").size(), 2u);
}

TEST_F(BatchReportTest, ListingsWithdrawnAsWrongAreNotPublishedAgain) {
  std::string file = WriteFile("list.csv", QqLines(3));
  ASSERT_EQ(Batch(file).exit_code, 0);
  ASSERT_EQ(Admin({"--home", Home(), "revoke", "BANKA:1", "--reason", "appeal-upheld"}).exit_code,
            0);
  ASSERT_EQ(Admin({"--home", Home(), "revoke", "BANKA:2", "--reason", "superseded"}).exit_code, 0);
  RunResult r = Batch(file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto results = ParseText(r.out);
  EXPECT_EQ(results[1], (std::pair<std::string, std::string>{"withdrawn", "BANKA:1"}));
  // A superseded listing may be published again: the file says it stands.
  EXPECT_EQ(results[2], (std::pair<std::string, std::string>{"published", "BANKA:6"}));
  EXPECT_EQ(results[3], (std::pair<std::string, std::string>{"already-listed", "BANKA:3"}));
  EXPECT_NE(r.err.find("1 withdrawn"), std::string::npos) << r.err;
  EXPECT_EQ(AuditBatchLines().back()["withdrawn"], 1);
}

TEST_F(BatchReportTest, LineRefusedWhenSigningGivesWayToTheNextLineWithItsKey) {
  // A case reference that is not UTF-8 passes the line parser but not the record's own range
  // checks; the next line with the same identifier and category is then the one published.
  std::string input =
      "qq,20001,sold,,bad\xff\n"
      "qq,20001,sold,,good\n"
      "qq,20001,sold\n";
  RunResult r = Batch("-", {}, "BANKA", input);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  auto results = ParseText(r.out);
  EXPECT_EQ(results[1].first, "invalid");
  EXPECT_NE(results[1].second.find("UTF-8"), std::string::npos) << results[1].second;
  EXPECT_EQ(results[2], (std::pair<std::string, std::string>{"published", "BANKA:1"}));
  EXPECT_EQ(results[3], (std::pair<std::string, std::string>{"already-listed", "BANKA:1"}));
  std::vector<store::Listing> found = Find(protocol::IdType::kQq, "20001");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].case_ref, "good");
  EXPECT_EQ(VerifyFeed(), 1u);
}

TEST_F(BatchReportTest, OverlongLineIsInvalidAndTheNextLineStillRead) {
  std::string input = "qq,10001,sold\nqq," + std::string(5'000'000, '1') + ",sold\nqq,10002,sold";
  RunResult r = Batch("-", {}, "BANKA", input);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  auto results = ParseText(r.out);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[1].first, "published");
  EXPECT_EQ(results[2].first, "invalid");
  EXPECT_NE(results[2].second.find("longer than"), std::string::npos);
  EXPECT_EQ(results[3].first, "published");  // no newline at the end: still a line
}

TEST_F(BatchReportTest, UsageAndOperationalErrors) {
  std::string file = WriteFile("list.csv", QqLines(3));
  auto expect_one_line = [](const RunResult& r, int code, const std::string& words) {
    EXPECT_EQ(r.exit_code, code) << r.err;
    EXPECT_NE(r.err.find(words), std::string::npos) << r.err;
    EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  };
  expect_one_line(Admin({"--home", Home(), "report", "qq", "12345", "--batch", file}), 2,
                  "TYPE comes from each line");
  expect_one_line(Admin({"--home", Home(), "report", "--batch", file, "--category", "sold"}), 2,
                  "--category comes from each line");
  expect_one_line(Admin({"--home", Home(), "report", "--batch", (dir_ / "missing.csv").string()}),
                  2, "missing.csv");
  expect_one_line(Admin({"--home", Home(), "report", "--batch", file, "--threads", "3"}), 2,
                  "--threads");
  expect_one_line(Admin({"--home", Home(), "report", "qq", "12345"}), 2, "--category");
  expect_one_line(Admin({"--home", Home(), "report"}), 2, "TYPE and VALUE");
  std::filesystem::remove(dir_ / "BANKA" / "signing.key");
  expect_one_line(Admin({"--home", Home(), "report", "--batch", file}), 3, "signing.key");
  EXPECT_EQ(HeadSeq(), 0u);
  RunResult help = Admin({"report", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Example: duanka-admin report --batch"), std::string::npos);
  EXPECT_NE(help.out.find("Exit 0"), std::string::npos);
}

}  // namespace
}  // namespace duanka
