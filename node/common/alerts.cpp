#include "node/common/alerts.h"

#include <nlohmann/json.hpp>

#include "node/common/audit.h"

namespace duanka::node {
namespace {

nlohmann::json AlertObject(const store::Alert& a) {
  return {
      {"id", a.id},
      {"kind", store::AlertKindName(a.kind)},
      {"at", IsoTime(a.at)},
      {"subject", a.subject.Hex()},
      {"entry", a.entry.ToString()},
      {"issuer", a.entry.issuer},
      {"seq", a.entry.seq},
      {"type", protocol::IdTypeName(a.id_type)},
      {"category", protocol::CategoryName(a.category)},
      {"basis", protocol::BasisName(a.basis)},
      {"issued_at", IsoTime(a.issued_at)},
      {"expires_at", IsoTime(a.expires_at)},
      {"reason", a.reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.reason)},
      {"refs", a.refs},
  };
}

// Refs are checked ASCII where they are written, but the store takes any bytes: a stray invalid
// UTF-8 byte becomes U+FFFD rather than an exception in a delivery loop.
std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string AlertJson(const store::Alert& alert) {
  return Dump(AlertObject(alert));
}

std::string AlertPageJson(const std::vector<store::Alert>& alerts, uint64_t last_id) {
  nlohmann::json page = nlohmann::json::array();
  for (const store::Alert& a : alerts) page.push_back(AlertObject(a));
  return Dump(nlohmann::json{{"alerts", std::move(page)}, {"last_id", last_id}});
}

std::string AlertDeliveryAuditJson(int64_t now, std::string_view program, std::string_view user,
                                   std::string_view action,
                                   const std::vector<store::Alert>& alerts) {
  nlohmann::json j = {
      {"time", IsoTime(now)}, {"program", program},      {"user", user},
      {"action", action},     {"alerts", alerts.size()},
  };
  if (!alerts.empty()) {
    j["first_id"] = alerts.front().id;
    j["last_id"] = alerts.back().id;
  }
  return Dump(j);
}

}  // namespace duanka::node
