// What the sync state machine (sync_core.h) needs from the world around it, as small interfaces:
// a link to one peer, the ingest path, the signers it trusts, and a clock. The daemon implements
// them with TLS connections, worker threads and the system clocks (sync.h); the deterministic
// simulator (tests/sim/) with simulated links, a synchronous ingest and simulated time.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "crypto/base/result.h"
#include "protocol/record.h"

namespace duanka::daemon {

using SteadyTime = std::chrono::steady_clock::time_point;

// One peer, as the network layer verified it. Calls come from the sync core's thread only.
class PeerLink {
 public:
  virtual ~PeerLink() = default;
  // The institution code of the peer's verified certificate.
  virtual const std::string& institution() const = 0;
  // For logs and status: where the peer is ("127.0.0.1:7401").
  virtual const std::string& address() const = 0;
  // The serial of the peer's TLS certificate (uppercase hex), to close it when a CRL revokes it.
  virtual const std::string& certificate_serial() const = 0;
  // Whether this node dialled the peer.
  virtual bool outbound() const = 0;
  // Whether the peer's certificate is a read replica's (of institution()).
  virtual bool replica() const = 0;
  // Queues one message (an encoded protocol::Message) for the peer.
  virtual void Send(std::string payload) = 0;
  // Closes politely, within the link's deadlines; the core then gets OnClose. Idempotent.
  virtual void Close(std::string reason) = 0;
  // The core is done with a received frame of this many bytes (backpressure: see
  // ConnectionOptions::max_unprocessed_bytes).
  virtual void FrameHandled(size_t bytes) = 0;
  // Bytes sent to the peer that it has not read yet (queued here).
  virtual size_t send_backlog() const = 0;
};

// The current signers, swapped whole when certificates arrive (readers keep the one they took).
// Thread-safe.
class TrustHolder {
 public:
  std::shared_ptr<const protocol::Trust> Get() const;
  // Adds signers: copies the current Trust, adds, and swaps it in.
  void Add(const std::vector<protocol::Signer>& signers);
  // Replaces every signer (a CRL revoked some).
  void Replace(const std::vector<protocol::Signer>& signers);

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const protocol::Trust> trust_ = std::make_shared<protocol::Trust>();
};

struct BatchOutcome {
  size_t appended = 0;
  size_t duplicates = 0;
  size_t forks = 0;
  // The first refused record and why: kMalformed/kUnauthorized (the sender's fault: penalise),
  // kNotYet (dated ahead of this node's clock: retry later), kGap/kConflict (chain does not link
  // here), kFrozen, kIo (ours).
  std::optional<Error> refused;
  // Records of a branch a fork resolution discarded (refused as kConflict): the sender lacks the
  // resolution, and is sent it rather than probed for a fork.
  bool losing = false;
  // Hashes of the batch's records now held (appended, or held already) whose own signatures were
  // checked on the way in: serving them on, the core need not check them again.
  std::vector<crypto::Hash256> signature_checked;
};

// Verifies and commits records and evidence from peers. `done` runs once the batch is committed
// (or refused), on any thread; the core's driver brings it back to the core's thread.
class Ingest {
 public:
  using Done = std::function<void(const BatchOutcome&)>;
  virtual ~Ingest() = default;
  // One issuer's contiguous records (seq ascending).
  virtual void Submit(std::vector<protocol::SignedRecord> records, Done done) = 0;
  // Evidence of equivocation: verified record by record, then kept.
  virtual void SubmitEvidence(protocol::SignedRecord a, protocol::SignedRecord b, Done done) = 0;
};

// Time as the core sees it: wall-clock seconds (records, hello) and a monotonic clock (deadlines).
struct SyncClock {
  std::function<int64_t()> wall_seconds;
  std::function<SteadyTime()> steady;
};

}  // namespace duanka::daemon
