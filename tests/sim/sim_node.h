// Inside the simulator: the world a run keeps (clock, network, ground truth for the invariants),
// the honest nodes (a real SyncCore over a real Store, with a synchronous ingest), and the
// scripted hostile members, which speak protocol::Message directly.
#pragma once

#include <filesystem>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "node/common/config.h"
#include "node/daemon/metrics.h"
#include "node/daemon/sync_core.h"
#include "protocol/message.h"
#include "store/store.h"
#include "tests/sim/sim.h"
#include "tests/sim/sim_pki.h"
#include "tests/sim/sim_world.h"

namespace duanka::sim {

class HonestNode;
class Adversary;

struct PenaltyGiven {
  size_t by = 0;  // honest node index
  std::string who;
  std::string why;
  SimTime at = 0;
};

struct World {
  World(const SimOptions& o, std::filesystem::path run_dir);

  int64_t wall_now() const { return kSimWallBase + loop.now() / kSecond; }
  daemon::SteadyTime steady_now() const;
  // The first memory bound broken during the run is kept.
  void NoteMemoryViolation(const std::string& detail);

  SimOptions options;
  std::mt19937_64 rng;
  EventLoop loop;
  Trace trace;
  SimPki& pki;
  node::DaemonLimits limits;  // every honest node's, unless sabotaged
  std::filesystem::path dir;
  Network network;
  std::vector<std::unique_ptr<HonestNode>> nodes;
  std::vector<std::unique_ptr<Adversary>> adversaries;
  protocol::Trust trust;  // every certified signer of the run
  size_t certified = 0;   // institutions with a signing certificate in every store
  std::set<std::string> honest;

  // Ground truth, for the invariants.
  std::vector<std::pair<protocol::EntryId, protocol::EntryId>> revocations;  // revocation, target
  struct Equivocation {
    std::string issuer;
    uint64_t first = 0, last = 0;  // the seqs at which its two branches hold different records
  };
  std::vector<Equivocation> equivocations;
  std::vector<PenaltyGiven> penalties;
  std::vector<Violation> memory_violations;
  uint64_t records_published = 0;
  uint64_t crashes = 0;
};

class HonestNode final : public Endpoint {
 public:
  HonestNode(World& w, size_t index, std::string institution, node::DaemonLimits limits);
  ~HonestNode() override;

  const std::string& institution() const override { return institution_; }
  bool up() const override { return up_; }
  void Opened(const std::shared_ptr<SimLink>& link) override;
  void Frame(SimLink& link, const std::string& payload) override;
  void Closed(SimLink& link, const std::string& reason) override;
  void Outgoing(std::string& payload) override;

  // Opens the store (created on first boot) and starts a fresh core with its ticks.
  void Boot();
  // The core and every batch not yet committed are lost; the store stays on disk.
  void Crash();
  // Own records, made as duanka-admin makes them (AppendOwn), then announced.
  void PublishEntries(size_t n);
  // Revokes one of its own entries not yet revoked, if any.
  void RevokeOne();

  size_t index() const { return index_; }
  size_t endpoint = 0;  // its index in the network
  store::Store* store() { return store_.get(); }
  daemon::SyncCore* core() { return core_.get(); }
  // For the sabotaged runs.
  bool tamper_outgoing = false;

 private:
  class SimIngest;
  friend class SimIngest;
  void Every(SimTime first, SimTime period, void (daemon::SyncCore::*tick)());
  void CheckMemory();

  World& w_;
  size_t index_;
  std::string institution_;
  node::DaemonLimits limits_;
  std::filesystem::path store_dir_;
  bool up_ = false;
  uint64_t incarnation_ = 0;
  size_t links_open_ = 0;
  std::vector<uint64_t> own_entries_;  // seqs of its entries not yet revoked
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<daemon::Metrics> metrics_;
  std::unique_ptr<daemon::TrustHolder> trust_;
  std::unique_ptr<SimIngest> ingest_;
  std::unique_ptr<daemon::SyncCore> core_;
};

// A hostile member with a certificate of its own, scripted against protocol::Message.
class Adversary : public Endpoint {
 public:
  Adversary(World& w, std::string institution);
  const std::string& institution() const override { return institution_; }
  bool up() const override { return true; }
  void Opened(const std::shared_ptr<SimLink>& link) override;
  void Frame(SimLink& link, const std::string& payload) override;
  void Closed(SimLink& link, const std::string& reason) override;
  // Schedules what it does on its own (publishing, forking), after the topology is known.
  virtual void Start() {}

  size_t endpoint = 0;
  std::vector<std::string> neighbours;  // the honest institutions it dials, in order

 protected:
  void Send(SimLink& link, const protocol::Message& m);
  virtual void Greet(SimLink& link) = 0;
  virtual void OnWant(SimLink& /*link*/, const protocol::msg::Want& /*want*/) {}
  virtual void OnHeads(SimLink& /*link*/) {}
  std::vector<std::string> HonestIssuers() const;

  World& w_;
  std::string institution_;
  std::vector<std::shared_ptr<SimLink>> links_;
};

// One of each kind; `publish_at` is when the equivocator forks.
std::unique_ptr<Adversary> MakeEquivocator(World& w, SimTime publish_at);
std::unique_ptr<Adversary> MakeLiar(World& w);
std::unique_ptr<Adversary> MakeWithholder(World& w);
std::unique_ptr<Adversary> MakeFlooder(World& w);
std::unique_ptr<Adversary> MakeTamperer(World& w);

// A line of the verbose log about `who` (a fault, a hostile member's move).
void SimLog(const World& w, const std::string& who, const std::string& text);

// The invariants, checked after a run; each appends what it finds broken.
void CheckInvariants(World& w, std::vector<Violation>& out);

}  // namespace duanka::sim
