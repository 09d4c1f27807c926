// The simulated world the nodes live in: one event queue in simulated time, and a network of
// in-order links with latency, jitter and bandwidth that can be dropped, cut by partitions and
// redialled. Everything runs on one thread and draws from one seeded generator, so a seed
// replays exactly.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "node/daemon/sync_env.h"

namespace duanka::sim {

using SimTime = int64_t;  // microseconds since the run began
inline constexpr SimTime kMillisecond = 1000;
inline constexpr SimTime kSecond = 1000 * kMillisecond;

// Events ordered by simulated time, ties by the order they were queued.
class EventLoop {
 public:
  SimTime now() const { return now_; }
  void At(SimTime at, std::function<void()> f);
  void After(SimTime delay, std::function<void()> f) { At(now_ + delay, std::move(f)); }
  // Runs `f` at the current time, after what is queued for it already.
  void Post(std::function<void()> f) { At(now_, std::move(f)); }
  // Runs every event due up to `until`; the clock then reads `until`.
  void RunUntil(SimTime until);
  // Drops every queued event (they may hold callbacks into nodes about to go away).
  void Clear() { heap_.clear(); }
  uint64_t events_run() const { return events_run_; }

 private:
  struct Event {
    SimTime at;
    uint64_t seq;
    std::function<void()> f;
  };
  static bool Later(const Event& a, const Event& b) {
    return a.at != b.at ? a.at > b.at : a.seq > b.seq;
  }
  std::vector<Event> heap_;
  SimTime now_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t events_run_ = 0;
};

// FNV-1a over what happened: two runs of one seed mix the same values in the same order.
class Trace {
 public:
  void Mix(const void* data, size_t size);
  void Mix(uint64_t v) { Mix(&v, sizeof v); }
  void Mix(std::string_view s) {
    Mix(uint64_t{s.size()});
    Mix(s.data(), s.size());
  }
  std::string Hex() const;

 private:
  uint64_t h_ = 14695981039346656037ULL;
};

class Network;
class SimLink;

// A node or a scripted adversary, as the network sees it.
class Endpoint {
 public:
  virtual ~Endpoint() = default;
  virtual const std::string& institution() const = 0;
  // A crashed node takes no connections and receives nothing.
  virtual bool up() const = 0;
  virtual void Opened(const std::shared_ptr<SimLink>& link) = 0;
  virtual void Frame(SimLink& link, const std::string& payload) = 0;
  virtual void Closed(SimLink& link, const std::string& reason) = 0;
  // A chance to change a payload on its way out (a sabotaged node, in the tests).
  virtual void Outgoing(std::string& /*payload*/) {}
};

// One end of a simulated connection, as the sync core sees its peer.
class SimLink final : public daemon::PeerLink {
 public:
  SimLink(Network& net, uint64_t conn, int side, std::string peer, std::string address,
          bool outbound)
      : net_(net),
        conn_(conn),
        side_(side),
        peer_(std::move(peer)),
        address_(std::move(address)),
        outbound_(outbound) {}
  const std::string& institution() const override { return peer_; }
  const std::string& address() const override { return address_; }
  bool outbound() const override { return outbound_; }
  bool replica() const override { return false; }  // the simulated consortium has none
  void Send(std::string payload) override;
  void Close(std::string reason) override;
  void FrameHandled(size_t) override {}  // no reader to pause: frames arrive as events
  size_t send_backlog() const override;
  const std::string& certificate_serial() const override { return serial_; }
  uint64_t conn() const { return conn_; }

 private:
  Network& net_;
  uint64_t conn_;
  int side_;
  std::string peer_;
  std::string address_;
  std::string serial_;  // the simulator issues no CRL, so no link's certificate is ever revoked
  bool outbound_;
};

struct NetworkOptions {
  // Per direction of a link.
  uint64_t bytes_per_second = 10'000'000 / 8;  // 10 Mbit/s; receivers read at once
  SimTime handshake_round_trips = 2;           // TCP + TLS 1.3 before either side is told
  SimTime close_delay = 1 * kMillisecond;      // until the closing side itself is told
  SimTime redial_min = 250 * kMillisecond;     // doubling, with jitter, up to redial_max
  SimTime redial_max = 5 * kSecond;
  SimTime stable_after = 2 * kSecond;  // a connection that lasted this long resets the backoff
};

// Who dials whom, and the state of that link now.
struct LinkSpec {
  size_t dialler = 0;
  size_t acceptor = 0;
  SimTime latency = 0;  // one way
  SimTime backoff = 0;
  uint64_t conn = 0;  // 0: none open or opening
  bool redial_scheduled = false;
  SimTime cut_until = 0;  // partitioned until then
};

class Network {
 public:
  Network(EventLoop& loop, std::mt19937_64& rng, Trace& trace, NetworkOptions options);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  size_t AddEndpoint(Endpoint* e);
  size_t AddLink(size_t dialler, size_t acceptor, SimTime latency);
  const std::vector<LinkSpec>& links() const { return specs_; }
  // Dials every link whose ends are up.
  void DialAll();

  void Send(uint64_t conn, int from, std::string payload);
  // Bytes sent on this side and not yet on the wire (the link's bandwidth drains them in order).
  size_t Backlog(uint64_t conn, int from) const;
  // Polite close by one side: what it sent still arrives, then the other side is told.
  void Close(uint64_t conn, int side, const std::string& reason);
  // A fault: the connection resets and both sides are told after the link's latency; the dialler
  // redials after its backoff.
  void Drop(size_t spec, const std::string& reason);
  // A crash: its connections reset (their other ends are told), and it is told nothing.
  void EndpointDown(size_t endpoint);
  // After a restart: its own links dial at once.
  void EndpointUp(size_t endpoint);
  // A partition: the link drops and refuses to dial until `until`; it dials again then.
  void Cut(size_t spec, SimTime until);

  struct Stats {
    uint64_t messages = 0;
    uint64_t bytes = 0;
    uint64_t connections = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  static constexpr int kReset = 2;  // a drop or a crash: neither side reads anything more
  struct Direction {
    SimTime busy_until = 0;
    SimTime last_arrival = 0;
  };
  struct Connection {
    size_t spec = 0;
    size_t ep[2] = {0, 0};
    std::shared_ptr<SimLink> link[2];
    Direction dir[2];
    bool open = false;  // handshake done, both sides told
    bool closing = false;
    int closed_by = -1;  // the side that closed politely, or kReset
    bool ended[2] = {false, false};
    SimTime opened_at = 0;
  };

  void TryDial(size_t spec);
  void Open(uint64_t conn);
  void ScheduleRedial(size_t spec);
  void Deliver(uint64_t conn, int to, const std::string& payload);
  void MixDelivery(uint64_t conn, int to, const std::string& payload);
  void Finish(uint64_t conn, int side, const std::string& reason);
  void Reset(uint64_t conn, int dead_side, const std::string& reason);
  std::shared_ptr<SimLink> NewLink(uint64_t conn, int side, size_t peer, bool outbound);
  SimTime Jitter(SimTime up_to);

  EventLoop& loop_;
  std::mt19937_64& rng_;
  Trace& trace_;
  NetworkOptions options_;
  std::vector<Endpoint*> endpoints_;
  std::vector<LinkSpec> specs_;
  std::map<uint64_t, Connection> conns_;
  uint64_t next_conn_ = 1;
  Stats stats_;
  // SyncCore keys its peers by PeerLink address, so the order it walks them in (who is asked
  // for a want, who hears a broadcast first) follows the heap. Links come from this one
  // allocation, in order, so that their addresses and that order are the same in every run.
  std::vector<SimLink> slab_;
};

}  // namespace duanka::sim
