// A deterministic simulation of a consortium: N nodes, each running the real sync state machine
// (node/daemon/sync_core.h) over its own real LMDB store, real record signatures and a real CA,
// joined by simulated links with latency, bandwidth, drops, partitions and crashes, with scripted
// hostile members among them. One thread, one seed: a seed replays exactly, and prints a trace
// hash to show it. After each run the invariants of the protocol are checked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace duanka::sim {

enum class Topology { kRandom, kRing, kLine };

// Deliberately broken runs, for showing that each invariant check can fail (sim_test.cpp).
enum class Sabotage {
  kNone,
  kForgedRecord,      // node 0 stores a record signed by a key no certificate vouches for
  kLateRecord,        // node 0 publishes without telling anyone, just before the checks
  kLateEquivocation,  // the equivocator forks just before the checks: no time to detect it
  kLateRevocation,    // node 0 revokes an entry just before the checks
  kHonestTamperer,    // node 0 flips a signature byte in every record it serves
  kUnboundedWants,    // node 0 runs with no per-peer want limit and joins late
};

struct SimOptions {
  uint64_t seed = 1;
  size_t nodes = 20;
  bool faults = true;
  bool adversaries = true;
  Topology topology = Topology::kRandom;
  size_t degree = 4;  // random topology: links each node dials (besides the ring)
  bool verbose = false;
  Sabotage sabotage = Sabotage::kNone;
};

// Invariant names, as reported.
inline constexpr const char* kRecordsVerify = "records-verify";
inline constexpr const char* kHeadsConverge = "heads-converge";
inline constexpr const char* kEquivocationFrozen = "equivocation-frozen";
inline constexpr const char* kRevocationsHeld = "revocations-held";
inline constexpr const char* kNoHonestPenalty = "no-honest-penalty";
inline constexpr const char* kMemoryBounded = "memory-bounded";

struct Violation {
  std::string invariant;
  std::string detail;
};

struct RunResult {
  uint64_t seed = 0;
  std::string trace_hash;
  std::vector<Violation> violations;  // in the order the checks ran; empty when all hold
  // What happened, for the summary line.
  uint64_t events = 0;
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t connections = 0;
  uint64_t records_published = 0;
  uint64_t crashes = 0;
  uint64_t penalties = 0;  // given by honest nodes (to anyone)
  double wall_seconds = 0;
  bool ok() const { return violations.empty(); }
};

RunResult RunSimulation(const SimOptions& options);

// Logs at info level, each line led by the simulated time and the node it is about.
void EnableVerboseLog();

// One line: `PROGRAM --seed S --nodes N ...` that replays the run exactly.
std::string ReplayCommand(const std::string& program, const SimOptions& options);
const char* SabotageName(Sabotage s);

}  // namespace duanka::sim
