// The daemon's log: one line per event on stderr (journald adds its own timestamps when run as
// a unit, but a terminal or a file needs them, so each line carries UTC time and a level).
// Raw identifiers never reach it: nothing that logs sees them.
#pragma once

#include <spdlog/spdlog.h>

namespace duanka::daemon {

// Sets the line format and level once, in main().
void InitLog(bool verbose);

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
