#include "node/daemon/http_lookup.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <variant>

#include "node/common/explain.h"
#include "protocol/identifier.h"

namespace duanka::daemon {
namespace {

using nlohmann::json;

const std::string& TypeExpectation() {
  static const std::string text = [] {
    std::string names;
    for (protocol::IdType t : protocol::AllIdTypes()) {
      if (!names.empty()) names += ", ";
      names += protocol::IdTypeName(t);
    }
    return "type: expected one of " + names;
  }();
  return text;
}

// The body as a JSON object, or nullopt. nlohmann's own parse messages quote the input near the
// error, which may be the identifier, so they are never shown.
std::optional<json> ParseObject(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

Result<node::Purpose> PurposeField(const json& j) {
  auto it = j.find("purpose");
  if (it != j.end() && it->is_string()) {
    if (auto p = node::ParsePurpose(it->get_ref<const std::string&>())) return *p;
  }
  return MakeError(ErrorKind::kInvalidInput, "purpose: expected one of " + node::AllPurposeNames());
}

Result<bool> AllField(const json& j) {
  auto it = j.find("all");
  if (it == j.end()) return false;
  if (!it->is_boolean()) return MakeError(ErrorKind::kInvalidInput, "all: expected true or false");
  return it->get<bool>();
}

// An item's "type" and "value" (the value is a view into `j`).
struct Identifier {
  protocol::IdType type;
  std::string_view value;
};

Result<Identifier> IdentifierFields(const json& j) {
  auto type = j.find("type");
  std::optional<protocol::IdType> parsed;
  if (type != j.end() && type->is_string()) {
    parsed = protocol::ParseIdType(type->get_ref<const std::string&>());
  }
  if (!parsed) return MakeError(ErrorKind::kInvalidInput, TypeExpectation());
  auto value = j.find("value");
  if (value == j.end() || !value->is_string()) {
    return MakeError(ErrorKind::kInvalidInput, "value: expected a string");
  }
  return Identifier{*parsed, value->get_ref<const std::string&>()};
}

// A batch item: {"type","value"}.
Result<Identifier> ItemFields(const json& item) {
  if (!item.is_object()) {
    return MakeError(ErrorKind::kInvalidInput, "item: expected an object {\"type\",\"value\"}");
  }
  return IdentifierFields(item);
}

// One lookup, timed for the latency histogram around exactly the Lookuper's work.
Result<node::LookupAnswer> TimedLookup(const ApiBackend& backend, const Identifier& id,
                                       int64_t now) {
  auto start = std::chrono::steady_clock::now();
  // Details (case references, revocations) cost a second read per entry found, none otherwise;
  // with them the answer is the CLI's, field for field.
  Result<node::LookupAnswer> answer =
      backend.lookuper->Lookup(id.type, id.value, now, /*details=*/true);
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  if (backend.metrics != nullptr) {
    bool invalid = !answer && answer.error().kind == ErrorKind::kInvalidInput;
    if (answer || invalid)
      backend.metrics->CountLookup(answer && answer->listed(), invalid, took.count());
  }
  return answer;
}

ApiReply AuditFailure(const ApiBackend& backend, const Error& error) {
  if (backend.metrics != nullptr) backend.metrics->CountAuditFailure();
  return ErrorReply(kUnavailable,
                    error.message + "; lookups are refused while the audit log cannot be written");
}

// The grading for this request's answers: read once per request (a batch is graded alike).
Result<std::shared_ptr<const node::GradingPolicy>> RequestPolicy(const ApiBackend& backend) {
  if (backend.policy == nullptr) {
    return std::shared_ptr<const node::GradingPolicy>(std::shared_ptr<void>(),
                                                      &node::DefaultPolicy());
  }
  return backend.policy->Get();
}

ApiReply JsonReply(std::string body) {
  ApiReply reply;
  reply.body = std::move(body);
  reply.body += '\n';
  return reply;
}

// One identifier looked up and audited (`action` for `purpose`) before anything leaves: if the
// audit line cannot be written there is no answer. An error reply when either fails.
std::variant<node::LookupAnswer, ApiReply> LookUpAudited(const ApiBackend& backend,
                                                         const Identifier& id, int64_t now,
                                                         std::string_view user,
                                                         node::Purpose purpose,
                                                         std::string_view action) {
  Result<node::LookupAnswer> answer = TimedLookup(backend, id, now);
  if (!answer) {
    // Canonicalize's message names the type and the reason, never the value.
    const Error& e = answer.error();
    return ErrorReply(e.kind == ErrorKind::kInvalidInput ? kBadRequest : kInternalError, e.message);
  }
  Status audited =
      backend.audit->Append(node::LookupAuditJson(now, kAuditProgram, user, purpose, id.type,
                                                  answer->subject, answer->result(), action),
                            /*sync=*/false);
  if (!audited) return AuditFailure(backend, audited.error());
  return std::move(*answer);
}

}  // namespace

int64_t LookupApi::Now() const {
  return backend_.now ? backend_.now() : node::SystemNow();
}

ApiReply LookupApi::Lookup(std::string_view body, std::string_view user) const {
  std::optional<json> j = ParseObject(body);
  if (!j) {
    return ErrorReply(kBadRequest, "body: expected a JSON object {\"type\",\"value\",\"purpose\"}");
  }
  Result<node::Purpose> purpose = PurposeField(*j);
  if (!purpose) return ErrorReply(kBadRequest, purpose.error().message);
  Result<bool> all = AllField(*j);
  if (!all) return ErrorReply(kBadRequest, all.error().message);
  Result<Identifier> id = IdentifierFields(*j);
  if (!id) return ErrorReply(kBadRequest, id.error().message);

  const int64_t now = Now();
  std::variant<node::LookupAnswer, ApiReply> looked =
      LookUpAudited(backend_, *id, now, user, *purpose, "lookup");
  if (ApiReply* refused = std::get_if<ApiReply>(&looked)) return std::move(*refused);
  const node::LookupAnswer* answer = &std::get<node::LookupAnswer>(looked);

  Result<std::shared_ptr<const node::GradingPolicy>> policy = RequestPolicy(backend_);
  if (!policy) return ErrorReply(kInternalError, policy.error().message);
  const node::RiskSummary risk =
      node::Summarize(answer->listings, now, **policy, backend_.local_grading, *purpose);
  if (!backend_.heads) return JsonReply(node::AnswerJson(*answer, *all, nullptr, &risk));
  std::vector<store::Head> heads = backend_.heads();
  return JsonReply(node::AnswerJson(*answer, *all, &heads, &risk));
}

ApiReply LookupApi::Explain(std::string_view body, std::string_view user) const {
  std::optional<json> j = ParseObject(body);
  if (!j) {
    return ErrorReply(kBadRequest, "body: expected a JSON object {\"type\",\"value\"}");
  }
  if (auto p = j->find("purpose"); p != j->end() && !(p->is_string() && *p == "appeal")) {
    return ErrorReply(kBadRequest,
                      "purpose: expected appeal (or none): an explanation is for the person's "
                      "appeal; screening uses POST /v1/lookup");
  }
  Result<Identifier> id = IdentifierFields(*j);
  if (!id) return ErrorReply(kBadRequest, id.error().message);
  const int64_t now = Now();
  std::variant<node::LookupAnswer, ApiReply> looked =
      LookUpAudited(backend_, *id, now, user, node::Purpose::kAppeal, "explain");
  if (ApiReply* refused = std::get_if<ApiReply>(&looked)) return std::move(*refused);
  const node::LookupAnswer* answer = &std::get<node::LookupAnswer>(looked);
  return JsonReply(node::ExplainJson(*answer, now));
}

ApiReply LookupApi::Batch(std::string_view body, std::string_view user) const {
  std::optional<json> j = ParseObject(body);
  if (!j) {
    return ErrorReply(kBadRequest, "body: expected a JSON object {\"purpose\",\"items\"}");
  }
  Result<node::Purpose> purpose = PurposeField(*j);
  if (!purpose) return ErrorReply(kBadRequest, purpose.error().message);
  Result<bool> all = AllField(*j);
  if (!all) return ErrorReply(kBadRequest, all.error().message);
  auto items = j->find("items");
  if (items == j->end() || !items->is_array()) {
    return ErrorReply(kBadRequest, "items: expected an array of {\"type\",\"value\"}");
  }
  if (items->size() > max_batch_items_) {
    return ErrorReply(kPayloadTooLarge, "items: at most " + std::to_string(max_batch_items_) +
                                            " per request; split the batch");
  }

  const int64_t now = Now();
  Result<std::shared_ptr<const node::GradingPolicy>> policy = RequestPolicy(backend_);
  if (!policy) return ErrorReply(kInternalError, policy.error().message);
  node::BatchAuditCounts counts;
  counts.lines = items->size();
  // Each listed item gets its own audit line, as a single lookup would: a targeted lookup must
  // not hide among unlisted ones. The rest are counted in the batch's line.
  node::BatchItemAudit audit_lines(now, kAuditProgram, user, node::PurposeName(*purpose));
  std::string out = "{\"results\":[";
  uint64_t index = 0;
  for (const json& item : *items) {
    if (index > 0) out += ',';
    ++index;
    Result<Identifier> id = ItemFields(item);
    Result<node::LookupAnswer> answer =
        id ? TimedLookup(backend_, *id, now) : Result<node::LookupAnswer>(id.error());
    if (!answer) {
      const Error& e = answer.error();
      // A store failure fails the whole batch: its other answers would be as doubtful.
      if (e.kind != ErrorKind::kInvalidInput) return ErrorReply(kInternalError, e.message);
      ++counts.invalid;
      out += json{{"error", e.message}}.dump();
      continue;
    }
    const bool listed = answer->listed();
    const bool held = answer->held();
    ++(listed ? counts.listed : counts.not_listed);
    if (held) ++counts.held;
    if (listed || held) {
      audit_lines.Add(index, protocol::IdTypeName(answer->type), answer->subject, answer->result());
      if (audit_lines.full()) {
        Status audited = backend_.audit->AppendLines(audit_lines.text(), /*sync=*/false);
        if (!audited) return AuditFailure(backend_, audited.error());
        audit_lines.Clear();
      }
    }
    const node::RiskSummary risk =
        node::Summarize(answer->listings, now, **policy, backend_.local_grading, *purpose);
    out += node::AnswerJson(*answer, *all, nullptr, &risk);
  }
  out += ']';

  // The listed items' lines and the batch's counts, in one write, before any answer leaves.
  audit_lines.AddLine(node::BatchAuditJson(now, kAuditProgram, user, *purpose, counts));
  Status audited = backend_.audit->AppendLines(audit_lines.text(), /*sync=*/false);
  if (!audited) return AuditFailure(backend_, audited.error());

  if (backend_.heads) {
    // Freshness once per batch rather than per result, in exactly AnswerJson's "store" shape.
    std::vector<store::Head> heads = backend_.heads();
    json shape = json::parse(node::AnswerJson(node::LookupAnswer{}, false, &heads));
    out += ",\"store\":";
    out += shape["store"].dump();
  }
  out += '}';
  return JsonReply(std::move(out));
}

}  // namespace duanka::daemon
