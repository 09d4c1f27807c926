// The audit log as a hash chain with signed checkpoints (issue 17, section 3), with a real duankad:
// a SIGKILL during a stream of HTTP lookups leaves a chain that `duanka-admin audit verify` passes
// up to the last whole line; the restarted daemon records the torn bytes and chains on; a
// rotation (logrotate's move + create + SIGHUP) keeps one chain across the files; an export is
// checked with the CA certificate alone; a file that is not an audit log exits 2.
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/consortium.h"
#include "tests/support/process.h"

namespace duanka::integration {
namespace {

using testing::RunProgram;
using testing::RunResult;

const std::string kCurl = CURL_BIN;
constexpr const char* kLookupBody = R"({"type":"qq","value":"10001","purpose":"account-opening"})";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

size_t CountAction(const std::filesystem::path& log, const std::string& action) {
  size_t n = 0;
  for (const std::string& line : Lines(ReadAll(log))) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("action", "") == action) ++n;
  }
  return n;
}

// `count` lookups over one curl run (one connection, one request after another).
RunResult Lookups(const Node& n, int count) {
  std::vector<std::string> argv = {kCurl,        "-s",       "-o", "/dev/null",
                                   "--max-time", "60",       "-H", "Content-Type: application/json",
                                   "--data",     kLookupBody};
  const std::string url = "http://127.0.0.1:" + std::to_string(n.api_port) + "/v1/lookup";
  for (int i = 0; i < count; ++i) argv.push_back(url);
  return RunProgram(argv);
}

TEST(AuditLogTest, SigkillDuringLookupsLeavesAVerifiableChainThatTheRestartContinues) {
  Consortium c;
  Node& n = c.Add("BANKA");
  ASSERT_FALSE(c.Report(n, "qq", "10001").empty());
  ASSERT_TRUE(c.Start(n));
  const std::filesystem::path log = n.home / "audit.log";

  std::thread stream([&] { Lookups(n, 5000); });
  ASSERT_TRUE(Eventually([&] { return CountAction(log, "lookup") >= 100; })) << c.Log(n);
  c.Kill(n);
  stream.join();
  const size_t looked_up = CountAction(log, "lookup");
  EXPECT_GE(looked_up, 100u);

  RunResult killed = c.Admin(n, {"audit", "verify"});
  EXPECT_EQ(killed.exit_code, 0) << killed.err << killed.out;
  EXPECT_NE(killed.out.find("intact"), std::string::npos) << killed.out;

  // What a power cut can leave after a kill: the last write cut short (a kill alone cannot tear a
  // write(2) of a regular file). Verify passes up to the last whole line and says so.
  const std::vector<std::string> before = Lines(ReadAll(log));
  {
    std::ofstream out(log, std::ios::binary | std::ios::app);
    out << before.back().substr(0, before.back().size() / 2);
  }
  RunResult torn = c.Admin(n, {"audit", "verify"});
  EXPECT_EQ(torn.exit_code, 0) << torn.err;
  EXPECT_NE(torn.out.find("audit.log:" + std::to_string(before.size() + 1) + ": a torn last line"),
            std::string::npos)
      << torn.out;

  // The restarted daemon records the torn bytes once, signs a checkpoint and chains on.
  ASSERT_TRUE(c.Start(n));
  ASSERT_EQ(Lookups(n, 20).exit_code, 0);
  EXPECT_EQ(c.Stop(n), 0);
  EXPECT_TRUE(c.Logged(n, "bytes that are not a whole line")) << c.Log(n);
  EXPECT_EQ(CountAction(log, "audit-torn"), 1u);
  EXPECT_EQ(CountAction(log, "lookup"), looked_up + 20);
  RunResult whole = c.Admin(n, {"audit", "verify"});
  EXPECT_EQ(whole.exit_code, 0) << whole.err;
  EXPECT_NE(whole.out.find("skipped as " + log.string() + ":" + std::to_string(before.size() + 2) +
                           " records"),
            std::string::npos)
      << whole.out;
  // Signed at each start and at the clean stop, which ends the log.
  EXPECT_NE(whole.out.find("3 signed checkpoint(s) verified"), std::string::npos) << whole.out;
  EXPECT_EQ(whole.out.find("not yet signed"), std::string::npos) << whole.out;
  EXPECT_EQ(nlohmann::json::parse(Lines(ReadAll(log)).back())["reason"], "shutdown");

  // One lookup line changed in the middle: named by file and line.
  std::vector<std::string> lines = Lines(ReadAll(log));
  const size_t target = lines.size() / 2;
  ASSERT_NE(lines[target].find("\"result\":\"listed\""), std::string::npos) << lines[target];
  lines[target].replace(lines[target].find("\"result\":\"listed\""), 17,
                        "\"result\":\"not-listed\"");
  std::string edited;
  for (const std::string& l : lines) edited += l + "\n";
  { std::ofstream(log, std::ios::binary | std::ios::trunc) << edited; }
  RunResult tampered = c.Admin(n, {"audit", "verify"});
  EXPECT_EQ(tampered.exit_code, 1) << tampered.out;
  EXPECT_NE(tampered.err.find("tampered: " + log.string() + ":" + std::to_string(target + 1) +
                              ": changed"),
            std::string::npos)
      << tampered.err;
}

TEST(AuditLogTest, RotationKeepsOneChainAcrossTheFilesAndAnExportVerifiesWithTheCaAlone) {
  Consortium c;
  Node& n = c.Add("BANKA");
  ASSERT_FALSE(c.Report(n, "qq", "10001").empty());
  ASSERT_TRUE(c.Start(n));
  const std::filesystem::path log = n.home / "audit.log";
  ASSERT_EQ(Lookups(n, 10).exit_code, 0);
  // logrotate: move, create, then reload (SIGHUP).
  std::filesystem::rename(log, n.home / "audit.log.1");
  { std::ofstream(log).flush(); }
  ASSERT_TRUE(c.Duanka(n, {"lookup", "qq", "10001"}).exit_code == 0);  // the CLI writes first
  ASSERT_EQ(::kill(n.pid, SIGHUP), 0);
  ASSERT_TRUE(Eventually([&] { return c.Logged(n, "reopened"); })) << c.Log(n);
  ASSERT_EQ(Lookups(n, 10).exit_code, 0);
  EXPECT_EQ(c.Stop(n), 0);
  EXPECT_EQ(CountAction(n.home / "audit.log.1", "lookup"), 10u);
  EXPECT_EQ(CountAction(log, "lookup"), 11u);

  RunResult both = c.Admin(n, {"audit", "verify"});
  EXPECT_EQ(both.exit_code, 0) << both.err;
  EXPECT_NE(both.out.find("(2 file(s)) intact"), std::string::npos) << both.out;
  // The rotated file alone given after the current one: out of order, named where it begins.
  RunResult swapped =
      c.Admin(n, {"audit", "verify", log.string(), (n.home / "audit.log.1").string()});
  EXPECT_EQ(swapped.exit_code, 1) << swapped.out;
  EXPECT_NE(swapped.err.find((n.home / "audit.log.1").string() + ":1:"), std::string::npos)
      << swapped.err;

  const std::filesystem::path excerpt = c.dir() / "banka.audit";
  RunResult exported = c.Admin(n, {"audit", "export", "--from", "2000-01-01T00:00:00Z", "--to",
                                   "2099-01-01T00:00:00Z", "--out", excerpt.string()});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  // Anyone with the CA certificate: no HOME.
  RunResult checked =
      c.AdminTool({"audit", "verify", "--ca", c.ca_pem().string(), excerpt.string()});
  EXPECT_EQ(checked.exit_code, 0) << checked.err;
  EXPECT_NE(checked.out.find("audit export of BANKA"), std::string::npos) << checked.out;
  std::string text = ReadAll(excerpt);
  const size_t at = text.find("\"user\":\"127.0.0.1\"");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 18, "\"user\":\"127.0.0.2\"");
  { std::ofstream(excerpt, std::ios::binary | std::ios::trunc) << text; }
  RunResult forged =
      c.AdminTool({"audit", "verify", "--ca", c.ca_pem().string(), excerpt.string()});
  EXPECT_EQ(forged.exit_code, 1) << forged.out;
  EXPECT_NE(forged.err.find("tampered: "), std::string::npos) << forged.err;
}

TEST(AuditLogTest, VerifyOnAFileThatIsNotAnAuditLogExitsTwoWithOneLine) {
  Consortium c;
  Node& n = c.Add("BANKA");
  RunResult r = c.Admin(n, {"audit", "verify", c.ca_pem().string()});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_EQ(r.err, "duanka-admin: " + c.ca_pem().string() +
                       ": not an audit log: expected JSON lines ending in "
                       ",\"seq\":N,\"prev\":\"<64 hex>\"} (a duanka audit.log or one of its "
                       "rotated files)\n");
  EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace
}  // namespace duanka::integration
