// The audit log's hash chain and signed checkpoints (issue 17, section 3): what AuditLog writes
// and what VerifyAuditChain finds when a line is edited, removed, reordered or truncated, a
// rotated file is swapped, a checkpoint is forged or re-signed by another key, and a write is
// torn. Real files and real flock(2); the keys are real Ed25519 keys.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/crypto.h"
#include "node/common/audit.h"
#include "node/common/audit_verify.h"
#include "tests/support/read_file.h"
#include "tests/support/temp_dir.h"

namespace duanka::node {
namespace {

constexpr const char* kInstitution = "BANKA";

using testing::ReadAll;

void WriteAll(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

std::string LookupLine(int i) {
  return nlohmann::json{{"action", "lookup"},
                        {"time", "2026-12-06T10:00:00Z"},
                        {"program", "test"},
                        {"subject8", "0000000" + std::to_string(i % 10)},
                        {"n", i}}
      .dump();
}

class AuditChainTest : public ::testing::Test {
 protected:
  AuditChainTest()
      : key_(std::make_shared<const crypto::SigningKey>(crypto::SigningKey::Generate())) {}

  std::filesystem::path log_path() const { return dir_ / "audit.log"; }

  // A log whose checkpoints are signed every `every` lines.
  std::unique_ptr<AuditLog> Writer(uint64_t every = 5) const {
    auto log = std::make_unique<AuditLog>(log_path(), kInstitution);
    log->SetCheckpointKey(key_, every);
    return log;
  }

  void AppendLookups(const AuditLog& log, int from, int count) {
    for (int i = from; i < from + count; ++i) ASSERT_TRUE(log.Append(LookupLine(i), false));
  }

  AuditVerifyOptions Options() const {
    AuditVerifyOptions o;
    o.institution = kInstitution;
    const std::string id = crypto::Sha256(crypto::ByteView(key_->public_key().bytes)).Hex();
    const crypto::PublicKey pub = key_->public_key();
    o.key = [id, pub](std::string_view key_id) -> std::optional<crypto::PublicKey> {
      if (key_id == id) return pub;
      return std::nullopt;
    };
    return o;
  }

  AuditVerifyReport Verify(const std::vector<std::filesystem::path>& files) const {
    std::vector<AuditFileText> texts;
    for (const auto& f : files) texts.push_back({f.filename().string(), ReadAll(f)});
    return VerifyAuditChain(texts, Options());
  }
  AuditVerifyReport VerifyLog() const { return Verify({log_path()}); }

  testing::TempDir dir_;
  std::shared_ptr<const crypto::SigningKey> key_;
};

TEST_F(AuditChainTest, LinesChainFromTheInstitutionsGenesisWithCheckpointsEveryNLines) {
  auto log = Writer(5);
  AppendLookups(*log, 0, 12);
  std::vector<std::string> lines = SplitLines(ReadAll(log_path()));
  ASSERT_EQ(lines.size(), 14u);  // 12 lookups and a checkpoint after the 5th and the 10th
  std::optional<AuditChainFields> first = ParseAuditChainFields(lines[0]);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->seq, 1u);
  EXPECT_EQ(first->prev, AuditGenesis(kInstitution));
  EXPECT_NE(AuditGenesis(kInstitution), AuditGenesis("BANKB"));
  for (size_t i = 1; i < lines.size(); ++i) {
    std::optional<AuditChainFields> f = ParseAuditChainFields(lines[i]);
    ASSERT_TRUE(f) << lines[i];
    EXPECT_EQ(f->seq, i + 1);
    EXPECT_EQ(f->prev, AuditLineHash(lines[i - 1]));
  }
  // Today's fields stay as they were, in front of the chain fields.
  nlohmann::json j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["action"], "lookup");
  EXPECT_EQ(j["n"], 0);
  EXPECT_EQ(nlohmann::json::parse(lines[5])["action"], "audit-checkpoint");
  EXPECT_EQ(nlohmann::json::parse(lines[5])["lines"], 5);
  EXPECT_EQ(nlohmann::json::parse(lines[11])["action"], "audit-checkpoint");

  AuditVerifyReport r = VerifyLog();
  EXPECT_EQ(r.verdict, AuditVerdict::kIntact) << r.problem;
  EXPECT_EQ(r.lines, 14u);
  EXPECT_EQ(r.checkpoints, 2u);
  ASSERT_EQ(r.notes.size(), 1u);  // the two lines after the last checkpoint
  EXPECT_NE(r.notes[0].find("2 line(s) after the last checkpoint"), std::string::npos)
      << r.notes[0];

  // Another institution's genesis: not this institution's log.
  AuditVerifyOptions other = Options();
  other.institution = "BANKB";
  AuditVerifyReport wrong =
      VerifyAuditChain({{AuditFileText{"audit.log", ReadAll(log_path())}}}, other);
  EXPECT_EQ(wrong.verdict, AuditVerdict::kTampered);
  EXPECT_NE(wrong.problem.find("audit.log:1:"), std::string::npos) << wrong.problem;
}

TEST_F(AuditChainTest, AnEditedLineIsNamed) {
  AppendLookups(*Writer(), 0, 8);
  std::vector<std::string> lines = SplitLines(ReadAll(log_path()));
  const size_t edited = 3;  // audit.log:4, a lookup
  ASSERT_EQ(nlohmann::json::parse(lines[edited])["action"], "lookup");
  const size_t at = lines[edited].find("\"subject8\":\"0000000");
  ASSERT_NE(at, std::string::npos);
  lines[edited][at + 19] = 'f';
  WriteAll(log_path(), JoinLines(lines));
  AuditVerifyReport r = VerifyLog();
  EXPECT_EQ(r.verdict, AuditVerdict::kTampered);
  EXPECT_EQ(r.problem.rfind("audit.log:4: changed", 0), 0u) << r.problem;
}

TEST_F(AuditChainTest, ARemovedLineIsNamedWhereTheGapIs) {
  AppendLookups(*Writer(), 0, 8);
  std::vector<std::string> lines = SplitLines(ReadAll(log_path()));
  lines.erase(lines.begin() + 2);  // chain line 3
  WriteAll(log_path(), JoinLines(lines));
  AuditVerifyReport r = VerifyLog();
  EXPECT_EQ(r.verdict, AuditVerdict::kTampered);
  EXPECT_EQ(r.problem.rfind("audit.log:3: the chain jumps from its line 2", 0), 0u) << r.problem;
  EXPECT_NE(r.problem.find("1 line(s) removed"), std::string::npos) << r.problem;
}

TEST_F(AuditChainTest, ReorderedLinesAreNamedAtTheFirstOutOfPlace) {
  AppendLookups(*Writer(), 0, 8);
  std::vector<std::string> lines = SplitLines(ReadAll(log_path()));
  std::swap(lines[1], lines[2]);
  WriteAll(log_path(), JoinLines(lines));
  AuditVerifyReport r = VerifyLog();
  EXPECT_EQ(r.verdict, AuditVerdict::kTampered);
  EXPECT_EQ(r.problem.rfind("audit.log:2:", 0), 0u) << r.problem;
}

TEST_F(AuditChainTest, AnEditReChainedToTheEndIsCaughtByTheNextCheckpointsSignature) {
  AppendLookups(*Writer(5), 0, 7);  // lines 1-5, checkpoint 6, lines 7-8
  std::vector<std::string> lines = SplitLines(ReadAll(log_path()));
  ASSERT_EQ(lines.size(), 8u);
  // The editor changes line 2 and recomputes every prev after it: the chain holds again.
  lines[1].replace(lines[1].find("\"program\":\"test\""), 16, "\"program\":\"edit\"");
  for (size_t i = 2; i < lines.size(); ++i) {
    std::optional<AuditChainFields> f = ParseAuditChainFields(lines[i]);
    ASSERT_TRUE(f);
    lines[i] = lines[i].substr(0, lines[i].size() - 66) + AuditLineHash(lines[i - 1]).Hex() + "\"}";
  }
  WriteAll(log_path(), JoinLines(lines));
  AuditVerifyReport r = VerifyLog();
  EXPECT_EQ(r.verdict, AuditVerdict::kTampered);
  EXPECT_EQ(r.problem.rfind("audit.log:6: the checkpoint's signature does not verify", 0), 0u)
      << r.problem;
}

TEST_F(AuditChainTest, ACheckpointWithABadSignatureOrAnUncertifiedKeyIsNamed) {
  AppendLookups(*Writer(5), 0, 5);  // lines 1-5, checkpoint 6 (the last line)
  std::vector<std::string> lines = SplitLines(ReadAll(log_path()));
  ASSERT_EQ(lines.size(), 6u);
  const std::string good = lines[5];
  const size_t sig = good.find("\"sig\":\"") + 7;
  lines[5][sig] = lines[5][sig] == '0' ? '1' : '0';
  WriteAll(log_path(), JoinLines(lines));
  AuditVerifyReport bad = VerifyLog();
  EXPECT_EQ(bad.verdict, AuditVerdict::kTampered);
  EXPECT_EQ(bad.problem.rfind("audit.log:6: the checkpoint's signature does not verify", 0), 0u)
      << bad.problem;

  // Signed by a key that is not the institution's (an editor's own): refused by name.
  lines[5] = good;
  WriteAll(log_path(), JoinLines(std::vector<std::string>(lines.begin(), lines.begin() + 5)));
  auto forger = std::make_unique<AuditLog>(log_path(), kInstitution);
  forger->SetCheckpointKey(
      std::make_shared<const crypto::SigningKey>(crypto::SigningKey::Generate()), 0);
  ASSERT_TRUE(forger->Checkpoint("forged"));
  AuditVerifyReport forged = VerifyLog();
  EXPECT_EQ(forged.verdict, AuditVerdict::kTampered);
  EXPECT_EQ(forged.problem.rfind("audit.log:6: a checkpoint signed by key", 0), 0u)
      << forged.problem;
  EXPECT_NE(forged.problem.find("not a signing key certified for BANKA"), std::string::npos);
}

TEST_F(AuditChainTest, RotationContinuesTheChainAcrossFilesWhoeverWritesFirst) {
  auto daemon = Writer(100);
  AppendLookups(*daemon, 0, 4);
  std::filesystem::rename(log_path(), dir_ / "audit.log.2");
  // Moved, no new file yet: the holder writes on into the moved file.
  AppendLookups(*daemon, 4, 1);
  ASSERT_TRUE(daemon->Reopen());  // signs the moved file's end, opens a new one
  AppendLookups(*daemon, 5, 3);
  std::filesystem::rename(log_path(), dir_ / "audit.log.1");
  { std::ofstream(log_path()).flush(); }  // logrotate's `create`
  // A short-lived writer (duanka) finds the empty new file first: it chains from audit.log.1.
  {
    AuditLog cli(log_path(), kInstitution);
    ASSERT_TRUE(cli.Append(LookupLine(100), false));
  }
  // The holder follows the rotation on its next line, before any SIGHUP.
  AppendLookups(*daemon, 8, 2);
  const std::vector<std::filesystem::path> files = RotatedAuditFiles(log_path());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].filename(), "audit.log.2");
  EXPECT_EQ(files[1].filename(), "audit.log.1");
  EXPECT_EQ(SplitLines(ReadAll(dir_ / "audit.log.1")).size(), 3u);
  EXPECT_EQ(SplitLines(ReadAll(log_path())).size(), 3u);
  AuditVerifyReport r = Verify({dir_ / "audit.log.2", dir_ / "audit.log.1", log_path()});
  EXPECT_EQ(r.verdict, AuditVerdict::kIntact) << r.problem;
  EXPECT_EQ(r.lines, 12u);  // 10 + 1 lookups and the rotation checkpoint
  EXPECT_EQ(r.checkpoints, 1u);

  // Swapping two rotated files: named at the first line of the one out of place.
  AuditVerifyReport swapped = Verify({dir_ / "audit.log.1", dir_ / "audit.log.2", log_path()});
  EXPECT_EQ(swapped.verdict, AuditVerdict::kTampered);
  EXPECT_EQ(swapped.problem.rfind("audit.log.2:1:", 0), 0u) << swapped.problem;
  // A rotated file missing: named at the first line after the gap.
  AuditVerifyReport missing = Verify({dir_ / "audit.log.2", log_path()});
  EXPECT_EQ(missing.verdict, AuditVerdict::kTampered);
  EXPECT_EQ(missing.problem.rfind("audit.log:1: the chain jumps from its line 6", 0), 0u)
      << missing.problem;
}

TEST_F(AuditChainTest, ATruncatedRotatedFileIsNamedWhereTheNextFileBegins) {
  auto log = Writer(100);
  AppendLookups(*log, 0, 6);
  std::filesystem::rename(log_path(), dir_ / "audit.log.1");
  ASSERT_TRUE(log->Reopen());
  AppendLookups(*log, 6, 2);
  // The last three lines of the rotated file cut off (at line ends, as an editor would).
  std::vector<std::string> old = SplitLines(ReadAll(dir_ / "audit.log.1"));
  ASSERT_EQ(old.size(), 7u);
  WriteAll(dir_ / "audit.log.1", JoinLines(std::vector<std::string>(old.begin(), old.end() - 3)));
  AuditVerifyReport r = Verify({dir_ / "audit.log.1", log_path()});
  EXPECT_EQ(r.verdict, AuditVerdict::kTampered);
  EXPECT_EQ(r.problem.rfind("audit.log:1: the chain jumps from its line 4", 0), 0u) << r.problem;
}

TEST_F(AuditChainTest, TheCurrentFileCutShortUnderAWriterIsRecordedAndReported) {
  auto log = Writer(100);
  AppendLookups(*log, 0, 6);
  std::vector<std::string> lines = SplitLines(ReadAll(log_path()));
  WriteAll(log_path(), JoinLines(std::vector<std::string>(lines.begin(), lines.begin() + 4)));
  AppendLookups(*log, 6, 1);  // the writer finds the file shorter than it left it
  AuditVerifyReport r = VerifyLog();
  EXPECT_EQ(r.verdict, AuditVerdict::kTampered);
  EXPECT_EQ(r.problem.rfind("audit.log:5: a writer found the log shorter", 0), 0u) << r.problem;
}

TEST_F(AuditChainTest, ATornLastLineIsSkippedOnceRecordedAndTheChainResumes) {
  AppendLookups(*Writer(100), 0, 3);
  const std::string whole = ReadAll(log_path());
  const std::string next = SplitLines(whole)[1];
  // A crash mid-write: half a line, no newline.
  {
    std::ofstream out(log_path(), std::ios::binary | std::ios::app);
    out << next.substr(0, next.size() / 2);
  }
  AuditVerifyReport torn = VerifyLog();
  EXPECT_EQ(torn.verdict, AuditVerdict::kIntact) << torn.problem;
  EXPECT_EQ(torn.lines, 3u);
  ASSERT_FALSE(torn.notes.empty());
  EXPECT_NE(torn.notes[0].find("audit.log:4: a torn last line"), std::string::npos)
      << torn.notes[0];

  // The next writer notices, says so once, records what it skipped and chains on.
  AuditLog log(log_path(), kInstitution);
  std::vector<std::string> notices;
  log.OnNotice([&](const std::string& n) { notices.push_back(n); });
  ASSERT_TRUE(log.Append(LookupLine(3), false));
  ASSERT_TRUE(log.Append(LookupLine(4), false));
  EXPECT_EQ(notices.size(), 1u);
  std::vector<std::string> lines = SplitLines(ReadAll(log_path()));
  ASSERT_EQ(lines.size(), 7u);
  nlohmann::json marker = nlohmann::json::parse(lines[4]);
  EXPECT_EQ(marker["action"], "audit-torn");
  EXPECT_EQ(marker["skipped_bytes"], next.size() / 2);
  EXPECT_EQ(ParseAuditChainFields(lines[4])->prev, AuditLineHash(lines[2]));
  AuditVerifyReport resumed = VerifyLog();
  EXPECT_EQ(resumed.verdict, AuditVerdict::kIntact) << resumed.problem;
  EXPECT_EQ(resumed.lines, 6u);

  // The torn bytes changed afterwards: they are not what the marker recorded.
  lines[3][0] = lines[3][0] == '{' ? '[' : '{';
  WriteAll(log_path(), JoinLines(lines));
  AuditVerifyReport changed = VerifyLog();
  EXPECT_EQ(changed.verdict, AuditVerdict::kTampered);
  EXPECT_EQ(changed.problem.rfind("audit.log:4:", 0), 0u) << changed.problem;
}

TEST_F(AuditChainTest, WritersOnSeparateDescriptorsKeepOneChain) {
  constexpr int kThreads = 4;
  constexpr int kLines = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      AuditLog log(log_path(), kInstitution);  // a descriptor (and flock) of its own
      for (int i = 0; i < kLines; ++i) ASSERT_TRUE(log.Append(LookupLine(t * kLines + i), false));
    });
  }
  for (std::thread& t : threads) t.join();
  AuditVerifyReport r = VerifyLog();
  EXPECT_EQ(r.verdict, AuditVerdict::kIntact) << r.problem;
  EXPECT_EQ(r.lines, static_cast<uint64_t>(kThreads * kLines));
}

// duankad's API threads share one AuditLog (their lines are grouped into shared writes, synced
// outside the lock) while other processes (duanka lookups) chain into the same file under flock.
TEST_F(AuditChainTest, ThreadsOfOneLogAndOtherProcessesAppendingAtOnceKeepOneChain) {
  constexpr int kThreads = 4;
  constexpr int kProcesses = 2;
  constexpr int kLines = 300;
  // The children are forked before any thread starts (a fork copies only the calling thread) and
  // wait on a pipe, so that all writers start together.
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(go[1]);
      char byte = 0;
      if (::read(go[0], &byte, 1) != 1) ::_exit(3);
      AuditLog cli(log_path(), kInstitution);  // a descriptor of its own, as duanka has
      for (int i = 0; i < kLines; ++i) {
        if (!cli.Append(LookupLine(100000 * (p + 1) + i), i % 50 == 0)) ::_exit(1);
      }
      ::_exit(0);
    }
    children.push_back(pid);
  }
  ::close(go[0]);

  auto daemon = Writer(/*every=*/40);
  std::atomic<int> failures{0};
  std::atomic<bool> start{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!start.load()) std::this_thread::yield();
      for (int i = 0; i < kLines; ++i) {
        // Some admin-like lines that must be synced before the call returns, a checkpoint now and
        // then, and a timer's sync: every path through the shared writer at once.
        const bool sync = t == 0 && i % 16 == 0;
        if (!daemon->Append(LookupLine(t * kLines + i), sync)) ++failures;
        if (t == 1 && i % 100 == 0 && !daemon->Checkpoint("test")) ++failures;
        if (t == 2 && i % 25 == 0 && !daemon->SyncPending()) ++failures;
      }
    });
  }
  ASSERT_EQ(::write(go[1], "go", kProcesses), kProcesses);
  ::close(go[1]);
  start.store(true);
  for (std::thread& t : threads) t.join();
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "a child's append failed";
  }
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(daemon->Checkpoint("shutdown"));  // signs the children's last lines too

  AuditVerifyReport r = VerifyLog();
  EXPECT_EQ(r.verdict, AuditVerdict::kIntact) << r.problem;
  EXPECT_TRUE(r.notes.empty()) << r.notes.front();
  EXPECT_GE(r.checkpoints, 4u);  // the test's own, at least
  EXPECT_EQ(r.lines, static_cast<uint64_t>((kThreads + kProcesses) * kLines) + r.checkpoints);
  EXPECT_EQ(r.first_seq, 1u);
  EXPECT_EQ(r.last_seq, r.lines);
  // Every caller's line is in the file exactly once.
  const std::string text = ReadAll(log_path());
  for (int n : {0, kLines - 1, 3 * kLines + 7, 100000 + kLines - 1, 200000}) {
    const std::string field = "\"n\":" + std::to_string(n) + ",";
    const size_t at = text.find(field);
    ASSERT_NE(at, std::string::npos) << field;
    EXPECT_EQ(text.find(field, at + 1), std::string::npos) << field;
  }
}

// Rotation while the threads write: the lines go into whichever file is at the path, the rotated
// files end in a rotation checkpoint, and the chain runs on across them.
TEST_F(AuditChainTest, RotationWhileThreadsAppendKeepsOneChainAcrossTheFiles) {
  constexpr int kThreads = 4;
  constexpr int kLines = 400;
  auto daemon = Writer(/*every=*/0);
  std::atomic<int> failures{0};
  std::atomic<int> written{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kLines; ++i) {
        if (!daemon->Append(LookupLine(t * kLines + i), false)) ++failures;
        ++written;
      }
    });
  }
  // logrotate's rename and create, then SIGHUP's Reopen, twice while lines are being written
  // (each once some lines are in: a rotated file is never empty).
  for (int rotation = 1; rotation <= 2; ++rotation) {
    while (written.load() < rotation * kThreads * kLines / 3) std::this_thread::yield();
    if (rotation == 2) std::filesystem::rename(dir_ / "audit.log.1", dir_ / "audit.log.2");
    std::filesystem::rename(log_path(), dir_ / "audit.log.1");
    { std::ofstream(log_path()).flush(); }
    ASSERT_TRUE(daemon->Reopen());
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);

  const std::vector<std::filesystem::path> files = RotatedAuditFiles(log_path());
  ASSERT_EQ(files.size(), 2u);
  AuditVerifyReport r = Verify({files[0], files[1], log_path()});
  EXPECT_EQ(r.verdict, AuditVerdict::kIntact) << r.problem;
  EXPECT_EQ(r.checkpoints, 2u);
  EXPECT_EQ(r.lines, static_cast<uint64_t>(kThreads * kLines) + 2u);
  for (const auto& f : files) {
    const std::vector<std::string> lines = SplitLines(ReadAll(f));
    ASSERT_FALSE(lines.empty()) << f;
  }
}

TEST_F(AuditChainTest, LinesFromBeforeTheChainAreAcceptedOnlyAtTheStart) {
  WriteAll(log_path(), "{\"action\":\"init\",\"time\":\"2026-01-01T00:00:00Z\"}\n");
  AppendLookups(*Writer(100), 0, 2);
  AuditVerifyReport r = VerifyLog();
  EXPECT_EQ(r.verdict, AuditVerdict::kIntact) << r.problem;
  EXPECT_EQ(r.lines, 2u);
  {
    std::ofstream out(log_path(), std::ios::binary | std::ios::app);
    out << "{\"action\":\"lookup\",\"injected\":true}\n";
  }
  AppendLookups(*Writer(100), 2, 1);  // restarts the chain after the unchained line
  AuditVerifyReport injected = VerifyLog();
  EXPECT_EQ(injected.verdict, AuditVerdict::kTampered);
  EXPECT_EQ(injected.problem.rfind("audit.log:4:", 0), 0u) << injected.problem;
}

TEST_F(AuditChainTest, AFileThatIsNotAnAuditLogIsSaidToBeNone) {
  WriteAll(log_path(), "root:x:0:0:root:/root:/bin/bash\nbin:x:1:1::/:/usr/sbin/nologin\n");
  AuditVerifyReport r = VerifyLog();
  EXPECT_EQ(r.verdict, AuditVerdict::kNotAuditLog);
  EXPECT_EQ(r.problem.rfind("audit.log: not an audit log: expected JSON lines", 0), 0u)
      << r.problem;
}

TEST_F(AuditChainTest, ParseAcceptsOnlyWellFormedChainFields) {
  const std::string hex(64, 'a');
  EXPECT_TRUE(ParseAuditChainFields("{\"a\":1,\"seq\":12,\"prev\":\"" + hex + "\"}"));
  EXPECT_TRUE(ParseAuditChainFields("{\"seq\":1,\"prev\":\"" + hex + "\"}"));
  EXPECT_FALSE(ParseAuditChainFields("{\"a\":1,\"seq\":012,\"prev\":\"" + hex + "\"}"));
  EXPECT_FALSE(ParseAuditChainFields("{\"a\":1,\"seq\":,\"prev\":\"" + hex + "\"}"));
  EXPECT_FALSE(ParseAuditChainFields("{\"a\":1,\"seq\":1,\"prev\":\"" + hex.substr(1) + "\"}"));
  EXPECT_FALSE(
      ParseAuditChainFields("{\"a\":1,\"seq\":1,\"prev\":\"" + std::string(64, 'A') + "\"}"));
  EXPECT_FALSE(ParseAuditChainFields("{\"a\":1\"seq\":1,\"prev\":\"" + hex + "\"}"));
  EXPECT_FALSE(
      ParseAuditChainFields("{\"a\":1,\"seq\":99999999999999999999,\"prev\":\"" + hex + "\"}"));
}

}  // namespace
}  // namespace duanka::node
