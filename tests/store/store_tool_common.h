// Shared by store_writer_tool (the child process) and the crash and concurrency tests (the
// parent): issuers with deterministic keys, so that both sides agree on the Trust without passing
// keys around; the consistency check of a whole store against its own records; and a child
// process with its stdout on a pipe.
#pragma once

#include <fcntl.h>
#include <lmdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"
#include "tests/support/test_feed.h"

namespace duanka::testing::store_tool {

// The institutions the tool writes as. PBOC is the regulator, so it may revoke other issuers'
// entries (the cross-issuer revocations that can arrive before their entry and wait pending).
inline const std::vector<std::string>& IssuerCodes() {
  static const std::vector<std::string> codes = {"BANKA", "BANKB", "BANKC", "PBOC"};
  return codes;
}
inline constexpr std::string_view kRegulatorCode = "PBOC";

inline crypto::Role IssuerRole(std::string_view code) {
  return code == kRegulatorCode ? crypto::Role::kRegulator : crypto::Role::kMember;
}

// A fixed key per code: the seed is SHA-256 of a label and the code.
inline crypto::SigningKey IssuerKey(std::string_view code) {
  std::string label = "duanka store test issuer " + std::string(code);
  crypto::Hash256 seed = crypto::Sha256(crypto::AsBytes(label));
  Result<crypto::SigningKey> key = crypto::SigningKey::FromSeed(seed.view());
  if (!key) throw std::runtime_error(key.error().message);
  return std::move(key).value();
}

inline protocol::Trust ToolTrust() {
  protocol::Trust trust;
  for (const std::string& code : IssuerCodes()) {
    trust.Add(protocol::Signer{code, IssuerRole(code), IssuerKey(code).public_key(),
                               kTestNow - 5 * kYear, kTestNow + 5 * kYear});
  }
  return trust;
}

// Lines the tool prints on stdout.
inline constexpr std::string_view kReadyLine = "ready";          // store open, heads read
inline constexpr std::string_view kBatchWord = "batch";          // "batch ISSUER:SEQ ..."
inline constexpr std::string_view kCommittedWord = "committed";  // "committed ISSUER SEQ"
inline constexpr std::string_view kReaderWord = "reader";        // "reader PASSES RECORDS"

// ---- Consistency of a whole store --------------------------------------------------------

// What a consistency check read from the store, for the caller's own further checks.
struct StoreContents {
  std::map<std::string, store::Head> heads;
  std::map<std::string, std::vector<protocol::Record>> feeds;  // issuer → records 1..head
  uint64_t entries = 0;
};

// Checks a store against its own records, returning one line per problem (empty when sound):
// every feed is whole from seq 1 to its head and its chain verifies end to end; the subjects index
// holds exactly one listing per entry record, in the state the records imply at `now` (revoked iff
// some held revocation targets it, else expired or active by its expiry); revocations whose entry
// is not held are pending; the per-issuer counters agree. `trust` must know every issuer.
inline std::vector<std::string> CheckStoreConsistent(const store::Store& s,
                                                     const protocol::Trust& trust, int64_t now,
                                                     StoreContents* contents_out = nullptr) {
  std::vector<std::string> problems;
  auto fail = [&](std::string what) { problems.push_back(std::move(what)); };
  StoreContents contents;

  Result<std::vector<store::Head>> heads = s.Heads();
  if (!heads) return {"Heads: " + heads.error().message};
  for (const store::Head& head : *heads) {
    contents.heads[head.issuer] = head;
    if (head.frozen) fail("feed " + head.issuer + " is frozen, but no writer forks");
    // One more than the head, so that a record past the head would show.
    Result<std::vector<protocol::SignedRecord>> range = s.Range(head.issuer, 1, head.seq + 1);
    if (!range) {
      fail("Range " + head.issuer + ": " + range.error().message);
      continue;
    }
    if (range->size() != head.seq) {
      fail("feed " + head.issuer + " has head " + std::to_string(head.seq) + " but Range gives " +
           std::to_string(range->size()) + " records");
      continue;
    }
    Result<std::vector<protocol::VerifiedRecord>> chain =
        protocol::VerifyChain(*range, trust, protocol::VerifyOptions{now});
    if (!chain) {
      fail("feed " + head.issuer + " does not verify: " + chain.error().message);
      continue;
    }
    if (chain->front().record().prev != crypto::Hash256{}) {
      fail("feed " + head.issuer + " does not start from a zero prev");
    }
    if (chain->back().hash() != head.hash) {
      fail("feed " + head.issuer + "'s head hash is not its last record's hash");
    }
    std::vector<protocol::Record>& feed = contents.feeds[head.issuer];
    for (const protocol::VerifiedRecord& v : *chain) feed.push_back(v.record());
  }

  auto held = [&](const protocol::EntryId& id) -> const protocol::Record* {
    auto it = contents.feeds.find(id.issuer);
    if (it == contents.feeds.end() || id.seq == 0 || id.seq > it->second.size()) return nullptr;
    return &it->second[id.seq - 1];
  };

  // What the records say the index and the counters must hold.
  struct Expected {
    int64_t expires_at = 0;
    std::set<protocol::EntryId> revokers;
  };
  std::map<crypto::Hash256, std::map<protocol::EntryId, Expected>> by_subject;
  std::map<protocol::EntryId, Expected*> by_id;
  uint64_t pending = 0;
  struct Counts {
    uint64_t entries = 0, revocations = 0, revoked_entries = 0;
  };
  std::map<std::string, Counts> counts;
  for (const auto& [issuer, feed] : contents.feeds) {
    for (const protocol::Record& r : feed) {
      if (const protocol::EntryBody* e = r.entry()) {
        Expected& x = by_subject[e->subject][r.id()];
        x.expires_at = e->expires_at;
        by_id[r.id()] = &x;
        ++counts[issuer].entries;
        ++contents.entries;
      } else if (r.revocation() != nullptr) {
        ++counts[issuer].revocations;
      }
    }
  }
  for (const auto& [issuer, feed] : contents.feeds) {
    for (const protocol::Record& r : feed) {
      const protocol::RevocationBody* rev = r.revocation();
      if (rev == nullptr) continue;
      const protocol::Record* target = held(rev->target);
      if (target == nullptr) {
        ++pending;
      } else if (target->entry() != nullptr) {
        by_id.at(rev->target)->revokers.insert(r.id());
      }
      // A revocation of a revocation withdraws nothing.
    }
  }
  for (const auto& [id, x] : by_id) {
    if (!x->revokers.empty()) ++counts[id.issuer].revoked_entries;
  }

  // The index, subject by subject: exactly the expected listings, each in its state.
  for (const auto& [subject, expected] : by_subject) {
    std::vector<store::Listing> found;
    Status looked = s.Lookup(std::span<const crypto::Hash256>(&subject, 1),
                             store::LookupOptions{now, true}, found);
    if (!looked) {
      fail("Lookup: " + looked.error().message);
      continue;
    }
    std::set<protocol::EntryId> seen;
    for (const store::Listing& l : found) {
      std::string name = "listing " + l.id.ToString() + " of subject " + subject.Hex().substr(0, 8);
      if (!seen.insert(l.id).second) fail(name + " is listed twice");
      auto it = expected.find(l.id);
      if (it == expected.end()) {
        fail(name + " has no entry record about that subject");
        continue;
      }
      const Expected& x = it->second;
      store::EntryState state = !x.revokers.empty()   ? store::EntryState::kRevoked
                                : x.expires_at <= now ? store::EntryState::kExpired
                                                      : store::EntryState::kActive;
      if (l.state != state) {
        fail(name + " is " + store::EntryStateName(l.state) + ", expected " +
             store::EntryStateName(state));
      }
      if (!x.revokers.empty() && (!l.revocation || x.revokers.count(l.revocation->by) == 0)) {
        fail(name + " does not name one of its revocation records as its revocation");
      }
      if (x.revokers.empty() && l.revocation) fail(name + " names a revocation that is not held");
    }
    for (const auto& [id, x] : expected) {
      if (seen.count(id) == 0) fail("entry " + id.ToString() + " is missing from the index");
    }
  }

  Result<store::Stats> stats = s.GetStats(now);
  if (!stats) {
    fail("GetStats: " + stats.error().message);
  } else {
    if (stats->pending_revocations != pending) {
      fail("pending revocations: " + std::to_string(stats->pending_revocations) + ", expected " +
           std::to_string(pending));
    }
    if (stats->evidence != 0) fail("evidence held, but no writer forks");
    for (const store::IssuerStats& is : stats->issuers) {
      const Counts& c = counts[is.issuer];
      uint64_t records = contents.feeds.count(is.issuer) ? contents.feeds[is.issuer].size() : 0;
      if (is.records != records || is.entries != c.entries || is.revocations != c.revocations ||
          is.revoked_entries != c.revoked_entries) {
        fail("counters of " + is.issuer + " (records, entries, revocations, revoked) are " +
             std::to_string(is.records) + ", " + std::to_string(is.entries) + ", " +
             std::to_string(is.revocations) + ", " + std::to_string(is.revoked_entries) +
             "; the records say " + std::to_string(records) + ", " + std::to_string(c.entries) +
             ", " + std::to_string(c.revocations) + ", " + std::to_string(c.revoked_entries));
      }
    }
  }
  if (contents_out != nullptr) *contents_out = std::move(contents);
  return problems;
}

// Values in the store's subjects table, counted with LMDB itself (duplicates included): the check
// that the index holds no listing beyond those Lookup was asked about. Open no Store on this path
// in this process meanwhile (LMDB's locks do not survive two opens of one environment in one
// process).
inline Result<uint64_t> RawSubjectValueCount(const std::filesystem::path& path) {
  // The store's table count; LMDB wants the maximum before opening named tables.
  constexpr unsigned kMaxTables = 16;
  MDB_env* env = nullptr;
  if (mdb_env_create(&env) != 0) return MakeError(ErrorKind::kIo, "mdb_env_create");
  mdb_env_set_maxdbs(env, kMaxTables);
  int rc = mdb_env_open(env, path.c_str(), MDB_RDONLY, 0600);
  MDB_txn* txn = nullptr;
  if (rc == 0) rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
  MDB_dbi dbi = 0;
  if (rc == 0) rc = mdb_dbi_open(txn, "subjects", 0, &dbi);
  MDB_stat st{};
  if (rc == 0) rc = mdb_stat(txn, dbi, &st);
  if (txn != nullptr) mdb_txn_abort(txn);
  mdb_env_close(env);
  if (rc != 0) return MakeError(ErrorKind::kIo, std::string("subjects table: ") + mdb_strerror(rc));
  return static_cast<uint64_t>(st.ms_entries);
}

// ---- A child process ---------------------------------------------------------------------

// The tool run as a child with its stdout on a pipe (stderr is inherited, so its complaints show
// in the test log). Killed with SIGKILL when destroyed still running.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    fd_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
    if (fd_ >= 0) ::close(fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  int fd() const { return fd_; }
  bool eof() const { return eof_; }

  // Reads what the pipe holds now (waiting up to timeout_ms for something) and appends the
  // complete lines to `lines`. A write() of one line is atomic on a pipe, so lines never tear.
  void Read(int timeout_ms, std::vector<std::string>& lines) {
    if (eof_) return;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return;
    char buf[4096];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) return;
    if (n <= 0) {
      eof_ = true;
      return;
    }
    pending_.append(buf, static_cast<size_t>(n));
    for (size_t nl; (nl = pending_.find('\n')) != std::string::npos;) {
      lines.push_back(pending_.substr(0, nl));
      pending_.erase(0, nl + 1);
    }
  }
  // Reads until the child closes its stdout.
  void ReadToEnd(std::vector<std::string>& lines) {
    // Long enough for any child to finish writing; a dead child's pipe reports EOF at once.
    constexpr int kPollMs = 1000;
    while (!eof_) Read(kPollMs, lines);
  }

  void Kill() { ::kill(pid_, SIGKILL); }
  // The wait status (as waitpid gives it).
  int Wait() {
    if (reaped_) return status_;
    while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool eof_ = false;
  bool reaped_ = false;
  int status_ = 0;
  std::string pending_;
};

inline std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exited " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// "batch ISSUER:SEQ ISSUER:SEQ ..." → the heads it names; nullopt for any other line.
inline std::optional<std::map<std::string, uint64_t>> ParseBatch(std::string_view line) {
  if (line.substr(0, kBatchWord.size() + 1) != std::string(kBatchWord) + " ") return std::nullopt;
  std::map<std::string, uint64_t> heads;
  std::string_view rest = line.substr(kBatchWord.size() + 1);
  while (!rest.empty()) {
    size_t space = rest.find(' ');
    std::string_view item = rest.substr(0, space);
    size_t colon = item.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    try {
      heads[std::string(item.substr(0, colon))] = std::stoull(std::string(item.substr(colon + 1)));
    } catch (const std::exception&) {
      return std::nullopt;
    }
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  }
  return heads;
}

// "committed ISSUER SEQ" → (ISSUER, SEQ); nullopt for any other line.
inline std::optional<std::pair<std::string, uint64_t>> ParseCommitted(std::string_view line) {
  if (line.substr(0, kCommittedWord.size() + 1) != std::string(kCommittedWord) + " ") {
    return std::nullopt;
  }
  std::string_view rest = line.substr(kCommittedWord.size() + 1);
  size_t space = rest.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  try {
    return std::make_pair(std::string(rest.substr(0, space)),
                          std::stoull(std::string(rest.substr(space + 1))));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace duanka::testing::store_tool
