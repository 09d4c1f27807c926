#include "node/daemon/http_types.h"

#include <nlohmann/json.hpp>

namespace duanka::daemon {

ApiReply ErrorReply(unsigned status, std::string_view message) {
  ApiReply reply;
  reply.status = status;
  // Messages are ours (never an identifier), but dump() still escapes them into valid JSON.
  reply.body = nlohmann::json{{"error", message}}.dump(-1, ' ', false,
                                                       nlohmann::json::error_handler_t::replace);
  reply.body += '\n';
  return reply;
}

}  // namespace duanka::daemon
