// A test consortium of real nodes on loopback: a CA, a pepper and member institutions made by the
// real `duanka-admin`, each institution's `duankad` started as a child process with its stderr in
// a log file, and read-only views of each node's store for the tests' assertions.
//
//   Consortium c;
//   std::vector<Node*> line = c.Line({"BANKA", "BANKB", "BANKC"});  // each dials the next
//   c.StartAll();
//   std::string id = c.Report(*line[0], "qq", "10001");
//   EXPECT_TRUE(Eventually([&] { return c.Listed(*line[2], protocol::IdType::kQq, "10001"); }));
//
// Every node gets short timeouts ([limits] of kTestLimits), so that reconnects, idle timeouts and
// bans happen within a test. Every wait is bounded (kEventually), every child is killed when the
// Consortium goes (and by the kernel if the test process dies), and nothing listens or dials
// beyond 127.0.0.1.
//
// Not thread-safe: one test thread drives a Consortium.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "protocol/identifier.h"
#include "store/store.h"
#include "tests/support/process.h"
#include "tests/support/read_file.h"
#include "tests/support/temp_dir.h"

namespace duanka::integration {

using Millis = std::chrono::milliseconds;

// How long "eventually" may take: generous, since two cores are shared with other builds; a
// healthy consortium converges in well under a second.
inline constexpr Millis kEventually{20000};
// How often conditions are re-checked while waiting.
inline constexpr Millis kPollInterval{50};
// A SIGTERM'd node finishes its batch and closes its peers within shutdown_timeout_ms (500 ms
// here); this leaves room for a loaded machine.
inline constexpr Millis kStopDeadline{5000};
// From exec to the "started" log line: opening the store and binding two ports.
inline constexpr Millis kStartDeadline{10000};

// The [limits] every test node runs with. Short, so that a test sees handshake and idle timeouts,
// reconnects and expired bans in seconds; each stays in the relation the daemon checks
// (ping_interval_ms < idle_timeout_ms, reconnect_min_ms ≤ reconnect_max_ms).
inline const std::map<std::string, int64_t>& TestLimits() {
  static const std::map<std::string, int64_t> limits = {
      {"handshake_timeout_ms", 2000}, {"idle_timeout_ms", 3000}, {"ping_interval_ms", 500},
      {"heads_interval_ms", 1000},    {"want_timeout_ms", 3000}, {"shutdown_timeout_ms", 500},
      {"reconnect_min_ms", 50},       {"reconnect_max_ms", 500}, {"ban_base_seconds", 2},
  };
  return limits;
}

// One institution of the consortium: its HOME and, once started, its daemon.
struct Node {
  std::string code;
  std::filesystem::path home;
  uint16_t port = 0;                         // peers connect here (127.0.0.1)
  uint16_t api_port = 0;                     // the HTTP API (127.0.0.1)
  std::vector<std::string> peers;            // CODE@HOST:PORT it dials
  std::map<std::string, int64_t> limits;     // [limits], TestLimits() plus overrides
  std::optional<std::filesystem::path> crl;  // files.crl
  std::string extra_toml;                    // whole tables appended to duanka.toml, e.g. [flood]
  std::filesystem::path log;                 // the daemon's stderr, appended across restarts
  pid_t pid = -1;                            // the running daemon, or -1
  std::string ended;                         // how its last run ended ("exit 0", "signal 9")
  bool killed = false;                       // its last run ended by Kill()
  // RLIMIT_NOFILE (soft and hard) the daemon is started with; unset: the test process's own.
  std::optional<uint64_t> max_open_files;
  // Variables added to (or replacing those of) the test process's environment for the daemon,
  // e.g. LD_PRELOAD and FAKETIME to run it with a shifted clock (FakeClock()).
  std::map<std::string, std::string> env;

  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
  std::filesystem::path store_dir() const { return home / "store"; }
};

// The Node::env that runs a daemon with its wall clock `offset_seconds` off (libfaketime, Debian
// package `faketime`), its monotonic clock untouched so that timers and deadlines stay real; empty,
// with a test failure, if libfaketime is not installed.
std::map<std::string, std::string> FakeClock(int64_t offset_seconds);

// Calls `condition` every kPollInterval until it holds or `deadline` passes.
bool Eventually(const std::function<bool()>& condition, Millis deadline = kEventually);

using testing::ReadAll;

// A process's anonymous resident memory (RssAnon of /proc/PID/status: its heap, stacks and, in the
// sanitizer build, ASan's shadow) in bytes, or nullopt if it is gone. The store is a file mapping:
// its pages are the kernel's page cache, shared and reclaimable, not the process's own memory.
std::optional<uint64_t> ResidentBytes(pid_t pid);

// A loopback port nobody uses now (it could be bound), below the ephemeral range. Never the
// same port twice within this process.
uint16_t FreeLoopbackPort();

class Consortium {
 public:
  // Creates the CA (duanka-admin pki init-ca) and the pepper (pepper new) in a temp directory.
  explicit Consortium(std::string name = "TESTNET");
  // Kills every daemon still running (SIGKILL) and removes the directory.
  ~Consortium();
  Consortium(const Consortium&) = delete;
  Consortium& operator=(const Consortium&) = delete;

  const std::string& name() const { return name_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path ca_dir() const { return dir() / "ca"; }
  std::filesystem::path ca_pem() const { return ca_dir() / "ca.pem"; }
  std::filesystem::path pepper_file() const { return dir() / "pepper.key"; }

  // A member institution with keys, certificates (duanka-admin pki issue) and an initialised HOME
  // (duanka-admin init), with two free loopback ports; not started. References stay valid for
  // the Consortium's life. `limits` override TestLimits().
  Node& Add(const std::string& code, const std::map<std::string, int64_t>& limits = {});
  // A read replica of `of` (duanka-admin pki issue --role replica: a TLS certificate only) in a
  // HOME of its own named `name`, dialling `of`; not started. Its code is `of`'s.
  Node& AddReplica(const std::string& name, const Node& of);
  // `from` dials `to` (and expects `to`'s certificate there).
  void Dial(Node& from, const Node& to);
  // New nodes, each dialling the next; Ring closes the loop (the last dials the first).
  std::vector<Node*> Line(const std::vector<std::string>& codes);
  std::vector<Node*> Ring(const std::vector<std::string>& codes);

  // Writes the node's duanka.toml (network, [limits], files.crl) from its fields, starts duankad
  // and waits for its "started" line. False, with the reason and the log's tail added as a test
  // failure, if it exited or did not start within kStartDeadline.
  bool Start(Node& node);
  bool StartAll();
  // SIGTERM, then waits up to kStopDeadline. The exit code, or -1 if it died of a signal or had
  // to be killed after the deadline.
  int Stop(Node& node);
  // SIGKILL, and reaps it.
  void Kill(Node& node);
  bool Running(Node& node);

  // The daemon's log so far (every run of it), headed by whether it is running now: for failure
  // messages.
  std::string Log(Node& node);
  // Whether the log contains `text`.
  bool Logged(const Node& node, const std::string& text) const;
  // The log's text alone.
  std::string LogText(const Node& node) const;

  // duanka-admin / duanka with --home of the node.
  testing::RunResult Admin(const Node& node, std::vector<std::string> args) const;
  testing::RunResult Duanka(const Node& node, std::vector<std::string> args) const;
  testing::RunResult AdminTool(std::vector<std::string> args) const;
  // duanka-admin report TYPE VALUE --category CATEGORY: the entry id ("BANKA:1"), or "" with a
  // test failure.
  std::string Report(const Node& node, const std::string& type, const std::string& value,
                     const std::string& category = "rented-out");
  // duanka-admin revoke ENTRY --reason REASON; false with a test failure.
  bool Revoke(const Node& node, const std::string& entry,
              const std::string& reason = "issued-in-error");

  // ---- The node's store, opened read-only for the one call (as the lookup CLI does) ----

  // Runs `read` on the store; false (and `read` not run) if it cannot be opened.
  bool WithStore(const Node& node, const std::function<void(const store::Store&)>& read) const;
  // Every entry about the identifier, in every state, or empty.
  std::vector<store::Listing> Find(const Node& node, protocol::IdType type,
                                   const std::string& value) const;
  // Whether some entry about the identifier is active / revoked.
  bool Listed(const Node& node, protocol::IdType type, const std::string& value) const;
  bool Revoked(const Node& node, protocol::IdType type, const std::string& value) const;
  std::optional<store::Head> Head(const Node& node, const std::string& issuer) const;
  uint64_t HeadSeq(const Node& node, const std::string& issuer) const;
  std::vector<store::Head> Heads(const Node& node) const;
  std::vector<store::Evidence> AllEvidence(const Node& node) const;
  // Whether every node holds the same feeds at the same heads (seq, hash, frozen) as the first;
  // if not, the first difference.
  ::testing::AssertionResult SameHeads(const std::vector<Node*>& nodes) const;

  // Verifies the node's whole feed of `issuer` end to end, page by page: every record's signature
  // and certificate (against the CA and the certificates the node holds), every prev link across
  // pages, seqs from 1 without a gap, ending at the head. The number of records, or the first
  // problem.
  Result<uint64_t> VerifyFeed(const Node& node, const std::string& issuer) const;

  // Writes the node's duanka.toml from its fields, as Start does (for a check of a config that
  // must not start).
  void WriteConfig(const Node& node) const;

 private:
  static void Reap(Node& node, int status);

  std::string name_;
  testing::TempDir dir_;
  std::deque<Node> nodes_;  // a deque keeps references stable as nodes are added
};

}  // namespace duanka::integration
