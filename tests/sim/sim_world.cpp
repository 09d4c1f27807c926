#include "tests/sim/sim_world.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "protocol/message.h"

namespace duanka::sim {
namespace {

// Connections one run may open (churn included); the links' slab is reserved for this many ends.
constexpr size_t kMaxConnectionsPerRun = 1 << 15;
// An Ed25519 certificate of ours is over 300 bytes of DER.
constexpr size_t kSmallestCertsMessage = 256;

}  // namespace

// ---- EventLoop ----

void EventLoop::At(SimTime at, std::function<void()> f) {
  heap_.push_back(Event{std::max(at, now_), next_seq_++, std::move(f)});
  std::push_heap(heap_.begin(), heap_.end(), Later);
}

void EventLoop::RunUntil(SimTime until) {
  while (!heap_.empty() && heap_.front().at <= until) {
    std::pop_heap(heap_.begin(), heap_.end(), Later);
    Event e = std::move(heap_.back());
    heap_.pop_back();
    now_ = e.at;
    ++events_run_;
    e.f();
  }
  now_ = std::max(now_, until);
}

// ---- Trace ----

void Trace::Mix(const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) {
    h_ ^= p[i];
    h_ *= 1099511628211ULL;
  }
}

std::string Trace::Hex() const {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h_));
  return text;
}

// ---- SimLink ----

void SimLink::Send(std::string payload) {
  net_.Send(conn_, side_, std::move(payload));
}

size_t SimLink::send_backlog() const {
  return net_.Backlog(conn_, side_);
}

void SimLink::Close(std::string reason) {
  net_.Close(conn_, side_, reason);
}

// ---- Network ----

void Network::MixDelivery(uint64_t id, int to, const std::string& payload) {
  trace_.Mix(uint64_t(loop_.now()));
  trace_.Mix(id);
  trace_.Mix(uint64_t(to));
  // Certificates carry a random serial and the CA's signature, made anew by each process: of a
  // `certs` message only its size is the same in every process. Smaller messages hold none.
  if (payload.size() >= kSmallestCertsMessage) {
    Result<protocol::Message> m = protocol::DecodeMessage(payload);
    if (m && std::holds_alternative<protocol::msg::Certs>(*m)) {
      trace_.Mix(uint64_t{payload.size()});
      return;
    }
  }
  trace_.Mix(payload);
}

Network::Network(EventLoop& loop, std::mt19937_64& rng, Trace& trace, NetworkOptions options)
    : loop_(loop), rng_(rng), trace_(trace), options_(options) {
  slab_.reserve(2 * kMaxConnectionsPerRun);
}

Network::~Network() = default;

size_t Network::AddEndpoint(Endpoint* e) {
  endpoints_.push_back(e);
  return endpoints_.size() - 1;
}

size_t Network::AddLink(size_t dialler, size_t acceptor, SimTime latency) {
  specs_.push_back(LinkSpec{dialler, acceptor, latency, options_.redial_min});
  return specs_.size() - 1;
}

SimTime Network::Jitter(SimTime up_to) {
  if (up_to <= 0) return 0;
  return static_cast<SimTime>(rng_() % static_cast<uint64_t>(up_to + 1));
}

void Network::DialAll() {
  for (size_t i = 0; i < specs_.size(); ++i) TryDial(i);
}

std::shared_ptr<SimLink> Network::NewLink(uint64_t conn, int side, size_t peer, bool outbound) {
  if (slab_.size() == slab_.capacity()) {
    throw std::runtime_error("the run opened more than " + std::to_string(kMaxConnectionsPerRun) +
                             " connections");
  }
  slab_.emplace_back(*this, conn, side, endpoints_[peer]->institution(),
                     "sim:" + endpoints_[peer]->institution() + "#" + std::to_string(conn),
                     outbound);
  // The slab owns the link; the core's references end before the network does.
  return std::shared_ptr<SimLink>(&slab_.back(), [](SimLink*) {});
}

void Network::TryDial(size_t s) {
  LinkSpec& spec = specs_[s];
  spec.redial_scheduled = false;
  if (spec.conn != 0) return;
  if (!endpoints_[spec.dialler]->up()) return;  // its restart dials again
  if (!endpoints_[spec.acceptor]->up() || loop_.now() < spec.cut_until) {
    ScheduleRedial(s);
    return;
  }
  const uint64_t id = next_conn_++;
  Connection& c = conns_[id];
  c.spec = s;
  c.ep[0] = spec.dialler;
  c.ep[1] = spec.acceptor;
  spec.conn = id;
  ++stats_.connections;
  loop_.After(options_.handshake_round_trips * 2 * spec.latency, [this, id] { Open(id); });
}

void Network::Open(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Connection& c = it->second;
  LinkSpec& spec = specs_[c.spec];
  if (c.closing || !endpoints_[c.ep[0]]->up() || !endpoints_[c.ep[1]]->up() ||
      loop_.now() < spec.cut_until) {
    spec.conn = 0;
    const size_t spec_index = c.spec;  // `c` goes with the erase
    conns_.erase(it);
    ScheduleRedial(spec_index);
    return;
  }
  c.open = true;
  c.opened_at = loop_.now();
  c.link[0] = NewLink(id, 0, c.ep[1], /*outbound=*/true);
  c.link[1] = NewLink(id, 1, c.ep[0], /*outbound=*/false);
  trace_.Mix(uint64_t{0x0be0});
  trace_.Mix(uint64_t(loop_.now()));
  trace_.Mix(id);
  // Copies: an endpoint may close the connection (and a crash may erase it) while being told.
  std::shared_ptr<SimLink> accepted = c.link[1], dialled = c.link[0];
  Endpoint* acceptor = endpoints_[c.ep[1]];
  Endpoint* dialler = endpoints_[c.ep[0]];
  acceptor->Opened(accepted);
  auto again = conns_.find(id);
  if (again != conns_.end() && !again->second.ended[0]) dialler->Opened(dialled);
}

void Network::ScheduleRedial(size_t s) {
  LinkSpec& spec = specs_[s];
  if (spec.redial_scheduled) return;
  spec.redial_scheduled = true;
  SimTime delay = spec.backoff + Jitter(spec.backoff / 2);
  spec.backoff = std::min(spec.backoff * 2, options_.redial_max);
  loop_.After(delay, [this, s] { TryDial(s); });
}

void Network::Send(uint64_t id, int from, std::string payload) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Connection& c = it->second;
  if (!c.open || c.closing || c.ended[from]) return;
  endpoints_[c.ep[from]]->Outgoing(payload);
  const LinkSpec& spec = specs_[c.spec];
  Direction& d = c.dir[from];
  const SimTime size_time =
      static_cast<SimTime>(payload.size() * uint64_t(kSecond) / options_.bytes_per_second);
  d.busy_until = std::max(loop_.now(), d.busy_until) + size_time;
  SimTime arrival = d.busy_until + spec.latency + Jitter(spec.latency / 5);
  arrival = std::max(arrival, d.last_arrival);  // one TCP stream: in order
  d.last_arrival = arrival;
  ++stats_.messages;
  stats_.bytes += payload.size();
  const int to = 1 - from;
  loop_.At(arrival, [this, id, to, payload = std::move(payload)] { Deliver(id, to, payload); });
}

size_t Network::Backlog(uint64_t id, int from) const {
  auto it = conns_.find(id);
  if (it == conns_.end()) return 0;
  const SimTime queued = it->second.dir[from].busy_until - loop_.now();
  if (queued <= 0) return 0;
  return static_cast<size_t>(uint64_t(queued) * options_.bytes_per_second / uint64_t(kSecond));
}

void Network::Deliver(uint64_t id, int to, const std::string& payload) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Connection& c = it->second;
  // After a polite close only what the closer sent before it still arrives; after a reset,
  // nothing in flight does.
  if (c.ended[to] || (c.closing && c.closed_by != 1 - to)) return;
  std::shared_ptr<SimLink> link = c.link[to];
  MixDelivery(id, to, payload);
  endpoints_[c.ep[to]]->Frame(*link, payload);
}

void Network::Close(uint64_t id, int side, const std::string& reason) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Connection& c = it->second;
  if (c.closing) return;
  c.closing = true;
  c.closed_by = side;
  const LinkSpec& spec = specs_[c.spec];
  loop_.After(options_.close_delay, [this, id, side, reason] { Finish(id, side, reason); });
  // The other side reads what was sent before the close, then sees the close_notify.
  SimTime told = std::max(loop_.now() + spec.latency, c.dir[side].last_arrival) + 1;
  loop_.At(told, [this, id, other = 1 - side, reason] {
    Finish(id, other, "closed by the peer: " + reason);
  });
}

void Network::Finish(uint64_t id, int side, const std::string& reason) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Connection& c = it->second;
  if (c.ended[side]) return;
  c.ended[side] = true;
  std::shared_ptr<SimLink> link = c.link[side];
  Endpoint* e = endpoints_[c.ep[side]];
  const bool both = c.ended[0] && c.ended[1];
  const size_t s = c.spec;
  const bool stable = loop_.now() - c.opened_at >= options_.stable_after;
  if (both) {
    specs_[s].conn = 0;
    conns_.erase(it);
    if (stable) specs_[s].backoff = options_.redial_min;
    ScheduleRedial(s);
  }
  if (link && e->up()) {
    trace_.Mix(uint64_t{0xc105e});
    trace_.Mix(uint64_t(loop_.now()));
    trace_.Mix(id);
    e->Closed(*link, reason);
  }
}

void Network::Reset(uint64_t id, int dead_side, const std::string& reason) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Connection& c = it->second;
  c.closing = true;
  c.closed_by = kReset;
  c.ended[dead_side] = true;
  const SimTime latency = specs_[c.spec].latency;
  if (!c.open) {
    // Still in its handshake: Open sees the close and redials.
    return;
  }
  loop_.After(latency, [this, id, other = 1 - dead_side, reason] { Finish(id, other, reason); });
}

void Network::Drop(size_t s, const std::string& reason) {
  const uint64_t id = specs_[s].conn;
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second.closing || !it->second.open) return;
  Connection& c = it->second;
  c.closing = true;
  c.closed_by = kReset;
  const SimTime latency = specs_[s].latency;
  loop_.After(latency, [this, id, reason] { Finish(id, 0, reason); });
  loop_.After(latency, [this, id, reason] { Finish(id, 1, reason); });
}

void Network::EndpointDown(size_t endpoint) {
  std::vector<std::pair<uint64_t, int>> mine;
  for (auto& [id, c] : conns_) {
    for (int side = 0; side < 2; ++side) {
      if (c.ep[side] == endpoint && !c.ended[side]) mine.emplace_back(id, side);
    }
  }
  for (const auto& [id, side] : mine) Reset(id, side, "connection reset: the peer crashed");
}

void Network::EndpointUp(size_t endpoint) {
  for (size_t s = 0; s < specs_.size(); ++s) {
    if (specs_[s].dialler == endpoint) {
      specs_[s].backoff = options_.redial_min;
      TryDial(s);
    }
  }
}

void Network::Cut(size_t s, SimTime until) {
  LinkSpec& spec = specs_[s];
  const bool was_cut = loop_.now() < spec.cut_until;
  spec.cut_until = std::max(spec.cut_until, until);
  Drop(s, "partition");
  if (!was_cut) {
    // Healed at `until` (or later, if cut again meanwhile): dial at once then.
    loop_.At(until, [this, s] {
      if (loop_.now() < specs_[s].cut_until) return;
      specs_[s].backoff = options_.redial_min;
      TryDial(s);
    });
  }
}

}  // namespace duanka::sim
