// duanka lookup --batch FILE|-: a stream of TYPE,VALUE lines answered in chunks. Each chunk is
// derived, read in key order in one read transaction, audited, then written out, so that an
// answer is never shown before its audit line is written and memory stays bounded.
//
// Audit: every listed line leaves its own line (as a single lookup would, plus its batch_line),
// so that a targeted lookup cannot hide among unlisted ones; the rest of a chunk is one line of
// counts. A chunk's lines go out in one write(2) (one per kAuditMaxWriteBytes when many are
// listed), on the one descriptor the batch holds.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "node/common/audit.h"
#include "node/common/line_reader.h"
#include "node/common/lookup.h"
#include "node/common/progress.h"
#include "node/lookup/args.h"
#include "node/lookup/batch_chunk.h"
#include "node/lookup/batch_format.h"
#include "node/lookup/cli.h"
#include "node/lookup/home.h"
#include "node/lookup/text.h"

namespace duanka::lookup {
namespace {

// Derivation (canonical form + HMAC per epoch) is the one part that splits across cores.
constexpr unsigned kMaxDeriveThreads = 2;
// How often (in lines read) the progress bar is offered a redraw while a chunk is read.
constexpr size_t kProgressEveryLines = 1 << 16;

// Closes the input file when the batch ends (not stdin).
class InputFile {
 public:
  ~InputFile() {
    if (fd_ > 0) ::close(fd_);
  }
  // kInvalidInput when the named file cannot be read: that is the command line's fault.
  duanka::Status Open(const std::string& name) {
    if (name == "-") {
      fd_ = 0;
    } else {
      fd_ = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
      // The name is not quoted back: file names are often made of customer numbers.
      if (fd_ < 0) {
        return MakeError(ErrorKind::kInvalidInput,
                         std::string("--batch: cannot open the file: ") + std::strerror(errno) +
                             "; expected a readable file of TYPE,VALUE lines, or - for stdin");
      }
    }
    struct stat st {};
    if (::fstat(fd_, &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        return MakeError(ErrorKind::kInvalidInput,
                         "--batch: that is a directory; expected a file of TYPE,VALUE lines, or "
                         "- for stdin");
      }
      if (S_ISREG(st.st_mode)) size_ = static_cast<uint64_t>(st.st_size);
    }
    return Ok();
  }
  int fd() const { return fd_; }
  uint64_t size() const { return size_; }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;  // 0 when unknown (a pipe)
};

// The chunk's audit lines: one per listed line, then the counts line.
duanka::Status AuditChunk(const node::AuditLog& audit, const Chunk& chunk,
                          const std::vector<FlaggedLine>& flagged, const BatchCounts& counts,
                          int64_t now, const std::string& user, node::Purpose purpose) {
  node::BatchItemAudit lines(now, kProgram, user, node::PurposeName(purpose));
  for (const FlaggedLine& f : flagged) {
    lines.Add(chunk.first_line + f.index, protocol::IdTypeName(chunk.lines[f.index].type),
              chunk.current[f.index], f.held ? "held" : "listed");
    if (lines.full()) {
      if (duanka::Status s = AuditLines(audit, lines.text()); !s) return s;
      lines.Clear();
    }
  }
  lines.AddLine(
      node::BatchAuditJson(now, kProgram, user, purpose,
                           node::BatchAuditCounts{chunk.first_line, counts.lines, counts.listed,
                                                  counts.not_listed, counts.invalid, counts.held}));
  return AuditLines(audit, lines.text());
}

void ShowProgress(node::Progress& progress, uint64_t lines, uint64_t bytes) {
  progress.Update(bytes, [lines](double seconds) {
    char text[64];
    std::snprintf(text, sizeof text, "%llu lines  %.0f lines/s",
                  static_cast<unsigned long long>(lines),
                  seconds > 0 ? static_cast<double>(lines) / seconds : 0.0);
    return std::string(text);
  });
}

void Summary(const BatchCounts& total, double seconds) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "duanka lookup --batch: %llu lines: %llu listed, %llu not listed, %llu invalid "
                "(%.2f s, %.0f lines/s)\n",
                static_cast<unsigned long long>(total.lines),
                static_cast<unsigned long long>(total.listed),
                static_cast<unsigned long long>(total.not_listed),
                static_cast<unsigned long long>(total.invalid), seconds,
                seconds > 0 ? static_cast<double>(total.lines) / seconds : 0.0);
  WriteAll(2, buf);
  if (total.held > 0) {
    std::snprintf(
        buf, sizeof buf,
        "  of the not listed, %llu held by the flood guard (their issuer passed its daily "
        "limit)\n",
        static_cast<unsigned long long>(total.held));
    WriteAll(2, buf);
  }
}

}  // namespace

int RunBatch(const BatchOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  Result<node::Purpose> purpose = ParsePurposeArg(o.purpose);
  if (!purpose) return Fail(purpose.error());
  InputFile input;
  if (duanka::Status opened = input.Open(o.file); !opened) return Fail(opened.error());
  Result<Home> home = OpenHome(o.home, kNeedPepper | kNeedStore);
  if (!home) return Fail(home.error());
  // A reader that goes away (`| head`) is reported as a failed write, not a silent death, so
  // the batch still ends with an error line.
  ::signal(SIGPIPE, SIG_IGN);

  Result<node::GradingPolicy> policy = node::HeldPolicy(*home->store);
  if (!policy) return Fail(ErrorKind::kIo, policy.error().message);
  const node::GradingPolicy* local =
      home->config.local_grading.purposes.empty() ? nullptr : &home->config.local_grading;

  const std::string user = AuditUserName();
  const node::AuditLog audit(home->config.audit_log, home->config.institution);
  // Opened (empty lines) before any input is read: if it cannot be, there is no answer at all.
  if (duanka::Status opened = AuditLines(audit, {}); !opened) return Fail(opened.error());
  const unsigned threads = std::clamp(std::thread::hardware_concurrency(), 1U, kMaxDeriveThreads);
  // The current subject of each line: JSON output shows it, and a listed line's audit line
  // names its first hex digits.
  Deriver deriver(*home->pepper, /*keep_current=*/true, threads);
  Resolver resolver;
  const node::ProfileReader profile_reader(*home->store);
  node::LineReader reader(input.fd());
  node::Progress progress(::isatty(2) == 1, input.size());
  Chunk chunk;
  BatchCounts total;
  std::string out;
  std::vector<FlaggedLine> listed;

  for (bool more = true, first = true; more; first = false) {
    chunk.Clear();
    chunk.first_line = total.lines + 1;
    while (chunk.lines.size() < kBatchChunkLines) {
      std::string_view line;
      node::LineReader::Status s = reader.Next(line);
      if (s == node::LineReader::Status::kLine) {
        chunk.Add(line);
      } else if (s == node::LineReader::Status::kTooLong) {
        chunk.AddTooLong();
      } else if (s == node::LineReader::Status::kEnd) {
        more = false;
        break;
      } else {
        progress.Clear();
        return Fail(ErrorKind::kIo, std::string("cannot read the batch input: ") +
                                        std::strerror(reader.errno_value()) + "; " +
                                        std::to_string(total.lines) + " lines were answered");
      }
      if (chunk.lines.size() % kProgressEveryLines == 0) {
        ShowProgress(progress, total.lines + chunk.lines.size(), reader.bytes_read());
      }
    }
    // An empty input still gets its one audit line (with zero counts); a last empty chunk not.
    if (chunk.lines.empty() && !first) break;

    const int64_t now = node::SystemNow();
    deriver.Derive(chunk);
    if (duanka::Status read = resolver.Resolve(*home->store, now, deriver.keyed(), chunk); !read) {
      progress.Clear();
      return Fail(ErrorKind::kIo, read.error().message);
    }
    if (o.json) {
      // Listed lines are rare, and each issuer's profile is read once per run.
      std::vector<std::string> issuers;
      for (const store::Listing& l : chunk.listings) issuers.push_back(l.id.issuer);
      Result<node::IssuerProfiles> profiles = profile_reader.ForIssuers(issuers);
      if (!profiles) {
        progress.Clear();
        return Fail(ErrorKind::kIo, profiles.error().message);
      }
      chunk.profiles = std::move(*profiles);
    }
    out.clear();
    listed.clear();
    const BatchGrading grading(*policy, local, *purpose, now);
    const BatchCounts counts =
        FormatChunk(chunk, o.json, out, &listed, o.json ? &grading : nullptr);
    if (duanka::Status audited = AuditChunk(audit, chunk, listed, counts, now, user, *purpose);
        !audited) {
      progress.Clear();
      return Fail(audited.error());
    }
    progress.Clear();
    if (!WriteAll(1, out)) {
      return Fail(ErrorKind::kIo,
                  std::string("cannot write the results to stdout: ") + std::strerror(errno));
    }
    total += counts;
    ShowProgress(progress, total.lines, reader.bytes_read());
  }
  progress.Clear();
  Summary(total, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return total.listed > 0 ? kExitListed : kExitNotListed;
}

}  // namespace duanka::lookup
