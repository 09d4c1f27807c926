#include "node/daemon/status_page.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "node/common/human_time.h"

namespace duanka::daemon {
namespace {

using json = nlohmann::json;

// Of a head's 64 hex digits, the page shows these; the whole hash is in data-head and the title.
constexpr size_t kShownHashDigits = 16;
constexpr int64_t kSecondsPerMinute = 60;
constexpr int64_t kSecondsPerHour = 3600;
constexpr int64_t kSecondsPerDay = 86400;

// Plain, legible, and printable as it is; no asset outside the page.
constexpr std::string_view kStyle =
    "body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:75em;padding:0 1em;"
    "color:#1b1f24;background:#fff}"
    "h1{font-size:1.6em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.6em 0 .4em;"
    "border-bottom:1px solid #d0d7de;padding-bottom:.2em}"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25em .6em;"
    "border-bottom:1px solid #eaeef2;vertical-align:top}th{background:#f6f8fa;font-weight:600}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:.92em}"
    ".ready{color:#116329;font-weight:600}.connecting{color:#9a6700;font-weight:600}"
    ".refused,.invalid,.bad{color:#cf222e;font-weight:600}.muted{color:#57606a}"
    "tr.frozen td{background:#ffebe9}.figure{font-size:1.25em;font-weight:600}";

const json& Field(const json& j, const char* key) {
  static const json kNone;
  if (!j.is_object()) return kNone;
  auto it = j.find(key);
  return it == j.end() ? kNone : *it;
}

const json& List(const json& j, const char* key) {
  static const json kEmpty = json::array();
  const json& v = Field(j, key);
  return v.is_array() ? v : kEmpty;
}

std::string Str(const json& j, const char* key) {
  const json& v = Field(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

std::optional<uint64_t> Unsigned(const json& j, const char* key) {
  const json& v = Field(j, key);
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0)
    return static_cast<uint64_t>(v.get<int64_t>());
  return std::nullopt;
}

std::optional<int64_t> Signed(const json& j, const char* key) {
  const json& v = Field(j, key);
  if (v.is_number_integer()) return v.get<int64_t>();
  return std::nullopt;
}

bool Flag(const json& j, const char* key) {
  const json& v = Field(j, key);
  return v.is_boolean() && v.get<bool>();
}

// Unix seconds of an ISO time from the snapshot.
std::optional<int64_t> Moment(const std::string& iso) {
  if (iso.empty()) return std::nullopt;
  Result<int64_t> at = node::ParseMoment("time", iso);
  return at ? std::optional<int64_t>(*at) : std::nullopt;
}

std::string Ago(int64_t seconds) {
  if (seconds < 0) return "in " + std::to_string(-seconds) + " s";
  if (seconds < kSecondsPerMinute) return std::to_string(seconds) + " s ago";
  if (seconds < kSecondsPerHour) return std::to_string(seconds / kSecondsPerMinute) + " min ago";
  if (seconds < kSecondsPerDay) return std::to_string(seconds / kSecondsPerHour) + " h ago";
  return std::to_string(seconds / kSecondsPerDay) + " d ago";
}

std::string Number(std::optional<uint64_t> v) {
  return v ? std::to_string(*v) : "?";
}

class Page {
 public:
  // Markup written by this file: never anything from the snapshot.
  Page& operator<<(std::string_view markup) {
    out_ += markup;
    return *this;
  }
  // A value from the snapshot, as text or inside a double-quoted attribute.
  Page& Esc(std::string_view text) {
    out_ += HtmlEscape(text);
    return *this;
  }
  Page& Esc(uint64_t v) { return *this << std::to_string(v); }
  // ` name="value"`, the value escaped.
  Page& Attr(std::string_view name, std::string_view value) {
    *this << " " << name << "=\"";
    return Esc(value) << "\"";
  }
  Page& Attr(std::string_view name, uint64_t value) { return Attr(name, std::to_string(value)); }
  // A <time> for an ISO time, in the operators' zone, with how long ago relative to `now`.
  Page& Time(const std::string& iso, std::optional<int64_t> now, std::string_view id = {}) {
    std::optional<int64_t> at = Moment(iso);
    if (!at) return *this << "<span class=\"muted\">unknown</span>";
    *this << "<time";
    if (!id.empty()) Attr("id", id);
    Attr("datetime", iso) << ">";
    Esc(node::HumanMinute(*at)) << "</time>";
    if (now) *this << " <span class=\"muted\">(" << Ago(*now - *at) << ")</span>";
    return *this;
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// What the page knows of one institution it peers with, from the configured peers and the open
// sessions together.
struct PeerRow {
  const json* configured = nullptr;
  std::vector<const json*> sessions;
};

void NodeSection(Page& p, const json& status, const StatusPageFigures& figures) {
  const std::string institution = Str(status, "institution");
  const std::string consortium = Str(status, "consortium");
  p << "<header id=\"node\"><h1>duanka · <span id=\"institution\"";
  p.Attr("data-value", institution) << ">";
  p.Esc(institution.empty() ? "unknown institution" : institution) << "</span></h1>\n<p>";
  p << "Consortium <span id=\"consortium\"";
  p.Attr("data-value", consortium) << ">";
  p.Esc(consortium.empty() ? "unknown" : consortium) << "</span> · as of ";
  p.Time(Str(status, "now"), std::nullopt, "now");
  p << " · <span id=\"lookups-per-minute\" class=\"figure\"";
  if (figures.lookups_last_minute) {
    p.Attr("data-value", *figures.lookups_last_minute) << ">";
    p.Esc(*figures.lookups_last_minute);
  } else {
    p << ">not counted";
  }
  p << "</span> lookups in the last minute (API)</p>\n";
  const json& totals = Field(status, "totals");
  p << "<p id=\"totals\"";
  p.Attr("data-feeds", Number(Unsigned(totals, "feeds")));
  p.Attr("data-entries", Number(Unsigned(totals, "entries")));
  p.Attr("data-active", Number(Unsigned(totals, "active"))) << ">";
  p << Number(Unsigned(totals, "feeds")) << " feeds, " << Number(Unsigned(totals, "records"))
    << " records, " << Number(Unsigned(totals, "entries")) << " entries ("
    << Number(Unsigned(totals, "active")) << " active, " << Number(Unsigned(totals, "revoked"))
    << " revoked, " << Number(Unsigned(totals, "expired")) << " expired); "
    << Number(Unsigned(Field(status, "store"), "bytes_on_disk")) << " bytes on disk; "
    << Number(Unsigned(status, "pending_revocations")) << " revocations pending</p></header>\n";
}

void PeersSection(Page& p, const json& status) {
  std::vector<std::string> order;
  std::map<std::string, PeerRow> rows;
  for (const json& c : List(status, "configured_peers")) {
    std::string who = Str(c, "institution");
    if (!rows.count(who)) order.push_back(who);
    rows[who].configured = &c;
  }
  std::set<std::string> unconfigured;
  // This node's read replicas are not peer institutions: one line after the table names them.
  std::vector<std::string> replicas;
  for (const json& s : List(status, "peers")) {
    if (Flag(s, "replica")) {
      replicas.push_back(Str(s, "address"));
      continue;
    }
    std::string who = Str(s, "institution");
    if (!rows.count(who)) unconfigured.insert(who);
    rows[who].sessions.push_back(&s);
  }
  order.insert(order.end(), unconfigured.begin(), unconfigured.end());

  p << "<section id=\"peers\"><h2>Peers</h2>\n";
  if (!replicas.empty()) {
    p << "<p id=\"replicas\"";
    p.Attr("data-value", replicas.size()) << ">Read replicas of this node connected: ";
    for (size_t i = 0; i < replicas.size(); ++i) p.Esc((i ? ", " : "") + replicas[i]);
    p << "</p>\n";
  }
  if (order.empty()) {
    p << "<p id=\"peers-none\">No peer is configured (network.peers) and none is connected.</p>"
         "</section>\n";
    return;
  }
  p << "<table><thead><tr><th>Institution</th><th>State</th><th>Address</th>"
       "<th class=\"n\">Connections</th><th class=\"n\">Records it holds, we lack</th>"
       "<th class=\"n\">Clock skew</th><th>Detail</th></tr>"
       "</thead><tbody>\n";
  for (const std::string& who : order) {
    const PeerRow& row = rows[who];
    bool ready = false;
    std::optional<uint64_t> lag;
    std::optional<int64_t> skew;
    for (const json* s : row.sessions) {
      if (!Flag(*s, "ready")) continue;
      ready = true;
      if (std::optional<uint64_t> l = Unsigned(*s, "lag_records")) {
        lag = std::max(lag.value_or(0), *l);
      }
      if (std::optional<int64_t> k = Signed(*s, "clock_skew_seconds")) skew = k;
    }
    std::string state;
    std::string address;
    std::string detail;
    uint64_t connections = row.sessions.size();
    if (row.configured != nullptr) {
      state = Str(*row.configured, "state");
      address = Str(*row.configured, "address");
      connections = Unsigned(*row.configured, "connections").value_or(connections);
      std::string reason = Str(*row.configured, "reason");
      std::string until = Str(*row.configured, "until");
      std::string last_error = Str(*row.configured, "last_error");
      if (!reason.empty()) detail = reason;
      if (!until.empty()) detail += (detail.empty() ? "" : "; ") + std::string("until ") + until;
      if (!last_error.empty()) detail += (detail.empty() ? "" : "; ") + ("last: " + last_error);
    } else {
      state = ready ? "ready" : "connecting";
      for (const json* s : row.sessions) {
        if (!address.empty()) address += ", ";
        address += Str(*s, "address") + " (" + Str(*s, "direction") + ")";
      }
      detail = "not in network.peers: it dialled this node";
    }
    if (state.empty()) state = "unknown";
    p << "<tr";
    p.Attr("data-peer", who).Attr("data-state", state);
    p.Attr("data-configured", row.configured != nullptr ? "true" : "false");
    if (lag) p.Attr("data-lag", *lag);
    p << "><td><strong>";
    p.Esc(who) << "</strong></td><td><span";
    // The class only selects a colour; an unknown state gets none.
    const bool known =
        state == "ready" || state == "connecting" || state == "refused" || state == "invalid";
    if (known) p << " class=\"" << state << "\"";
    p << ">";
    p.Esc(state) << "</span></td><td><code>";
    p.Esc(address) << "</code></td><td class=\"n\">" << std::to_string(connections)
                   << "</td><td class=\"n\">";
    if (lag) {
      p.Esc(*lag);
    } else {
      p << "<span class=\"muted\">—</span>";
    }
    p << "</td><td class=\"n\">";
    if (skew) {
      p << (*skew > 0 ? "+" : "") << std::to_string(*skew) << " s";
    } else {
      p << "<span class=\"muted\">—</span>";
    }
    p << "</td><td>";
    p.Esc(detail) << "</td></tr>\n";
  }
  p << "</tbody></table></section>\n";
}

void FeedsSection(Page& p, const json& status, std::optional<int64_t> now) {
  p << "<section id=\"feeds\"><h2>Feeds</h2>\n";
  const json& feeds = List(status, "feeds");
  if (feeds.empty()) {
    p << "<p id=\"feeds-none\">No feed is held yet.</p></section>\n";
    return;
  }
  p << "<table><thead><tr><th>Issuer</th><th class=\"n\">Head seq</th><th>Head</th><th>Last "
       "grew</th>"
       "<th class=\"n\">Entries</th><th class=\"n\">Active</th><th class=\"n\">Revoked</th>"
       "<th class=\"n\">Expired</th><th class=\"n\">Revocations</th>"
       "<th>State</th></tr></thead><tbody>\n";
  for (const json& f : feeds) {
    const std::string issuer = Str(f, "issuer");
    const std::string head = Str(f, "head");
    const std::string grew = Str(f, "last_grew_at");
    const std::optional<uint64_t> seq = Unsigned(f, "seq");
    const bool frozen = Flag(f, "frozen");
    p << "<tr";
    if (frozen) p << " class=\"frozen\"";
    p.Attr("data-feed", issuer).Attr("data-seq", seq.value_or(0)).Attr("data-head", head);
    p.Attr("data-frozen", frozen ? "true" : "false").Attr("data-last-grew", grew);
    p << "><td><strong>";
    p.Esc(issuer) << "</strong></td><td class=\"n seq\">" << Number(seq) << "</td><td><code";
    p.Attr("title", head) << ">";
    p.Esc(head.substr(0, kShownHashDigits)) << "</code></td><td>";
    // A feed that never grew here has no time (IsoTime(0)): say so rather than show 1970.
    std::optional<int64_t> at = Moment(grew);
    if (at && *at > 0) {
      p.Time(grew, now);
    } else {
      p << "<span class=\"muted\">never</span>";
    }
    p << "</td>";
    for (const char* key : {"entries", "active", "revoked", "expired", "revocations"}) {
      p << "<td class=\"n\">" << Number(Unsigned(f, key)) << "</td>";
    }
    p << "<td>";
    if (frozen) {
      p << "<span class=\"bad\">frozen</span>";
      if (std::optional<uint64_t> fork = Unsigned(f, "fork_seq")) {
        p << " at the fork at seq " << std::to_string(*fork);
      }
    } else {
      p << "growing";
    }
    p << "</td></tr>\n";
  }
  p << "</tbody></table></section>\n";
}

void LagSection(Page& p, const json& status) {
  // Per peer institution (its sessions merged) and feed: the peer's furthest seq, and ours.
  std::map<std::string, std::map<std::string, std::pair<uint64_t, uint64_t>>> behind;
  size_t ready_peers = 0;
  std::set<std::string> seen;
  for (const json& s : List(status, "peers")) {
    if (!Flag(s, "ready") || Flag(s, "replica")) continue;
    const std::string who = Str(s, "institution");
    if (seen.insert(who).second) ++ready_peers;
    for (const json& b : List(s, "behind")) {
      auto& [theirs, ours] = behind[who][Str(b, "issuer")];
      theirs = std::max(theirs, Unsigned(b, "their_seq").value_or(0));
      ours = Unsigned(b, "our_seq").value_or(ours);
    }
  }
  // Records some peer holds that this node does not: per feed, the furthest peer counts.
  std::map<std::string, uint64_t> missing;
  for (const auto& [who, feeds] : behind) {
    for (const auto& [issuer, seqs] : feeds) {
      if (seqs.first > seqs.second) {
        missing[issuer] = std::max(missing[issuer], seqs.first - seqs.second);
      }
    }
  }
  uint64_t total = 0;
  for (const auto& [issuer, n] : missing) total += n;

  p << "<section id=\"lag\"><h2>Lag behind peers</h2>\n";
  if (ready_peers == 0) {
    p << "<p id=\"lag-unknown\">No peer is connected: the lag cannot be known.</p></section>\n";
    return;
  }
  p << "<p>Records connected peers hold that this node does not yet: <span id=\"lag-total\" "
       "class=\"figure\"";
  p.Attr("data-value", total) << ">" << std::to_string(total) << "</span> (from "
                              << std::to_string(ready_peers) << " connected peer"
                              << (ready_peers == 1 ? "" : "s") << ").</p>\n";
  if (total == 0) {
    p << "<p id=\"lag-none\">Every feed is at the head of every connected peer.</p></section>\n";
    return;
  }
  p << "<table><thead><tr><th>Peer</th><th>Feed</th><th class=\"n\">Their head seq</th>"
       "<th class=\"n\">Our head seq</th>"
       "<th class=\"n\">Behind by</th></tr></thead><tbody>\n";
  for (const auto& [who, feeds] : behind) {
    for (const auto& [issuer, seqs] : feeds) {
      const auto& [theirs, ours] = seqs;
      if (theirs <= ours) continue;
      p << "<tr";
      p.Attr("data-peer", who).Attr("data-feed", issuer);
      p.Attr("data-their-seq", theirs).Attr("data-our-seq", ours) << "><td>";
      p.Esc(who) << "</td><td>";
      p.Esc(issuer) << "</td><td class=\"n\">" << std::to_string(theirs) << "</td><td class=\"n\">"
                    << std::to_string(ours) << "</td><td class=\"n\">"
                    << std::to_string(theirs - ours) << "</td></tr>\n";
    }
  }
  p << "</tbody></table></section>\n";
}

void ForksSection(Page& p, const json& status) {
  p << "<section id=\"forks\"><h2>Forks and frozen feeds</h2>\n";
  std::vector<std::string> frozen;
  for (const json& f : List(status, "feeds")) {
    if (Flag(f, "frozen")) frozen.push_back(Str(f, "issuer"));
  }
  p << "<p>Frozen feeds: <span id=\"frozen-feeds\" class=\"figure";
  p << (frozen.empty() ? "" : " bad") << "\"";
  p.Attr("data-value", frozen.size()) << ">" << std::to_string(frozen.size()) << "</span>";
  for (size_t i = 0; i < frozen.size(); ++i) {
    p << (i == 0 ? " (" : ", ");
    p.Esc(frozen[i]);
  }
  p << (frozen.empty() ? "" : ")") << ". Evidence held: <span id=\"evidence\"";
  p.Attr("data-value", Number(Unsigned(status, "evidence")))
      << ">" << Number(Unsigned(status, "evidence")) << "</span>.</p>\n";
  const json& forks = List(status, "forks");
  if (forks.empty()) {
    p << "<p id=\"forks-none\">No fork held.</p>";
  } else {
    p << "<ul id=\"fork-list\">";
    for (const json& f : forks) {
      const std::string issuer = Str(f, "issuer");
      const std::optional<uint64_t> seq = Unsigned(f, "seq");
      p << "<li";
      p.Attr("data-fork", issuer).Attr("data-seq", seq.value_or(0)) << "><strong>";
      p.Esc(issuer) << "</strong> split at seq " << Number(seq) << "</li>";
    }
    p << "</ul>";
  }
  p << "</section>\n";
}

void JoinNumbers(Page& p, const json& list) {
  bool first = true;
  for (const json& v : list) {
    if (!v.is_number_unsigned() && !v.is_number_integer()) continue;
    p << (first ? "" : ", ") << v.dump();
    first = false;
  }
  if (first) p << "none";
}

void EpochsSection(Page& p, const json& status, std::optional<int64_t> now) {
  p << "<section id=\"epochs\"><h2>CRL and pepper epochs</h2>\n";
  const json& crl = Field(status, "crl");
  if (crl.is_object()) {
    const bool expired = Flag(crl, "expired");
    p << "<p>CRL number <span id=\"crl-number\" class=\"figure\"";
    p.Attr("data-value", Number(Unsigned(crl, "number")))
        << ">" << Number(Unsigned(crl, "number")) << "</span>, issued ";
    p.Time(Str(crl, "this_update"), now) << "; next update ";
    p.Time(Str(crl, "next_update"), std::nullopt);
    p << "; <span id=\"crl-revoked\"";
    p.Attr("data-value", Number(Unsigned(crl, "revoked")))
        << ">" << Number(Unsigned(crl, "revoked")) << "</span> certificates revoked";
    if (expired) p << " · <span id=\"crl-expired\" class=\"bad\">past its next update</span>";
    p << ".</p>\n";
  } else {
    p << "<p id=\"crl-none\">No CRL is in force.</p>\n";
  }
  const json& pepper = Field(status, "pepper");
  std::string epochs;
  for (const json& e : List(pepper, "epochs")) {
    if (e.is_number_integer()) epochs += (epochs.empty() ? "" : " ") + e.dump();
  }
  p << "<p>Pepper epochs held: <span id=\"pepper-epochs\" class=\"figure\"";
  p.Attr("data-value", epochs) << ">";
  JoinNumbers(p, List(pepper, "epochs"));
  p << "</span>";
  const json& missing = List(pepper, "epochs_missing");
  if (!missing.empty()) {
    p << " · <span id=\"pepper-missing\" class=\"bad\">missing epochs ";
    JoinNumbers(p, missing);
    p << ", held by ";
    bool first = true;
    for (const json& who : List(pepper, "peers_ahead")) {
      p << (first ? "" : ", ");
      p.Esc(who.is_string() ? who.get<std::string>() : std::string("?"));
      first = false;
    }
    p << "</span>";
  }
  p << ".</p></section>\n";
}

// A figure the store may fail to give: its value, or "unknown" without data-value.
void OptionalFigure(Page& p, std::string_view id, const std::optional<uint64_t>& value) {
  p << "<span id=\"" << id << "\" class=\"figure\"";
  if (value) {
    p.Attr("data-value", *value) << ">";
    p.Esc(*value) << "</span>";
  } else {
    p << "><span class=\"muted\">unknown</span></span>";
  }
}

void AlertsSection(Page& p, const StatusPageFigures& figures) {
  p << "<section id=\"alerts\"><h2>Alerts</h2>\n<p>Watch list: ";
  OptionalFigure(p, "watch-entries", figures.watch_entries);
  p << " customer references · alerts raised: ";
  OptionalFigure(p, "alerts-raised", figures.alerts_raised);
  p << "</p>\n<p>Alerts pending: <span id=\"alerts-pending\" class=\"figure\"";
  if (figures.alerts_pending) {
    p.Attr("data-value", *figures.alerts_pending).Attr("data-configured", "true") << ">";
    p.Esc(*figures.alerts_pending) << "</span></p>";
  } else {
    // Pending counts the webhook's backlog: without one, a 0 that says why, not a count nobody
    // kept (GET /v1/alerts and `duanka alerts` readers keep their own cursors).
    p << " data-value=\"0\" data-configured=\"false\">0</span> "
         "<span class=\"muted\">(alert webhook: not configured)</span></p>";
  }
  p << "</section>\n";
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderStatusPage(const nlohmann::json& status, const StatusPageFigures& figures) {
  const std::optional<int64_t> now = Moment(Str(status, "now"));
  const std::string institution = Str(status, "institution");
  Page p;
  p << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
       "style-src 'unsafe-inline'\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       "<meta http-equiv=\"refresh\" content=\""
    << std::to_string(kStatusPageRefreshSeconds) << "\">\n<title>";
  p.Esc(institution.empty() ? "duanka" : institution)
      << " · duanka status</title>\n<style>" << kStyle << "</style></head>\n<body>\n";
  NodeSection(p, status, figures);
  PeersSection(p, status);
  FeedsSection(p, status, now);
  LagSection(p, status);
  ForksSection(p, status);
  EpochsSection(p, status, now);
  AlertsSection(p, figures);
  p << "<footer class=\"muted\"><p>" << node::kHumanTimeZoneNote << " This page reloads every "
    << std::to_string(kStatusPageRefreshSeconds)
    << " s; the same figures as JSON: <a href=\"/v1/status\">/v1/status</a>, "
       "<a href=\"/metrics\">/metrics</a>.</p></footer>\n</body></html>\n";
  return p.Take();
}

}  // namespace duanka::daemon
