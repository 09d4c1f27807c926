#include "node/common/audit.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

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

Result<int> AuditLog::OpenFile() const {
  if (Status owner = CheckOwner(path_); !owner) return std::move(owner).error();
  // No link followed: a link in the log's place is refused (ELOOP), never written through.
  int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
                  0600);
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
  std::unique_lock<std::shared_mutex> lock(mutex_);
  if (fd_ >= 0) return Ok();
  Result<int> fd = OpenFile();
  if (!fd) {
    lock.unlock();
    return Note(std::move(fd).error());
  }
  fd_ = *fd;
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

Status AuditLog::Append(std::string_view json_object, bool sync) const {
  std::string line;
  line.reserve(json_object.size() + 1);
  line.append(json_object);
  line.push_back('\n');
  return AppendLines(line, sync);
}

Status AuditLog::AppendLines(std::string_view lines, bool sync) const {
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    if (fd_ >= 0) {
      Status written = WriteAll(lines, sync);
      lock.unlock();
      return Note(std::move(written));
    }
  }
  // Not open yet, or opening failed last time (a directory not yet made, permissions since fixed).
  Status written = Ok();
  {
    std::unique_lock<std::shared_mutex> lock(mutex_);
    if (fd_ < 0) {
      Result<int> fd = OpenFile();
      if (!fd) {
        lock.unlock();
        return Note(std::move(fd).error());
      }
      fd_ = *fd;
    }
    written = WriteAll(lines, sync);
  }
  return Note(std::move(written));
}

Status AuditLog::WriteAll(std::string_view text, bool sync) const {
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
    ssize_t n = ::write(fd_, text.data() + done, piece);
    if (n < 0 && errno == EINTR) continue;  // nothing was written
    if (n < 0) return AuditIoError("cannot write", path_, std::strerror(errno));
    // A regular file takes a whole write unless the disk or quota is full; writing the rest
    // separately could put another writer's line inside ours, so this is a failure.
    if (static_cast<size_t>(n) != piece) return AuditIoError("cannot write", path_, "short write");
    done += piece;
  }
  if (sync && ::fsync(fd_) != 0) return AuditIoError("cannot sync", path_, std::strerror(errno));
  return Ok();
}

Status AuditLog::Reopen() const {
  Result<int> fd = OpenFile();
  if (!fd) {
    // With no file held open, no line can be written: that is a failure of the log. With one,
    // lines still go to the moved file; the caller reports the reason.
    bool held = false;
    {
      std::shared_lock<std::shared_mutex> lock(mutex_);
      held = fd_ >= 0;
    }
    return held ? std::move(fd).error() : Note(std::move(fd).error());
  }
  int old = -1;
  {
    std::unique_lock<std::shared_mutex> lock(mutex_);
    old = fd_;
    fd_ = *fd;
  }
  if (old >= 0) ::close(old);
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
