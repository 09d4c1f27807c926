// The sync layer (the peer manager): what frames from peers mean. It keeps each connected peer's
// heads, fetches what this node lacks in bounded batches with a bounded number in flight, serves
// every feed it holds to anyone who asks, announces new heads at once, re-sends heads
// periodically to repair anything missed, passes on evidence of equivocation, and penalises
// peers that send invalid data.
//
// Threads: all of its state lives on one strand; the ConnectionHandler calls arrive on
// connections' strands and are posted onto it.
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first on GCC 12

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "crypto/pki.h"
#include "node/common/config.h"
#include "node/daemon/connection.h"
#include "node/daemon/ingest_pipeline.h"
#include "node/daemon/metrics.h"
#include "protocol/message.h"
#include "store/store.h"

namespace duanka::daemon {

inline constexpr uint16_t kProtocolVersion = 1;

struct SyncOptions {
  std::string institution;
  std::string consortium;
  std::vector<uint32_t> pepper_epochs;
  node::DaemonLimits limits;
};

class Sync : public ConnectionHandler {
 public:
  Sync(asio::io_context& io, store::Store& store, const crypto::TrustStore& ca, TrustHolder& trust,
       IngestPipeline& ingest, Metrics& metrics, SyncOptions options, std::function<int64_t()> now);
  ~Sync() override;

  void Start();
  // Closes every peer politely (within the shutdown timeout) and stops the timers.
  void Stop();
  // Re-reads the heads from the store and announces any that grew: called when another process
  // (duanka-admin) or this node's own writer committed.
  void OnLocalChange();

  // For /v1/status and /healthz, from any thread: a snapshot kept up to date by the strand.
  std::string PeersJson() const;
  size_t connected() const;

  void OnOpen(const std::shared_ptr<Connection>& c) override;
  void OnFrame(const std::shared_ptr<Connection>& c, std::string payload) override;
  void OnClose(const std::shared_ptr<Connection>& c, const std::string& reason) override;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace duanka::daemon
