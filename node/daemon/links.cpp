#include "node/daemon/links.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <charconv>
#include <list>
#include <mutex>
#include <optional>
#include <random>
#include <unordered_map>

#include "node/common/config.h"
#include "node/common/host_port.h"
#include "node/daemon/log.h"

namespace duanka::daemon {

using boost::system::error_code;

// ---- Listener ----------------------------------------------------------------------------------

namespace {

using Clock = std::chrono::steady_clock;

// An accept that fails for want of descriptors (or kernel memory) would fail again at once: the
// connection stays in the backlog, so the acceptor is ready again at once and the loop would spin.
// Wait this long before the next attempt, doubling up to the second, until one succeeds.
constexpr std::chrono::milliseconds kAcceptBackoffMin{100};
constexpr std::chrono::milliseconds kAcceptBackoffMax{1000};
// Refused strangers (budgets full, failed handshakes) are logged at most once per interval, with
// the number left out since, so that a flood of connections cannot flood the log as well.
constexpr Clock::duration kRefusalLogInterval = std::chrono::seconds(10);

bool OutOfResources(const error_code& ec) {
  // ENFILE by value in the system category: comparing with errc's generic condition trips UBSan's
  // vptr check on Boost 1.74's constant-initialised generic category (a false positive that
  // aborts the sanitizer build's daemon).
  return ec == asio::error::no_descriptors ||
         (ec.category() == boost::system::system_category() && ec.value() == ENFILE) ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

// The first of a run of events is logged at once, then at most one per interval. Thread-safe.
class ThrottledLog {
 public:
  explicit ThrottledLog(Clock::duration interval) : interval_(interval) {}
  // Whether to log this event; if so, `skipped` is how many were left out since the last one.
  bool Take(uint64_t& skipped) {
    std::lock_guard<std::mutex> lock(mutex_);
    const Clock::time_point now = Clock::now();
    if (logged_ && now - last_ < interval_) {
      ++skipped_;
      return false;
    }
    logged_ = true;
    last_ = now;
    skipped = std::exchange(skipped_, 0);
    return true;
  }

 private:
  const Clock::duration interval_;
  std::mutex mutex_;
  bool logged_ = false;
  Clock::time_point last_;
  uint64_t skipped_ = 0;
};

}  // namespace

struct Listener::Impl : std::enable_shared_from_this<Listener::Impl> {
  // One accepted connection's claim on the budgets. Guarded by `mutex`.
  struct Slot {
    enum class State { kHandshaking, kEstablished, kReleased };
    State state = State::kHandshaking;
    std::string source;  // the remote IP address
    std::weak_ptr<Connection> conn;
    std::list<std::shared_ptr<Slot>>::iterator position;  // in `handshaking`, while kHandshaking
  };

  Impl(LinkContext c, InboundBudgets b)
      : ctx(c),
        budgets(b),
        strand(asio::make_strand(c.io)),
        acceptor(strand),
        backoff_timer(strand) {}
  LinkContext ctx;
  InboundBudgets budgets;
  asio::strand<asio::io_context::executor_type> strand;  // the accept loop's
  tcp::acceptor acceptor;
  asio::steady_timer backoff_timer;
  std::atomic<bool> stopped{false};
  ThrottledLog refusal_log{kRefusalLogInterval};
  ThrottledLog accept_error_log{kRefusalLogInterval};

  // Connections finish (or fail) their handshakes on their own strands, hence the lock. Slots
  // are claimed and evicted only by the accept loop.
  std::mutex mutex;
  std::list<std::shared_ptr<Slot>> handshaking;          // oldest first
  std::unordered_map<std::string, uint32_t> per_source;  // handshakes in progress, by source
  uint32_t established = 0;

  void Refused(const std::string& address, const std::string& reason) {
    ctx.metrics.CountPeerRefused();
    uint64_t skipped = 0;
    if (!refusal_log.Take(skipped)) return;
    LogWarn("inbound connection from {} refused: {}{}", address, reason,
            skipped == 0 ? std::string()
                         : " (and " + std::to_string(skipped) +
                               " inbound connections refused since the last such line)");
  }

  // ---- Under `mutex` ----

  uint32_t HeldBy(const std::string& source) const {
    auto it = per_source.find(source);
    return it == per_source.end() ? 0 : it->second;
  }

  void Unclaim(Slot& s) {
    handshaking.erase(s.position);
    auto it = per_source.find(s.source);
    if (--it->second == 0) per_source.erase(it);
  }

  // The handshake to drop for a newcomer from a source holding `own`: the oldest of the source
  // holding the most, if that is more than `own`. A stranger can thus only displace the
  // handshakes of sources busier than its own, and a member's fresh handshake, from a source
  // holding one, is the last of its kind to go.
  Slot* EvictionCandidate(uint32_t own) {
    uint32_t most = 0;
    for (const auto& [source, n] : per_source) most = std::max(most, n);
    if (most <= own) return nullptr;
    for (const std::shared_ptr<Slot>& s : handshaking) {
      if (HeldBy(s->source) == most) return s.get();
    }
    return nullptr;
  }

  // A handshake slot for a newcomer from `source`, or nullptr with `refusal` set. `evicted` gets
  // the connection dropped to make room, if any.
  std::shared_ptr<Slot> Claim(const std::string& source, std::string& refusal,
                              std::shared_ptr<Connection>& evicted) {
    std::lock_guard<std::mutex> lock(mutex);
    const uint32_t own = HeldBy(source);
    if (own >= budgets.handshakes_per_address) {
      refusal = std::to_string(own) + " handshakes from this address in progress already";
      return nullptr;
    }
    if (handshaking.size() >= budgets.max_handshaking) {
      Slot* victim = EvictionCandidate(own);
      if (victim == nullptr) {
        refusal = "all " + std::to_string(budgets.max_handshaking) + " handshake slots are taken";
        return nullptr;
      }
      evicted = victim->conn.lock();
      victim->state = Slot::State::kReleased;
      Unclaim(*victim);
    }
    auto slot = std::make_shared<Slot>();
    slot->source = source;
    handshaking.push_back(slot);
    slot->position = std::prev(handshaking.end());
    ++per_source[source];
    return slot;
  }

  // The handshake is done and the certificate verified: from a handshake slot to an inbound one.
  std::optional<std::string> Establish(Slot& s) {
    std::lock_guard<std::mutex> lock(mutex);
    if (s.state != Slot::State::kHandshaking) {
      return std::string("its handshake slot went to a newcomer");
    }
    Unclaim(s);
    if (established >= budgets.max_established) {
      s.state = Slot::State::kReleased;
      return "all " + std::to_string(budgets.max_established) + " inbound links are taken";
    }
    ++established;
    s.state = Slot::State::kEstablished;
    return std::nullopt;
  }

  void Release(Slot& s) {
    std::lock_guard<std::mutex> lock(mutex);
    if (s.state == Slot::State::kHandshaking) Unclaim(s);
    if (s.state == Slot::State::kEstablished) --established;
    s.state = Slot::State::kReleased;
  }

  // ---- The accept loop, on `strand` ----

  asio::awaitable<void> AcceptLoop() {
    auto self = shared_from_this();
    std::chrono::milliseconds backoff{0};
    uint64_t failed_accepts = 0;  // in the current run of accepts out of resources
    while (!stopped) {
      error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(
          asio::make_strand(ctx.io), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (stopped || ec == asio::error::operation_aborted) co_return;
        if (OutOfResources(ec)) {
          if (failed_accepts++ == 0) {
            LogWarn("accept failed: {}; retrying every {} to {} ms until it succeeds", ec.message(),
                    kAcceptBackoffMin.count(), kAcceptBackoffMax.count());
          }
          backoff =
              backoff.count() == 0 ? kAcceptBackoffMin : std::min(kAcceptBackoffMax, backoff * 2);
          backoff_timer.expires_after(backoff);
          co_await backoff_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
          continue;
        }
        // E.g. a connection reset before it was accepted: the next one may be fine.
        uint64_t skipped = 0;
        if (accept_error_log.Take(skipped)) {
          LogWarn("accepting a peer connection failed: {} ({} more since the last such line)",
                  ec.message(), skipped);
        }
        continue;
      }
      if (failed_accepts > 0) {
        LogInfo("accepting peers again after {} failed attempts", failed_accepts);
        failed_accepts = 0;
        backoff = std::chrono::milliseconds(0);
      }
      tcp::endpoint remote = socket.remote_endpoint(ec);
      if (ec) continue;  // gone already; the socket closes with it
      std::string refusal;
      std::shared_ptr<Connection> evicted;
      std::shared_ptr<Slot> slot = Claim(remote.address().to_string(), refusal, evicted);
      if (evicted) evicted->Close("its handshake slot went to a newcomer from a less busy address");
      if (!slot) {
        Refused(remote.address().to_string() + ":" + std::to_string(remote.port()), refusal);
        socket.close(ec);
        continue;
      }
      auto conn = std::make_shared<Connection>(std::move(socket), ctx.tls, ctx.trust, ctx.options,
                                               Connection::Side::kServer, ctx.handler);
      {
        std::lock_guard<std::mutex> lock(mutex);
        slot->conn = conn;
      }
      conn->SetAdmission(
          [self, slot](const crypto::CertificateInfo&) { return self->Establish(*slot); });
      conn->SetOnTerminated([self, slot] { self->Release(*slot); });
      conn->Start([self](const HandshakeFailure& f) { self->Refused(f.address, f.reason); });
    }
  }
};

Listener::Listener(LinkContext context, InboundBudgets budgets)
    : impl_(std::make_shared<Impl>(context, budgets)) {}
Listener::~Listener() {
  Stop();
}

Status Listener::Start(const std::string& listen) {
  Result<node::HostPort> hp = node::ParseHostPort(listen);
  if (!hp) return std::move(hp).error();
  error_code ec;
  asio::ip::address address = asio::ip::make_address(hp->host, ec);
  if (ec) {
    return MakeError(ErrorKind::kInvalidInput,
                     "listen address \"" + hp->host + "\" is not an IP address");
  }
  tcp::endpoint endpoint(address, hp->port);
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return MakeError(ErrorKind::kIo, "cannot listen on " + listen + ": " + ec.message());
  asio::co_spawn(impl_->strand, impl_->AcceptLoop(), asio::detached);
  return Ok();
}

void Listener::Stop() {
  impl_->stopped = true;
  asio::post(impl_->strand, [impl = impl_] {
    error_code ec;
    impl->acceptor.close(ec);
    impl->backoff_timer.cancel();
  });
}

uint16_t Listener::port() const {
  error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

// ---- Dialer ------------------------------------------------------------------------------------

struct Dialer::Impl : std::enable_shared_from_this<Dialer::Impl> {
  Impl(LinkContext c, std::string p, BackoffOptions b)
      : ctx(c), address(std::move(p)), backoff(b), strand(asio::make_strand(c.io)), timer(strand) {
    // Named before the first attempt: a status read at once shows whom it is for.
    if (Result<node::PeerEntry> entry = node::ParsePeerEntry(address)) {
      state.institution = entry->institution;
      state.address = entry->address;
    } else {
      state.address = address;
    }
  }
  LinkContext ctx;
  std::string address;  // the peers entry, CODE@HOST:PORT: what every log line names
  BackoffOptions backoff;
  asio::strand<asio::io_context::executor_type> strand;
  asio::steady_timer timer;
  std::atomic<bool> stopped{false};
  std::shared_ptr<Connection> current;
  std::mt19937_64 rng{std::random_device{}()};
  // Written on the strand and by the connection's callbacks, read by status() from any thread.
  mutable std::mutex status_mutex;
  DialerStatus state;

  void SetState(DialerStatus::State st, std::optional<std::string> error = std::nullopt,
                int64_t retry_at = 0) {
    std::lock_guard<std::mutex> lock(status_mutex);
    state.state = st;
    state.retry_at = retry_at;
    if (error) state.last_error = std::move(*error);
  }

  // Waits `d` (or until Stop()).
  asio::awaitable<void> Sleep(std::chrono::milliseconds d) {
    timer.expires_after(d);
    error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  asio::awaitable<void> Loop() {
    auto self = shared_from_this();
    Result<node::PeerEntry> entry = node::ParsePeerEntry(address);
    Result<node::HostPort> hp =
        entry ? node::ParseHostPort(entry->address) : Result<node::HostPort>(entry.error());
    if (!hp) {
      LogError("peer {}: {}", address, hp.error().message);
      SetState(DialerStatus::State::kInvalid, hp.error().message);
      co_return;
    }
    std::chrono::milliseconds delay = backoff.min;
    while (!stopped) {
      auto started = std::chrono::steady_clock::now();
      SetState(DialerStatus::State::kConnecting);
      co_await DialOnce(entry->institution, hp->host, hp->port);
      if (stopped) break;
      bool healthy = std::chrono::steady_clock::now() - started > backoff.healthy_after;
      delay = healthy ? backoff.min : std::min(backoff.max, delay * 2);
      // Jitter keeps a restarted consortium from reconnecting in lockstep.
      std::uniform_real_distribution<double> jitter(0.75, 1.25);
      const std::chrono::milliseconds wait(
          static_cast<int64_t>(static_cast<double>(delay.count()) * jitter(rng)));
      // Rounded up: the status must not announce a retry earlier than it happens.
      const auto retry_at = std::chrono::ceil<std::chrono::seconds>(
          std::chrono::system_clock::now().time_since_epoch() + wait);
      SetState(DialerStatus::State::kWaiting, std::nullopt, retry_at.count());
      co_await Sleep(wait);
    }
  }

  // One connection, from resolving to its end.
  asio::awaitable<void> DialOnce(const std::string& expected, const std::string& host,
                                 uint16_t port) {
    auto self = shared_from_this();
    error_code ec;
    tcp::resolver resolver(strand);
    auto endpoints = co_await resolver.async_resolve(host, std::to_string(port),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      LogWarn("peer {}: cannot resolve: {}", address, ec.message());
      SetState(DialerStatus::State::kConnecting, "cannot resolve: " + ec.message());
      co_return;
    }
    tcp::socket socket(asio::make_strand(ctx.io));
    // The connect gets the handshake's deadline: a black-holed address must not stall the loop.
    asio::steady_timer deadline(strand);
    deadline.expires_after(ctx.options.handshake_timeout);
    deadline.async_wait([&socket](error_code e) {
      if (!e) socket.close(e);
    });
    co_await asio::async_connect(socket, endpoints, asio::redirect_error(asio::use_awaitable, ec));
    deadline.cancel();
    if (ec || !socket.is_open()) {
      const std::string why = ec ? ec.message() : "timed out";
      LogInfo("peer {}: cannot connect: {}", address, why);
      SetState(DialerStatus::State::kConnecting, "cannot connect: " + why);
      co_return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto conn = std::make_shared<Connection>(std::move(socket), ctx.tls, ctx.trust, ctx.options,
                                             Connection::Side::kClient, ctx.handler);
    // The connection's callbacks hold this dialer weakly: it holds the connection (`current`),
    // and a strong hold back would keep both alive for ever if the daemon stops before this
    // coroutine resumes to let go (LeakSanitizer saw that once at SIGTERM).
    std::weak_ptr<Impl> weak = self;
    // Wake this loop when the connection ends.
    asio::steady_timer ended(strand, std::chrono::steady_clock::time_point::max());
    conn->SetOnTerminated([weak, &ended] {
      if (std::shared_ptr<Impl> impl = weak.lock()) {
        asio::post(impl->strand, [&ended] { ended.cancel(); });
      }
    });
    // Any member's certificate verifies; only the one the entry names may be spoken to here.
    conn->SetAdmission(
        [weak, expected](const crypto::CertificateInfo& peer) -> std::optional<std::string> {
          std::shared_ptr<Impl> impl = weak.lock();
          if (!impl) return std::string("the dialer has stopped: closed before any frame");
          // A replica serves no one: whoever dials it has mistaken it for its institution's node.
          if (peer.role == crypto::Role::kReplica) {
            return "the certificate is a read replica's (of " + peer.institution +
                   "), which serves no peers: dial " + peer.institution +
                   "'s own node; closed before any frame";
          }
          if (peer.institution == expected) {
            impl->SetState(DialerStatus::State::kConnected);
            return std::nullopt;
          }
          return "the certificate is of " + peer.institution + ", not of " + expected +
                 " as expected: closed before any frame";
        });
    current = conn;
    conn->Start([weak](const HandshakeFailure& f) {
      std::shared_ptr<Impl> impl = weak.lock();
      if (!impl) return;
      impl->ctx.metrics.CountPeerRefused();
      LogWarn("peer {}: {}", impl->address, f.reason);
      impl->SetState(DialerStatus::State::kConnecting, f.reason);
    });
    co_await ended.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    {
      std::lock_guard<std::mutex> lock(status_mutex);
      if (state.state == DialerStatus::State::kConnected) {
        state.last_error = "disconnected: " + conn->end_reason();
      }
    }
    current.reset();
  }
};

Dialer::Dialer(LinkContext context, std::string peer, BackoffOptions backoff)
    : impl_(std::make_shared<Impl>(context, std::move(peer), backoff)) {}
Dialer::~Dialer() {
  Stop();
}

void Dialer::Start() {
  asio::co_spawn(impl_->strand, impl_->Loop(), asio::detached);
}

void Dialer::Stop() {
  impl_->stopped = true;
  asio::post(impl_->strand, [impl = impl_] { impl->timer.cancel(); });
}

DialerStatus Dialer::status() const {
  std::lock_guard<std::mutex> lock(impl_->status_mutex);
  return impl_->state;
}

std::string_view DialerStateName(DialerStatus::State state) {
  switch (state) {
    case DialerStatus::State::kConnecting:
      return "connecting";
    case DialerStatus::State::kConnected:
      return "connected";
    case DialerStatus::State::kWaiting:
      return "waiting";
    case DialerStatus::State::kInvalid:
      return "invalid";
  }
  return "unknown";
}

}  // namespace duanka::daemon
