// The simulator's own checks: a seed replays to the same trace, and each invariant check fails on
// a run broken on purpose (so that a green run means something).
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ostream>

#include "tests/sim/sim.h"

namespace duanka::sim {
namespace {

// Small and quick, with every kind of fault and hostile member.
SimOptions Small(uint64_t seed) {
  SimOptions o;
  o.seed = seed;
  o.nodes = 8;
  return o;
}

bool Broke(const RunResult& r, const char* invariant) {
  return std::any_of(r.violations.begin(), r.violations.end(),
                     [&](const Violation& v) { return v.invariant == invariant; });
}

std::string Describe(const RunResult& r) {
  std::string text;
  for (const Violation& v : r.violations) text += v.invariant + ": " + v.detail + "\n";
  return text.empty() ? "no violations" : text;
}

class SimTest : public ::testing::Test {
 protected:
  void SetUp() override { spdlog::set_level(spdlog::level::off); }
};

TEST_F(SimTest, OneSeedReplaysToTheSameTrace) {
  RunResult a = RunSimulation(Small(42));
  RunResult b = RunSimulation(Small(42));
  EXPECT_TRUE(a.ok()) << Describe(a);
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.messages, b.messages);
  // Faults, crashes and hostile members all took part.
  EXPECT_GT(a.crashes, 0u);
  EXPECT_GT(a.penalties, 0u);
}

TEST_F(SimTest, AnotherSeedGivesAnotherTrace) {
  EXPECT_NE(RunSimulation(Small(42)).trace_hash, RunSimulation(Small(43)).trace_hash);
}

TEST_F(SimTest, HealthyRunsHoldEveryInvariant) {
  for (uint64_t seed : {1, 2, 3}) {
    SimOptions o = Small(seed);
    o.topology = seed == 2 ? Topology::kLine : Topology::kRandom;
    RunResult r = RunSimulation(o);
    EXPECT_TRUE(r.ok()) << ReplayCommand("sim", o) << "\n" << Describe(r);
  }
}

struct Broken {
  Sabotage sabotage;
  const char* invariant;
};

// Names the case in test listings (the default prints the bytes, pointer included).
void PrintTo(const Broken& b, std::ostream* os) {
  *os << SabotageName(b.sabotage) << " breaks " << b.invariant;
}

class SimSabotageTest : public SimTest, public ::testing::WithParamInterface<Broken> {};

TEST_P(SimSabotageTest, TheCheckCatchesIt) {
  SimOptions o = Small(7);
  o.sabotage = GetParam().sabotage;
  RunResult r = RunSimulation(o);
  EXPECT_TRUE(Broke(r, GetParam().invariant)) << ReplayCommand("sim", o) << "\n" << Describe(r);
}

INSTANTIATE_TEST_SUITE_P(EachInvariant, SimSabotageTest,
                         ::testing::Values(Broken{Sabotage::kForgedRecord, kRecordsVerify},
                                           Broken{Sabotage::kLateRecord, kHeadsConverge},
                                           Broken{Sabotage::kLateEquivocation, kEquivocationFrozen},
                                           Broken{Sabotage::kLateRevocation, kRevocationsHeld},
                                           Broken{Sabotage::kHonestTamperer, kNoHonestPenalty},
                                           Broken{Sabotage::kUnboundedWants, kMemoryBounded}),
                         [](const ::testing::TestParamInfo<Broken>& info) {
                           std::string name = SabotageName(info.param.sabotage);
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace duanka::sim
