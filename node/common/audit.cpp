#include "node/common/audit.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace duanka::node {

Status AuditLog::Append(std::string_view json_object, bool sync) const {
  std::string line(json_object);
  line.push_back('\n');
  int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return MakeError(ErrorKind::kIo,
                     "cannot open the audit log " + path_.string() + ": " + std::strerror(errno));
  }
  ssize_t n = ::write(fd, line.data(), line.size());
  int err = errno;
  bool ok = n == static_cast<ssize_t>(line.size());
  if (ok && sync && ::fsync(fd) != 0) {
    ok = false;
    err = errno;
  }
  ::close(fd);
  if (!ok) {
    return MakeError(ErrorKind::kIo, "cannot write the audit log " + path_.string() + ": " +
                                         (n >= 0 && err == 0 ? "short write" : std::strerror(err)));
  }
  return Ok();
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
