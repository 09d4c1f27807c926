// The alert feed as every delivery renders it (GET /v1/alerts, `duanka alerts --json`, the
// webhook), so that an integrator parses one shape whichever way the alerts reach it, and the
// audit lines that record each delivery. The alerts themselves are the store's (store::Alert).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace duanka::node {

// The most alerts one read of the feed returns (an HTTP response, a webhook POST, a CLI page):
// a consumer far behind catches up in pages of this size.
inline constexpr size_t kAlertPageSize = 500;
// The longest a long poll (GET /v1/alerts?wait=S) is held open; a larger wait is refused.
inline constexpr std::chrono::seconds kAlertMaxWait{60};
// The most long polls held at once: each holds an API connection, and beyond this a few
// consumers could take the connections lookups need (below limits.max_api_connections' default
// of 256). A further request with wait=S is answered at once with the current page.
inline constexpr size_t kMaxAlertWaiters = 8;
// The webhook's cursor in the store (Store::AlertCursor).
inline constexpr std::string_view kWebhookCursor = "webhook";

// {"id":N,"kind":"listed"|"cleared","at":"<ISO time>","subject":"<hex>","entry":"ISSUER:SEQ",
//  "issuer":…,"seq":…,"type":…,"category":…,"basis":…,"issued_at":…,"expires_at":…,
//  "reason":…|null,"refs":[…]}. One object, no newline.
std::string AlertJson(const store::Alert& alert);
// {"alerts":[…],"last_id":N}: a page of alerts and the newest alert id held (a consumer that
// got an empty page knows it is up to date).
std::string AlertPageJson(const std::vector<store::Alert>& alerts, uint64_t last_id);

// One audit line for alerts handed to a consumer: `action` ("alerts-read" for a CLI or API read,
// "alerts-delivered" for a webhook 2xx), who, the first and last alert ids and how many. Neither
// refs nor subjects: the alerts themselves are in the store.
std::string AlertDeliveryAuditJson(int64_t now, std::string_view program, std::string_view user,
                                   std::string_view action,
                                   const std::vector<store::Alert>& alerts);

}  // namespace duanka::node
