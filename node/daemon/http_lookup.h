// POST /v1/lookup and POST /v1/lookup/batch: a JSON body in, audited answers out. No sockets:
// the connection hands over the body and the client's name for the audit log.
//
// Rules, as for the lookup CLI (design.md section 7): the purpose is required; an invalid
// identifier is a 400 whose message names the type and the reason, never the value; every answer
// is written to the audit log before it is returned, and when the audit log cannot be written the
// lookup is refused (503) rather than answered unaudited.
#pragma once

#include <cstddef>
#include <string_view>

#include "node/daemon/http_api.h"
#include "node/daemon/http_types.h"

namespace duanka::daemon {

// The `program` field of the API's audit lines.
inline constexpr std::string_view kAuditProgram = "duankad";

class LookupApi {
 public:
  // REQUIRES: backend.lookuper and backend.audit are set; both outlive this object.
  LookupApi(const ApiBackend& backend, size_t max_batch_items)
      : backend_(backend), max_batch_items_(max_batch_items) {}

  // {"type","value","purpose"[,"all"]} → the AnswerJson of `duanka lookup --json`.
  // Thread-safe. `user` is recorded in the audit line.
  ApiReply Lookup(std::string_view body, std::string_view user) const;

  // {"purpose","items":[{"type","value"},…][,"all"]} → {"results":[…],"store":{…}}, one result
  // per item in order (an AnswerJson, or {"error":…} for an invalid item). Audit: one line per
  // listed item (node::BatchItemAudit) and one of counts for the request.
  ApiReply Batch(std::string_view body, std::string_view user) const;

  // {"type","value"[,"purpose":"appeal"]} → node::ExplainJson, as `duanka explain --json`: the
  // notice for the person asking. Audited as a lookup with purpose appeal (any other purpose is a
  // 400: a notice is for the person's appeal, not for screening). Thread-safe.
  ApiReply Explain(std::string_view body, std::string_view user) const;

 private:
  int64_t Now() const;

  const ApiBackend& backend_;
  size_t max_batch_items_;
};

}  // namespace duanka::daemon
