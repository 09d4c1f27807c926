// The daemon's counters, gauges and the lookup latency histogram, exported in Prometheus text
// format on GET /metrics. Every member is safe to update from any thread (relaxed atomics: the
// numbers are monitoring, not synchronisation).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "node/daemon/minute_rate.h"
#include "store/store.h"

namespace duanka::daemon {

// Upper bounds (seconds) of the lookup latency histogram's buckets: a local lookup takes a few
// microseconds, an HTTP round trip tens; the tail shows a stalled disk.
inline constexpr std::array<double, 10> kLookupLatencyBuckets = {
    0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.01, 0.1};

// Why records from a peer were refused, as the `reason` label of duanka_records_rejected_total.
enum class RejectReason : uint8_t {
  kMalformed = 0,     // bytes that do not decode or fields out of range
  kUnauthorized = 1,  // unknown signer, wrong role, bad signature
  kChainBreak = 2,    // prev does not link (gap or conflict)
  kFrozen = 3,        // the issuer's feed is frozen after a fork
};
inline constexpr size_t kRejectReasons = 4;
const char* RejectReasonName(RejectReason r);

class Metrics {
 public:
  void CountLookup(bool listed, bool invalid, double seconds);
  // Lookups counted in the last minute (the status page's "lookups per minute").
  uint64_t LookupsLastMinute() const;
  void CountRecordsReceived(uint64_t n) {
    records_received_.fetch_add(n, std::memory_order_relaxed);
  }
  void CountRecordsAppended(uint64_t n) {
    records_appended_.fetch_add(n, std::memory_order_relaxed);
  }
  // Records received from peers and not yet committed (limits.max_uncommitted_records).
  void SetRecordsUncommitted(uint64_t n) {
    records_uncommitted_.store(n, std::memory_order_relaxed);
  }
  void CountRejected(RejectReason reason, uint64_t n);
  void CountFork() { forks_.fetch_add(1, std::memory_order_relaxed); }
  void CountFloodCrossing() { flood_crossings_.fetch_add(1, std::memory_order_relaxed); }
  void CountAuditFailure() { audit_failures_.fetch_add(1, std::memory_order_relaxed); }
  void CountPeerRefused() { peers_refused_.fetch_add(1, std::memory_order_relaxed); }
  // Distinct institutions with a session past the hello.
  void SetPeersConnected(int64_t n) { peers_connected_.store(n, std::memory_order_relaxed); }
  // Peer sessions open, in either direction (an institution may hold two).
  void SetPeerConnections(int64_t n) { peer_connections_.store(n, std::memory_order_relaxed); }
  // Records a peer has (by its heads) that this node does not yet hold, per peer institution.
  void SetSyncLag(const std::string& peer, uint64_t records);
  // The peer's clock minus this node's, from its hello (seconds).
  void SetPeerClockSkew(const std::string& peer, int64_t seconds);
  void ForgetPeer(const std::string& peer);
  // Feeds named by peers whose issuer has no verified signing certificate here (ignored).
  void CountUnknownFeeds(uint64_t n) { unknown_feeds_.fetch_add(n, std::memory_order_relaxed); }
  // Peers penalised for a head they claimed and then did not serve.
  void CountBrokenClaim() { broken_claims_.fetch_add(1, std::memory_order_relaxed); }
  void CountNotice() { notices_.fetch_add(1, std::memory_order_relaxed); }
  // Signatures checked to end an answer to a peer's want on a record checked on its own.
  void CountServeSignatureCheck() {
    serve_signature_checks_.fetch_add(1, std::memory_order_relaxed);
  }
  // The CRL in force: its number, and its thisUpdate and nextUpdate (Unix seconds).
  void SetCrl(int64_t number, int64_t this_update, int64_t next_update) {
    crl_number_.store(number, std::memory_order_relaxed);
    crl_this_update_.store(this_update, std::memory_order_relaxed);
    crl_next_update_.store(next_update, std::memory_order_relaxed);
  }
  // Pepper epochs connected peers hold that this node's pepper lacks (0: all is well).
  void SetPepperEpochsMissing(size_t n) {
    pepper_epochs_missing_.store(static_cast<int64_t>(n), std::memory_order_relaxed);
  }
  // Batches of records held back because they are dated ahead of this node's clock.
  void CountRecordsNotYet() { records_not_yet_.fetch_add(1, std::memory_order_relaxed); }

  // The store's alert figures (read at each scrape): alerts raised in it (its newest alert id)
  // and pairs (customer, reference) on its watch list.
  void SetAlertStore(uint64_t alerts_raised, uint64_t watch_entries) {
    alerts_raised_.store(alerts_raised, std::memory_order_relaxed);
    watch_entries_.store(watch_entries, std::memory_order_relaxed);
  }

  // The alert webhook (webhook.h): its families are rendered only once it is enabled (a node
  // without [alerts] webhook_url has no webhook to be stuck).
  void EnableWebhook() { webhook_enabled_.store(true, std::memory_order_relaxed); }
  void CountAlertsDelivered(uint64_t n) {
    alerts_delivered_.fetch_add(n, std::memory_order_relaxed);
  }
  void CountWebhookFailure() { webhook_failures_.fetch_add(1, std::memory_order_relaxed); }
  // Its backlog, read from the store at each scrape: alerts not yet delivered, and the age of the
  // oldest of them in seconds (0 when none).
  void SetWebhookBacklog(uint64_t pending, int64_t oldest_age_seconds) {
    alerts_pending_.store(pending, std::memory_order_relaxed);
    oldest_pending_age_.store(oldest_age_seconds, std::memory_order_relaxed);
  }

  // The whole exposition, with per-issuer record/entry counts from the store's stats.
  std::string Render(const store::Stats& stats) const;

 private:
  std::atomic<uint64_t> lookups_listed_{0}, lookups_not_listed_{0}, lookups_invalid_{0};
  MinuteRate lookups_recent_;
  std::array<std::atomic<uint64_t>, kLookupLatencyBuckets.size() + 1> latency_buckets_{};
  std::atomic<uint64_t> latency_sum_ns_{0};
  std::atomic<uint64_t> records_received_{0}, records_appended_{0}, records_uncommitted_{0};
  std::array<std::atomic<uint64_t>, kRejectReasons> rejected_{};
  std::atomic<uint64_t> forks_{0}, audit_failures_{0}, peers_refused_{0}, flood_crossings_{0};
  std::atomic<int64_t> peers_connected_{0}, peer_connections_{0};
  mutable std::mutex lag_mutex_;
  std::map<std::string, uint64_t> sync_lag_;
  std::map<std::string, int64_t> clock_skew_;
  std::atomic<uint64_t> unknown_feeds_{0}, broken_claims_{0}, records_not_yet_{0}, notices_{0};
  std::atomic<uint64_t> serve_signature_checks_{0};
  std::atomic<int64_t> crl_number_{0}, crl_this_update_{0}, crl_next_update_{0};
  std::atomic<int64_t> pepper_epochs_missing_{0};
  std::atomic<bool> webhook_enabled_{false};
  std::atomic<uint64_t> alerts_delivered_{0}, webhook_failures_{0}, alerts_pending_{0};
  std::atomic<int64_t> oldest_pending_age_{0};
  std::atomic<uint64_t> alerts_raised_{0}, watch_entries_{0};
};

}  // namespace duanka::daemon
