// Metrics: relaxed atomic counters, rendered on demand in the Prometheus text exposition format
// (version 0.0.4): a HELP and a TYPE line per family, then one sample per line.
#include "node/daemon/metrics.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <string_view>

namespace duanka::daemon {
namespace {

constexpr std::array<const char*, kRejectReasons> kRejectReasonNames = {"malformed", "unauthorized",
                                                                        "chain_break", "frozen"};

constexpr double kNanosecondsPerSecond = 1e9;

// Label values may hold any UTF-8; the format requires \, " and newline to be escaped.
void AppendLabelValue(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void AppendNumber(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void AppendNumber(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// Shortest fixed notation that reads back exactly: bucket bounds print as "0.000005", not "5e-06".
void AppendNumber(std::string& out, double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  out.append(buf, ec == std::errc() ? end : buf);
}

void AppendFamily(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

// name{k1="v1",k2="v2"} — labels are (key, value) pairs; none renders the bare name.
struct Label {
  std::string_view key;
  std::string_view value;
};

template <typename T>
void AppendSample(std::string& out, std::string_view name, std::initializer_list<Label> labels,
                  T value) {
  out += name;
  if (labels.size() > 0) {
    out += '{';
    bool first = true;
    for (const Label& l : labels) {
      if (!first) out += ',';
      first = false;
      out += l.key;
      out += "=\"";
      AppendLabelValue(out, l.value);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  AppendNumber(out, value);
  out += '\n';
}

uint64_t Load(const std::atomic<uint64_t>& a) {
  return a.load(std::memory_order_relaxed);
}

}  // namespace

const char* RejectReasonName(RejectReason r) {
  size_t i = static_cast<size_t>(r);
  return i < kRejectReasonNames.size() ? kRejectReasonNames[i] : "unknown";
}

// The monotonic clock in whole seconds: the minute window must not jump with the wall clock.
static int64_t SteadySeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

uint64_t Metrics::LookupsLastMinute() const {
  return lookups_recent_.Count(SteadySeconds());
}

void Metrics::CountLookup(bool listed, bool invalid, double seconds) {
  lookups_recent_.Add(SteadySeconds());
  if (invalid) {
    lookups_invalid_.fetch_add(1, std::memory_order_relaxed);
  } else if (listed) {
    lookups_listed_.fetch_add(1, std::memory_order_relaxed);
  } else {
    lookups_not_listed_.fetch_add(1, std::memory_order_relaxed);
  }
  // Buckets are stored non-cumulative (one increment per lookup) and summed when rendered.
  size_t bucket = kLookupLatencyBuckets.size();  // +Inf
  for (size_t i = 0; i < kLookupLatencyBuckets.size(); ++i) {
    if (seconds <= kLookupLatencyBuckets[i]) {
      bucket = i;
      break;
    }
  }
  latency_buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  double ns = seconds > 0 ? std::round(seconds * kNanosecondsPerSecond) : 0;
  latency_sum_ns_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
}

void Metrics::CountRejected(RejectReason reason, uint64_t n) {
  size_t i = static_cast<size_t>(reason);
  if (i < rejected_.size()) rejected_[i].fetch_add(n, std::memory_order_relaxed);
}

void Metrics::SetSyncLag(const std::string& peer, uint64_t records) {
  std::lock_guard<std::mutex> lock(lag_mutex_);
  sync_lag_[peer] = records;
}

void Metrics::SetPeerClockSkew(const std::string& peer, int64_t seconds) {
  std::lock_guard<std::mutex> lock(lag_mutex_);
  clock_skew_[peer] = seconds;
}

void Metrics::ForgetPeer(const std::string& peer) {
  std::lock_guard<std::mutex> lock(lag_mutex_);
  sync_lag_.erase(peer);
  clock_skew_.erase(peer);
}

std::string Metrics::Render(const store::Stats& stats) const {
  std::string out;
  out.reserve(4096 + stats.issuers.size() * 512);

  // ---- The store ----
  AppendFamily(out, "duanka_records", "gauge", "Records held per issuer's feed.");
  for (const store::IssuerStats& s : stats.issuers) {
    AppendSample(out, "duanka_records", {{"issuer", s.issuer}}, s.records);
  }
  AppendFamily(out, "duanka_entries", "gauge", "Entries per issuer by state.");
  for (const store::IssuerStats& s : stats.issuers) {
    AppendSample(out, "duanka_entries", {{"issuer", s.issuer}, {"state", "active"}},
                 s.active_entries);
    AppendSample(out, "duanka_entries", {{"issuer", s.issuer}, {"state", "revoked"}},
                 s.revoked_entries);
    AppendSample(out, "duanka_entries", {{"issuer", s.issuer}, {"state", "expired"}},
                 s.expired_entries);
    AppendSample(out, "duanka_entries", {{"issuer", s.issuer}, {"state", "held"}}, s.held_entries);
  }
  AppendFamily(out, "duanka_held_entries", "gauge",
               "Entries held by the flood guard (their issuer passed its daily limit), per issuer, "
               "until their day is released.");
  for (const store::IssuerStats& s : stats.issuers) {
    AppendSample(out, "duanka_held_entries", {{"issuer", s.issuer}}, s.held_entries);
  }
  AppendFamily(out, "duanka_flood_limit_crossings_total", "counter",
               "Times an issuer's entries of one day passed its daily limit, seen by this node.");
  AppendSample(out, "duanka_flood_limit_crossings_total", {}, Load(flood_crossings_));
  AppendFamily(out, "duanka_feed_frozen", "gauge",
               "1 when the issuer's feed is frozen after a fork, else 0.");
  for (const store::IssuerStats& s : stats.issuers) {
    AppendSample(out, "duanka_feed_frozen", {{"issuer", s.issuer}}, uint64_t{s.frozen ? 1u : 0u});
  }
  AppendFamily(out, "duanka_feed_last_grew_timestamp_seconds", "gauge",
               "Unix time of the last append to the issuer's feed.");
  for (const store::IssuerStats& s : stats.issuers) {
    AppendSample(out, "duanka_feed_last_grew_timestamp_seconds", {{"issuer", s.issuer}},
                 s.last_grew_at);
  }
  AppendFamily(out, "duanka_pending_revocations", "gauge",
               "Revocations held whose entry has not arrived yet.");
  AppendSample(out, "duanka_pending_revocations", {}, stats.pending_revocations);
  AppendFamily(out, "duanka_evidence", "gauge", "Forks (equivocation evidence) held.");
  AppendSample(out, "duanka_evidence", {}, stats.evidence);
  AppendFamily(out, "duanka_store_bytes", "gauge", "Bytes of the store in use on disk.");
  AppendSample(out, "duanka_store_bytes", {}, stats.bytes_on_disk);

  // ---- Re-screening ----
  AppendFamily(out, "duanka_alerts_raised_total", "counter",
               "Alerts raised in this node's store (a watched customer listed or cleared): its "
               "newest alert id.");
  AppendSample(out, "duanka_alerts_raised_total", {}, Load(alerts_raised_));
  AppendFamily(out, "duanka_watch_list_entries", "gauge",
               "Pairs (customer, reference) on this node's watch list.");
  AppendSample(out, "duanka_watch_list_entries", {}, Load(watch_entries_));

  if (webhook_enabled_.load(std::memory_order_relaxed)) {
    AppendFamily(out, "duanka_alerts_delivered_total", "counter",
                 "Alerts the webhook's receiver acknowledged (2xx) since the daemon started.");
    AppendSample(out, "duanka_alerts_delivered_total", {}, Load(alerts_delivered_));
    AppendFamily(out, "duanka_alerts_pending", "gauge",
                 "Alerts raised and not yet delivered by the webhook (newest id minus its "
                 "cursor).");
    AppendSample(out, "duanka_alerts_pending", {}, Load(alerts_pending_));
    AppendFamily(out, "duanka_alerts_oldest_pending_age_seconds", "gauge",
                 "Seconds since the oldest alert not yet delivered by the webhook was raised (0: "
                 "none pending).");
    AppendSample(out, "duanka_alerts_oldest_pending_age_seconds", {},
                 oldest_pending_age_.load(std::memory_order_relaxed));
    AppendFamily(out, "duanka_alert_webhook_failures_total", "counter",
                 "Webhook POSTs that failed (no connection, a timeout, or a status other than "
                 "2xx).");
    AppendSample(out, "duanka_alert_webhook_failures_total", {}, Load(webhook_failures_));
  }

  // ---- Lookups ----
  AppendFamily(out, "duanka_lookups_total", "counter", "Lookups answered, by result.");
  AppendSample(out, "duanka_lookups_total", {{"result", "listed"}}, Load(lookups_listed_));
  AppendSample(out, "duanka_lookups_total", {{"result", "not_listed"}}, Load(lookups_not_listed_));
  AppendSample(out, "duanka_lookups_total", {{"result", "invalid"}}, Load(lookups_invalid_));

  AppendFamily(out, "duanka_lookup_duration_seconds", "histogram",
               "Time to canonicalize, derive the subject and read the store, per lookup.");
  // _count is the +Inf bucket, so the two always agree even while lookups are being counted.
  uint64_t cumulative = 0;
  char le[64];
  for (size_t i = 0; i < kLookupLatencyBuckets.size(); ++i) {
    cumulative += Load(latency_buckets_[i]);
    auto [end, ec] =
        std::to_chars(le, le + sizeof le, kLookupLatencyBuckets[i], std::chars_format::fixed);
    AppendSample(out, "duanka_lookup_duration_seconds_bucket",
                 {{"le", std::string_view(le, ec == std::errc() ? end : le)}}, cumulative);
  }
  cumulative += Load(latency_buckets_.back());
  AppendSample(out, "duanka_lookup_duration_seconds_bucket", {{"le", "+Inf"}}, cumulative);
  AppendSample(out, "duanka_lookup_duration_seconds_sum", {},
               static_cast<double>(Load(latency_sum_ns_)) / kNanosecondsPerSecond);
  AppendSample(out, "duanka_lookup_duration_seconds_count", {}, cumulative);

  // ---- Peers and sync ----
  AppendFamily(out, "duanka_peers_connected", "gauge",
               "Peer institutions with a session past the hello (institutions, not connections).");
  AppendSample(out, "duanka_peers_connected", {}, peers_connected_.load(std::memory_order_relaxed));
  AppendFamily(out, "duanka_peer_connections", "gauge",
               "Peer sessions open, in either direction (an institution may hold two).");
  AppendSample(out, "duanka_peer_connections", {},
               peer_connections_.load(std::memory_order_relaxed));
  AppendFamily(out, "duanka_records_received_total", "counter", "Records received from peers.");
  AppendSample(out, "duanka_records_received_total", {}, Load(records_received_));
  AppendFamily(out, "duanka_records_appended_total", "counter",
               "Records received from peers that extended a feed.");
  AppendSample(out, "duanka_records_appended_total", {}, Load(records_appended_));
  AppendFamily(out, "duanka_records_uncommitted", "gauge",
               "Records received from peers and not yet committed (a catch-up holds up to each "
               "feed's share plus limits.max_uncommitted_records).");
  AppendSample(out, "duanka_records_uncommitted", {}, Load(records_uncommitted_));
  AppendFamily(out, "duanka_records_rejected_total", "counter",
               "Records from peers refused, by reason.");
  for (size_t i = 0; i < kRejectReasons; ++i) {
    AppendSample(out, "duanka_records_rejected_total", {{"reason", kRejectReasonNames[i]}},
                 Load(rejected_[i]));
  }
  AppendFamily(out, "duanka_sync_lag_records", "gauge",
               "Records a peer holds (by its heads) that this node does not, per peer.");
  {
    std::lock_guard<std::mutex> lock(lag_mutex_);
    for (const auto& [peer, records] : sync_lag_) {
      AppendSample(out, "duanka_sync_lag_records", {{"peer", peer}}, records);
    }
  }
  AppendFamily(out, "duanka_peer_clock_skew_seconds", "gauge",
               "A peer's clock minus this node's, from its hello, per peer.");
  {
    std::lock_guard<std::mutex> lock(lag_mutex_);
    for (const auto& [peer, seconds] : clock_skew_) {
      AppendSample(out, "duanka_peer_clock_skew_seconds", {{"peer", peer}}, seconds);
    }
  }
  AppendFamily(out, "duanka_peer_unknown_feeds_total", "counter",
               "Feeds named by peers whose issuer has no verified certificate here (ignored).");
  AppendSample(out, "duanka_peer_unknown_feeds_total", {}, Load(unknown_feeds_));
  AppendFamily(out, "duanka_peer_broken_claims_total", "counter",
               "Peers penalised for claiming a head and then serving nothing of it.");
  AppendSample(out, "duanka_peer_broken_claims_total", {}, Load(broken_claims_));
  AppendFamily(out, "duanka_serve_signature_checks_total", "counter",
               "Signatures checked to answer peers' wants (records that arrived checked are not "
               "checked again).");
  AppendSample(out, "duanka_serve_signature_checks_total", {}, Load(serve_signature_checks_));
  AppendFamily(out, "duanka_notices_applied_total", "counter",
               "Consortium notices (key withdrawals, fork resolutions) put in force here.");
  AppendSample(out, "duanka_notices_applied_total", {}, Load(notices_));
  AppendFamily(out, "duanka_records_not_yet_total", "counter",
               "Batches held back because their records are dated ahead of this node's clock.");
  AppendSample(out, "duanka_records_not_yet_total", {}, Load(records_not_yet_));
  AppendFamily(out, "duanka_pepper_epoch_missing", "gauge",
               "Pepper epochs connected peers hold that this node's pepper lacks: entries made "
               "under them cannot be found here (0: all is well).");
  AppendSample(out, "duanka_pepper_epoch_missing", {},
               pepper_epochs_missing_.load(std::memory_order_relaxed));
  AppendFamily(out, "duanka_crl_number", "gauge",
               "Number of the consortium CRL in force (0: none).");
  AppendSample(out, "duanka_crl_number", {}, crl_number_.load(std::memory_order_relaxed));
  AppendFamily(out, "duanka_crl_this_update_seconds", "gauge",
               "thisUpdate of the CRL in force, Unix seconds (its age: time() minus this).");
  AppendSample(out, "duanka_crl_this_update_seconds", {},
               crl_this_update_.load(std::memory_order_relaxed));
  AppendFamily(out, "duanka_crl_next_update_seconds", "gauge",
               "nextUpdate of the CRL in force, Unix seconds: past it every certificate is "
               "refused.");
  AppendSample(out, "duanka_crl_next_update_seconds", {},
               crl_next_update_.load(std::memory_order_relaxed));
  AppendFamily(out, "duanka_forks_total", "counter", "Forks (equivocations) detected.");
  AppendSample(out, "duanka_forks_total", {}, Load(forks_));
  AppendFamily(out, "duanka_audit_write_failures_total", "counter",
               "Lookups refused because the audit log could not be written.");
  AppendSample(out, "duanka_audit_write_failures_total", {}, Load(audit_failures_));
  AppendFamily(out, "duanka_peers_refused_total", "counter",
               "Peer connections refused (certificate, role or limits).");
  AppendSample(out, "duanka_peers_refused_total", {}, Load(peers_refused_));
  return out;
}

}  // namespace duanka::daemon
