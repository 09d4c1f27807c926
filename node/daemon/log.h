// The daemon's log: one line per event on stderr (journald adds its own timestamps when run as
// a unit, but a terminal or a file needs them, so each line carries UTC time and a level), as
// text or as one JSON object per line (--log-format json).
// Raw identifiers never reach it: nothing that logs sees them.
#pragma once

#include <spdlog/spdlog.h>

namespace duanka::daemon {

// How each line is written: text for a terminal or a file, or one JSON object per line
// ({"ts","level","msg"}) for journald and log shippers, which then need no pattern to split it.
enum class LogFormat { kText, kJson };

// The --log-format values, as the option names them.
inline constexpr const char* kLogFormatText = "text";
inline constexpr const char* kLogFormatJson = "json";

// Sets the line format and level once, in main().
void InitLog(bool verbose, LogFormat format = LogFormat::kText);

template <typename... Args>
void LogInfo(spdlog::format_string_t<Args...> format, Args&&... args) {
  spdlog::info(format, std::forward<Args>(args)...);
}
template <typename... Args>
void LogWarn(spdlog::format_string_t<Args...> format, Args&&... args) {
  spdlog::warn(format, std::forward<Args>(args)...);
}
template <typename... Args>
void LogError(spdlog::format_string_t<Args...> format, Args&&... args) {
  spdlog::error(format, std::forward<Args>(args)...);
}
// Something an operator must act on (a forked feed): logged at critical level with ALERT.
template <typename... Args>
void LogAlert(spdlog::format_string_t<Args...> format, Args&&... args) {
  spdlog::critical("ALERT {}", fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace duanka::daemon
