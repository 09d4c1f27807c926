#include "node/daemon/log.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace duanka::daemon {

void InitLog(bool verbose) {
  auto logger = spdlog::stderr_logger_mt("duankad");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace duanka::daemon
