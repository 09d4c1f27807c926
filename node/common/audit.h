// HOME/audit.log: append-only JSON lines, one per lookup, one per listed item of a batch plus one
// of counts per batch (or part of a long one), and one per admin action. Raw identifiers never
// appear in it: lookups record the type and the first 8 hex characters of the subject only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "crypto/base/result.h"
#include "crypto/crypto.h"

namespace duanka::node {

// How much of a subject the audit log keeps: enough to match a lookup to a listing during an
// investigation, too little to confirm a guessed identifier by brute force against the log.
inline constexpr size_t kAuditSubjectHexChars = 8;

// The largest single write(2) to the audit log. A write to a file holds the file's lock, so other
// writers (the daemon's API lookups, other processes) wait for it; 1 MiB copies in about a
// millisecond. Many lines (a batch's listed items) are written in pieces of this size, each cut at
// a line's end, so they still interleave with other writers by whole lines only.
inline constexpr size_t kAuditMaxWriteBytes = size_t{1} << 20;

// The audit log, held open: one O_APPEND descriptor for the object's life, opened on first use
// (or by Open()), so that a process at its descriptor limit still audits, and so answers its
// lookups. Log rotation moves the file away and asks the writer to Reopen() (duankad: SIGHUP);
// until then lines go to the moved file, never lost. Thread-safe.
class AuditLog {
 public:
  explicit AuditLog(std::filesystem::path path) : path_(std::move(path)) {}
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Opens the file now if it is not open (creating it 0600). kIo naming the path and reason.
  Status Open() const;

  // Appends one line (a JSON object without a newline) with a single write(2) on the O_APPEND
  // descriptor, so lines from concurrent processes never interleave. With sync the line is
  // fsync'ed before returning: admin actions are durable before they are reported; lookups skip
  // it, since an fsync would cost more than the lookup itself. kIo names the path and reason.
  Status Append(std::string_view json_object, bool sync) const;

  // Appends complete lines (each ending in a newline) with one write(2) per kAuditMaxWriteBytes,
  // each piece cut at a line's end. As Append otherwise.
  Status AppendLines(std::string_view lines, bool sync) const;

  // Opens the path afresh and closes the old descriptor (log rotation: the file was moved away).
  // If the path cannot be opened the old descriptor is kept, so no line is lost, and kIo says why.
  Status Reopen() const;

  const std::filesystem::path& path() const { return path_; }

  // Whether a line can be appended now: the file is open (opened here if it is not) and no append
  // failed in the last kFailureShownFor. kIo with the reason otherwise. For a health check:
  // lookups that cannot be audited are refused, so a node in that state must not report itself
  // healthy; but a failed write is not retried by a health check (only a lookup writes), so it is
  // shown for a while and then forgotten, lest a node taken out of rotation stay out for good.
  Status Writable() const;
  static constexpr std::chrono::seconds kFailureShownFor{30};

  // Called once when appending starts to fail (writable = false, with the reason) and once when
  // it works again (writable = true): a process serving many lookups reports an episode, not
  // every refused lookup. Set before the log is shared between threads; called without locks held.
  void OnStateChange(std::function<void(bool writable, const std::string& reason)> callback) {
    on_state_change_ = std::move(callback);
  }

 private:
  // REQUIRES: mutex_ held, shared or exclusive, and fd_ open.
  Status WriteAll(std::string_view text, bool sync) const;
  Result<int> OpenFile() const;
  // Records the outcome of an open or append; reports a change of state to on_state_change_.
  Status Note(Status outcome) const;

  std::filesystem::path path_;
  // Appends share it (O_APPEND writes on one descriptor need no lock among themselves); opening
  // and Reopen() take it alone, so no write ever sees a descriptor being closed.
  mutable std::shared_mutex mutex_;
  mutable int fd_ = -1;
  // The reason the last open or append failed; empty while they succeed.
  mutable std::mutex problem_mutex_;
  mutable std::string problem_;
  mutable std::atomic<bool> failing_{false};  // !problem_.empty(), read without the lock
  mutable std::chrono::steady_clock::time_point failed_at_;  // under problem_mutex_
  std::function<void(bool, const std::string&)> on_state_change_;
};

// The audit lines of a batch's listed items: per item, exactly the fields of a single lookup's
// line (LookupAuditJson, lookup.h, in its key order) plus "batch_line", the item's 1-based place
// in the batch. Rendered by hand into one buffer for AppendLines: a batch may list every one of a
// million lines, and a JSON object and a syscall per line would cost more than the lookups.
class BatchItemAudit {
 public:
  // `purpose` as PurposeName gives it.
  BatchItemAudit(int64_t now, std::string_view program, std::string_view user,
                 std::string_view purpose);

  // `type` as protocol::IdTypeName gives it, `result` "listed" or "not-listed".
  void Add(uint64_t batch_line, std::string_view type, const crypto::Hash256& subject,
           std::string_view result);
  // Appends one ready line (e.g. the batch's counts), newline added.
  void AddLine(std::string_view json_object);

  // The lines so far, each ending in a newline.
  const std::string& text() const { return text_; }
  size_t items() const { return items_; }
  // Whether another line might not fit in one write: time to write the buffer and Clear().
  bool full() const { return text_.size() + kRoomForALine > kAuditMaxWriteBytes; }
  void Clear() { text_.clear(); }

 private:
  // More than a line takes (~200 bytes and the user's name), so that a full buffer is written
  // whole, in one write, not as one write and a remainder.
  static constexpr size_t kRoomForALine = 1024;

  // The fixed parts of every line, around batch_line, result, subject8 and type.
  std::string program_purpose_;  // ,"program":…,"purpose":…,"result":"
  std::string time_;             // ","time":"…","type":"
  std::string user_;             // ","user":…}\n
  std::string text_;
  size_t items_ = 0;
};

// The effective OS user's name, or "uid:N" when it has none.
std::string OsUserName();

// "2026-11-28T01:02:03Z".
std::string IsoTime(int64_t unix_seconds);
// "2026-11-28" (UTC).
std::string IsoDate(int64_t unix_seconds);
// The current Unix time in seconds.
int64_t SystemNow();

// Expiry dates are given as YYYY-MM-DD and an entry stops being listed at the start of that day
// in China Standard Time (UTC+8), where the consortium's members and regulators work.
inline constexpr int64_t kChinaStandardTimeOffsetSeconds = 8 * 3600;
Result<int64_t> ParseExpiryDate(std::string_view date);

}  // namespace duanka::node
