#include "node/common/audit.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

namespace duanka::node {

namespace {

// Bound into the first line's prev: a log cannot be passed off as another institution's.
constexpr std::string_view kGenesisTag = "duanka audit log genesis v1\n";
// Prefixed to what a checkpoint signs: the signature cannot be taken for a record's.
constexpr std::string_view kCheckpointTag = "duanka audit checkpoint v1\n";
constexpr std::string_view kSeqField = "\"seq\":";
constexpr std::string_view kPrevField = ",\"prev\":\"";
constexpr std::string_view kSigField = ",\"sig\":\"";
constexpr size_t kHashHex = 64;
constexpr size_t kSignatureHex = 2 * crypto::kSignatureSize;
constexpr size_t kMaxSeqDigits = 19;  // below 2^63: no overflow in from_chars
// Most last lines are a few hundred bytes: one small read finds them.
constexpr size_t kTailFirstReadBytes = 4096;
// A path that keeps changing under a writer (rotations in a loop) is followed this often, then the
// held file is written.
constexpr int kMaxRotationFollows = 3;

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Error AuditIoError(const char* what, const std::filesystem::path& path, std::string_view reason) {
  return MakeError(ErrorKind::kIo, std::string(what) + " the audit log " + path.string() + ": " +
                                       std::string(reason));
}

// The fixed words of audit lines (type names, results) are written as they are; anything else is
// escaped as JSON would.
void AppendJsonText(std::string& out, std::string_view text) {
  for (char c : text) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!plain) {
      const std::string quoted = nlohmann::json(std::string(text)).dump();
      out.append(quoted, 1, quoted.size() - 2);
      return;
    }
  }
  out += text;
}

std::string UserName(uid_t uid) {
  if (const passwd* pw = ::getpwuid(uid); pw != nullptr) return pw->pw_name;
  return "uid " + std::to_string(uid);
}

Error NotOurs(const std::filesystem::path& path, const std::filesystem::path& held,
              uid_t owner_uid) {
  const std::string owner = UserName(owner_uid);
  return MakeError(ErrorKind::kIo,
                   "the audit log " + path.string() + " is not to be written by " +
                       UserName(::geteuid()) + ": " + held.string() + " belongs to " + owner +
                       "; run as its owner (e.g. runuser -u " + owner + " -- COMMAND)");
}

bool OursOrRoots(uid_t uid) {
  return uid == ::geteuid() || uid == 0;
}

// Who may write the audit log: the owner of its directory and of the file. Another user (root
// above all) writing there would leave a file the owner cannot append to (every API lookup then
// refused), or write through a link the owner planted into a file of its own choosing. Root-owned
// places are the administrator's own: anyone allowed in may write there. The file itself is
// checked again on the open descriptor (OpenFile), so that nothing swapped in between is written.
Status CheckOwner(const std::filesystem::path& path) {
  struct stat st {};
  const std::filesystem::path dir =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  if (::stat(dir.c_str(), &st) == 0 && !OursOrRoots(st.st_uid))
    return NotOurs(path, dir, st.st_uid);
  if (::lstat(path.c_str(), &st) == 0 && !OursOrRoots(st.st_uid)) {
    return NotOurs(path, path, st.st_uid);
  }
  return Ok();  // whatever else is wrong, open() reports it with the reason
}

}  // namespace

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

crypto::Hash256 AuditGenesis(std::string_view institution) {
  return crypto::Sha256(crypto::AsBytes(kGenesisTag), crypto::AsBytes(institution));
}

crypto::Hash256 AuditLineHash(std::string_view line) {
  return crypto::Sha256(crypto::AsBytes(line));
}

std::optional<AuditChainFields> ParseAuditChainFields(std::string_view line) {
  // Shortest: {"seq":1,"prev":"<64>"}
  if (line.size() < 1 + kSeqField.size() + 1 + kPrevField.size() + kHashHex + 2)
    return std::nullopt;
  if (line.front() != '{' || !line.ends_with("\"}")) return std::nullopt;
  const size_t hex_at = line.size() - 2 - kHashHex;
  const std::string_view hex = line.substr(hex_at, kHashHex);
  if (!IsLowerHex(hex)) return std::nullopt;
  const size_t prev_at = hex_at - kPrevField.size();
  if (line.substr(prev_at, kPrevField.size()) != kPrevField) return std::nullopt;
  size_t digits_at = prev_at;
  while (digits_at > 0 && line[digits_at - 1] >= '0' && line[digits_at - 1] <= '9') --digits_at;
  const std::string_view digits = line.substr(digits_at, prev_at - digits_at);
  if (digits.empty() || digits.size() > kMaxSeqDigits || digits.front() == '0') return std::nullopt;
  if (digits_at < kSeqField.size() + 1) return std::nullopt;
  const size_t seq_at = digits_at - kSeqField.size();
  if (line.substr(seq_at, kSeqField.size()) != kSeqField) return std::nullopt;
  AuditChainFields f;
  if (line[seq_at - 1] == ',') {
    f.at = seq_at - 1;
  } else if (seq_at == 1) {
    f.at = seq_at;
  } else {
    return std::nullopt;
  }
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), f.seq);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  std::optional<crypto::Bytes> prev = crypto::FromHex(hex);
  std::copy(prev->begin(), prev->end(), f.prev.bytes.begin());
  return f;
}

std::optional<AuditCheckpointSignature> SplitAuditCheckpoint(std::string_view line) {
  std::optional<AuditChainFields> chain = ParseAuditChainFields(line);
  if (!chain || chain->at < kSigField.size() + kSignatureHex + 1) return std::nullopt;
  const size_t sig_at = chain->at - 1 - kSignatureHex - kSigField.size();
  if (line.substr(sig_at, kSigField.size()) != kSigField || line[chain->at - 1] != '"') {
    return std::nullopt;
  }
  const std::string_view hex = line.substr(sig_at + kSigField.size(), kSignatureHex);
  if (!IsLowerHex(hex)) return std::nullopt;
  std::optional<crypto::Bytes> sig = crypto::FromHex(hex);
  AuditCheckpointSignature out;
  out.message.reserve(kCheckpointTag.size() + line.size());
  out.message.append(kCheckpointTag);
  out.message.append(line.substr(0, sig_at));
  out.message.append(line.substr(chain->at));
  out.signature.assign(sig->begin(), sig->end());
  return out;
}

std::vector<std::filesystem::path> RotatedAuditFiles(const std::filesystem::path& path) {
  const std::filesystem::path dir =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const std::string name = path.filename().string();
  std::vector<std::pair<uint64_t, std::filesystem::path>> numbered;
  std::vector<std::filesystem::path> dated;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string fn = it->path().filename().string();
    if (fn.size() <= name.size() + 1 || fn.compare(0, name.size(), name) != 0) continue;
    const char sep = fn[name.size()];
    std::string_view rest = std::string_view(fn).substr(name.size() + 1);
    if (sep == '-') {
      dated.push_back(it->path());
    } else if (sep == '.') {
      if (rest.ends_with(".gz")) rest.remove_suffix(3);
      uint64_t n = 0;
      auto [p, err] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
      if (err == std::errc() && p == rest.data() + rest.size())
        numbered.emplace_back(n, it->path());
    }
  }
  std::sort(numbered.begin(), numbered.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  std::sort(dated.begin(), dated.end());
  std::vector<std::filesystem::path> out;
  for (auto& [n, p] : numbered) out.push_back(std::move(p));
  for (auto& p : dated) out.push_back(std::move(p));
  return out;
}

namespace {

// What the end of a file holds: the last whole line's place in the chain, and the bytes after it
// that are not a whole line.
struct Tail {
  bool chained = false;  // the last whole line carries chain fields
  bool legacy = false;   // it is a JSON object from before the chain
  bool lost = false;     // no whole line within kAuditMaxTailScanBytes: the chain cannot resume
  uint64_t seq = 0;
  crypto::Hash256 hash;
  std::string torn;
};

Status ReadAt(int fd, std::string& buf, uint64_t offset, const std::filesystem::path& path) {
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t n =
        ::pread(fd, buf.data() + done, buf.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return AuditIoError("cannot read", path, std::strerror(errno));
    if (n == 0) return AuditIoError("cannot read", path, "the file shrank while being read");
    done += static_cast<size_t>(n);
  }
  return Ok();
}

Result<Tail> ReadTail(int fd, uint64_t size, const std::filesystem::path& path) {
  Tail t;
  if (size == 0) return t;
  uint64_t want = std::min<uint64_t>(size, kTailFirstReadBytes);
  while (true) {
    std::string buf(want, '\0');
    if (Status s = ReadAt(fd, buf, size - want, path); !s) return std::move(s).error();
    const bool from_start = want == size;
    size_t nl = buf.rfind('\n');
    size_t region = nl == std::string::npos ? 0 : nl + 1;  // where the unparsed bytes begin
    while (nl != std::string::npos) {
      const size_t before = nl == 0 ? std::string::npos : buf.rfind('\n', nl - 1);
      if (before == std::string::npos && !from_start) break;  // the line may start earlier
      const size_t begin = before == std::string::npos ? 0 : before + 1;
      const std::string_view line(buf.data() + begin, nl - begin);
      if (std::optional<AuditChainFields> f = ParseAuditChainFields(line)) {
        t.chained = true;
        t.seq = f->seq;
        t.hash = AuditLineHash(line);
        t.torn = buf.substr(region);
        return t;
      }
      if (line.size() >= 2 && line.front() == '{' && line.back() == '}') {
        t.legacy = true;
        t.torn = buf.substr(region);
        return t;
      }
      region = begin;
      nl = before;
    }
    if (from_start && nl == std::string::npos) {
      t.torn = buf.substr(region);  // region is 0 here: no whole line in the file
      return t;
    }
    if (want >= kAuditMaxTailScanBytes || from_start) {
      t.lost = true;
      t.torn = std::move(buf);
      return t;
    }
    want = std::min<uint64_t>({size, want * 2, kAuditMaxTailScanBytes});
  }
}

Status Lock(int fd, int how, const std::filesystem::path& path) {
  while (::flock(fd, how) != 0) {
    if (errno != EINTR) return AuditIoError("cannot lock", path, std::strerror(errno));
  }
  return Ok();
}

// A line of the caller's (a JSON object) with its chain fields.
void AppendChained(std::string& out, std::string_view object, uint64_t seq,
                   const crypto::Hash256& prev) {
  out.append(object.substr(0, object.size() - 1));
  if (object.size() > 2) out += ',';
  out += kSeqField;
  out += std::to_string(seq);
  out += kPrevField;
  out += prev.Hex();
  out += "\"}";
}

}  // namespace

Result<int> AuditLog::OpenFile() const {
  if (Status owner = CheckOwner(path_); !owner) return std::move(owner).error();
  // No link followed: a link in the log's place is refused (ELOOP), never written through.
  // Read access too: a writer reads the last line back to chain from it.
  int fd =
      ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
  if (fd < 0) return AuditIoError("cannot open", path_, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return AuditIoError("cannot open", path_, "not a regular file");
  }
  if (!OursOrRoots(st.st_uid)) {
    ::close(fd);
    return NotOurs(path_, path_, st.st_uid);
  }
  return fd;
}

Status AuditLog::Note(Status outcome) const {
  // Every lookup passes here: while all is well, one atomic read and no lock.
  if (outcome && !failing_.load(std::memory_order_acquire)) return outcome;
  bool changed = false;
  std::string reason = outcome ? std::string() : outcome.error().message;
  {
    std::lock_guard<std::mutex> lock(problem_mutex_);
    changed = problem_.empty() != reason.empty();
    problem_ = reason;
    failed_at_ = std::chrono::steady_clock::now();
    failing_.store(!reason.empty(), std::memory_order_release);
  }
  if (changed && on_state_change_) on_state_change_(reason.empty(), reason);
  return outcome;
}

Status AuditLog::Open() const {
  std::unique_lock<std::mutex> lock(mutex_);
  if (fd_ >= 0) return Ok();
  Result<int> fd = OpenFile();
  if (!fd) {
    lock.unlock();
    return Note(std::move(fd).error());
  }
  fd_ = *fd;
  ++file_generation_;
  known_ = false;
  lock.unlock();
  return Note(Ok());
}

Status AuditLog::Writable() const {
  if (Status opened = Open(); !opened) return opened;
  std::lock_guard<std::mutex> lock(problem_mutex_);
  if (problem_.empty() || std::chrono::steady_clock::now() - failed_at_ > kFailureShownFor) {
    return Ok();
  }
  return MakeError(ErrorKind::kIo, problem_);
}

void AuditLog::SetCheckpointKey(std::shared_ptr<const crypto::SigningKey> key,
                                uint64_t every_lines) {
  checkpoint_key_id_ =
      key ? crypto::Sha256(crypto::ByteView(key->public_key().bytes)).Hex() : std::string();
  checkpoint_key_ = std::move(key);
  checkpoint_every_ = every_lines;
}

std::string AuditLog::CheckpointLine(uint64_t seq, const crypto::Hash256& prev,
                                     std::string_view reason) const {
  using nlohmann::json;
  std::string head = "{\"action\":\"" + std::string(kAuditCheckpointAction) + "\",\"time\":\"" +
                     IsoTime(SystemNow()) + "\",\"institution\":" + json(institution_).dump() +
                     ",\"reason\":" + json(std::string(reason)).dump() +
                     ",\"lines\":" + std::to_string(seq - 1) + ",\"key\":\"" + checkpoint_key_id_ +
                     "\"";
  std::string chain;
  AppendChained(chain, "{}", seq, prev);
  chain.erase(0, 1);  // `"seq":…}` without the `{`
  chain.insert(0, ",");
  const std::string message = std::string(kCheckpointTag) + head + chain;
  const crypto::Signature sig = checkpoint_key_->Sign(crypto::AsBytes(message));
  return head + std::string(kSigField) + crypto::ToHex(sig.bytes) + "\"" + chain;
}

Status AuditLog::Append(std::string_view json_object, bool sync) const {
  std::string line;
  line.reserve(json_object.size() + 1);
  line.append(json_object);
  line.push_back('\n');
  return AppendLines(line, sync);
}

Status AuditLog::AppendLines(std::string_view lines, bool sync) const {
  return Write(lines, sync, /*checkpoint_now=*/false, {});
}

Status AuditLog::Checkpoint(std::string_view reason) const {
  if (!checkpoint_key_) return Ok();
  return Write({}, /*sync=*/true, /*checkpoint_now=*/true, reason);
}

Status AuditLog::Write(std::string_view lines, bool sync, bool checkpoint_now,
                       std::string_view checkpoint_reason) const {
  // Check the lines first: nothing is written of a call that is wrong, and it fails no other call
  // of its group.
  for (size_t at = 0; at < lines.size();) {
    size_t end = lines.find('\n', at);
    if (end == std::string_view::npos || end - at < 2 || lines[at] != '{' ||
        lines[end - 1] != '}') {
      return Note(MakeError(ErrorKind::kInternal,
                            "an audit line must be a JSON object ending in a newline"));
    }
    at = end + 1;
  }
  Request me;
  me.lines = lines;
  me.sync = sync;
  me.checkpoint_now = checkpoint_now;
  me.checkpoint_reason = checkpoint_reason;
  std::string notice;
  std::unique_lock<std::mutex> queue_lock(queue_mutex_);
  queue_.push_back(&me);
  while (!me.done) {
    if (leading_ || me.taken) {
      queue_cv_.wait(queue_lock);
      continue;
    }
    // Lead: take the first queued request and those after it that fit in one write with it. A
    // checkpoint goes alone: it covers the chain up to its caller's call.
    leading_ = true;
    size_t count = 1;
    size_t bytes = queue_.front()->lines.size();
    if (!queue_.front()->checkpoint_now) {
      while (count < queue_.size() && !queue_[count]->checkpoint_now &&
             bytes + queue_[count]->lines.size() <= kAuditMaxWriteBytes) {
        bytes += queue_[count]->lines.size();
        ++count;
      }
    }
    std::vector<Request*> group(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(count));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(count));
    for (Request* r : group) r->taken = true;
    queue_lock.unlock();
    SyncJob job;
    WriteGroup(group, &notice, &job);
    queue_lock.lock();
    // The next group is written while this one syncs; a group that syncs returns once synced.
    const bool syncing = job.fd >= 0;
    if (!syncing) {
      for (Request* r : group) r->done = true;
    }
    leading_ = false;
    queue_cv_.notify_all();
    if (syncing) {
      queue_lock.unlock();
      Status synced = RunSync(job);
      queue_lock.lock();
      for (Request* r : group) {
        if (r->result && !synced) r->result = synced;
        r->done = true;
      }
      queue_cv_.notify_all();
    }
  }
  queue_lock.unlock();
  if (!notice.empty() && on_notice_) on_notice_(notice);
  return Note(std::move(me.result));
}

void AuditLog::WriteGroup(const std::vector<Request*>& group, std::string* notice,
                          SyncJob* job) const {
  const Request& first = *group.front();
  std::string joined;
  std::string_view lines = first.lines;
  bool sync = first.sync;
  if (group.size() > 1) {
    size_t bytes = 0;
    for (const Request* r : group) bytes += r->lines.size();
    joined.reserve(bytes);
    for (const Request* r : group) {
      joined += r->lines;
      sync = sync || r->sync;
    }
    lines = joined;
  }
  Status written = Ok();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    written = WriteChained(lines, sync, first.checkpoint_now, first.checkpoint_reason, notice, job);
  }
  for (Request* r : group) r->result = written;
}

Status AuditLog::RunSync(const SyncJob& job) const {
  const int rc = ::fsync(job.fd);
  const int err = errno;
  ::close(job.fd);
  std::lock_guard<std::mutex> lock(mutex_);
  if (job.generation != file_generation_) {
    // The file was let go meanwhile (Reopen syncs it before closing it).
    return rc == 0 ? Ok() : AuditIoError("cannot sync", path_, std::strerror(err));
  }
  if (rc != 0) {
    unsynced_lines_ = std::max(unsynced_lines_, kAuditSyncEveryLines);  // the next line retries
    return AuditIoError("cannot sync", path_, std::strerror(err));
  }
  synced_end_ = std::max(synced_end_, job.end);
  return Ok();
}

Status AuditLog::WriteChained(std::string_view lines, bool sync, bool checkpoint_now,
                              std::string_view checkpoint_reason, std::string* notice,
                              SyncJob* job) const {
  if (fd_ < 0) {
    Result<int> fd = OpenFile();
    if (!fd) return std::move(fd).error();
    fd_ = *fd;
    ++file_generation_;
    known_ = false;
  }
  // The file held before following a rotation: the chain's predecessor of an empty new file.
  int before_fd = -1;
  struct CloseBefore {
    int& fd;
    ~CloseBefore() {
      if (fd >= 0) ::close(fd);
    }
  } close_before{before_fd};

  struct stat held {};
  for (int follows = 0;; ++follows) {
    if (Status s = Lock(fd_, LOCK_EX, path_); !s) return s;
    struct stat at_path {};
    if (::fstat(fd_, &held) != 0) {
      const int err = errno;
      ::flock(fd_, LOCK_UN);
      return AuditIoError("cannot stat", path_, std::strerror(err));
    }
    // Per line, under the file's lock: a writer that looked only now and then would chain on in
    // the moved file after another process had begun the new one.
    if (follows < kMaxRotationFollows && ::lstat(path_.c_str(), &at_path) == 0 &&
        (at_path.st_ino != held.st_ino || at_path.st_dev != held.st_dev)) {
      // Rotated: another file is at the path, and lines belong there now.
      if (Result<int> fresh = OpenFile(); fresh) {
        ::flock(fd_, LOCK_UN);
        if (before_fd >= 0) ::close(before_fd);
        before_fd = fd_;
        fd_ = *fresh;
        ++file_generation_;
        known_ = false;
        continue;
      }
      // What is at the path cannot be opened (a link, another user's file): the held file goes on.
    }
    break;
  }
  struct Unlock {
    explicit Unlock(int held) : fd(held) {}
    Unlock(const Unlock&) = delete;
    Unlock& operator=(const Unlock&) = delete;
    ~Unlock() { ::flock(fd, LOCK_UN); }
    int fd;
  };
  std::optional<Unlock> unlock;
  unlock.emplace(fd_);

  const uint64_t size = static_cast<uint64_t>(held.st_size);
  uint64_t seq = 0;
  crypto::Hash256 prev;
  std::string out;
  if (known_ && size == known_end_) {
    seq = known_seq_ + 1;
    prev = known_hash_;
  } else {
    const bool shrunk = known_ && size < known_end_;
    Result<Tail> tail = ReadTail(fd_, size, path_);
    if (!tail) return std::move(tail).error();
    std::string torn = tail->torn;
    if (tail->chained) {
      seq = tail->seq + 1;
      prev = tail->hash;
    } else if (tail->legacy || tail->lost) {
      seq = 1;
      prev = AuditGenesis(institution_);
    } else {
      // Nothing whole here (a new file): the chain goes on from the file rotated away.
      int pred = before_fd;
      int opened = -1;
      if (pred < 0) {
        std::vector<std::filesystem::path> rotated = RotatedAuditFiles(path_);
        if (!rotated.empty() && rotated.back().extension() != ".gz") {
          opened = ::open(rotated.back().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
          pred = opened;
        }
      }
      seq = 1;
      prev = AuditGenesis(institution_);
      if (pred >= 0) {
        // Shared: whoever still appends there (before it saw the rotation) finishes first.
        struct stat pst {};
        if (Lock(pred, LOCK_SH, path_) && ::fstat(pred, &pst) == 0 && pst.st_ino != held.st_ino) {
          Result<Tail> before = ReadTail(pred, static_cast<uint64_t>(pst.st_size), path_);
          if (before && before->chained) {
            seq = before->seq + 1;
            prev = before->hash;
            torn = before->torn + torn;
          }
        }
        ::flock(pred, LOCK_UN);
      }
      if (opened >= 0) ::close(opened);
    }
    if (!torn.empty()) {
      if (!tail->torn.empty() && tail->torn.back() != '\n') out += '\n';
      const std::string marker = "{\"action\":\"" + std::string(kAuditTornAction) +
                                 "\",\"time\":\"" + IsoTime(SystemNow()) +
                                 "\",\"skipped_bytes\":" + std::to_string(torn.size()) +
                                 ",\"skipped_sha256\":\"" + AuditLineHash(torn).Hex() + "\"}";
      const size_t from = out.size();
      AppendChained(out, marker, seq, prev);
      prev = AuditLineHash(std::string_view(out).substr(from));
      ++seq;
      out += '\n';
      *notice = "the audit log " + path_.string() + " ended in " + std::to_string(torn.size()) +
                " bytes that are not a whole line (a write cut short?); the chain resumes after "
                "the last whole line, and an " +
                std::string(kAuditTornAction) + " line records what was skipped";
    }
    if (shrunk) {
      const std::string marker = "{\"action\":\"" + std::string(kAuditShrunkAction) +
                                 "\",\"time\":\"" + IsoTime(SystemNow()) +
                                 "\",\"expected_bytes\":" + std::to_string(known_end_) +
                                 ",\"found_bytes\":" + std::to_string(size) + "}";
      const size_t from = out.size();
      AppendChained(out, marker, seq, prev);
      prev = AuditLineHash(std::string_view(out).substr(from));
      ++seq;
      out += '\n';
      *notice = "the audit log " + path_.string() + " is shorter (" + std::to_string(size) +
                " bytes) than this process left it (" + std::to_string(known_end_) +
                "): lines were removed; an " + std::string(kAuditShrunkAction) + " line records it";
    }
  }

  bool signed_any = false;
  auto checkpoint = [&](std::string_view reason) {
    const std::string line = CheckpointLine(seq, prev, reason);
    prev = AuditLineHash(line);
    last_checkpoint_seq_ = seq;
    ++seq;
    out += line;
    out += '\n';
    signed_any = true;
  };
  uint64_t added = 0;
  for (size_t at = 0; at < lines.size();) {
    const size_t end = lines.find('\n', at);
    const size_t from = out.size();
    AppendChained(out, lines.substr(at, end - at), seq, prev);
    prev = AuditLineHash(std::string_view(out).substr(from));
    ++seq;
    ++added;
    out += '\n';
    at = end + 1;
    if (checkpoint_key_ && checkpoint_every_ > 0 &&
        seq - 1 - last_checkpoint_seq_ >= checkpoint_every_) {
      checkpoint("every " + std::to_string(checkpoint_every_) + " lines");
    }
  }
  if (checkpoint_now && checkpoint_key_) checkpoint(checkpoint_reason);

  if (Status w = WriteAll(fd_, out); !w) {
    known_ = false;
    return w;
  }
  known_ = true;
  known_end_ = size + out.size();
  known_seq_ = seq - 1;
  known_hash_ = prev;
  unlock.reset();  // other processes may append while this one syncs

  const auto now = std::chrono::steady_clock::now();
  if (unsynced_lines_ == 0) first_unsynced_ = now;
  unsynced_lines_ += added;
  if (sync || signed_any || unsynced_lines_ >= kAuditSyncEveryLines ||
      now - first_unsynced_ >= kAuditSyncWindow) {
    unsynced_lines_ = 0;
    return PrepareSync(known_end_, job);
  }
  return Ok();
}

Status AuditLog::PrepareSync(uint64_t end, SyncJob* job) const {
  const int copy = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    // At the descriptor limit: sync here, holding this process's other writers up, rather than
    // not at all.
    if (::fsync(fd_) != 0) return AuditIoError("cannot sync", path_, std::strerror(errno));
    synced_end_ = std::max(synced_end_, end);
    return Ok();
  }
  *job = SyncJob{copy, end, file_generation_};
  return Ok();
}

Status AuditLog::WriteAll(int fd, std::string_view text) const {
  size_t done = 0;
  while (done < text.size()) {
    size_t piece = text.size() - done;
    if (piece > kAuditMaxWriteBytes) {
      // Whole lines only: up to the last line end within the limit (or, for a longer line than
      // that, which no caller makes, that line whole).
      size_t end = text.rfind('\n', done + kAuditMaxWriteBytes - 1);
      if (end == std::string_view::npos || end < done) end = text.find('\n', done);
      piece = end == std::string_view::npos ? text.size() - done : end + 1 - done;
    }
    ssize_t n = ::write(fd, text.data() + done, piece);
    if (n < 0 && errno == EINTR) continue;  // nothing was written
    if (n < 0) return AuditIoError("cannot write", path_, std::strerror(errno));
    // A regular file takes a whole write unless the disk or quota is full; the next writer finds
    // the piece torn and records it.
    if (static_cast<size_t>(n) != piece) return AuditIoError("cannot write", path_, "short write");
    done += piece;
  }
  return Ok();
}

Status AuditLog::SyncPending() const {
  SyncJob job;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (fd_ < 0) return Ok();
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return AuditIoError("cannot stat", path_, std::strerror(errno));
    if (static_cast<uint64_t>(st.st_size) == synced_end_) return Ok();
    unsynced_lines_ = 0;
    if (Status prepared = PrepareSync(static_cast<uint64_t>(st.st_size), &job); !prepared) {
      return prepared;
    }
    if (job.fd < 0) return Ok();  // synced already, at the descriptor limit
  }
  // Outside mutex_: lookups go on being written while the disk catches up.
  return RunSync(job);
}

Status AuditLog::Reopen() const {
  // The chain so far is signed before the switch: the rotated file ends covered (or, when a new
  // file is already at the path, the new one starts with it).
  // A checkpoint that cannot be written does not keep the old file: the failure is noted (Note)
  // and the next checkpoint covers these lines too.
  (void)Checkpoint("rotation");
  Result<int> fd = OpenFile();
  if (!fd) {
    // With no file held open, no line can be written: that is a failure of the log. With one,
    // lines still go to the moved file; the caller reports the reason.
    bool held = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      held = fd_ >= 0;
    }
    return held ? std::move(fd).error() : Note(std::move(fd).error());
  }
  int old = -1;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    old = fd_;
    fd_ = *fd;
    ++file_generation_;
    known_ = false;
    synced_end_ = 0;
  }
  if (old >= 0) {
    ::fsync(old);  // the moved file's last lines, before it is let go
    ::close(old);
  }
  // A fresh file: appends are given another chance (the next one records how it goes).
  return Note(Ok());
}

BatchItemAudit::BatchItemAudit(int64_t now, std::string_view program, std::string_view user,
                               std::string_view purpose) {
  using nlohmann::json;
  program_purpose_ = ",\"program\":" + json(std::string(program)).dump() +
                     ",\"purpose\":" + json(std::string(purpose)).dump() + ",\"result\":\"";
  time_ = "\",\"time\":\"" + IsoTime(now) + "\",\"type\":\"";
  user_ = "\",\"user\":" + json(std::string(user)).dump() + "}\n";
}

void BatchItemAudit::Add(uint64_t batch_line, std::string_view type, const crypto::Hash256& subject,
                         std::string_view result) {
  static constexpr char kDigits[] = "0123456789abcdef";
  char number[24];
  auto [end, ec] = std::to_chars(number, number + sizeof number, batch_line);
  text_ += "{\"action\":\"lookup\",\"batch_line\":";
  text_.append(number, end);
  text_ += program_purpose_;
  AppendJsonText(text_, result);
  text_ += "\",\"subject8\":\"";
  for (size_t i = 0; i < kAuditSubjectHexChars / 2; ++i) {
    text_ += kDigits[subject.bytes[i] >> 4];
    text_ += kDigits[subject.bytes[i] & 15];
  }
  text_ += time_;
  AppendJsonText(text_, type);
  text_ += user_;
  ++items_;
}

void BatchItemAudit::AddLine(std::string_view json_object) {
  text_ += json_object;
  text_ += '\n';
}

std::string OsUserName() {
  uid_t uid = ::geteuid();
  struct passwd pw;
  struct passwd* found = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found != nullptr) {
    return found->pw_name;
  }
  return "uid:" + std::to_string(uid);
}

// Civil date from days since 1970-01-01 (H. Hinnant's algorithm). Arithmetic instead of
// gmtime_r + strftime: glibc's strftime calls tzset(), which reads /etc/localtime, and the lookup
// CLI's whole process has a budget of one millisecond.
std::string IsoTime(int64_t unix_seconds) {
  constexpr int64_t kDay = 86400;
  int64_t days = unix_seconds / kDay;
  int64_t secs = unix_seconds % kDay;
  if (secs < 0) {
    secs += kDay;
    --days;
  }
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  char buf[128];  // room for any int64_t fields, so that no compiler sees a truncation
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
                static_cast<long long>(year), static_cast<long long>(month),
                static_cast<long long>(day), static_cast<long long>(secs / 3600),
                static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  return buf;
}

std::string IsoDate(int64_t unix_seconds) {
  return IsoTime(unix_seconds).substr(0, 10);
}

int64_t SystemNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<int64_t> ParseExpiryDate(std::string_view date) {
  static constexpr const char* kExpected = "expected a date YYYY-MM-DD, e.g. 2028-11-30";
  auto digits = [&](size_t from, size_t len) -> int {
    int v = 0;
    for (size_t i = from; i < from + len; ++i) {
      if (date[i] < '0' || date[i] > '9') return -1;
      v = v * 10 + (date[i] - '0');
    }
    return v;
  };
  if (date.size() != 10 || date[4] != '-' || date[7] != '-') {
    return MakeError(ErrorKind::kInvalidInput, std::string("--expires: ") + kExpected);
  }
  int year = digits(0, 4), month = digits(5, 2), day = digits(8, 2);
  if (year < 1970 || year > 9999 || month < 1 || month > 12 || day < 1) {
    return MakeError(ErrorKind::kInvalidInput, std::string("--expires: ") + kExpected);
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int max_day = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  if (day > max_day) {
    return MakeError(ErrorKind::kInvalidInput, std::string("--expires: no such day; ") + kExpected);
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  return static_cast<int64_t>(::timegm(&tm)) - kChinaStandardTimeOffsetSeconds;
}

}  // namespace duanka::node
