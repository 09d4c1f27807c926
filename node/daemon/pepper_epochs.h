// hello.pepperEpochs compared with this node's pepper (issue 12, section 4).
//
// A peer whose pepper holds an epoch this node's lacks relays entries made under that epoch's key:
// they are stored here, but no lookup here can find them, since this node cannot derive their
// subjects. Nothing in the records says so; only the peers' hellos do. The sync core reports each
// hello here and raises the alert (log, metric, status) from what this returns. Pure: no I/O, no
// clock, no threads; the caller serialises calls (the sync core's strand).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace duanka::daemon {

// The epochs of `theirs` that `ours` lacks, ascending, each once. Either list may be in any order
// (hello's are strictly ascending once decoded; this does not rely on it).
std::vector<uint32_t> EpochsMissingHere(std::span<const uint32_t> ours,
                                        std::span<const uint32_t> theirs);

// "3" or "3, 4", for log lines.
std::string EpochListText(std::span<const uint32_t> epochs);

// The connected peers' epochs that this node lacks, kept per connection: the alert lasts while
// such a peer is connected, and ends when this node installs the new pepper and restarts (or the
// last such peer goes).
class PepperEpochWatch {
 public:
  // A connection, as the caller knows it; only compared, never dereferenced.
  using PeerId = const void*;

  explicit PepperEpochWatch(std::vector<uint32_t> ours);

  // A hello arrived on `peer` (of `institution`) announcing `theirs`. Returns the epochs it holds
  // that this node lacks: non-empty means warn, naming the peer and them. A second hello on the
  // same connection replaces the first.
  std::vector<uint32_t> OnHello(PeerId peer, const std::string& institution,
                                std::span<const uint32_t> theirs);
  // The connection closed.
  void OnGone(PeerId peer);

  // Every epoch some connected peer holds and this node lacks, ascending: the status field
  // `pepper.epochs_missing`; its size is the gauge `duanka_pepper_epoch_missing` (0 when all is
  // well).
  std::vector<uint32_t> Missing() const;
  // The institutions (each once, sorted) of the connected peers that hold such an epoch: the
  // status field `pepper.peers_ahead`.
  std::vector<std::string> PeersAhead() const;

  const std::vector<uint32_t>& ours() const { return ours_; }

 private:
  struct Seen {
    std::string institution;
    std::vector<uint32_t> missing;  // never empty: peers with nothing missing are not kept
  };
  std::vector<uint32_t> ours_;
  std::map<PeerId, Seen> peers_;
};

}  // namespace duanka::daemon
