// HOME/audit.log: append-only JSON lines, one per lookup (or batch) and one per admin action.
// Raw identifiers never appear in it: lookups record the type and the first 8 hex characters of
// the subject only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "crypto/result.h"

namespace duanka::node {

// How much of a subject the audit log keeps: enough to match a lookup to a listing during an
// investigation, too little to confirm a guessed identifier by brute force against the log.
inline constexpr size_t kAuditSubjectHexChars = 8;

class AuditLog {
 public:
  explicit AuditLog(std::filesystem::path path) : path_(std::move(path)) {}

  // Appends one line (a JSON object without a newline) with a single write(2) on an O_APPEND
  // descriptor, so lines from concurrent processes never interleave. With sync the line is
  // fsync'ed before returning: admin actions are durable before they are reported; lookups skip
  // it, since an fsync would cost more than the lookup itself. kIo names the path and reason.
  Status Append(std::string_view json_object, bool sync) const;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
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
