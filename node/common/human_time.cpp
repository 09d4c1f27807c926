#include "node/common/human_time.h"

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

}  // namespace duanka::node
