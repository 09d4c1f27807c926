// The daemon's side of the alert feed (issue 14): GET /v1/alerts?after=ID&wait=S, its long poll,
// and the expiry sweep that raises `cleared` "expired" alerts.
//
// The alerts are the store's (Store::Alerts, numbered without gaps), so a consumer resumes from
// the last id it handled, across restarts of either side. Rendering is node/common/alerts.h's,
// shared with `duanka alerts` and the webhook.
//
// A long poll holds no thread: AlertNotifier keeps the waiting requests with a timer each, on a
// strand of the API's io_context, and re-reads the store's newest alert id when the store changes
// (StoreWatch notices commits of every process, this daemon's included), and every
// kAlertFallbackPoll in case a notice came before its commit was visible.
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first on GCC 12

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

#include "crypto/base/result.h"
#include "node/daemon/http_api.h"
#include "node/daemon/http_types.h"
#include "store/store.h"

namespace duanka::daemon {

// While requests wait, the store's newest alert id is re-read this often even without a notice:
// a notice can come just before the commit it announces is visible, and none follows it.
inline constexpr std::chrono::milliseconds kAlertFallbackPoll{1000};
// After a notice, re-reads this often, kAlertNoticeRechecks times, for the same window (as long
// as the writer's fsync takes): most waits then end within it, not at the fallback poll.
inline constexpr std::chrono::milliseconds kAlertNoticeSettle{5};
inline constexpr uint32_t kAlertNoticeRechecks = 200;
// How often the daemon raises `cleared` "expired" alerts for watched entries that expired (an
// entry does not change when it expires, so nothing else would). Also once at the start.
inline constexpr std::chrono::seconds kAlertSweepInterval{60};
// The audit action of an alert page handed to an API client (node::AlertDeliveryAuditJson).
inline constexpr std::string_view kAlertsReadAction = "alerts-read";

// Long-poll waiters of GET /v1/alerts. Thread-safe.
class AlertNotifier {
 public:
  // `store` must outlive the notifier; `io` is the API's io_context.
  AlertNotifier(boost::asio::io_context& io, const store::Store& store,
                std::chrono::milliseconds fallback_poll = kAlertFallbackPoll);
  ~AlertNotifier();
  AlertNotifier(const AlertNotifier&) = delete;
  AlertNotifier& operator=(const AlertNotifier&) = delete;

  // The store may have changed (a commit by any process). Any thread.
  void Notify();
  // Calls `done` once, on the io_context, as soon as an alert with an id after `after` is held,
  // when `wait` has passed, or when the notifier stops, whichever comes first. Any thread.
  void Wait(uint64_t after, std::chrono::milliseconds wait, std::function<void()> done);
  // Ends every wait now, and every later one at once (the daemon is stopping). Any thread.
  void Stop();
  // Stop() has taken effect: every wait has been ended and every reply held (HoldReply) has been
  // written or its connection has ended.
  bool Stopped() const;
  // A token held by a long poll's reply until it is written (ApiReply::written): Stopped() waits
  // for every one, so that the API's stop does not cut off a reply already made. Any thread.
  std::shared_ptr<void> HoldReply();

  const store::Store& store() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// GET /v1/alerts for the router. No sockets: a query string in, a reply (or, for a long poll, a
// deferred reply) out.
class AlertsApi {
 public:
  // backend.alerts may be null (the feed is then 503); backend.audit must be set. The backend
  // must outlive this object.
  explicit AlertsApi(const ApiBackend& backend) : backend_(backend) {}

  // `query`: the target's part after '?', or "". after=ID (default 0): alerts with ids after it;
  // wait=S (0..kAlertMaxWait, default 0): with none held yet, answer when one is or S has passed;
  // with node::kMaxAlertWaiters polls already waiting, answer at once.
  // Each page holding alerts is audited (`user`, "alerts-read") before it is answered.
  ApiReply Get(std::string_view query, std::string_view user) const;

 private:
  // The page of alerts after `after`, audited; or the error.
  ApiReply Page(uint64_t after, const std::string& user) const;

  const ApiBackend& backend_;
};

// The expiry sweep: Store::SweepExpiredAlerts(now) at the start and every `interval`, on a thread
// of its own (it is a write transaction, which may wait for the ingest writer's; no io_context
// thread waits with it).
class AlertSweeper {
 public:
  // `swept` gets each sweep's outcome (how many alerts it raised, or the store's error).
  AlertSweeper(store::Store& store, std::function<int64_t()> now,
               std::function<void(const Result<uint64_t>&)> swept,
               std::chrono::milliseconds interval = kAlertSweepInterval);
  ~AlertSweeper();  // Stop()
  AlertSweeper(const AlertSweeper&) = delete;
  AlertSweeper& operator=(const AlertSweeper&) = delete;

  void Start();
  // Ends the wait for the next sweep and joins the thread (a sweep in progress finishes).
  void Stop();

 private:
  void Loop();

  store::Store& store_;
  std::function<int64_t()> now_;
  std::function<void(const Result<uint64_t>&)> swept_;
  std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace duanka::daemon
