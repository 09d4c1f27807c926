#include "node/lookup/text.h"

#include <unistd.h>

#include <cerrno>

#include "node/common/audit.h"
#include "node/common/human_time.h"
#include "protocol/identifier.h"

namespace duanka::lookup {

std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::string TypeNames() {
  std::string out;
  for (protocol::IdType t : protocol::AllIdTypes()) {
    if (!out.empty()) out += ", ";
    out += protocol::IdTypeName(t);
  }
  return out;
}

std::string CstDate(int64_t unix_seconds) {
  return node::HumanDate(unix_seconds);
}

std::string CstMinute(int64_t unix_seconds) {
  return node::HumanMinute(unix_seconds);
}

std::string Ago(int64_t seconds) {
  constexpr int64_t kMinute = 60, kHour = 3600, kDay = 86400;
  if (seconds < 0) return "in the future (check the clock)";
  if (seconds < 5) return "just now";
  if (seconds < kMinute) return std::to_string(seconds) + " s ago";
  if (seconds < kHour) return std::to_string(seconds / kMinute) + " min ago";
  if (seconds < 2 * kDay) return std::to_string(seconds / kHour) + " h ago";
  return std::to_string(seconds / kDay) + " days ago";
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace duanka::lookup
