// GET /: the node's status as one HTML page for an operator's browser, rendered on the server from
// the snapshot GET /v1/status answers with (no JavaScript, no external assets, a Content-Security-
// Policy that forbids both). Every value from the snapshot is HTML-escaped: peer addresses,
// reasons and errors come from the network.
//
// Sections, each an element with a stable id, and every figure an element with an id or data-*
// attributes holding the raw value (tests and scrapers read those, not the text around them):
//   #node      institution, consortium, now, lookups per minute (#lookups-per-minute)
//   #peers     every configured peer and every institution with a session: tr[data-peer]
//              with data-state (ready, connecting, refused, invalid) and data-lag
//   #feeds     tr[data-feed] with data-seq, data-head, data-frozen, data-last-grew
//   #lag       per peer, the feeds it holds further than this node: tr[data-peer][data-feed]
//              with data-their-seq, data-our-seq; #lag-total holds the sum
//   #forks     forks held as evidence (li[data-fork]) and frozen feeds (#frozen-feeds)
//   #epochs    the CRL in force (#crl-number, or #crl-none) and the pepper (#pepper-epochs)
//   #alerts    the watch list's size (#watch-entries) and the alerts raised (#alerts-raised),
//              each "unknown" when the store could not say; #alerts-pending, the webhook's
//              backlog: without a webhook, 0 with data-configured="false"
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace duanka::daemon {

inline constexpr std::string_view kContentTypeHtml = "text/html; charset=utf-8";

// Seconds between the page's own reloads (a meta refresh, not a script).
inline constexpr int kStatusPageRefreshSeconds = 30;

// What the page shows beside the snapshot.
struct StatusPageFigures {
  // Lookups the API answered in the last minute; nullopt if not counted.
  std::optional<uint64_t> lookups_last_minute;
  // Alerts not yet delivered by the webhook; nullopt while no webhook is configured.
  std::optional<uint64_t> alerts_pending;
  // Pairs (customer, reference) on the watch list, and alerts raised in this store (its newest
  // alert id); nullopt when unknown.
  std::optional<uint64_t> watch_entries;
  std::optional<uint64_t> alerts_raised;
};

// The page for `status` (GET /v1/status's object). A snapshot missing keys or holding values of
// other types renders what it has, with the rest shown as unknown; never throws on its content.
std::string RenderStatusPage(const nlohmann::json& status, const StatusPageFigures& figures);

// `text` safe inside an element and inside a double- or single-quoted attribute.
std::string HtmlEscape(std::string_view text);

}  // namespace duanka::daemon
