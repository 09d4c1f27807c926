// One run: the consortium, its topology, what its members publish, the faults and the hostile
// members, all drawn from the seed; then the quiet period and the invariants.
#include "tests/sim/sim.h"

#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>

#include "tests/sim/sim_node.h"

namespace duanka::sim {
namespace {

// Members publish and faults strike during the active phase; then nothing new happens for the
// quiet phase, which covers a few heads rounds (limits.heads_interval_ms, 30 s), the longest
// redial backoff and a want timeout, so that whatever the faults left behind is repaired.
constexpr SimTime kActive = 60 * kSecond;
constexpr SimTime kQuiet = 120 * kSecond;
constexpr SimTime kEnd = kActive + kQuiet;
// Nothing new in the last part of the active phase: crashed nodes are back before it ends.
constexpr SimTime kPublishUntil = kActive - 10 * kSecond;
constexpr SimTime kFaultsUntil = kActive - 12 * kSecond;

constexpr SimTime kLatencyMin = 5 * kMillisecond;
constexpr SimTime kLatencyMax = 50 * kMillisecond;

// Per honest node: 1..kMaxPublications publications; each a revocation one time in
// kRevokeOneIn, a bulk of kBulkMin..kBulkMax entries one time in kBulkOneIn, else one entry.
constexpr uint64_t kMaxPublications = 5;
constexpr uint64_t kRevokeOneIn = 4;
constexpr uint64_t kBulkOneIn = 20;
constexpr uint64_t kBulkMin = 40;
constexpr uint64_t kBulkMax = 120;
// Small, so that a bulk spans several wants (and hedging and gaps get exercised) with records
// cheap enough for hundreds of seeds.
constexpr uint32_t kRecordsPerWant = 32;

// Faults per run: link drops, partitions (a third of the nodes, cut off for a while), crashes.
constexpr uint64_t kMinDrops = 10, kMaxDrops = 20;
constexpr uint64_t kMaxPartitions = 2;
constexpr SimTime kPartitionMin = 3 * kSecond, kPartitionMax = 15 * kSecond;
constexpr uint64_t kMaxCrashes = 3;
constexpr SimTime kDownMin = 1 * kSecond, kDownMax = 10 * kSecond;

// Each hostile member dials this many honest nodes.
constexpr size_t kAdversaryDegree = 3;

// Sabotage: the late joiner's start, and the bulk it must catch up on.
constexpr SimTime kLateJoin = 20 * kSecond;
constexpr size_t kLateJoinBulk = 200;

SimTime Uniform(std::mt19937_64& rng, SimTime lo, SimTime hi) {
  return lo + SimTime(rng() % uint64_t(hi - lo + 1));
}

// Where the run's stores live: in memory when the machine has /dev/shm (LMDB syncs every commit),
// else in the temp directory. Removed after the run.
class RunDir {
 public:
  RunDir() {
    std::filesystem::path base = "/dev/shm";
    std::error_code ec;
    if (!std::filesystem::is_directory(base, ec)) base = std::filesystem::temp_directory_path();
    std::string pattern = (base / "duanka-sim-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot create " + pattern);
    path_ = pattern;
  }
  ~RunDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string NodeName(size_t i) {
  std::string n = std::to_string(i);
  return "BANK" + std::string(n.size() < 2 ? 2 - n.size() : 0, '0') + n;
}

void BuildTopology(World& w) {
  const size_t n = w.nodes.size();
  std::set<std::pair<size_t, size_t>> linked;
  auto link = [&](size_t a, size_t b) {
    if (a == b || linked.count({std::min(a, b), std::max(a, b)})) return;
    linked.insert({std::min(a, b), std::max(a, b)});
    w.network.AddLink(w.nodes[a]->endpoint, w.nodes[b]->endpoint,
                      Uniform(w.rng, kLatencyMin, kLatencyMax));
  };
  if (n < 2) return;
  const size_t ring_links = w.options.topology == Topology::kLine ? n - 1 : n;
  for (size_t i = 0; i < ring_links; ++i) link(i, (i + 1) % n);
  if (w.options.topology == Topology::kRandom) {
    // The ring keeps the honest nodes connected whatever the draw; each node also dials a few
    // random others, for about `degree` links each.
    const size_t extra = w.options.degree > 2 ? (w.options.degree - 2 + 1) / 2 : 0;
    for (size_t i = 0; i < n; ++i) {
      for (size_t k = 0; k < extra; ++k) link(i, w.rng() % n);
    }
  }
  for (auto& a : w.adversaries) {
    std::set<size_t> picked;
    while (picked.size() < std::min(kAdversaryDegree, n)) {
      size_t b = w.rng() % n;
      if (!picked.insert(b).second) continue;
      a->neighbours.push_back(w.nodes[b]->institution());
      w.network.AddLink(a->endpoint, w.nodes[b]->endpoint,
                        Uniform(w.rng, kLatencyMin, kLatencyMax));
    }
  }
}

void SchedulePublications(World& w) {
  for (auto& node : w.nodes) {
    HonestNode* n = node.get();
    const uint64_t count = 1 + w.rng() % kMaxPublications;
    for (uint64_t k = 0; k < count; ++k) {
      const SimTime at = Uniform(w.rng, kSecond / 2, kPublishUntil);
      const uint64_t kind = w.rng();
      const size_t bulk = kBulkMin + w.rng() % (kBulkMax - kBulkMin + 1);
      w.loop.At(at, [n, kind, bulk] {
        if (kind % kRevokeOneIn == 0) {
          n->RevokeOne();
        } else if (kind % kBulkOneIn == 1) {
          n->PublishEntries(bulk);
        } else {
          n->PublishEntries(1);
        }
      });
    }
  }
}

void ScheduleFaults(World& w) {
  const size_t n = w.nodes.size();
  const uint64_t drops = kMinDrops + w.rng() % (kMaxDrops - kMinDrops + 1);
  for (uint64_t k = 0; k < drops; ++k) {
    const SimTime at = Uniform(w.rng, kSecond, kFaultsUntil);
    w.loop.At(at, [&w] {
      if (w.network.links().empty()) return;
      const size_t s = w.rng() % w.network.links().size();
      const LinkSpec& spec = w.network.links()[s];
      SimLog(w, "network",
             "drops link " + std::to_string(spec.dialler) + "-" + std::to_string(spec.acceptor));
      w.network.Drop(s, "connection dropped");
    });
  }
  const uint64_t partitions = 1 + w.rng() % kMaxPartitions;
  for (uint64_t k = 0; k < partitions; ++k) {
    const SimTime length = Uniform(w.rng, kPartitionMin, kPartitionMax);
    const SimTime at = Uniform(w.rng, 2 * kSecond, kFaultsUntil - length);
    w.loop.At(at, [&w, n, length] {
      // A third of the honest nodes (the hostile members stay with their first neighbour).
      std::map<size_t, bool> side;  // endpoint → inside
      std::string inside;
      for (size_t i = 0; i < n; ++i) {
        side[w.nodes[i]->endpoint] = w.rng() % 3 == 0;
        if (side[w.nodes[i]->endpoint]) inside += " " + w.nodes[i]->institution();
      }
      SimLog(w, "network",
             "partitions" + inside + " from the rest for " + std::to_string(length / kMillisecond) +
                 " ms");
      for (auto& a : w.adversaries) side[a->endpoint] = false;
      for (size_t s = 0; s < w.network.links().size(); ++s) {
        const LinkSpec& spec = w.network.links()[s];
        if (side[spec.dialler] != side[spec.acceptor]) w.network.Cut(s, w.loop.now() + length);
      }
    });
  }
  const uint64_t crashes = 1 + w.rng() % kMaxCrashes;
  for (uint64_t k = 0; k < crashes; ++k) {
    const SimTime down = Uniform(w.rng, kDownMin, kDownMax);
    const SimTime at = Uniform(w.rng, 2 * kSecond, kFaultsUntil - down);
    HonestNode* victim = w.nodes[w.rng() % n].get();
    w.loop.At(at, [&w, victim, down] {
      if (!victim->up()) return;
      SimLog(w, victim->institution(),
             "crashes for " + std::to_string(down / kMillisecond) + " ms");
      victim->Crash();
      w.loop.After(down, [&w, victim] {
        SimLog(w, victim->institution(), "restarts");
        victim->Boot();
        w.network.EndpointUp(victim->endpoint);
      });
    });
  }
}

// A record of an issuer nobody certified, signed by a key of its own, put straight into the
// store: what a node that skipped certificate checks would hold.
void ForgeRecord(World& w, HonestNode& n) {
  const std::string seed_text = "duanka-sim-forger";
  crypto::Hash256 seed = crypto::Sha256(crypto::AsBytes(seed_text));
  Result<crypto::SigningKey> key = crypto::SigningKey::FromSeed(seed.view());
  if (!key) throw std::runtime_error("forger key");
  protocol::Trust lax;
  lax.Add(
      protocol::Signer{"FORGED", crypto::Role::kMember, key->public_key(), 0, kSimWallBase * 2});
  protocol::Record r;
  r.issuer = "FORGED";
  r.seq = 1;
  r.issued_at = w.wall_now();
  r.signer_key_id = protocol::KeyId(key->public_key());
  protocol::EntryBody e;
  e.subject = crypto::Sha256(crypto::AsBytes(std::string("forged")));
  e.id_type = protocol::IdType::kPhone;
  e.pepper_epoch = 1;
  e.expires_at = w.wall_now() + 3600;
  r.body = e;
  Result<protocol::SignedRecord> s = protocol::SignRecord(r, *key);
  if (!s) throw std::runtime_error("forge: " + s.error().message);
  Result<protocol::VerifiedRecord> v =
      protocol::Verify(*s, lax, protocol::VerifyOptions{w.wall_now()});
  if (!v) throw std::runtime_error("forge: " + v.error().message);
  if (!n.store()->Append(std::vector<protocol::VerifiedRecord>{*v}, w.wall_now())) {
    throw std::runtime_error("forge: append");
  }
}

}  // namespace

const char* SabotageName(Sabotage s) {
  switch (s) {
    case Sabotage::kNone:
      return "none";
    case Sabotage::kForgedRecord:
      return "forged-record";
    case Sabotage::kLateRecord:
      return "late-record";
    case Sabotage::kLateEquivocation:
      return "late-equivocation";
    case Sabotage::kLateRevocation:
      return "late-revocation";
    case Sabotage::kHonestTamperer:
      return "honest-tamperer";
    case Sabotage::kUnboundedWants:
      return "unbounded-wants";
  }
  return "none";
}

std::string ReplayCommand(const std::string& program, const SimOptions& o) {
  const char* topology = o.topology == Topology::kRandom ? "random"
                         : o.topology == Topology::kRing ? "ring"
                                                         : "line";
  std::string cmd = program + " --seed " + std::to_string(o.seed) + " --nodes " +
                    std::to_string(o.nodes) + " --faults " + (o.faults ? "on" : "off") +
                    " --adversaries " + (o.adversaries ? "on" : "off") + " --topology " + topology +
                    " --degree " + std::to_string(o.degree);
  if (o.sabotage != Sabotage::kNone) cmd += std::string(" --sabotage ") + SabotageName(o.sabotage);
  return cmd;
}

RunResult RunSimulation(const SimOptions& o) {
  const auto wall_start = std::chrono::steady_clock::now();
  if (o.nodes < 2) throw std::invalid_argument("--nodes: at least 2");
  RunDir dir;
  World w(o, dir.path());
  w.limits.records_per_want = kRecordsPerWant;

  for (size_t i = 0; i < o.nodes; ++i) w.honest.insert(NodeName(i));
  const SimTime fork_at = o.sabotage == Sabotage::kLateEquivocation
                              ? kEnd - kMillisecond
                              : Uniform(w.rng, 5 * kSecond, kPublishUntil);
  if (o.adversaries || o.sabotage == Sabotage::kLateEquivocation) {
    w.adversaries.push_back(MakeEquivocator(w, fork_at));
    w.adversaries.push_back(MakeLiar(w));
    w.adversaries.push_back(MakeWithholder(w));
    w.adversaries.push_back(MakeFlooder(w));
    w.adversaries.push_back(MakeTamperer(w));
  }
  for (const std::string& who : w.honest) w.trust.Add(w.pki.Identity(who).signer);
  for (const auto& a : w.adversaries) w.trust.Add(w.pki.Identity(a->institution()).signer);
  w.certified = w.honest.size() + w.adversaries.size();

  for (size_t i = 0; i < o.nodes; ++i) {
    node::DaemonLimits limits = w.limits;
    if (i == 0 && o.sabotage == Sabotage::kUnboundedWants) {
      limits.wants_per_peer = 1 << 20;
      limits.wants_in_flight = 1 << 20;
      limits.records_per_want = 1;
    }
    w.nodes.push_back(std::make_unique<HonestNode>(w, i, NodeName(i), limits));
    w.nodes.back()->endpoint = w.network.AddEndpoint(w.nodes.back().get());
  }
  for (auto& a : w.adversaries) a->endpoint = w.network.AddEndpoint(a.get());
  BuildTopology(w);

  const bool late_joiner = o.sabotage == Sabotage::kUnboundedWants;
  for (size_t i = late_joiner ? 1 : 0; i < o.nodes; ++i) w.nodes[i]->Boot();
  for (auto& a : w.adversaries) a->Start();
  w.network.DialAll();
  SchedulePublications(w);
  if (o.faults) ScheduleFaults(w);

  HonestNode& first = *w.nodes[0];
  switch (o.sabotage) {
    case Sabotage::kNone:
    case Sabotage::kLateEquivocation:
      break;
    case Sabotage::kForgedRecord:
      ForgeRecord(w, first);
      break;
    case Sabotage::kLateRecord:
      w.loop.At(kEnd - kMillisecond, [&first] { first.PublishEntries(1); });
      break;
    case Sabotage::kLateRevocation:
      w.loop.At(kSecond, [&first] { first.PublishEntries(1); });
      w.loop.At(kEnd - kMillisecond, [&first] { first.RevokeOne(); });
      break;
    case Sabotage::kHonestTamperer:
      first.tamper_outgoing = true;
      break;
    case Sabotage::kUnboundedWants: {
      HonestNode& second = *w.nodes[1];
      w.loop.At(kSecond, [&second] { second.PublishEntries(kLateJoinBulk); });
      w.loop.At(kLateJoin, [&w, &first] {
        first.Boot();
        w.network.EndpointUp(first.endpoint);
      });
      break;
    }
  }

  // Crashes during the run leave nothing down for the quiet phase (kFaultsUntil), so by kEnd
  // every honest node is up and has had time to catch up.
  w.loop.RunUntil(kEnd);

  RunResult result;
  result.seed = o.seed;
  CheckInvariants(w, result.violations);
  for (const auto& n : w.nodes) {
    if (!n->up()) continue;
    Result<std::vector<store::Head>> heads = n->store()->Heads();
    if (!heads) continue;
    for (const store::Head& h : *heads) {
      w.trace.Mix(h.issuer);
      w.trace.Mix(h.seq);
      w.trace.Mix(h.hash.bytes.data(), h.hash.bytes.size());
    }
  }
  result.trace_hash = w.trace.Hex();
  result.events = w.loop.events_run();
  result.messages = w.network.stats().messages;
  result.bytes = w.network.stats().bytes;
  result.connections = w.network.stats().connections;
  result.records_published = w.records_published;
  result.crashes = w.crashes;
  result.penalties = w.penalties.size();
  // Queued events hold callbacks into the nodes: dropped before the nodes go.
  w.loop.Clear();
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return result;
}

}  // namespace duanka::sim
