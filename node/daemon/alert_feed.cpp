#include "node/daemon/alert_feed.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <charconv>
#include <exception>
#include <map>
#include <optional>
#include <variant>
#include <vector>

#include "node/common/alerts.h"
#include "node/daemon/http_lookup.h"

namespace duanka::daemon {
namespace {

namespace net = boost::asio;

// An alert id has at most 20 digits (uint64); a longer run of digits is refused before parsing.
constexpr size_t kMaxIdDigits = 20;

const std::string& AfterExpected() {
  static const std::string text =
      "after: expected an alert id, a whole number from 0 (the default: from the first alert)";
  return text;
}

const std::string& WaitExpected() {
  static const std::string text = "wait: expected whole seconds from 0 to " +
                                  std::to_string(node::kAlertMaxWait.count()) +
                                  " (the default 0: answer at once)";
  return text;
}

std::optional<uint64_t> ParseNumber(std::string_view text) {
  if (text.empty() || text.size() > kMaxIdDigits) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

struct AlertsQuery {
  uint64_t after = 0;
  std::chrono::seconds wait{0};
};

// The query's parameters, or the one-line reason it is refused (never echoing what was sent).
std::variant<AlertsQuery, std::string> ParseQuery(std::string_view query) {
  AlertsQuery out;
  bool seen_after = false, seen_wait = false;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::string_view name = pair.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (name == "after") {
      if (seen_after) return "after: given more than once; expected it once";
      seen_after = true;
      std::optional<uint64_t> id = ParseNumber(value);
      if (!id) return AfterExpected();
      out.after = *id;
    } else if (name == "wait") {
      if (seen_wait) return "wait: given more than once; expected it once";
      seen_wait = true;
      std::optional<uint64_t> seconds = ParseNumber(value);
      if (!seconds || *seconds > static_cast<uint64_t>(node::kAlertMaxWait.count())) {
        return WaitExpected();
      }
      out.wait = std::chrono::seconds(*seconds);
    } else {
      return "query: an unknown parameter; expected after=ID and wait=S";
    }
  }
  return out;
}

}  // namespace

// ---- AlertNotifier ----

struct AlertNotifier::Impl : std::enable_shared_from_this<AlertNotifier::Impl> {
  struct Waiter {
    uint64_t after = 0;
    std::unique_ptr<net::steady_timer> deadline;
    std::function<void()> done;
  };

  Impl(net::io_context& io, const store::Store& store, std::chrono::milliseconds fallback_poll)
      : io(io),
        store(store),
        fallback_poll(fallback_poll),
        strand(net::make_strand(io)),
        poll(strand),
        settle(strand) {}

  // On the strand from here on.

  // The store's newest alert id; on a read failure, what was last read (a failing store wakes no
  // one; the waits still end at their deadline).
  uint64_t LastId() {
    if (Result<uint64_t> last = store.LastAlertId(); last) last_id = *last;
    return last_id;
  }

  void Complete(uint64_t key) {
    auto it = waiters.find(key);
    if (it == waiters.end()) return;
    it->second.deadline->cancel();
    // Off the strand: answering reads a page of the store and writes the audit log.
    net::post(io, std::move(it->second.done));
    waiters.erase(it);
  }

  void Check() {
    if (waiters.empty()) return;
    const uint64_t last = LastId();
    std::vector<uint64_t> ready;
    for (const auto& [key, w] : waiters) {
      if (w.after < last) ready.push_back(key);
    }
    for (uint64_t key : ready) Complete(key);
  }

  void ArmPoll() {
    if (polling || waiters.empty() || stopped) return;
    polling = true;
    poll.expires_after(fallback_poll);
    poll.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      self->polling = false;
      if (ec || self->stopped) return;
      self->Check();
      self->ArmPoll();
    });
  }

  void OnNotice() {
    if (stopped || waiters.empty()) return;
    Check();
    settle_left = kAlertNoticeRechecks;
    ArmSettle();
  }

  // A notice can come before its commit is visible (by as long as the writer's fsync takes):
  // the log is read again every kAlertNoticeSettle, kAlertNoticeRechecks times.
  void ArmSettle() {
    if (settling || waiters.empty() || settle_left == 0) return;
    settling = true;
    --settle_left;
    settle.expires_after(kAlertNoticeSettle);
    settle.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      self->settling = false;
      if (ec || self->stopped) return;
      self->Check();
      self->ArmSettle();
    });
  }

  void Add(uint64_t after, std::chrono::milliseconds wait, std::function<void()> done) {
    // Beyond the cap the request is answered now, with the page as it stands (empty, or what
    // came meanwhile): a long poll holds an API connection, and lookups need some.
    if (stopped || LastId() > after || waiters.size() >= node::kMaxAlertWaiters) {
      net::post(io, std::move(done));
      return;
    }
    const uint64_t key = next_key++;
    Waiter& w = waiters[key];
    w.after = after;
    w.done = std::move(done);
    w.deadline = std::make_unique<net::steady_timer>(strand);
    w.deadline->expires_after(wait);
    w.deadline->async_wait([self = shared_from_this(), key](boost::system::error_code ec) {
      if (!ec) self->Complete(key);
    });
    ArmPoll();
  }

  void StopNow() {
    stopped = true;
    poll.cancel();
    settle.cancel();
    std::vector<uint64_t> keys;
    for (const auto& [key, w] : waiters) keys.push_back(key);
    for (uint64_t key : keys) Complete(key);
    stop_done.store(true, std::memory_order_release);
  }

  net::io_context& io;
  const store::Store& store;
  const std::chrono::milliseconds fallback_poll;
  net::strand<net::io_context::executor_type> strand;
  net::steady_timer poll;
  net::steady_timer settle;
  std::map<uint64_t, Waiter> waiters;
  uint64_t next_key = 0;
  uint64_t last_id = 0;
  bool polling = false;
  bool settling = false;
  uint32_t settle_left = 0;  // re-reads left after the last notice
  bool stopped = false;
  std::atomic<bool> stop_done{false};
  // Replies of long polls not yet written (HoldReply); any thread.
  std::atomic<uint64_t> held{0};
};

AlertNotifier::AlertNotifier(net::io_context& io, const store::Store& store,
                             std::chrono::milliseconds fallback_poll)
    : impl_(std::make_shared<Impl>(io, store, fallback_poll)) {}

AlertNotifier::~AlertNotifier() {
  Stop();
}

void AlertNotifier::Notify() {
  net::post(impl_->strand, [impl = impl_] { impl->OnNotice(); });
}

void AlertNotifier::Wait(uint64_t after, std::chrono::milliseconds wait,
                         std::function<void()> done) {
  net::post(impl_->strand, [impl = impl_, after, wait, done = std::move(done)]() mutable {
    impl->Add(after, wait, std::move(done));
  });
}

void AlertNotifier::Stop() {
  net::post(impl_->strand, [impl = impl_] {
    if (!impl->stopped) impl->StopNow();
  });
}

bool AlertNotifier::Stopped() const {
  return impl_->stop_done.load(std::memory_order_acquire) &&
         impl_->held.load(std::memory_order_acquire) == 0;
}

std::shared_ptr<void> AlertNotifier::HoldReply() {
  impl_->held.fetch_add(1, std::memory_order_acq_rel);
  return std::shared_ptr<void>(
      nullptr, [impl = impl_](void*) { impl->held.fetch_sub(1, std::memory_order_acq_rel); });
}

const store::Store& AlertNotifier::store() const {
  return impl_->store;
}

// ---- AlertsApi ----

ApiReply AlertsApi::Get(std::string_view query, std::string_view user) const {
  if (backend_.alerts == nullptr) {
    return ErrorReply(kUnavailable, "the alert feed is not available");
  }
  std::variant<AlertsQuery, std::string> parsed = ParseQuery(query);
  if (const std::string* refused = std::get_if<std::string>(&parsed)) {
    return ErrorReply(kBadRequest, *refused);
  }
  const AlertsQuery q = std::get<AlertsQuery>(parsed);
  std::string who(user);
  if (q.wait.count() == 0) return Page(q.after, who);
  Result<uint64_t> last = backend_.alerts->store().LastAlertId();
  if (!last) return ErrorReply(kInternalError, last.error().message);
  if (*last > q.after) return Page(q.after, who);
  // Nothing yet: the connection waits for the reply without holding a thread. `this` lives in
  // the router, which the connection keeps alive until it has written the reply.
  ApiReply reply;
  reply.deferred = [this, after = q.after, wait = q.wait,
                    who = std::move(who)](std::function<void(ApiReply)> send) {
    // Released once the reply is written: the daemon's stop waits for that (Stopped()).
    std::shared_ptr<void> hold = backend_.alerts->HoldReply();
    backend_.alerts->Wait(after, wait, [this, after, who, send = std::move(send), hold] {
      // Run by the io_context, outside the router's own catch: an exception here would end the
      // daemon's API thread.
      ApiReply page;
      try {
        page = Page(after, who);
      } catch (const std::exception&) {
        page = ErrorReply(kInternalError, "internal error");
      }
      page.written = hold;
      send(std::move(page));
    });
  };
  return reply;
}

ApiReply AlertsApi::Page(uint64_t after, const std::string& user) const {
  const store::Store& store = backend_.alerts->store();
  Result<std::vector<store::Alert>> alerts = store.Alerts(after, node::kAlertPageSize);
  if (!alerts) return ErrorReply(kInternalError, alerts.error().message);
  // Read after the page, so that it is never below the page's last id.
  Result<uint64_t> last = store.LastAlertId();
  if (!last) return ErrorReply(kInternalError, last.error().message);
  if (!alerts->empty()) {
    // Written before the page leaves, as a lookup's line is: no alert reaches a client unaudited.
    const int64_t now = backend_.now ? backend_.now() : node::SystemNow();
    Status audited = backend_.audit->Append(
        node::AlertDeliveryAuditJson(now, kAuditProgram, user, kAlertsReadAction, *alerts),
        /*sync=*/false);
    if (!audited) {
      return ErrorReply(kUnavailable, audited.error().message +
                                          "; alerts are not handed out while the audit log "
                                          "cannot be written");
    }
  }
  ApiReply reply;
  reply.body =
      node::AlertPageJson(*alerts, std::max(*last, alerts->empty() ? 0 : alerts->back().id));
  reply.body += '\n';
  return reply;
}

// ---- AlertSweeper ----

AlertSweeper::AlertSweeper(store::Store& store, std::function<int64_t()> now,
                           std::function<void(const Result<uint64_t>&)> swept,
                           std::chrono::milliseconds interval)
    : store_(store), now_(std::move(now)), swept_(std::move(swept)), interval_(interval) {}

AlertSweeper::~AlertSweeper() {
  Stop();
}

void AlertSweeper::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void AlertSweeper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AlertSweeper::Loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    Result<uint64_t> raised = store_.SweepExpiredAlerts(now_());
    if (swept_) swept_(raised);
    lock.lock();
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

}  // namespace duanka::daemon
