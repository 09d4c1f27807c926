// The test side of the API contract (docs/api/openapi.yaml): every HTTP response a test receives
// from the daemon's API is appended, as one JSON line, to DUANKA_API_RECORD_DIR/<pid>.jsonl, and
// the ctest test `api_contract` (tests/api/validate_responses.py) checks each line against the
// spec. Without the variable nothing is recorded, so a test run by hand is unaffected.
//
// Header-only: the integration harness and the unit-level API test link nothing in common.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace duanka::api_record {

inline constexpr const char* kRecordDirVariable = "DUANKA_API_RECORD_DIR";

// Appends one response. `target` is the request target as sent (a query is kept: the validator
// strips it as the router does). Thread-safe; never throws; a record that cannot be written is
// reported on stderr once per process, and the validator then finds it missing.
inline void Record(std::string_view method, std::string_view target, unsigned status,
                   std::string_view content_type, std::string_view body) noexcept {
  const char* dir = std::getenv(kRecordDirVariable);
  if (dir == nullptr || *dir == '\0') return;
  static std::mutex mutex;
  static bool warned = false;
  try {
    nlohmann::json line = {{"source", program_invocation_short_name},
                           {"method", method},
                           {"path", target},
                           {"status", status},
                           {"content_type", content_type},
                           {"body", body}};
    // Bodies are the daemon's bytes; replacing invalid UTF-8 keeps the line valid JSON, and the
    // replacement then fails any schema that constrains the text.
    std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += '\n';
    std::lock_guard<std::mutex> lock(mutex);
    const std::string path = std::string(dir) + "/" + std::to_string(::getpid()) + ".jsonl";
    // O_APPEND and one write per line: other threads' lines never interleave with this one.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ssize_t written = fd < 0 ? -1 : ::write(fd, text.data(), text.size());
    const int saved = errno;
    if (fd >= 0) ::close(fd);
    if (written != static_cast<ssize_t>(text.size()) && !warned) {
      warned = true;
      std::fprintf(stderr, "api_record: cannot append to %s: %s\n", path.c_str(),
                   written < 0 ? std::strerror(saved) : "short write");
    }
  } catch (...) {
    // Only memory exhaustion gets here; a test must not fail for its bookkeeping.
  }
}

}  // namespace duanka::api_record
