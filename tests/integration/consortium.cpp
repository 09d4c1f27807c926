#include "tests/integration/consortium.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "crypto/pki.h"
#include "node/common/audit.h"
#include "node/common/config.h"
#include "node/common/identity.h"
#include "node/common/lookup.h"
#include "protocol/identifier.h"

namespace duanka::integration {
namespace {

using Clock = std::chrono::steady_clock;
using testing::RunProgram;
using testing::RunResult;

const std::string kDaemon = DUANKAD_BIN;
const std::string kAdmin = DUANKA_ADMIN_BIN;
const std::string kLookup = DUANKA_BIN;

// The daemon's line once it listens, has its peers dialling and its signal handler installed.
constexpr const char* kStartedLine = " started: ";
// How often a child is checked for having exited while waiting for it.
constexpr Millis kReapInterval{10};
// Records read and verified at a time by VerifyFeed: as many as one `records` message carries.
constexpr size_t kVerifyPage = 4096;
// Bytes of a log shown in a failure message: enough to see why a daemon stopped.
constexpr size_t kLogTailBytes = 4000;
// Set to a directory to keep every daemon's log after the test.
constexpr const char* kKeepLogsVariable = "DUANKA_INTEGRATION_LOG_DIR";
// Descriptors closed in a child before exec, so that no socket of the test (a rogue peer's)
// stays open in a daemon and keeps that connection alive after the test closed it.
constexpr int kMaxInheritedFd = 4096;

std::string Tail(const std::string& text) {
  return text.size() <= kLogTailBytes ? text : "…" + text.substr(text.size() - kLogTailBytes);
}

}  // namespace

std::map<std::string, std::string> FakeClock(int64_t offset_seconds) {
  // The multi-threaded variant (the daemon reads the clock from several threads), in Debian's
  // multiarch directory (/usr/lib/x86_64-linux-gnu/faketime/ on amd64).
  std::filesystem::path library;
  std::error_code ec;
  for (const auto& arch : std::filesystem::directory_iterator("/usr/lib", ec)) {
    std::filesystem::path candidate = arch.path() / "faketime" / "libfaketimeMT.so.1";
    if (std::filesystem::exists(candidate, ec)) library = candidate;
  }
  if (library.empty()) {
    ADD_FAILURE() << "libfaketimeMT.so.1 is missing: install the Debian package faketime "
                     "(ops/bootstrap)";
    return {};
  }
  return {{"LD_PRELOAD", library.string()},
          {"FAKETIME", (offset_seconds < 0 ? "" : "+") + std::to_string(offset_seconds)},
          {"FAKETIME_DONT_FAKE_MONOTONIC", "1"}};
}

std::optional<uint64_t> ResidentBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("RssAnon:", 0) == 0) {
      std::istringstream fields(line.substr(8));
      uint64_t kib = 0;
      fields >> kib;
      return kib * 1024;
    }
  }
  return std::nullopt;
}

bool Eventually(const std::function<bool()>& condition, Millis deadline) {
  const auto until = Clock::now() + deadline;
  while (true) {
    if (condition()) return true;
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
}

uint16_t FreeLoopbackPort() {
  static std::set<uint16_t> handed_out;
  // Below the kernel's ephemeral range (ip_local_port_range, 32768 and up by default): a port
  // from there could be taken as the local port of some outgoing connection (a daemon dialling)
  // between being picked here and the daemon binding it. Each process starts at its own offset,
  // so that test processes running side by side rarely try the same ports.
  constexpr uint16_t kFirstPort = 20000;
  constexpr uint16_t kPortCount = 12000;
  static uint32_t next = static_cast<uint32_t>(::getpid()) * 7919u;
  for (uint32_t tries = 0; tries < kPortCount; ++tries) {
    const auto port = static_cast<uint16_t>(kFirstPort + next++ % kPortCount);
    if (handed_out.count(port)) continue;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (free) {
      handed_out.insert(port);
      return port;
    }
  }
  ADD_FAILURE() << "no free loopback port";
  return 0;
}

Consortium::Consortium(std::string name) : name_(std::move(name)) {
  RunResult ca = AdminTool({"pki", "init-ca", "--dir", ca_dir().string(), "--consortium", name_});
  EXPECT_EQ(ca.exit_code, 0) << ca.err;
  RunResult pepper = AdminTool({"pepper", "new", "--out", pepper_file().string()});
  EXPECT_EQ(pepper.exit_code, 0) << pepper.err;
}

Consortium::~Consortium() {
  // Every test ends with a clean stop of every daemon still running, all at once: a crash or a
  // hang on SIGTERM (or, in a sanitizer build, a leak) fails the test that got there.
  std::vector<Node*> running;
  for (Node& n : nodes_) {
    if (n.pid > 0 && Running(n)) {
      ::kill(n.pid, SIGTERM);
      running.push_back(&n);
    } else if (!n.ended.empty() && n.ended != "exit 0" && !n.killed) {
      // It ended during the test, neither killed by it nor cleanly: a crash, or a failed stop.
      ADD_FAILURE() << n.code << " ended with " << n.ended << "\n" << Tail(LogText(n));
    }
  }
  const auto deadline = Clock::now() + kStopDeadline;
  for (Node* n : running) {
    while (Running(*n) && Clock::now() < deadline) std::this_thread::sleep_for(kReapInterval);
    if (n->pid > 0) {
      ADD_FAILURE() << n->code << " did not exit within " << kStopDeadline.count()
                    << " ms of SIGTERM; killing it";
      Kill(*n);
    } else if (n->ended != "exit 0") {
      ADD_FAILURE() << n->code << " ended with " << n->ended << " on SIGTERM\n"
                    << Tail(LogText(*n));
    }
  }
  // For a look at the daemons' logs of a test that passed: DUANKA_INTEGRATION_LOG_DIR=DIR keeps
  // a copy of each, named after the test and the institution.
  if (const char* keep = std::getenv(kKeepLogsVariable); keep != nullptr && *keep != '\0') {
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string prefix = test ? std::string(test->test_suite_name()) + "." + test->name() : "test";
    std::replace(prefix.begin(), prefix.end(), '/', '_');  // parameterised tests' names
    std::error_code ec;
    std::filesystem::create_directories(keep, ec);
    for (const Node& n : nodes_) {
      std::filesystem::copy_file(n.log,
                                 std::filesystem::path(keep) / (prefix + "." + n.code + ".log"),
                                 std::filesystem::copy_options::overwrite_existing, ec);
    }
  }
}

Node& Consortium::Add(const std::string& code, const std::map<std::string, int64_t>& limits) {
  Node& n = nodes_.emplace_back();
  n.code = code;
  n.home = dir() / code;
  n.port = FreeLoopbackPort();
  n.api_port = FreeLoopbackPort();
  n.log = dir() / (code + ".log");
  n.limits = TestLimits();
  for (const auto& [key, value] : limits) n.limits[key] = value;
  RunResult issue = AdminTool({"--home", n.home.string(), "pki", "issue", "--ca-dir",
                               ca_dir().string(), "--institution", code, "--host", "127.0.0.1"});
  EXPECT_EQ(issue.exit_code, 0) << issue.err;
  RunResult init = AdminTool({"--home", n.home.string(), "init", "--institution", code, "--ca",
                              ca_pem().string(), "--pepper", pepper_file().string()});
  EXPECT_EQ(init.exit_code, 0) << init.err;
  return n;
}

Node& Consortium::AddReplica(const std::string& name, const Node& of) {
  Node& n = nodes_.emplace_back();
  n.code = of.code;
  n.home = dir() / name;
  n.port = FreeLoopbackPort();
  n.api_port = FreeLoopbackPort();
  n.log = dir() / (name + ".log");
  n.limits = TestLimits();
  RunResult issue =
      AdminTool({"--home", n.home.string(), "pki", "issue", "--ca-dir", ca_dir().string(),
                 "--institution", of.code, "--role", "replica", "--host", "127.0.0.1"});
  EXPECT_EQ(issue.exit_code, 0) << issue.err;
  RunResult init = AdminTool({"--home", n.home.string(), "init", "--institution", of.code, "--ca",
                              ca_pem().string(), "--pepper", pepper_file().string()});
  EXPECT_EQ(init.exit_code, 0) << init.err;
  Dial(n, of);
  return n;
}

void Consortium::Dial(Node& from, const Node& to) {
  from.peers.push_back(to.code + "@" + to.address());
}

std::vector<Node*> Consortium::Line(const std::vector<std::string>& codes) {
  std::vector<Node*> line;
  for (const std::string& code : codes) line.push_back(&Add(code));
  for (size_t i = 0; i + 1 < line.size(); ++i) Dial(*line[i], *line[i + 1]);
  return line;
}

std::vector<Node*> Consortium::Ring(const std::vector<std::string>& codes) {
  std::vector<Node*> ring = Line(codes);
  if (ring.size() > 2) Dial(*ring.back(), *ring.front());
  return ring;
}

void Consortium::WriteConfig(const Node& n) const {
  std::ostringstream toml;
  toml << "institution = \"" << n.code << "\"\n\n[network]\n"
       << "listen = \"" << n.address() << "\"\n"
       << "api = \"127.0.0.1:" << n.api_port << "\"\n"
       << "peers = [";
  for (size_t i = 0; i < n.peers.size(); ++i) toml << (i ? ", " : "") << '"' << n.peers[i] << '"';
  toml << "]\n\n[limits]\n";
  for (const auto& [key, value] : n.limits) toml << key << " = " << value << "\n";
  if (n.crl) toml << "\n[files]\ncrl = \"" << n.crl->string() << "\"\n";
  if (!n.extra_toml.empty()) toml << "\n" << n.extra_toml;
  std::ofstream(n.home / node::kConfigFileName, std::ios::trunc) << toml.str();
}

bool Consortium::Start(Node& n) {
  if (n.pid > 0) {
    ADD_FAILURE() << n.code << " is running already";
    return false;
  }
  WriteConfig(n);
  const size_t log_before = std::filesystem::exists(n.log) ? std::filesystem::file_size(n.log) : 0;
  // Everything the child needs is made before fork: after it, only async-signal-safe calls.
  const std::string home = n.home.string();
  const std::string log = n.log.string();
  std::vector<char*> argv = {const_cast<char*>(kDaemon.c_str()), const_cast<char*>("--home"),
                             const_cast<char*>(home.c_str()), nullptr};
  const pid_t parent = ::getpid();
  const std::optional<uint64_t> max_open_files = n.max_open_files;
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string var(*e);
    if (!n.env.count(var.substr(0, var.find('=')))) env_strings.push_back(var);
  }
  for (const auto& [name, value] : n.env) env_strings.push_back(name + "=" + value);
#if defined(__SANITIZE_ADDRESS__)
  // The sanitizer build's daemons: a small quarantine of freed blocks, globally and per thread
  // (1 MiB a thread by default, a few MiB over the daemon's threads), so that the memory bounds
  // the hostile suites assert measure the daemon's live memory, not ASan's bookkeeping; and no
  // check of the runtime's place among preloaded libraries (faketime is preloaded).
  {
    const char* inherited = std::getenv("ASAN_OPTIONS");
    std::string options = "ASAN_OPTIONS=";
    if (inherited != nullptr && *inherited != '\0') options += std::string(inherited) + ":";
    options += "quarantine_size_mb=16:thread_local_quarantine_size_kb=64:verify_asan_link_order=0";
    std::erase_if(env_strings,
                  [](const std::string& e) { return e.rfind("ASAN_OPTIONS=", 0) == 0; });
    env_strings.push_back(options);
  }
#endif
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    // The daemon dies with the test process, whatever kills it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    for (int fd = 3; fd < kMaxInheritedFd; ++fd) ::close(fd);
    if (max_open_files) {
      const auto n = static_cast<rlim_t>(*max_open_files);
      const rlimit nofile{n, n};
      if (::setrlimit(RLIMIT_NOFILE, &nofile) != 0) ::_exit(127);
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  n.pid = pid;
  bool started = Eventually(
      [&] {
        std::string text = LogText(n);
        if (text.size() > log_before && text.find(kStartedLine, log_before) != std::string::npos) {
          return true;
        }
        return !Running(n);
      },
      kStartDeadline);
  if (started && n.pid > 0) return true;
  ADD_FAILURE() << n.code << " did not start"
                << (n.pid > 0 ? " within the deadline" : " (it exited)") << "; its log:\n"
                << Tail(LogText(n));
  if (n.pid > 0) Kill(n);
  return false;
}

bool Consortium::StartAll() {
  bool all = true;
  for (Node& n : nodes_) {
    if (n.pid <= 0) all = Start(n) && all;
  }
  return all;
}

void Consortium::Reap(Node& n, int status) {
  n.pid = -1;
  n.killed = false;
  n.ended = WIFEXITED(status)     ? "exit " + std::to_string(WEXITSTATUS(status))
            : WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                  : "status " + std::to_string(status);
}

bool Consortium::Running(Node& n) {
  if (n.pid <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(n.pid, &status, WNOHANG);
  if (r == n.pid) {
    Reap(n, status);
    return false;
  }
  return true;
}

int Consortium::Stop(Node& n) {
  if (n.pid <= 0) return -1;
  ::kill(n.pid, SIGTERM);
  const auto deadline = Clock::now() + kStopDeadline;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(n.pid, &status, WNOHANG) == n.pid) {
      Reap(n, status);
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(kReapInterval);
  }
  ADD_FAILURE() << n.code << " did not exit within " << kStopDeadline.count()
                << " ms of SIGTERM; killing it";
  Kill(n);
  return -1;
}

void Consortium::Kill(Node& n) {
  if (n.pid <= 0) return;
  ::kill(n.pid, SIGKILL);
  int status = 0;
  ::waitpid(n.pid, &status, 0);
  Reap(n, status);
  n.killed = true;
}

std::string Consortium::LogText(const Node& n) const {
  return ReadAll(n.log);
}

std::string Consortium::Log(Node& n) {
  std::string state = Running(n) ? "running" : n.ended.empty() ? "not started" : n.ended;
  std::string heads;
  for (const store::Head& h : Heads(n)) {
    heads += " " + h.issuer + "@" + std::to_string(h.seq) + (h.frozen ? "(frozen)" : "");
  }
  return "---- " + n.code + " (" + state + "; holds" + (heads.empty() ? " nothing" : heads) +
         ") ----\n" + LogText(n);
}

bool Consortium::Logged(const Node& n, const std::string& text) const {
  return LogText(n).find(text) != std::string::npos;
}

RunResult Consortium::AdminTool(std::vector<std::string> args) const {
  args.insert(args.begin(), kAdmin);
  return RunProgram(args);
}

RunResult Consortium::Admin(const Node& n, std::vector<std::string> args) const {
  args.insert(args.begin(), {kAdmin, "--home", n.home.string()});
  return RunProgram(args);
}

RunResult Consortium::Duanka(const Node& n, std::vector<std::string> args) const {
  args.insert(args.begin(), {kLookup, "--home", n.home.string()});
  return RunProgram(args);
}

std::string Consortium::Report(const Node& n, const std::string& type, const std::string& value,
                               const std::string& category) {
  RunResult r = Admin(n, {"report", type, value, "--category", category});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return "";
  return r.out.substr(0, r.out.find('\n'));
}

bool Consortium::Revoke(const Node& n, const std::string& entry, const std::string& reason) {
  RunResult r = Admin(n, {"revoke", entry, "--reason", reason});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0;
}

bool Consortium::WithStore(const Node& n,
                           const std::function<void(const store::Store&)>& read) const {
  store::Options o;
  o.path = n.store_dir();
  o.read_only = true;
  o.create_if_missing = false;
  Result<std::unique_ptr<store::Store>> s = store::Store::Open(o);
  if (!s) {
    ADD_FAILURE() << n.code << ": cannot open the store: " << s.error().message;
    return false;
  }
  read(**s);
  return true;
}

std::vector<store::Listing> Consortium::Find(const Node& n, protocol::IdType type,
                                             const std::string& value) const {
  std::vector<store::Listing> out;
  Result<crypto::Pepper> pepper = crypto::Pepper::Load(n.home / "pepper.key");
  if (!pepper) {
    ADD_FAILURE() << pepper.error().message;
    return out;
  }
  WithStore(n, [&](const store::Store& s) {
    node::Lookuper lookuper(s, *pepper);
    Result<node::LookupAnswer> a = lookuper.Lookup(type, value, node::SystemNow(), true);
    if (!a) {
      ADD_FAILURE() << a.error().message;
      return;
    }
    out = a->listings;
  });
  return out;
}

bool Consortium::Listed(const Node& n, protocol::IdType type, const std::string& value) const {
  for (const store::Listing& l : Find(n, type, value)) {
    if (l.state == store::EntryState::kActive) return true;
  }
  return false;
}

bool Consortium::Revoked(const Node& n, protocol::IdType type, const std::string& value) const {
  for (const store::Listing& l : Find(n, type, value)) {
    if (l.state == store::EntryState::kRevoked) return true;
  }
  return false;
}

std::optional<store::Head> Consortium::Head(const Node& n, const std::string& issuer) const {
  std::optional<store::Head> head;
  WithStore(n, [&](const store::Store& s) {
    Result<std::optional<store::Head>> h = s.GetHead(issuer);
    if (!h) {
      ADD_FAILURE() << h.error().message;
      return;
    }
    head = *h;
  });
  return head;
}

uint64_t Consortium::HeadSeq(const Node& n, const std::string& issuer) const {
  std::optional<store::Head> h = Head(n, issuer);
  return h ? h->seq : 0;
}

std::vector<store::Head> Consortium::Heads(const Node& n) const {
  std::vector<store::Head> heads;
  WithStore(n, [&](const store::Store& s) {
    Result<std::vector<store::Head>> h = s.Heads();
    if (!h) {
      ADD_FAILURE() << h.error().message;
      return;
    }
    heads = *h;
  });
  return heads;
}

std::vector<store::Evidence> Consortium::AllEvidence(const Node& n) const {
  std::vector<store::Evidence> evidence;
  WithStore(n, [&](const store::Store& s) {
    Result<std::vector<store::Evidence>> e = s.AllEvidence();
    if (!e) {
      ADD_FAILURE() << e.error().message;
      return;
    }
    evidence = *e;
  });
  return evidence;
}

Result<uint64_t> Consortium::VerifyFeed(const Node& n, const std::string& issuer) const {
  Result<crypto::TrustStore> ca = crypto::TrustStore::Load(n.home / "ca.pem", std::nullopt);
  if (!ca) return std::move(ca).error();
  Result<uint64_t> verified = MakeError(ErrorKind::kIo, "the store did not open");
  WithStore(n, [&](const store::Store& s) {
    Result<std::vector<std::string>> certs = s.Certificates();
    if (!certs) {
      verified = std::move(certs).error();
      return;
    }
    protocol::Trust trust;
    node::AddSigners(*ca, *certs, trust);
    Result<std::optional<store::Head>> head = s.GetHead(issuer);
    if (!head || !*head) {
      verified = MakeError(ErrorKind::kNotFound, "no feed of " + issuer);
      return;
    }
    crypto::Hash256 prev;  // all zero before seq 1
    uint64_t next = 1;
    const protocol::VerifyOptions options{node::SystemNow()};
    while (next <= (*head)->seq) {
      Result<std::vector<protocol::SignedRecord>> page = s.Range(issuer, next, kVerifyPage);
      if (!page || page->empty()) {
        verified =
            MakeError(ErrorKind::kMalformed, "records missing from seq " + std::to_string(next));
        return;
      }
      Result<std::vector<protocol::VerifiedRecord>> chain =
          protocol::VerifyChain(*page, trust, options);
      if (!chain) {
        verified = std::move(chain).error();
        return;
      }
      const protocol::Record& first = chain->front().record();
      if (first.seq != next || first.prev != prev) {
        verified = MakeError(ErrorKind::kMalformed, "record " + first.id().ToString() +
                                                        " does not link to the one before");
        return;
      }
      prev = chain->back().hash();
      next = chain->back().record().seq + 1;
    }
    if (prev != (*head)->hash) {
      verified = MakeError(ErrorKind::kMalformed, "the chain does not end at the head's hash");
      return;
    }
    verified = (*head)->seq;
  });
  return verified;
}

::testing::AssertionResult Consortium::SameHeads(const std::vector<Node*>& nodes) const {
  std::vector<store::Head> want = Heads(*nodes.front());
  for (const Node* n : nodes) {
    std::vector<store::Head> got = Heads(*n);
    if (got.size() != want.size()) {
      return ::testing::AssertionFailure() << n->code << " holds " << got.size() << " feeds, "
                                           << nodes.front()->code << " holds " << want.size();
    }
    for (size_t i = 0; i < got.size(); ++i) {
      if (got[i].issuer != want[i].issuer || got[i].seq != want[i].seq ||
          got[i].hash != want[i].hash || got[i].frozen != want[i].frozen) {
        return ::testing::AssertionFailure()
               << n->code << " holds " << got[i].issuer << " at " << got[i].seq << ", "
               << nodes.front()->code << " holds " << want[i].issuer << " at " << want[i].seq;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace duanka::integration
