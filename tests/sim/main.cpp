// sim: runs the deterministic consortium simulation for one seed or many (--jobs J: J seeds at a
// time, each on one thread), prints a line per seed with its trace hash and, for a seed that
// breaks an invariant, the command that replays it. Exits 1 if any seed broke an invariant, 2 on
// a usage error or a failure of the simulator itself.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/sim/sim.h"

namespace {

using duanka::sim::Sabotage;
using duanka::sim::SimOptions;
using duanka::sim::Topology;

constexpr const char* kUsage =
    "usage: sim [--seed S | --seeds K [--first S]] [--nodes N] [--faults on|off]\n"
    "           [--adversaries on|off] [--topology random|ring|line] [--degree D] [--jobs J]\n"
    "           [--verbose]\n";

int Usage(const std::string& problem) {
  std::cerr << "sim: " << problem << "\n" << kUsage;
  return 2;
}

std::optional<uint64_t> Number(const char* text) {
  if (text == nullptr || *text == '\0') return std::nullopt;
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (*end != '\0' || text[0] == '-') return std::nullopt;
  return v;
}

std::optional<bool> OnOff(const char* text) {
  if (text != nullptr && std::strcmp(text, "on") == 0) return true;
  if (text != nullptr && std::strcmp(text, "off") == 0) return false;
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  SimOptions options;
  uint64_t first = 1, seeds = 1, jobs = 1;
  bool one_seed = false, many = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    auto number = [&](uint64_t& out) {
      std::optional<uint64_t> v = Number(value);
      if (!v) return false;
      out = *v;
      ++i;
      return true;
    };
    auto on_off = [&](bool& out) {
      std::optional<bool> v = OnOff(value);
      if (!v) return false;
      out = *v;
      ++i;
      return true;
    };
    uint64_t n = 0;
    if (arg == "--seed") {
      if (!number(first)) return Usage("--seed: expected a number");
      one_seed = true;
    } else if (arg == "--seeds") {
      if (!number(seeds) || seeds == 0) return Usage("--seeds: expected a number above 0");
      many = true;
    } else if (arg == "--first") {
      if (!number(first)) return Usage("--first: expected a number");
    } else if (arg == "--jobs") {
      if (!number(jobs) || jobs == 0 || jobs > 64) return Usage("--jobs: expected 1..64");
    } else if (arg == "--nodes") {
      if (!number(n) || n < 2 || n > 100) return Usage("--nodes: expected 2..100");
      options.nodes = n;
    } else if (arg == "--degree") {
      if (!number(n) || n > 32) return Usage("--degree: expected 0..32");
      options.degree = n;
    } else if (arg == "--faults") {
      if (!on_off(options.faults)) return Usage("--faults: expected on or off");
    } else if (arg == "--adversaries") {
      if (!on_off(options.adversaries)) return Usage("--adversaries: expected on or off");
    } else if (arg == "--topology") {
      std::string t = value ? value : "";
      if (t == "random") {
        options.topology = Topology::kRandom;
      } else if (t == "ring") {
        options.topology = Topology::kRing;
      } else if (t == "line") {
        options.topology = Topology::kLine;
      } else {
        return Usage("--topology: expected random, ring or line");
      }
      ++i;
    } else if (arg == "--sabotage") {
      // For replaying the deliberately broken runs of sim_test.
      std::string s = value ? value : "";
      bool known = false;
      for (Sabotage k : {Sabotage::kNone, Sabotage::kForgedRecord, Sabotage::kLateRecord,
                         Sabotage::kLateEquivocation, Sabotage::kLateRevocation,
                         Sabotage::kHonestTamperer, Sabotage::kUnboundedWants}) {
        if (s == duanka::sim::SabotageName(k)) {
          options.sabotage = k;
          known = true;
        }
      }
      if (!known) return Usage("--sabotage: unknown kind \"" + s + "\"");
      ++i;
    } else if (arg == "--verbose") {
      options.verbose = true;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      return Usage("unknown argument \"" + arg + "\"");
    }
  }
  if (one_seed && many) return Usage("--seed and --seeds exclude each other");
  if (options.verbose) {
    duanka::sim::EnableVerboseLog();
  } else {
    spdlog::set_level(spdlog::level::off);
  }

  // Seeds are independent: with --jobs they run on several threads, each run on one, and are
  // reported in seed order.
  std::vector<std::optional<duanka::sim::RunResult>> results(seeds);
  std::vector<std::string> errors(seeds);
  std::mutex mutex;
  std::condition_variable done;
  std::atomic<uint64_t> next{0};
  auto worker = [&] {
    for (uint64_t k; (k = next.fetch_add(1)) < seeds;) {
      SimOptions o = options;
      o.seed = first + k;
      duanka::sim::RunResult r;
      std::string error;
      try {
        r = duanka::sim::RunSimulation(o);
      } catch (const std::exception& e) {
        error = e.what();
        if (error.empty()) error = "unknown error";
      }
      std::lock_guard<std::mutex> lock(mutex);
      results[k] = std::move(r);
      errors[k] = std::move(error);
      done.notify_all();
    }
  };
  std::vector<std::thread> threads;
  for (uint64_t j = 0; j < std::min<uint64_t>(jobs, seeds); ++j) threads.emplace_back(worker);

  uint64_t failed = 0;
  std::optional<uint64_t> first_failed;
  double busy = 0;
  int exit_code = 0;
  const auto wall_start = std::chrono::steady_clock::now();
  for (uint64_t k = 0; k < seeds; ++k) {
    std::unique_lock<std::mutex> lock(mutex);
    done.wait(lock, [&] { return results[k].has_value(); });
    const duanka::sim::RunResult r = *results[k];
    const std::string error = errors[k];
    lock.unlock();
    options.seed = first + k;
    if (!error.empty()) {
      std::fprintf(stderr, "sim: seed %llu: the simulator failed: %s\n",
                   static_cast<unsigned long long>(options.seed), error.c_str());
      exit_code = 2;
      continue;
    }
    busy += r.wall_seconds;
    std::printf(
        "seed %llu: %s trace %s (%llu events, %llu messages, %.1f MB, %llu records, "
        "%llu crashes, %llu penalties, %.2f s)\n",
        static_cast<unsigned long long>(options.seed), r.ok() ? "ok" : "FAILED",
        r.trace_hash.c_str(), static_cast<unsigned long long>(r.events),
        static_cast<unsigned long long>(r.messages), double(r.bytes) / 1e6,
        static_cast<unsigned long long>(r.records_published),
        static_cast<unsigned long long>(r.crashes), static_cast<unsigned long long>(r.penalties),
        r.wall_seconds);
    if (!r.ok()) {
      ++failed;
      if (!first_failed) first_failed = options.seed;
      std::printf("  invariant %s broken: %s\n", r.violations.front().invariant.c_str(),
                  r.violations.front().detail.c_str());
      for (size_t v = 1; v < r.violations.size(); ++v) {
        std::printf("  also %s: %s\n", r.violations[v].invariant.c_str(),
                    r.violations[v].detail.c_str());
      }
      std::printf("  replay: %s\n", duanka::sim::ReplayCommand(argv[0], options).c_str());
    }
    std::fflush(stdout);
  }
  for (std::thread& t : threads) t.join();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  if (seeds > 1) {
    std::printf(
        "%llu seeds of %zu nodes: %llu ok, %llu failed%s (%.1f s, %.1f s of runs)\n",
        static_cast<unsigned long long>(seeds), options.nodes,
        static_cast<unsigned long long>(seeds - failed), static_cast<unsigned long long>(failed),
        first_failed ? (", first seed " + std::to_string(*first_failed)).c_str() : "", wall, busy);
  }
  if (exit_code != 0) return exit_code;
  return failed == 0 ? 0 : 1;
}
