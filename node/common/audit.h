// HOME/audit.log: append-only JSON lines, one per lookup, one per listed item of a batch plus one
// of counts per batch (or part of a long one), and one per admin action. Raw identifiers never
// appear in it: lookups record the type and the first 8 hex characters of the subject only.
//
// The lines form a hash chain (docs/operations.md section 7): every line ends in
// `,"seq":N,"prev":"<hex>"}`, N its place in the chain and prev the SHA-256 of the line before it
// (without its newline), across rotated files; the first line chains from a genesis value bound to
// the institution. Checkpoint lines signed with the node's signing key cover the chain so far, so
// an edit, removal or reordering before a checkpoint cannot be hidden by re-chaining.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// Lines the node writes between two signed checkpoints (besides those at start, rotation and
// shutdown): an edit can be re-chained over at most this many unsigned lines.
inline constexpr uint64_t kAuditCheckpointEveryLines = 1000;

// Lookup lines are written through at once but fsync'ed in groups: after this many unsynced
// lines, or this long after the first of them, whichever comes first (duankad's timer syncs an
// idle log), the writer whose lines complete the group syncs them before it returns; others go on
// writing meanwhile. Admin lines and checkpoints are synced before they are reported.
inline constexpr uint64_t kAuditSyncEveryLines = 64;
inline constexpr std::chrono::milliseconds kAuditSyncWindow{200};

// The longest audit line a writer looks back over to find the last whole line (admin lines are
// at most a few KiB; a torn region longer than this restarts the chain, which verify reports).
inline constexpr size_t kAuditMaxTailScanBytes = size_t{2} << 20;

// The actions of the lines the log writes about itself.
inline constexpr std::string_view kAuditCheckpointAction = "audit-checkpoint";
inline constexpr std::string_view kAuditTornAction = "audit-torn";      // torn bytes skipped
inline constexpr std::string_view kAuditShrunkAction = "audit-shrunk";  // the file got shorter

// The value the first line of an institution's chain carries as prev.
crypto::Hash256 AuditGenesis(std::string_view institution);
// SHA-256 of a line without its newline: what the next line carries as prev.
crypto::Hash256 AuditLineHash(std::string_view line);

// The chain fields at the end of a line: `,"seq":N,"prev":"<64 hex>"}` (or `{"seq":…` alone).
struct AuditChainFields {
  uint64_t seq = 0;
  crypto::Hash256 prev;
  size_t at = 0;  // where the fields start (the comma, or the `"` after `{`)
};
// nullopt unless the line starts with `{` and ends in well-formed chain fields. Does not parse the
// rest of the line as JSON.
std::optional<AuditChainFields> ParseAuditChainFields(std::string_view line);

// A checkpoint line is `{…,"key":"<key id hex>","sig":"<128 hex>","seq":N,"prev":"…"}`; its
// signature covers this message: a domain tag and the line with the `,"sig":"…"` field removed.
// nullopt (and no message) when the line has no sig field right before its chain fields.
struct AuditCheckpointSignature {
  std::string message;
  std::string signature;  // 64 bytes
};
std::optional<AuditCheckpointSignature> SplitAuditCheckpoint(std::string_view line);

// The rotated siblings of an audit log, oldest first: `NAME.N` (highest N first), then `NAME-…`
// (logrotate's dateext, in name order). Compressed ones (.gz) are included; readers refuse them.
std::vector<std::filesystem::path> RotatedAuditFiles(const std::filesystem::path& path);

// The audit log, held open: one O_APPEND descriptor for the object's life, opened on first use
// (or by Open()), so that a process at its descriptor limit still audits, and so answers its
// lookups. Thread-safe.
//
// Writers of one log (duankad, duanka, duanka-admin) take flock(2) on the file for each append:
// under it they read the last line (unless they wrote it themselves) to chain from it. A file at
// the path that is not the one held (logrotate moved it away and created another) is followed at
// once; the first line of an empty file chains from the newest rotated file, read under its lock,
// so the chain runs on across rotation whichever process writes first. With the path missing, lines
// go on into the moved file until Reopen() (duankad: SIGHUP) creates the new one; never lost.
// A torn last line (a crash mid-write) is skipped with an audit-torn line recording its length and
// hash, and the chain resumes after the last whole line.
class AuditLog {
 public:
  AuditLog(std::filesystem::path path, std::string institution)
      : path_(std::move(path)), institution_(std::move(institution)) {}
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Opens the file now if it is not open (creating it 0600). kIo naming the path and reason.
  Status Open() const;

  // Appends one line (a JSON object without a newline) with its chain fields added, in one
  // write(2) under the file's lock. With sync the line is fsync'ed before returning (admin actions
  // are durable before they are reported); without, it is synced with its group (see
  // kAuditSyncEveryLines). kIo names the path and reason.
  Status Append(std::string_view json_object, bool sync) const;

  // Appends complete lines (each a JSON object ending in a newline), chained, with one write(2)
  // per kAuditMaxWriteBytes, each piece cut at a line's end. As Append otherwise.
  Status AppendLines(std::string_view lines, bool sync) const;

  // Writes a checkpoint (when a key is set), then opens the path afresh and closes the old
  // descriptor (log rotation: the file was moved away). If the path cannot be opened the old
  // descriptor is kept, so no line is lost, and kIo says why.
  Status Reopen() const;

  // Signs checkpoints with `key` (the node's signing key): one every `every_lines` lines of the
  // chain and one on each Checkpoint() call. Set before the log is shared between threads.
  void SetCheckpointKey(std::shared_ptr<const crypto::SigningKey> key, uint64_t every_lines);
  // Appends a signed checkpoint covering the chain so far, fsync'ed; `reason` is a word kept in
  // it (start, rotation, shutdown, export). Ok without doing anything when no key is set.
  Status Checkpoint(std::string_view reason) const;

  // fsyncs the file if anything was appended to it (by any process) since the last sync here: a
  // timer calling this bounds the loss window of every writer's lines.
  Status SyncPending() const;

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
  // Called (without locks held) when a writer found the log torn or shortened and wrote the line
  // that says so. Set before the log is shared between threads.
  void OnNotice(std::function<void(const std::string& notice)> callback) {
    on_notice_ = std::move(callback);
  }

 private:
  struct Head;
  // One caller's lines waiting in queue_ to be written by whichever thread leads.
  struct Request {
    std::string_view lines;
    bool sync = false;
    bool checkpoint_now = false;
    std::string_view checkpoint_reason;
    Status result;
    bool taken = false;  // in a group being written; under queue_mutex_
    bool done = false;   // result set; under queue_mutex_
  };
  // An fsync decided under mutex_ and done outside it, on a duplicate of the descriptor (Reopen
  // may close the held one meanwhile).
  struct SyncJob {
    int fd = -1;
    uint64_t end = 0;         // the file's size it covers
    uint64_t generation = 0;  // file_generation_ when decided
  };
  // REQUIRES: mutex_ held. Chains `lines` (each ending in a newline) and writes them under the
  // file's lock, following a rotation. Sets *notice when it wrote a torn/shrunk line. When the
  // lines are to be synced, fills *job (or syncs at once if no descriptor is left for it).
  Status WriteChained(std::string_view lines, bool sync, bool checkpoint_now,
                      std::string_view checkpoint_reason, std::string* notice, SyncJob* job) const;
  // Writes the first request of queue_ and those after it that fit in the same write(2).
  // REQUIRES: leading_ set by the caller, queue_mutex_ not held.
  void WriteGroup(const std::vector<Request*>& group, std::string* notice, SyncJob* job) const;
  // Fills *job with a duplicate of the held descriptor to sync the file up to `end` outside
  // mutex_; with no descriptor to spare, syncs at once instead. REQUIRES: mutex_ held.
  Status PrepareSync(uint64_t end, SyncJob* job) const;
  // fsyncs job.fd, closes it and advances synced_end_. REQUIRES: mutex_ not held.
  Status RunSync(const SyncJob& job) const;
  Status Write(std::string_view lines, bool sync, bool checkpoint_now,
               std::string_view checkpoint_reason) const;
  Status WriteAll(int fd, std::string_view text) const;
  Result<int> OpenFile() const;
  // Records the outcome of an open or append; reports a change of state to on_state_change_.
  Status Note(Status outcome) const;
  std::string CheckpointLine(uint64_t seq, const crypto::Hash256& prev,
                             std::string_view reason) const;

  std::filesystem::path path_;
  std::string institution_;
  // Appends of this process go one at a time: each chains from the one before.
  mutable std::mutex mutex_;
  mutable int fd_ = -1;
  // What this process last wrote at the end of fd_: while the file still ends there, the next
  // line chains from it without reading the file back.
  mutable bool known_ = false;
  mutable uint64_t known_end_ = 0;
  mutable uint64_t known_seq_ = 0;
  mutable crypto::Hash256 known_hash_;
  mutable uint64_t last_checkpoint_seq_ = 0;
  mutable uint64_t unsynced_lines_ = 0;
  mutable std::chrono::steady_clock::time_point first_unsynced_;
  mutable uint64_t synced_end_ = 0;
  // Counts the descriptors fd_ has held: a sync of a file let go does not advance synced_end_.
  mutable uint64_t file_generation_ = 0;
  // Group write: callers queue their lines; one at a time leads, writing all queued lines in one
  // write(2) under one flock, and wakes the others once their lines are written (or synced).
  mutable std::mutex queue_mutex_;
  mutable std::condition_variable queue_cv_;
  mutable std::vector<Request*> queue_;
  mutable bool leading_ = false;
  std::shared_ptr<const crypto::SigningKey> checkpoint_key_;
  std::string checkpoint_key_id_;  // hex
  uint64_t checkpoint_every_ = 0;
  // The reason the last open or append failed; empty while they succeed.
  mutable std::mutex problem_mutex_;
  mutable std::string problem_;
  mutable std::atomic<bool> failing_{false};  // !problem_.empty(), read without the lock
  mutable std::chrono::steady_clock::time_point failed_at_;  // under problem_mutex_
  std::function<void(bool, const std::string&)> on_state_change_;
  std::function<void(const std::string&)> on_notice_;
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
