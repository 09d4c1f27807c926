// duanka-admin watch and duanka alerts, the real binaries on a temporary HOME of a test
// consortium: screening at once, idempotence, remove, count, bad files refused whole, the watch
// list's values in no log or store file, and the alert log read, resumed and followed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "node/common/config.h"
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
const std::string kLookup = DUANKA_BIN;
// How long a background `duanka alerts --follow` gets to print what it must print. Not a
// measurement: a generous bound so that a broken follower fails the test instead of hanging it.
constexpr auto kFollowDeadline = std::chrono::seconds(60);
// Generous: the large file runs under sanitizers and on a machine busy with other builds.
constexpr int kRunSeconds = 600;

std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  for (const std::string& line : Lines(text)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

class WatchCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(Admin({"pki", "init-ca", "--dir", Ca(), "--consortium", "TESTNET"}).exit_code, 0);
    ASSERT_EQ(Admin({"pepper", "new", "--out", Pepper()}).exit_code, 0);
    RunResult issue =
        Admin({"--home", Home(), "pki", "issue", "--ca-dir", Ca(), "--institution", "BANKA"});
    ASSERT_EQ(issue.exit_code, 0) << issue.err;
    RunResult init = Admin({"init", "--home", Home(), "--institution", "BANKA", "--ca",
                            Ca() + "/ca.pem", "--pepper", Pepper()});
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }

  std::string Ca() const { return (dir_ / "ca").string(); }
  std::string Pepper() const { return (dir_ / "pepper.key").string(); }
  std::string Home() const { return (dir_ / "BANKA").string(); }

  RunResult Admin(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), kAdmin);
    return RunProgram(args, input, kRunSeconds);
  }
  RunResult Lookup(std::vector<std::string> args) {
    args.insert(args.begin(), {kLookup, "--home", Home()});
    return RunProgram(args);
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    std::filesystem::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

  RunResult Watch(const std::string& file, const std::string& input = "") {
    return Admin({"--home", Home(), "watch", "--batch", file}, input);
  }
  RunResult Unwatch(const std::string& file) {
    return Admin({"--home", Home(), "watch", "remove", "--batch", file});
  }
  std::string Count() {
    RunResult r = Admin({"--home", Home(), "watch", "count"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  // Reports an identifier and returns its entry id.
  std::string Report(const std::string& type, const std::string& value) {
    RunResult r =
        Admin({"--home", Home(), "report", type, value, "--category", "rented-out", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? nlohmann::json::parse(r.out)["entry"].get<std::string>() : "";
  }

  // The (subject8, ref) pairs of every audit line of `action` ("watch-add", "watch-remove").
  std::vector<std::pair<std::string, std::string>> AuditedPairs(const std::string& action) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const nlohmann::json& j : AuditLines(action)) {
      for (const nlohmann::json& pair : j["pairs"]) out.emplace_back(pair[0], pair[1]);
    }
    return out;
  }

  std::vector<nlohmann::json> AuditLines(const std::string& action) {
    std::vector<nlohmann::json> out;
    for (const nlohmann::json& j : JsonLines(ReadAll(dir_ / "BANKA" / "audit.log"))) {
      if (j.value("action", "") == action) out.push_back(j);
    }
    return out;
  }

  // Every byte of the audit log and the store's files.
  std::string EverythingWritten() {
    std::string all = ReadAll(dir_ / "BANKA" / "audit.log");
    Result<node::Config> config = node::LoadConfig(Home());
    EXPECT_TRUE(config.ok());
    for (const auto& f : std::filesystem::recursive_directory_iterator(config->store)) {
      if (f.is_regular_file()) all += ReadAll(f.path());
    }
    return all;
  }

  std::vector<nlohmann::json> Alerts(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"alerts", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = Lookup(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return JsonLines(r.out);
  }

  testing::TempDir dir_;
};

// Line 2 and 4: a phone listed under two refs (spelt two ways); line 3 a QQ number not listed.
const char* const kCustomers =
    "type,value,ref\n"
    "phone,+86 139-1234-5678,cust#1001\n"
    "qq,12345678,cust#1002\n"
    "phone,13912345678,cust#1003\n";

TEST_F(WatchCliTest, WatchScreensAtOnceAndIsIdempotent) {
  const std::string entry = Report("phone", "13912345678");
  const std::string file = WriteFile("customers.csv", kCustomers);
  RunResult r = Watch(file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<nlohmann::json> listed = JsonLines(r.out);
  ASSERT_EQ(listed.size(), 2u) << r.out;
  EXPECT_EQ(listed[0]["line"], 2);
  EXPECT_EQ(listed[0]["ref"], "cust#1001");
  EXPECT_EQ(listed[1]["line"], 4);
  EXPECT_EQ(listed[1]["ref"], "cust#1003");
  for (const nlohmann::json& j : listed) {
    EXPECT_EQ(j["listed"], true);
    EXPECT_EQ(j["held"], false);
    EXPECT_EQ(j["type"], "phone");
    EXPECT_EQ(j["subject"].get<std::string>().size(), 64u);
    ASSERT_EQ(j["entries"].size(), 1u);
    EXPECT_EQ(j["entries"][0]["entry"], entry);
  }
  // The shape of `duanka lookup --batch --json`'s line for the same identifier, plus "ref".
  RunResult lookup = RunProgram({kLookup, "--home", Home(), "lookup", "--batch", "-", "--json",
                                 "--purpose", "periodic-review"},
                                "phone,13912345678\n");
  ASSERT_EQ(lookup.exit_code, 0) << lookup.err;
  nlohmann::json looked = nlohmann::json::parse(Lines(lookup.out).at(0));
  std::set<std::string> lookup_keys, watch_keys;
  for (const auto& [k, v] : looked.items()) lookup_keys.insert(k);
  for (const auto& [k, v] : listed[0].items()) watch_keys.insert(k);
  lookup_keys.insert("ref");
  EXPECT_EQ(watch_keys, lookup_keys);
  EXPECT_EQ(looked["subject"], listed[0]["subject"]);
  EXPECT_EQ(looked["entries"], listed[0]["entries"]);
  // Graded as a periodic review grades it: one institution entry is "watch" by the built-in policy.
  EXPECT_EQ(listed[0]["risk"], looked["risk"]);
  EXPECT_EQ(listed[0]["risk"]["tier"], "watch");
  EXPECT_NE(r.err.find("3 added, 0 already watched, 2 listed now"), std::string::npos) << r.err;
  EXPECT_EQ(Count(), "3\n");

  // Again: nothing added, the same refs listed now.
  RunResult again = Watch(file);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("0 added, 3 already watched, 2 listed now"), std::string::npos)
      << again.err;
  EXPECT_EQ(JsonLines(again.out).size(), 2u);
  EXPECT_EQ(Count(), "3\n");

  // Audit: each pair added (subject prefix and ref) once, in the run that added it; one count
  // line per run.
  std::vector<std::pair<std::string, std::string>> added = AuditedPairs("watch-add");
  ASSERT_EQ(added.size(), 3u);
  std::set<std::string> refs;
  for (const auto& [subject8, ref] : added) {
    refs.insert(ref);
    EXPECT_EQ(subject8.size(), 8u);
  }
  EXPECT_EQ(refs, (std::set<std::string>{"cust#1001", "cust#1002", "cust#1003"}));
  std::vector<nlohmann::json> runs = AuditLines("watch-add-batch");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0]["added"], 3);
  EXPECT_EQ(runs[1]["added"], 0);
  EXPECT_EQ(runs[1]["already_watched"], 3);
}

TEST_F(WatchCliTest, RemoveAndCount) {
  EXPECT_EQ(Count(), "0\n");
  ASSERT_EQ(Watch(WriteFile("customers.csv", kCustomers)).exit_code, 0);
  EXPECT_EQ(Count(), "3\n");
  const std::string closed = WriteFile("closed.csv", "qq,12345678,cust#1002\n");
  RunResult r = Unwatch(closed);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("1 removed, 0 not watched"), std::string::npos) << r.err;
  EXPECT_EQ(Count(), "2\n");
  RunResult again = Unwatch(closed);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("0 removed, 1 not watched"), std::string::npos) << again.err;
  EXPECT_EQ(Count(), "2\n");
  std::vector<std::pair<std::string, std::string>> removed = AuditedPairs("watch-remove");
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].second, "cust#1002");

  // From stdin too.
  RunResult piped = Watch("-", "qq,12345678,cust#1002\n");
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(Count(), "3\n");
}

TEST_F(WatchCliTest, BadFileIsRefusedWholeByLineNumberWithoutItsValues) {
  const std::string file = WriteFile(
      "bad.csv",
      "phone,13912345678,cust#1\n"            // 1 valid
      "iban,DE89370400440532013000,cust#2\n"  // 2 bad type
      "qq,0123,cust#3\n"                      // 3 bad value
      "qq,55555,13800138000\n"                // 4 ref: phone
      "qq,55556,C-10023\n"                    // 5 ref: wechat
      "qq,55557,\n"                           // 6 no ref
      "qq,55558\n"                            // 7 2 fields
      "qq,55559,cust#0123456789012345678901234567890123456789012345678901234567890\n"  // 8 long
      "qq,55560,cust#\x01\n");  // 9 control character
  RunResult r = Watch(file);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  for (int line = 2; line <= 9; ++line) {
    EXPECT_NE(r.err.find("line " + std::to_string(line) + ": "), std::string::npos) << line;
  }
  EXPECT_EQ(r.err.find("line 1: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("reads as a valid phone"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("reads as a valid wechat"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was written"), std::string::npos) << r.err;
  for (const char* raw :
       {"13912345678", "DE89370400440532013000", "0123", "5555", "13800138000", "C-10023"}) {
    EXPECT_EQ(r.err.find(raw), std::string::npos) << raw;
  }
  // Nothing written, not even the valid line; and the refused values are nowhere.
  EXPECT_EQ(Count(), "0\n");
  EXPECT_TRUE(AuditLines("watch-add").empty());
  const std::string written = EverythingWritten();
  for (const char* raw : {"13912345678", "13800138000", "C-10023", "cust#1"}) {
    EXPECT_EQ(written.find(raw), std::string::npos) << raw;
  }
}

// More lines than one write transaction takes (node/admin/watch_commands.cpp's
// kWatchItemsPerWrite, 100,000): every chunk written, screened and counted once.
TEST_F(WatchCliTest, LargeFileIsWrittenInChunks) {
  constexpr uint64_t kLines = 210'000;
  constexpr uint64_t kListedLine = 150'001;  // in the second chunk
  const std::string entry = Report("qq", std::to_string(100'000'000 + kListedLine - 1));
  std::string text;
  for (uint64_t i = 0; i < kLines; ++i) {
    text += "qq," + std::to_string(100'000'000 + i) + ",c#" + std::to_string(i) + "\n";
  }
  const std::string file = WriteFile("large.csv", text);
  RunResult r = Watch(file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<nlohmann::json> listed = JsonLines(r.out);
  ASSERT_EQ(listed.size(), 1u) << r.out;
  EXPECT_EQ(listed[0]["line"], kListedLine);
  EXPECT_EQ(listed[0]["ref"], "c#" + std::to_string(kListedLine - 1));
  EXPECT_EQ(listed[0]["entries"][0]["entry"], entry);
  EXPECT_NE(r.err.find("210,000 added, 0 already watched, 1 listed now"), std::string::npos)
      << r.err;
  EXPECT_EQ(Count(), std::to_string(kLines) + "\n");
  EXPECT_EQ(AuditedPairs("watch-add").size(), kLines);
  RunResult again = Watch("-", text);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("0 added, 210,000 already watched, 1 listed now"), std::string::npos)
      << again.err;
  EXPECT_EQ(AuditedPairs("watch-add").size(), kLines) << "a pair held already is not audited";
}

// The audit log cannot be written (a directory stands where the file should be): the store's
// transaction is aborted, so nothing is watched without its audit line.
TEST_F(WatchCliTest, AWatchThatCannotBeAuditedWritesNothing) {
  const std::filesystem::path log = dir_ / "BANKA" / "audit.log";
  std::filesystem::remove(log);
  std::filesystem::create_directory(log);
  RunResult r = Watch(WriteFile("customers.csv", kCustomers));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("audit"), std::string::npos) << r.err;
  std::filesystem::remove(log);
  EXPECT_EQ(Count(), "0\n");
}

TEST_F(WatchCliTest, ManyBadLinesAreNamedUpToACap) {
  std::string text;
  for (int i = 0; i < 30; ++i) text += "qq,0" + std::to_string(i) + "11,cust#" + "\n";
  RunResult r = Watch("-", text);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("line 20: "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("line 21: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("more invalid lines"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("30 of 30 lines invalid"), std::string::npos) << r.err;
}

TEST_F(WatchCliTest, MisplacedOptionsAreRefused) {
  RunResult count = Admin({"--home", Home(), "watch", "count", "--batch", "x.csv"});
  EXPECT_EQ(count.exit_code, 2);
  EXPECT_TRUE(count.out.empty()) << count.out;
  RunResult bare = Admin({"--home", Home(), "watch"});
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_NE(bare.err.find("--batch"), std::string::npos) << bare.err;
  RunResult missing = Watch((dir_ / "no-such.csv").string());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(Lines(missing.err).size(), 1u) << missing.err;
}

TEST_F(WatchCliTest, RawValuesAreInNoLogOrStoreFile) {
  ASSERT_EQ(Watch(WriteFile("customers.csv", kCustomers)).exit_code, 0);
  ASSERT_EQ(Unwatch(WriteFile("closed.csv", "qq,12345678,cust#1002\n")).exit_code, 0);
  const std::string written = EverythingWritten();
  // The values as typed and in their canonical forms.
  for (const char* raw : {"139-1234-5678", "13912345678", "+8613912345678", "12345678"}) {
    EXPECT_EQ(written.find(raw), std::string::npos) << raw;
  }
  // The refs are the institution's own and are kept (the store needs them for alerts).
  EXPECT_NE(written.find("cust#1001"), std::string::npos);
}

TEST_F(WatchCliTest, AlertsListedThenClearedAndResumable) {
  ASSERT_EQ(Watch(WriteFile("customers.csv", kCustomers)).exit_code, 0);
  EXPECT_TRUE(Alerts().empty());
  const std::string entry = Report("phone", "+86 139 1234 5678");
  std::vector<nlohmann::json> alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["kind"], "listed");
  EXPECT_EQ(alerts[0]["entry"], entry);
  EXPECT_EQ(alerts[0]["type"], "phone");
  EXPECT_EQ(alerts[0]["category"], "rented-out");
  EXPECT_EQ(alerts[0]["reason"], nullptr);
  EXPECT_EQ(alerts[0]["refs"], (nlohmann::json{"cust#1001", "cust#1003"}));
  const uint64_t first = alerts[0]["id"].get<uint64_t>();

  RunResult revoked = Admin({"--home", Home(), "revoke", entry, "--reason", "appeal-upheld"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  alerts = Alerts();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1]["kind"], "cleared");
  EXPECT_EQ(alerts[1]["entry"], entry);
  EXPECT_EQ(alerts[1]["reason"], "appeal-upheld");
  EXPECT_GT(alerts[1]["id"].get<uint64_t>(), first);

  // Resumed after the first: only the second.
  std::vector<nlohmann::json> rest = Alerts({"--after", std::to_string(first)});
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0]["id"], alerts[1]["id"]);
  EXPECT_TRUE(Alerts({"--after", std::to_string(alerts[1]["id"].get<uint64_t>())}).empty());

  // For people: one line per alert with its id, kind, entry and refs.
  RunResult human = Lookup({"alerts"});
  ASSERT_EQ(human.exit_code, 0) << human.err;
  std::vector<std::string> lines = Lines(human.out);
  ASSERT_EQ(lines.size(), 2u) << human.out;
  EXPECT_NE(lines[0].find("listed"), std::string::npos);
  EXPECT_NE(lines[0].find(entry), std::string::npos);
  EXPECT_NE(lines[0].find("cust#1001,cust#1003"), std::string::npos);
  EXPECT_NE(lines[1].find("appeal-upheld"), std::string::npos);

  // Each read handing out alerts is audited; one that found none is not.
  std::vector<nlohmann::json> reads = AuditLines("alerts-read");
  ASSERT_EQ(reads.size(), 4u);
  EXPECT_EQ(reads[0]["alerts"], 1);
  EXPECT_EQ(reads[1]["alerts"], 2);
  EXPECT_EQ(reads[1]["first_id"], first);
}

TEST_F(WatchCliTest, AlertsRefusesABadAfter) {
  for (const char* bad : {"abc", "-1", "12x", ""}) {
    RunResult r = Lookup({"alerts", "--after", bad});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find("--after"), std::string::npos) << r.err;
  }
}

TEST_F(WatchCliTest, FollowPrintsAnAlertRaisedAfterItStarted) {
  ASSERT_EQ(Watch(WriteFile("customers.csv", kCustomers)).exit_code, 0);
  const std::filesystem::path out = dir_ / "follow.out";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 1);
    const std::string home = Home();
    ::execl(kLookup.c_str(), kLookup.c_str(), "--home", home.c_str(), "alerts", "--follow",
            "--json", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Whether the follower reads before or after the report, it must print the alert.
  const std::string entry = Report("qq", "12345678");
  const auto deadline = std::chrono::steady_clock::now() + kFollowDeadline;
  std::vector<nlohmann::json> seen;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = ReadAll(out);
    if (text.ends_with("\n")) seen = JsonLines(text);
    if (!seen.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0]["kind"], "listed");
  EXPECT_EQ(seen[0]["entry"], entry);
  EXPECT_EQ(seen[0]["refs"], (nlohmann::json{"cust#1002"}));
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace duanka
