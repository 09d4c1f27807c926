// duankad --log-format json (issue 18, section 3), against a real daemon: every line of its log,
// from start through peer sync and SIGHUP to stop, is one JSON object {"ts","level","msg"};
// messages holding quotes, backslashes, tabs and newlines stay one parseable line.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fcntl.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "node/common/exit_codes.h"
#include "tests/integration/consortium.h"
#include "tests/support/process.h"

namespace duanka::integration {
namespace {

using nlohmann::json;
using testing::RunProgram;
using testing::RunResult;

const std::string kDaemon = DUANKAD_BIN;
// A refused start ends at once; this only bounds a daemon that wrongly keeps running.
constexpr int kRefusalTimeoutSeconds = 30;
// "ts": UTC to the millisecond, as the text lines carry it.
const std::regex kTimestamp(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
const std::set<std::string> kLevels = {"trace", "debug",    "info", "warning",
                                       "error", "critical", "off"};

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Whether `line` is one JSON object with exactly the string fields ts, level and msg, in that
// order, ts and level well-formed; the parsed object in `out`.
::testing::AssertionResult IsJsonLogLine(const std::string& line, json* out) {
  json j;
  try {
    j = json::parse(line);
  } catch (const json::exception& e) {
    return ::testing::AssertionFailure() << "not JSON (" << e.what() << "): " << line;
  }
  if (!j.is_object() || j.size() != 3) {
    return ::testing::AssertionFailure() << "not an object of 3 fields: " << line;
  }
  for (const char* key : {"ts", "level", "msg"}) {
    if (!j.contains(key) || !j[key].is_string()) {
      return ::testing::AssertionFailure() << "no string \"" << key << "\": " << line;
    }
  }
  if (line.rfind(R"({"ts":)", 0) != 0) {
    return ::testing::AssertionFailure() << "\"ts\" is not the first key: " << line;
  }
  if (!std::regex_match(j["ts"].get<std::string>(), kTimestamp)) {
    return ::testing::AssertionFailure() << "ts is not YYYY-MM-DDTHH:MM:SS.mmmZ: " << line;
  }
  if (!kLevels.count(j["level"].get<std::string>())) {
    return ::testing::AssertionFailure() << "unknown level: " << line;
  }
  *out = j;
  return ::testing::AssertionSuccess();
}

// duankad with --log-format json and its stderr appended to `log`, dying with the test process.
pid_t SpawnJsonDaemon(const Node& n, const std::filesystem::path& log) {
  const std::string home = n.home.string();
  const std::string log_path = log.string();
  std::vector<char*> argv = {const_cast<char*>(kDaemon.c_str()), const_cast<char*>("--home"),
                             const_cast<char*>(home.c_str()),    const_cast<char*>("--log-format"),
                             const_cast<char*>("json"),          nullptr};
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Every message of a JSON log, after checking that each line is a well-formed log object.
std::vector<std::string> Messages(const std::string& log_text) {
  std::vector<std::string> messages;
  for (const std::string& line : SplitLines(log_text)) {
    json j;
    EXPECT_TRUE(IsJsonLogLine(line, &j));
    if (j.is_object()) messages.push_back(j["msg"].get<std::string>());
  }
  return messages;
}

bool AnyContains(const std::vector<std::string>& messages, const std::string& text) {
  return std::any_of(messages.begin(), messages.end(),
                     [&](const std::string& m) { return m.find(text) != std::string::npos; });
}

TEST(LogFormat, EveryLineFromStartThroughSyncAndSighupToStopIsOneJsonObject) {
  Consortium c;
  std::vector<Node*> line = c.Line({"BANKA", "BANKB"});
  Node& a = *line[0];
  Node& b = *line[1];
  // Each node's duanka.toml is written by its first start; BANKB is then run again by hand with
  // --log-format json, which the harness does not pass.
  ASSERT_TRUE(c.StartAll());
  ASSERT_EQ(c.Stop(b), 0) << c.Log(b);
  const std::filesystem::path log = c.dir() / "bankb-json.log";
  const pid_t pid = SpawnJsonDaemon(b, log);
  ASSERT_GT(pid, 0);
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      if (pid > 0 && ::waitpid(pid, nullptr, WNOHANG) == 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  } reaper{pid};

  ASSERT_TRUE(Eventually([&] { return ReadAll(log).find(" started") != std::string::npos; },
                         kStartDeadline))
      << ReadAll(log);
  // A record that reaches BANKB over TLS from BANKA: peer sync ran and logged as it went.
  const std::string entry = c.Report(a, "qq", "10001");
  ASSERT_FALSE(entry.empty());
  ASSERT_TRUE(Eventually([&] { return c.Listed(b, protocol::IdType::kQq, "10001"); }))
      << ReadAll(log);
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  ASSERT_TRUE(Eventually([&] { return ReadAll(log).find("SIGHUP") != std::string::npos; }))
      << ReadAll(log);
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_TRUE(Eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, kStopDeadline))
      << ReadAll(log);
  reaper.pid = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;

  const std::string text = ReadAll(log);
  const std::vector<std::string> messages = Messages(text);
  EXPECT_EQ(messages.size(), SplitLines(text).size()) << text;
  EXPECT_TRUE(AnyContains(messages, "started")) << text;
  EXPECT_TRUE(AnyContains(messages, "SIGHUP")) << text;
  EXPECT_EQ(messages.back(), "stopped") << text;
  // The value reported never reaches the log, in this format either.
  EXPECT_EQ(text.find("10001"), std::string::npos) << text;
}

TEST(LogFormat, QuotesBackslashesTabsAndNewlinesInAMessageStayOneEscapedLine) {
  testing::TempDir dir;
  // The message names HOME: a path holding every character JSON must escape.
  const std::filesystem::path home = dir / "a \"quoted\" back\\slash\ttab\nnewline home";
  std::filesystem::create_directory(home);
  RunResult r = RunProgram({kDaemon, "--home", home.string(), "--log-format", "json"}, "",
                           kRefusalTimeoutSeconds);
  EXPECT_EQ(r.exit_code, node::kExitFailure) << r.err;
  const std::vector<std::string> lines = SplitLines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  json j;
  ASSERT_TRUE(IsJsonLogLine(lines[0], &j));
  EXPECT_EQ(j["level"], "error");
  EXPECT_NE(j["msg"].get<std::string>().find(home.string()), std::string::npos) << lines[0];
}

TEST(LogFormat, BytesThatAreNotUtf8BecomeReplacementCharactersNotALostLine) {
  testing::TempDir dir;
  const std::filesystem::path home = dir / "not \xff utf-8";
  std::filesystem::create_directory(home);
  RunResult r = RunProgram({kDaemon, "--home", home.string(), "--log-format", "json"}, "",
                           kRefusalTimeoutSeconds);
  EXPECT_EQ(r.exit_code, node::kExitFailure) << r.err;
  const std::vector<std::string> lines = SplitLines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  json j;
  ASSERT_TRUE(IsJsonLogLine(lines[0], &j));
  // U+FFFD in UTF-8 where the byte 0xFF was.
  EXPECT_NE(j["msg"].get<std::string>().find("not \xEF\xBF\xBD utf-8"), std::string::npos)
      << lines[0];
}

TEST(LogFormat, TextStaysTheDefaultAndAnUnknownFormatIsRefusedNamingTheChoices) {
  testing::TempDir dir;
  RunResult text = RunProgram({kDaemon, "--home", dir.path().string()}, "", kRefusalTimeoutSeconds);
  EXPECT_EQ(text.exit_code, node::kExitFailure) << text.err;
  EXPECT_TRUE(std::regex_search(
      text.err, std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z error no .*duanka\.toml)")))
      << text.err;

  RunResult bad = RunProgram({kDaemon, "--home", dir.path().string(), "--log-format", "xml"}, "",
                             kRefusalTimeoutSeconds);
  EXPECT_EQ(bad.exit_code, node::kExitInvalid) << bad.err;
  EXPECT_EQ(SplitLines(bad.err).size(), 1u) << bad.err;
  EXPECT_NE(bad.err.find("--log-format"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("text"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("json"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace duanka::integration
