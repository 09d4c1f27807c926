// store_writer_tool: the child process of the store's crash and concurrency tests.
//
//   store_writer_tool write --store DIR --issuers A,B,... [--targets A,B,...] [--seed N]
//                           [--max-per-feed K] [--seconds S] [--initial-map BYTES]
//       Continues each issuer's feed from the store's head with signed records (entries, the
//       members' revocations of their own entries, and the regulator's revocations of the
//       --targets' entries, often of seqs not yet held, which then wait pending), in batches that
//       mix the feeds, one Store::Append each. Prints "ready" once the store is open and the heads
//       are read; before each Append "batch ISSUER:SEQ ..." (the heads the batch will make), and
//       after its commit one "committed ISSUER SEQ" line per feed in the batch (the feed's new
//       head), each write() reaching the pipe before the next step begins. Runs until killed, or
//       for S seconds.
//   store_writer_tool own --store DIR --issuer CODE --tag T [--seed N] [--max-per-feed K]
//                         [--seconds S] [--initial-map BYTES]
//       The same through Store::AppendOwn, signing inside the write transaction; every entry's case
//       reference is "wT-SEQ" so that the parent can tell which writer signed which seq. Prints
//       "committed CODE SEQ" (the last seq appended) after each commit.
//   store_writer_tool read --store DIR --stop-file PATH [--initial-map BYTES]
//       Reads until PATH exists, then makes one last pass: heads never move backwards, the record
//       at each head is there with the head's hash, every feed's chain verifies from seq 1 (each
//       new part linked to the part verified before), and every entry record read is found by a
//       lookup of its subject. Prints "reader PASSES RECORDS" at the end.
//
// Exit codes: 0 done, 1 a reader saw a violation (each named on stderr), 2 usage, 3 store failure.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "store/store.h"
#include "tests/store/store_tool_common.h"
#include "tests/support/test_feed.h"

namespace duanka::testing::store_tool {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitViolation = 1;
constexpr int kExitUsage = 2;
constexpr int kExitStore = 3;

// A member's every fourth record revokes one of its own earlier entries, so that which seqs are
// entries follows from the seq alone: the regulator can aim at entries not yet issued.
constexpr uint64_t kMemberRevocationEvery = 4;
// The regulator issues an entry every third record and otherwise revokes a target's entry.
constexpr uint64_t kRegulatorEntryEvery = 3;
// The regulator aims at target seqs up to this far behind or ahead of the target's head: ahead
// makes pending revocations, behind revokes held entries (sometimes twice).
constexpr int64_t kRegulatorReach = 12;
// Subjects are drawn from a small pool so that many subjects are listed by several entries
// (several duplicates under one key in the subjects index).
constexpr uint64_t kSubjectPool = 400;
// One entry in this many is already expired at kTestNow, so lookups see all three states.
constexpr uint64_t kExpiredOneIn = 10;
// Small batches: many commits per second, so that a kill lands anywhere among them.
constexpr int kDefaultMaxPerFeed = 4;

struct Args {
  std::string mode;
  std::filesystem::path store;
  std::vector<std::string> issuers;
  std::vector<std::string> targets;
  std::string issuer;
  std::string tag;
  std::filesystem::path stop_file;
  uint64_t seed = 1;
  int max_per_feed = kDefaultMaxPerFeed;
  double seconds = 0;  // 0: until killed
  uint64_t initial_map = 0;
};

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

bool ParseArgs(int argc, char** argv, Args& a) {
  if (argc < 2) return false;
  a.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--store") {
      a.store = value;
    } else if (flag == "--issuers") {
      a.issuers = SplitCommas(value);
    } else if (flag == "--targets") {
      a.targets = SplitCommas(value);
    } else if (flag == "--issuer") {
      a.issuer = value;
    } else if (flag == "--tag") {
      a.tag = value;
    } else if (flag == "--stop-file") {
      a.stop_file = value;
    } else if (flag == "--seed") {
      a.seed = std::stoull(value);
    } else if (flag == "--max-per-feed") {
      a.max_per_feed = std::stoi(value);
    } else if (flag == "--seconds") {
      a.seconds = std::stod(value);
    } else if (flag == "--initial-map") {
      a.initial_map = std::stoull(value);
    } else {
      return false;
    }
  }
  if (argc % 2 != 0 || a.store.empty() || a.max_per_feed < 1) return false;
  if (a.mode == "write") return !a.issuers.empty();
  if (a.mode == "own") return !a.issuer.empty() && !a.tag.empty();
  if (a.mode == "read") return !a.stop_file.empty();
  return false;
}

// One write(2) per call, so that what was printed is in the pipe before anything else happens,
// and a SIGKILL right after cannot lose it.
void Emit(const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(STDOUT_FILENO, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) std::exit(kExitStore);
    done += static_cast<size_t>(n);
  }
}

[[noreturn]] void Die(int code, const std::string& message) {
  std::fprintf(stderr, "store_writer_tool: %s\n", message.c_str());
  std::exit(code);
}

std::unique_ptr<store::Store> OpenStore(const Args& a, bool read_only) {
  store::Options o;
  o.path = a.store;
  o.read_only = read_only;
  if (a.initial_map != 0) o.initial_map_bytes = a.initial_map;
  Result<std::unique_ptr<store::Store>> s = store::Store::Open(o);
  if (!s) Die(kExitStore, "open: " + s.error().message);
  return std::move(s).value();
}

class Clock {
 public:
  explicit Clock(double seconds)
      : limited_(seconds > 0),
        deadline_(std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      std::chrono::duration<double>(seconds))) {}
  bool Expired() const { return limited_ && std::chrono::steady_clock::now() >= deadline_; }

 private:
  bool limited_;
  std::chrono::steady_clock::time_point deadline_;
};

// ---- Records ------------------------------------------------------------------------------

struct Feed {
  std::string code;
  crypto::SigningKey key;
  uint64_t seq = 0;  // the head this writer believes in
  crypto::Hash256 hash;
};

protocol::Record Base(const Feed& f, uint64_t seq, const crypto::Hash256& prev) {
  protocol::Record r;
  r.issuer = f.code;
  r.seq = seq;
  r.prev = prev;
  r.issued_at = kTestNow - 60;
  r.signer_key_id = protocol::KeyId(f.key.public_key());
  return r;
}

protocol::EntryBody RandomEntry(std::mt19937_64& rng, uint64_t seq, const std::string& case_ref) {
  protocol::EntryBody e;
  e.subject = TestSubject(rng() % kSubjectPool);
  e.id_type = protocol::IdType::kPhone;
  e.pepper_epoch = 1;
  e.category = static_cast<protocol::Category>(1 + rng() % 7);
  e.basis = static_cast<protocol::Basis>(1 + rng() % 3);
  // Issued at kTestNow - 60 (Base), so an expiry of kTestNow - 1 is after issue yet past.
  e.expires_at = rng() % kExpiredOneIn == 0 ? kTestNow - 1 : kTestNow + 2 * kYear;
  e.case_ref = case_ref.empty() ? "crash-" + std::to_string(seq) : case_ref;
  return e;
}

bool IsMemberEntrySeq(uint64_t seq) {
  return seq % kMemberRevocationEvery != 0;
}

protocol::RevocationReason RandomReason(std::mt19937_64& rng) {
  return static_cast<protocol::RevocationReason>(1 + rng() % 6);
}

// The body of `f`'s record at `seq`, following the rules above.
protocol::Record NextRecord(const store::Store& s, const Feed& f, uint64_t seq,
                            const crypto::Hash256& prev, const std::vector<std::string>& targets,
                            std::mt19937_64& rng) {
  protocol::Record r = Base(f, seq, prev);
  if (IssuerRole(f.code) == crypto::Role::kRegulator) {
    if (targets.empty() || seq % kRegulatorEntryEvery == 0) {
      r.body = RandomEntry(rng, seq, "");
      return r;
    }
    const std::string& target = targets[rng() % targets.size()];
    Result<std::optional<store::Head>> head = s.GetHead(target);
    if (!head) Die(kExitStore, "GetHead: " + head.error().message);
    int64_t at = static_cast<int64_t>(*head ? (*head)->seq : 0) +
                 static_cast<int64_t>(rng() % (2 * kRegulatorReach + 1)) - kRegulatorReach;
    uint64_t t = static_cast<uint64_t>(std::max<int64_t>(at, 1));
    if (!IsMemberEntrySeq(t)) ++t;
    r.body = protocol::RevocationBody{protocol::EntryId{target, t}, RandomReason(rng)};
    return r;
  }
  if (IsMemberEntrySeq(seq)) {
    r.body = RandomEntry(rng, seq, "");
    return r;
  }
  uint64_t t = 1 + rng() % (seq - 1);
  if (!IsMemberEntrySeq(t)) --t;  // t >= kMemberRevocationEvery here, so t - 1 >= 1 is an entry
  r.body = protocol::RevocationBody{protocol::EntryId{f.code, t}, RandomReason(rng)};
  return r;
}

protocol::SignedRecord MustSign(const protocol::Record& r, const crypto::SigningKey& key) {
  Result<protocol::SignedRecord> s = protocol::SignRecord(r, key);
  if (!s) Die(kExitStore, "sign: " + s.error().message);
  return std::move(s).value();
}

std::vector<protocol::VerifiedRecord> MustVerifyChain(
    const std::vector<protocol::SignedRecord>& records, const protocol::Trust& trust) {
  Result<std::vector<protocol::VerifiedRecord>> v =
      protocol::VerifyChain(records, trust, protocol::VerifyOptions{kTestNow});
  if (!v) Die(kExitStore, "verify: " + v.error().message);
  return std::move(v).value();
}

// ---- Modes --------------------------------------------------------------------------------

int RunWrite(const Args& a) {
  const protocol::Trust trust = ToolTrust();
  std::unique_ptr<store::Store> s = OpenStore(a, false);
  std::vector<Feed> feeds;
  for (const std::string& code : a.issuers) {
    Feed f{code, IssuerKey(code), 0, {}};
    Result<std::optional<store::Head>> head = s->GetHead(code);
    if (!head) Die(kExitStore, "GetHead: " + head.error().message);
    if (*head) {
      f.seq = (*head)->seq;
      f.hash = (*head)->hash;
    }
    feeds.push_back(std::move(f));
  }
  Emit(std::string(kReadyLine) + "\n");
  std::mt19937_64 rng(a.seed);
  Clock clock(a.seconds);
  while (!clock.Expired()) {
    // Each feed joins the batch with probability one half (at least one always does).
    std::vector<protocol::VerifiedRecord> batch;
    std::vector<size_t> in_batch;  // indexes of the feeds in this batch
    const size_t always = rng() % feeds.size();
    for (size_t i = 0; i < feeds.size(); ++i) {
      if (i != always && rng() % 2 == 0) continue;
      const Feed& f = feeds[i];
      int n = 1 + static_cast<int>(rng() % static_cast<uint64_t>(a.max_per_feed));
      std::vector<protocol::SignedRecord> chunk;
      crypto::Hash256 prev = f.hash;
      for (int k = 0; k < n; ++k) {
        chunk.push_back(MustSign(NextRecord(*s, f, f.seq + 1 + k, prev, a.targets, rng), f.key));
        prev = protocol::RecordHash(chunk.back());
      }
      for (protocol::VerifiedRecord& v : MustVerifyChain(chunk, trust)) {
        batch.push_back(std::move(v));
      }
      in_batch.push_back(i);
    }
    // The heads this batch will make, announced before the Append: a kill during it must leave
    // the store either before the batch or after it, never in between.
    std::string intent(kBatchWord);
    for (size_t i : in_batch) {
      uint64_t last = feeds[i].seq;
      for (const protocol::VerifiedRecord& v : batch) {
        if (v.record().issuer == feeds[i].code) last = v.record().seq;
      }
      intent += " " + feeds[i].code + ":" + std::to_string(last);
    }
    Emit(intent + "\n");
    Result<store::AppendResult> r = s->Append(batch, kTestNow);
    if (!r) Die(kExitStore, "append: " + r.error().message);
    if (r->appended != batch.size()) {
      // Each feed has one writer, so anything but kAppended means the store lost or invented
      // something.
      for (size_t i = 0; i < batch.size(); ++i) {
        if (r->statuses[i] != store::AppendStatus::kAppended) {
          Die(kExitStore, "record " + batch[i].record().id().ToString() +
                              " was not appended: " + store::AppendStatusName(r->statuses[i]));
        }
      }
    }
    std::string lines;
    for (const protocol::VerifiedRecord& v : batch) {
      for (Feed& f : feeds) {
        if (f.code == v.record().issuer) {
          f.seq = v.record().seq;
          f.hash = v.hash();
        }
      }
    }
    for (size_t i : in_batch) {
      lines += std::string(kCommittedWord) + " " + feeds[i].code + " " +
               std::to_string(feeds[i].seq) + "\n";
    }
    Emit(lines);
  }
  return kExitOk;
}

int RunOwn(const Args& a) {
  const protocol::Trust trust = ToolTrust();
  std::unique_ptr<store::Store> s = OpenStore(a, false);
  Feed f{a.issuer, IssuerKey(a.issuer), 0, {}};
  Emit(std::string(kReadyLine) + "\n");
  std::mt19937_64 rng(a.seed);
  Clock clock(a.seconds);
  while (!clock.Expired()) {
    const int n = 1 + static_cast<int>(rng() % static_cast<uint64_t>(a.max_per_feed));
    uint64_t last = 0;
    Result<store::AppendResult> r = s->AppendOwn(
        a.issuer,
        [&](const store::Head& head) -> Result<std::vector<protocol::VerifiedRecord>> {
          std::vector<protocol::SignedRecord> chunk;
          crypto::Hash256 prev = head.hash;
          for (int k = 0; k < n; ++k) {
            uint64_t seq = head.seq + 1 + static_cast<uint64_t>(k);
            protocol::Record rec = Base(f, seq, prev);
            rec.body = RandomEntry(rng, seq, "w" + a.tag + "-" + std::to_string(seq));
            chunk.push_back(MustSign(rec, f.key));
            prev = protocol::RecordHash(chunk.back());
          }
          last = head.seq + static_cast<uint64_t>(n);
          return MustVerifyChain(chunk, trust);
        },
        kTestNow);
    if (!r) Die(kExitStore, "append own: " + r.error().message);
    if (r->appended != static_cast<size_t>(n)) Die(kExitStore, "append own appended too few");
    Emit(std::string(kCommittedWord) + " " + a.issuer + " " + std::to_string(last) + "\n");
  }
  return kExitOk;
}

class Reader {
 public:
  Reader(const store::Store& s, const protocol::Trust& trust) : s_(s), trust_(trust) {}

  void Pass() {
    ++passes_;
    Result<std::vector<store::Head>> heads = s_.Heads();
    if (!heads) return Violation("Heads: " + heads.error().message);
    for (const store::Head& head : *heads) CheckFeed(head);
  }

  uint64_t passes() const { return passes_; }
  uint64_t records() const {
    uint64_t n = 0;
    for (const auto& [issuer, v] : verified_) n += v.seq;
    return n;
  }
  int violations() const { return violations_; }

 private:
  struct Verified {
    uint64_t seq = 0;
    crypto::Hash256 hash;
  };

  void Violation(const std::string& what) {
    ++violations_;
    std::fprintf(stderr, "store_writer_tool reader: %s\n", what.c_str());
  }

  void CheckFeed(const store::Head& head) {
    Verified& v = verified_[head.issuer];
    const std::string feed = "feed " + head.issuer;
    if (head.seq < v.seq) {
      return Violation(feed + " moved back from " + std::to_string(v.seq) + " to " +
                       std::to_string(head.seq));
    }
    // The record at the head must be there, with the head's hash.
    Result<std::vector<protocol::SignedRecord>> last = s_.Range(head.issuer, head.seq, 1);
    if (!last) return Violation("Range: " + last.error().message);
    if (last->size() != 1) {
      return Violation(feed + " has head " + std::to_string(head.seq) + " but not its record");
    }
    if (protocol::RecordHash(last->front()) != head.hash) {
      return Violation(feed + "'s record at its head does not have the head's hash");
    }
    if (head.seq == v.seq) {
      if (head.hash != v.hash) Violation(feed + "'s head changed without moving");
      return;
    }
    // The part not verified yet, linked to the part that was.
    const size_t count = head.seq - v.seq;
    Result<std::vector<protocol::SignedRecord>> part = s_.Range(head.issuer, v.seq + 1, count);
    if (!part) return Violation("Range: " + part.error().message);
    if (part->size() != count) {
      return Violation(feed + " has head " + std::to_string(head.seq) + " but records " +
                       std::to_string(v.seq + 1) + ".." + std::to_string(head.seq) + " give only " +
                       std::to_string(part->size()));
    }
    Result<std::vector<protocol::VerifiedRecord>> chain =
        protocol::VerifyChain(*part, trust_, protocol::VerifyOptions{kTestNow});
    if (!chain) return Violation(feed + " does not verify: " + chain.error().message);
    if (chain->front().record().prev != v.hash) {
      return Violation(feed + " record " + std::to_string(v.seq + 1) +
                       " does not link to the record before it");
    }
    if (chain->back().hash() != head.hash) {
      return Violation(feed + "'s last record is not its head");
    }
    // Records never outrun the index: each entry read is found by its subject.
    for (const protocol::VerifiedRecord& r : *chain) {
      const protocol::EntryBody* e = r.record().entry();
      if (e == nullptr) continue;
      std::vector<store::Listing> found;
      Status looked = s_.Lookup(std::span<const crypto::Hash256>(&e->subject, 1),
                                store::LookupOptions{kTestNow, false}, found);
      if (!looked) return Violation("Lookup: " + looked.error().message);
      bool listed = false;
      for (const store::Listing& l : found) listed = listed || l.id == r.record().id();
      if (!listed) Violation("entry " + r.record().id().ToString() + " is not in the index");
    }
    v.seq = head.seq;
    v.hash = head.hash;
  }

  const store::Store& s_;
  const protocol::Trust& trust_;
  std::map<std::string, Verified> verified_;
  uint64_t passes_ = 0;
  int violations_ = 0;
};

int RunRead(const Args& a) {
  const protocol::Trust trust = ToolTrust();
  std::unique_ptr<store::Store> s = OpenStore(a, true);
  Reader reader(*s, trust);
  Emit(std::string(kReadyLine) + "\n");
  bool last_pass = false;
  while (!last_pass) {
    // Checked before the pass, so that the pass after the stop file appeared sees every commit
    // made before it was created.
    last_pass = std::filesystem::exists(a.stop_file);
    reader.Pass();
  }
  Emit(std::string(kReaderWord) + " " + std::to_string(reader.passes()) + " " +
       std::to_string(reader.records()) + "\n");
  return reader.violations() == 0 ? kExitOk : kExitViolation;
}

}  // namespace
}  // namespace duanka::testing::store_tool

int main(int argc, char** argv) {
  using namespace duanka::testing::store_tool;
  Args args;
  bool parsed = false;
  try {
    parsed = ParseArgs(argc, argv, args);
  } catch (const std::exception&) {
    parsed = false;
  }
  if (!parsed) {
    std::fprintf(
        stderr, "usage: store_writer_tool write|own|read --store DIR [options] (see the source)\n");
    return kExitUsage;
  }
  duanka::crypto::EnsureInitialized();
  if (args.mode == "write") return RunWrite(args);
  if (args.mode == "own") return RunOwn(args);
  return RunRead(args);
}
