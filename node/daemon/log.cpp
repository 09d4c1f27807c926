#include "node/daemon/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <fmt/chrono.h>
#include <chrono>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace duanka::daemon {
namespace {

// The text lines' layout; the JSON lines carry the same time, to the millisecond, in "ts".
constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%eZ %l %v";

// One JSON object per line, keys in the order ts, level, msg (ordered_json) so that a reader
// scanning by eye finds the time first. nlohmann escapes the message (quotes, control characters)
// and, with the replace handler, turns bytes that are not UTF-8 into U+FFFD rather than throwing: a
// log line must never be lost, nor split, because of what a peer sent.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since_epoch = msg.time.time_since_epoch();
    const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
    // gmtime: fmt 9 formats a system_clock time point in local time, and the log is UTC.
    const std::tm utc = fmt::gmtime(
        std::chrono::system_clock::to_time_t(std::chrono::system_clock::time_point(seconds)));
    const std::string ts = fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", utc, millis.count());
    const spdlog::string_view_t level = spdlog::level::to_string_view(msg.level);
    const nlohmann::ordered_json line = {
        {"ts", ts},
        {"level", std::string(level.data(), level.size())},
        {"msg", std::string(msg.payload.data(), msg.payload.size())},
    };
    const std::string text = line.dump(/*indent=*/-1, /*indent_char=*/' ', /*ensure_ascii=*/false,
                                       nlohmann::ordered_json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

void InitLog(bool verbose, LogFormat format) {
  auto logger = spdlog::stderr_logger_mt("duankad");
  if (format == LogFormat::kJson) {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_pattern(kTextPattern, spdlog::pattern_time_type::utc);
  }
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace duanka::daemon
