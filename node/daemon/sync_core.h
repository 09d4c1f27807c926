// The sync protocol as a state machine: what peers' messages mean, with no sockets, threads or
// timers of its own. It keeps each connected peer's heads, fetches what this node lacks in bounded
// batches with a bounded number in flight, serves every feed it holds, announces new heads at
// once, re-sends heads periodically, passes on evidence of equivocation, and penalises peers that
// send invalid data.
//
// Against a hostile member: a peer's heads are claims it must keep (a want goes out only within
// what it claimed, and an empty answer is a broken claim, penalised); a late want stops counting
// against its feed and is asked elsewhere, so no peer holds a feed back beyond want_hedge_ms;
// per-peer state is capped (wants_per_peer, feeds only of issuers certified here); a record is
// served as the end of a range only on a signature that verifies, and evidence is passed on only
// when both its records verify alone, so no honest node is ever penalised for relaying.
//
// Single-threaded: every call comes from one thread (the daemon's strand, or the simulator's
// loop), and so do the ingest completions, which the driver brings back through `post`. The
// driver calls the Tick* methods at the intervals SyncCore::Intervals() names.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crypto/pki.h"
#include "node/common/config.h"
#include "node/daemon/metrics.h"
#include "node/daemon/sync_env.h"
#include "store/store.h"

namespace duanka::daemon {

struct SyncOptions {
  std::string institution;
  std::string consortium;
  std::vector<uint32_t> pepper_epochs;
  node::DaemonLimits limits;
  // A read replica of `institution` (its TLS certificate's role): it dials its institution's own
  // node, takes every feed from it, and speaks to no one else.
  bool replica = false;
};

// How this node stands with one institution, whatever the connection's direction.
struct InstitutionLinkState {
  size_t connections = 0;     // sessions open with it
  bool ready = false;         // one of them past the hello
  int64_t refused_until = 0;  // wall-clock seconds it is refused (penalised) until; 0 if never
  std::string refused_why;    // the last penalty's reason
};

// What the core is given to work with. All references outlive the core.
struct SyncContext {
  store::Store& store;
  crypto::TrustStore& ca;  // a newer CRL from a peer or the store is put in force in it
  TrustHolder& trust;
  Ingest& ingest;
  Metrics& metrics;
  SyncClock clock;
  // Runs `f` later on the core's thread (ingest completions come back through it).
  std::function<void(std::function<void()>)> post;
  // Told of every penalty this node gives (institution, why): for the simulator's invariants.
  std::function<void(const std::string&, const std::string&)> on_penalty = nullptr;
};

class SyncCore {
 public:
  SyncCore(SyncContext context, SyncOptions options);
  ~SyncCore();
  SyncCore(const SyncCore&) = delete;
  SyncCore& operator=(const SyncCore&) = delete;

  // How often the driver calls each Tick.
  struct Intervals {
    std::chrono::milliseconds heads, ping, wants, snapshot;
  };
  Intervals intervals() const;

  // Reads the store's certificates and heads; call once before anything else.
  void Start();
  // Tells every peer and closes it; the Ticks then do nothing.
  void Stop();
  // Another process (duanka-admin) or this node's own writer committed: re-read and announce.
  void OnLocalChange();

  // A verified peer connected. Refused (closed) when banned, a duplicate or ourselves; a replica
  // link only between an institution's own node and a replica of it, within limits.max_replicas.
  void OnOpen(const std::shared_ptr<PeerLink>& link);
  void OnFrame(PeerLink& link, const std::string& payload);
  // `misbehaved`: the link ended because the peer sent bytes that are not frames.
  void OnClose(PeerLink& link, const std::string& reason, bool misbehaved);

  void TickHeads();     // heads to every peer, to repair anything missed
  void TickPing();      // keepalive
  void TickWants();     // late wants asked elsewhere, silent peers refused, held feeds retried
  void TickSnapshot();  // the status snapshot, when something changed

  // From any thread: a snapshot kept up to date by TickSnapshot.
  std::string PeersJson() const;
  // {"epochs": […], "epochs_missing": […], "peers_ahead": […]}: this node's pepper epochs and
  // those connected peers hold that it lacks.
  std::string PepperJson() const;
  // Institutions with a session open or a penalty given, by code: the same snapshot.
  std::map<std::string, InstitutionLinkState> InstitutionStates() const;
  // Distinct institutions with a session past the hello.
  size_t connected() const;

  // For the simulator: how many wants are outstanding and how many peers this node keeps state
  // for (bounded memory).
  size_t outstanding_wants() const;
  size_t feeds_tracked() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace duanka::daemon
