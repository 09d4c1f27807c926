// The alert webhook ([alerts] webhook_url): every alert of the store's alert log, in id order, is
// POSTed to the institution's receiver, one alert per request (node::AlertJson, the alert id as
// Idempotency-Key), and an alert counts as delivered only after the receiver answered it with a
// 2xx and its audit line is written (a failure of either is retried like a failed POST). The
// webhook's cursor in the store (node::kWebhookCursor) is saved every kWebhookCursorEveryAlerts
// delivered alerts, when it is caught up, before every backoff and at Stop(): after a crash up to
// that many delivered alerts are sent again. At-least-once, and a repeat always carries the same
// id. Failures (no connection, a timeout, any other status) are retried with
// exponential backoff and full jitter, capped at webhook_max_backoff_s.
//
// It runs on an io_context and a thread of its own: a dead, slow or hostile receiver, and the
// store's write lock its cursor update waits for, never hold up sync, lookups or the API. Every
// step of a POST is bounded by webhook_timeout_ms. It reads the alert log in read transactions
// and writes only its cursor, in a transaction of its own that holds no network wait.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "crypto/base/result.h"
#include "node/common/audit.h"
#include "node/common/config.h"
#include "node/daemon/metrics.h"
#include "store/store.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace duanka::daemon {

// With no notice of a commit (a missed inotify event), the alert log is re-read this often.
inline constexpr std::chrono::seconds kWebhookPollInterval{2};
// The first retry waits up to this; each failure in a row doubles it, up to the configured cap.
inline constexpr std::chrono::milliseconds kWebhookBackoffBase{250};
// The cursor is saved at least this often while alerts flow: each save is a write transaction,
// and one per alert would compete with sync's ingest for the store's single writer.
inline constexpr uint64_t kWebhookCursorEveryAlerts = 100;

struct WebhookOptions {
  node::WebhookUrl url;
  std::chrono::milliseconds timeout{node::kDefaultWebhookTimeoutMs};
  std::chrono::seconds max_backoff{node::kDefaultWebhookMaxBackoffSeconds};
};
WebhookOptions WebhookOptionsFrom(const node::AlertSettings& alerts);

// The TLS client context of an https webhook: TLS 1.2 at the least, the receiver's certificate
// verified against alerts.webhook_ca_file, else the system's trust store (its host name is
// checked per connection). nullptr for http. kIo, one line naming the key, when the file cannot be
// loaded.
Result<std::shared_ptr<boost::asio::ssl::context>> CreateWebhookTlsContext(
    const node::AlertSettings& alerts);

// What /metrics shows of the webhook's backlog.
struct AlertBacklog {
  uint64_t pending = 0;                    // alerts raised and not yet delivered
  int64_t oldest_pending_age_seconds = 0;  // now - `at` of the first of them; 0 when none
};

class Webhook {
 public:
  Webhook(store::Store& store, const node::AuditLog& audit, Metrics& metrics,
          WebhookOptions options, std::shared_ptr<boost::asio::ssl::context> tls,
          std::function<int64_t()> now);
  ~Webhook();  // Stop()
  Webhook(const Webhook&) = delete;
  Webhook& operator=(const Webhook&) = delete;

  // Starts delivering, from the cursor the store holds, on the webhook's own thread.
  void Start();
  // New alerts may have been committed: look now rather than at the next poll. Any thread.
  void Wake();
  // Ends the POST in hand (its connection is dropped; the alert stays undelivered) and the
  // thread, then saves the cursor. Any thread but the webhook's own; idempotent.
  void Stop();

  // The backlog from the store now (read transactions only). Any thread. kIo.
  Result<AlertBacklog> Backlog() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace duanka::daemon
