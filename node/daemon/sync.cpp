#include "node/daemon/sync.h"

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <map>
#include <nlohmann/json.hpp>

#include "node/common/audit.h"

namespace duanka::daemon {
namespace {

// A TLS connection as the sync core sees a peer.
class ConnectionLink : public PeerLink {
 public:
  explicit ConnectionLink(std::shared_ptr<Connection> c) : c_(std::move(c)) {}
  const std::string& institution() const override { return c_->institution(); }
  const std::string& address() const override { return c_->address(); }
  const std::string& certificate_serial() const override { return c_->peer().serial_hex; }
  bool outbound() const override { return c_->side() == Connection::Side::kClient; }
  bool replica() const override { return c_->peer().role == crypto::Role::kReplica; }
  void Send(std::string payload) override { c_->Send(std::move(payload)); }
  void Close(std::string reason) override { c_->Close(std::move(reason)); }
  void FrameHandled(size_t bytes) override { c_->FrameHandled(bytes); }
  size_t send_backlog() const override { return c_->queued_bytes(); }

 private:
  std::shared_ptr<Connection> c_;
};

}  // namespace

struct Sync::Impl : std::enable_shared_from_this<Sync::Impl> {
  using Strand = asio::strand<asio::io_context::executor_type>;

  Impl(asio::io_context& io, SyncContext context, SyncOptions options)
      : strand(asio::make_strand(io)),
        core(WithPost(std::move(context), strand), std::move(options)),
        heads_timer(strand),
        ping_timer(strand),
        want_timer(strand),
        snapshot_timer(strand) {}

  static SyncContext WithPost(SyncContext context, Strand strand) {
    context.post = [strand](std::function<void()> f) { asio::post(strand, std::move(f)); };
    return context;
  }

  Strand strand;
  SyncCore core;
  asio::steady_timer heads_timer, ping_timer, want_timer, snapshot_timer;
  std::map<Connection*, std::shared_ptr<ConnectionLink>> links;
  // Connections handed to OnOpen and not yet closed, counted from the call (not from when the
  // strand gets to it), so that a stop never misses one still queued; for other threads.
  std::atomic<size_t> open_links{0};
  std::atomic<bool> stop_ran{false};
  bool stopped = false;

  void Every(asio::steady_timer& timer, std::chrono::milliseconds period,
             void (SyncCore::*tick)()) {
    timer.expires_after(period);
    timer.async_wait(
        [self = shared_from_this(), &timer, period, tick](boost::system::error_code ec) {
          if (ec || self->stopped) return;
          (self->core.*tick)();
          self->Every(timer, period, tick);
        });
  }

  ConnectionLink* Find(Connection* c) {
    auto it = links.find(c);
    return it == links.end() ? nullptr : it->second.get();
  }
};

Sync::Sync(asio::io_context& io, store::Store& store, crypto::TrustStore& ca, TrustHolder& trust,
           Ingest& ingest, Metrics& metrics, SyncOptions options, std::function<int64_t()> now)
    : impl_(std::make_shared<Impl>(
          io,
          SyncContext{store, ca, trust, ingest, metrics,
                      SyncClock{std::move(now), [] { return std::chrono::steady_clock::now(); }},
                      nullptr},
          std::move(options))) {}

Sync::~Sync() = default;

void Sync::Start() {
  asio::post(impl_->strand, [impl = impl_] {
    impl->core.Start();
    SyncCore::Intervals every = impl->core.intervals();
    impl->Every(impl->heads_timer, every.heads, &SyncCore::TickHeads);
    impl->Every(impl->ping_timer, every.ping, &SyncCore::TickPing);
    impl->Every(impl->want_timer, every.wants, &SyncCore::TickWants);
    impl->Every(impl->snapshot_timer, every.snapshot, &SyncCore::TickSnapshot);
  });
}

void Sync::Stop() {
  asio::post(impl_->strand, [impl = impl_] {
    impl->stopped = true;
    impl->heads_timer.cancel();
    impl->ping_timer.cancel();
    impl->want_timer.cancel();
    impl->snapshot_timer.cancel();
    impl->core.Stop();
    impl->stop_ran = true;
  });
}

void Sync::OnLocalChange() {
  asio::post(impl_->strand, [impl = impl_] { impl->core.OnLocalChange(); });
}

std::string Sync::PeersJson() const {
  return impl_->core.PeersJson();
}

std::string Sync::PepperJson() const {
  return impl_->core.PepperJson();
}

bool Sync::StopDone() const {
  return impl_->stop_ran.load() && impl_->open_links.load() == 0;
}

std::map<std::string, InstitutionLinkState> Sync::InstitutionStates() const {
  return impl_->core.InstitutionStates();
}

size_t Sync::connected() const {
  return impl_->core.connected();
}

void Sync::OnOpen(const std::shared_ptr<Connection>& c) {
  ++impl_->open_links;
  asio::post(impl_->strand, [impl = impl_, c] {
    auto link = std::make_shared<ConnectionLink>(c);
    impl->links[c.get()] = link;
    impl->core.OnOpen(link);
  });
}

void Sync::OnFrame(const std::shared_ptr<Connection>& c, std::string payload) {
  asio::post(impl_->strand, [impl = impl_, c, payload = std::move(payload)] {
    // Whatever the core makes of it, the frame is off the connection's budget once handled.
    struct Handled {
      const std::shared_ptr<Connection>& c;
      size_t bytes;
      ~Handled() { c->FrameHandled(bytes); }
    } handled{c, payload.size()};
    if (ConnectionLink* link = impl->Find(c.get())) impl->core.OnFrame(*link, payload);
  });
}

void Sync::OnClose(const std::shared_ptr<Connection>& c, const std::string& reason) {
  const bool misbehaved = c->peer_misbehaved();  // read on the connection's strand
  asio::post(impl_->strand, [impl = impl_, c, reason, misbehaved] {
    auto it = impl->links.find(c.get());
    if (it == impl->links.end()) return;
    std::shared_ptr<ConnectionLink> link = it->second;
    impl->links.erase(it);
    --impl->open_links;
    impl->core.OnClose(*link, reason, misbehaved);
  });
}

std::string ConfiguredPeersJson(const std::vector<DialerStatus>& dialers,
                                const std::map<std::string, InstitutionLinkState>& links,
                                int64_t now) {
  nlohmann::json list = nlohmann::json::array();
  for (const DialerStatus& d : dialers) {
    auto it = links.find(d.institution);
    const InstitutionLinkState none;
    const InstitutionLinkState& link = it == links.end() ? none : it->second;
    nlohmann::json peer = {
        {"institution", d.institution}, {"address", d.address}, {"connections", link.connections}};
    // A penalty outranks everything: while it runs, any session the peer opens is closed at once.
    if (link.refused_until > now) {
      peer["state"] = "refused";
      peer["until"] = node::IsoTime(link.refused_until);
      peer["reason"] = "penalised by this node: " + link.refused_why;
    } else if (link.ready) {
      peer["state"] = "ready";
    } else if (d.state == DialerStatus::State::kInvalid) {
      peer["state"] = "invalid";
      peer["reason"] = d.last_error;
    } else if (d.state == DialerStatus::State::kWaiting) {
      peer["state"] = "refused";
      peer["until"] = node::IsoTime(d.retry_at);
      peer["reason"] = d.last_error;
    } else {
      peer["state"] = "connecting";
      if (!d.last_error.empty()) peer["last_error"] = d.last_error;
    }
    list.push_back(std::move(peer));
  }
  return list.dump();
}

}  // namespace duanka::daemon
