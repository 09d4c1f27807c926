// The sync layer in the daemon: the sync state machine (sync_core.h) driven on one Asio strand,
// its timers on that strand, and each TLS Connection as its PeerLink. ConnectionHandler calls
// arrive on connections' strands and are posted onto the sync strand.
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first on GCC 12

#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crypto/pki.h"
#include "node/daemon/connection.h"
#include "node/daemon/ingest_pipeline.h"
#include "node/daemon/links.h"
#include "node/daemon/metrics.h"
#include "node/daemon/sync_core.h"
#include "store/store.h"

namespace duanka::daemon {

class Sync : public ConnectionHandler {
 public:
  Sync(asio::io_context& io, store::Store& store, crypto::TrustStore& ca, TrustHolder& trust,
       Ingest& ingest, Metrics& metrics, SyncOptions options, std::function<int64_t()> now);
  ~Sync() override;

  void Start();
  // Closes every peer politely (within the shutdown timeout) and stops the timers.
  void Stop();
  // Re-reads the heads from the store and announces any that grew: called when another process
  // (duanka-admin) or this node's own writer committed.
  void OnLocalChange();

  // For /v1/status and /healthz, from any thread: a snapshot kept up to date on the strand.
  std::string PeersJson() const;
  std::string PepperJson() const;
  std::map<std::string, InstitutionLinkState> InstitutionStates() const;
  // Distinct institutions with a session past the hello.
  size_t connected() const;
  // From any thread: Stop has run on the strand and every peer connection handed to OnOpen is
  // fully closed (TLS close done or cut off). A stop is over when this holds.
  bool StopDone() const;

  void OnOpen(const std::shared_ptr<Connection>& c) override;
  void OnFrame(const std::shared_ptr<Connection>& c, std::string payload) override;
  void OnClose(const std::shared_ptr<Connection>& c, const std::string& reason) override;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// /v1/status's "configured_peers": one object per network.peers entry, in the config's order,
// {"institution", "address", "state", "connections"} and, by state:
//   "ready"       a session with the institution is past the hello (either direction);
//   "connecting"  a dial or handshake is under way ("last_error": why the previous one ended);
//   "refused"     "until" (ISO time) and "reason": penalised by this node, or the last attempt
//                 failed and the dialer waits until then to try again;
//   "invalid"     the entry cannot be dialled ("reason").
// `now` (wall-clock seconds) tells a penalty that has run out from one in force.
std::string ConfiguredPeersJson(const std::vector<DialerStatus>& dialers,
                                const std::map<std::string, InstitutionLinkState>& links,
                                int64_t now);

}  // namespace duanka::daemon
