#include "node/common/human_time.h"

#include <ctime>

#include "node/common/audit.h"

namespace duanka::node {

// Shifting the instant and printing it as UTC needs no time zone database: the offset is fixed.
std::string HumanDate(int64_t unix_seconds) {
  return IsoTime(unix_seconds + kChinaStandardTimeOffsetSeconds).substr(0, 10);
}

std::string HumanMinute(int64_t unix_seconds) {
  // "2026-11-28T01:02:03Z" → "2026-11-28 09:02 CST"
  const std::string t = IsoTime(unix_seconds + kChinaStandardTimeOffsetSeconds);
  return t.substr(0, 10) + " " + t.substr(11, 5) + " " + std::string(kHumanTimeZone);
}

namespace {
constexpr int64_t kSecondsPerDay = 86400;
}

std::string UtcDay(uint32_t day) {
  return IsoTime(int64_t{day} * kSecondsPerDay).substr(0, 10);
}

Result<uint32_t> ParseUtcDay(const std::string& flag, const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%d", &tm);
  const int64_t at = end != nullptr && *end == '\0' ? static_cast<int64_t>(timegm(&tm)) : -1;
  if (at < 0 || UtcDay(static_cast<uint32_t>(at / kSecondsPerDay)) != text) {
    return MakeError(ErrorKind::kInvalidInput,
                     flag + ": expected a day as 2026-12-06 (a calendar day in UTC)");
  }
  return static_cast<uint32_t>(at / kSecondsPerDay);
}

Result<int64_t> ParseMoment(const std::string& flag, const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  int64_t offset = 0;
  if (end == nullptr || *end != '\0') {
    tm = std::tm{};
    end = strptime(text.c_str(), "%Y-%m-%d %H:%M", &tm);
    if (end != nullptr && *end == ':') end = strptime(end, ":%S", &tm);
    offset = kChinaStandardTimeOffsetSeconds;
  }
  if (end == nullptr || *end != '\0') {
    return MakeError(ErrorKind::kInvalidInput,
                     flag +
                         ": expected a time as 2026-12-06T10:00:00Z (UTC) or "
                         "\"2026-12-06 18:00\" (China Standard Time)");
  }
  return static_cast<int64_t>(timegm(&tm)) - offset;
}

}  // namespace duanka::node
