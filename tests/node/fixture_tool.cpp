// fixture_tool: builds a test HOME for the lookup CLI without duanka-admin (and without X.509):
// duanka.toml, a pepper file and a store of entries signed by deterministic test issuers,
// verified against a Trust that knows them, and appended with Store::Append exactly as the
// daemon would. It also writes batch input files for the benchmarks.
//
//   fixture_tool HOME [--institution CODE]           creates duanka.toml, pepper.key, store/
//   fixture_tool HOME --entries FILE [--issuer CODE] appends TYPE,VALUE,CATEGORY[,BASIS[,STATE]]
//                                                    lines (STATE: active, revoked, expired);
//                                                    prints one entry id per line
//   fixture_tool HOME --random N [--seed S] [--issuer CODE] [--batch-size B] [--pause-ms MS]
//                                                    appends N random mobile numbers, B per
//                                                    transaction (default 10000)
//   fixture_tool HOME --rotate-pepper                adds the next pepper epoch
//   fixture_tool --make-batch FILE --lines L --random N --seed S [--hit-every K]
//                [--invalid-every K]                 writes L "phone,NUMBER" lines; every K-th
//                                                    is one that --random N --seed S stored
//
// Identifiers are never printed: only entry ids and counts. Exit 0 done, 2 usage, 3 failure.
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "crypto/crypto.h"
#include "node/common/config.h"
#include "node/common/profile.h"
#include "protocol/identifier.h"
#include "protocol/record.h"
#include "store/store.h"

namespace {

using namespace duanka;

constexpr int64_t kDay = 24 * 3600;
// A valid entry lists for two years (psb-identified), as duanka-admin's default would.
constexpr int64_t kListingSeconds = 730 * kDay;
constexpr size_t kDefaultBatchSize = 10'000;
// The random stream that --make-batch draws its misses from, apart from the stored numbers'.
constexpr uint64_t kMissStreamSalt = 0x9E3779B97F4A7C15ULL;

int Usage(const std::string& why) {
  std::fprintf(stderr, "fixture_tool: %s\n", why.c_str());
  return 2;
}

int Failure(const std::string& why) {
  std::fprintf(stderr, "fixture_tool: %s\n", why.c_str());
  return 3;
}

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// splitmix64: a tiny deterministic generator, so the benchmark can regenerate the stored numbers.
struct Random {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // A mainland mobile number: 1, a digit 3-9, nine digits.
  std::string Mobile() {
    uint64_t r = Next();
    std::string s = "1";
    s += static_cast<char>('3' + r % 7);
    r /= 7;
    for (int i = 0; i < 9; ++i) {
      s += static_cast<char>('0' + r % 10);
      r /= 10;
    }
    return s;
  }
};

// A test institution with a key derived from its code, so that every run (and every process)
// signs as the same issuer and continues the same feed.
struct Issuer {
  std::string code;
  crypto::SigningKey key;
  protocol::Signer signer;
  protocol::Trust trust;

  static Issuer Make(const std::string& code, int64_t now) {
    const std::string label = "duanka fixture issuer " + code;
    Result<crypto::SigningKey> key =
        crypto::SigningKey::FromSeed(crypto::Sha256(crypto::AsBytes(label)).view());
    crypto::Role role = code == "PBOC" ? crypto::Role::kRegulator : crypto::Role::kMember;
    protocol::Signer signer{code, role, key->public_key(), now - 5 * 365 * kDay,
                            now + 5 * 365 * kDay};
    Issuer issuer{code, std::move(key).value(), signer, {}};
    issuer.trust.Add(signer);
    return issuer;
  }
};

// Builds and appends one issuer's records, continuing its feed from the store's head.
class FeedWriter {
 public:
  FeedWriter(store::Store& store, Issuer& issuer, int64_t now)
      : store_(store), issuer_(issuer), now_(now) {}

  Status Start() {
    Result<std::optional<store::Head>> head = store_.GetHead(issuer_.code);
    if (!head) return std::move(head).error();
    if (*head) {
      seq_ = (*head)->seq;
      prev_ = (*head)->hash;
      Result<std::optional<protocol::SignedRecord>> held =
          store_.Get(protocol::EntryId{issuer_.code, seq_});
      if (!held) return std::move(held).error();
      if (*held) {
        Result<protocol::Record> r = protocol::DecodeRecord((*held)->bytes);
        if (r) last_issued_at_ = r->issued_at;
      }
    }
    return Ok();
  }

  // Signs the next record; returns its entry id.
  Result<protocol::EntryId> Add(std::variant<protocol::EntryBody, protocol::RevocationBody> body,
                                int64_t issued_at) {
    // Issue times rise along a feed (protocol/README.md section 3): a record asked for with an
    // earlier time than the one before is dated as that one, and an entry that was to have
    // expired already still expires (a second later).
    issued_at = std::max(issued_at, last_issued_at_);
    if (auto* entry = std::get_if<protocol::EntryBody>(&body);
        entry != nullptr && entry->expires_at <= issued_at && entry->expires_at <= now_) {
      entry->expires_at = issued_at + 1;
    }
    last_issued_at_ = issued_at;
    protocol::Record r;
    r.issuer = issuer_.code;
    r.seq = seq_ + 1;
    r.prev = prev_;
    r.issued_at = issued_at;
    r.signer_key_id = protocol::KeyId(issuer_.key.public_key());
    std::visit([&r](auto&& b) { r.body = std::move(b); }, std::move(body));
    Result<protocol::SignedRecord> signed_record = protocol::SignRecord(r, issuer_.key);
    if (!signed_record) return std::move(signed_record).error();
    seq_ = r.seq;
    prev_ = protocol::RecordHash(*signed_record);
    pending_.push_back(std::move(*signed_record));
    return r.id();
  }

  // Verifies the pending records as one chain and appends them in one transaction.
  Status Flush() {
    if (pending_.empty()) return Ok();
    Result<std::vector<protocol::VerifiedRecord>> verified =
        protocol::VerifyChain(pending_, issuer_.trust, protocol::VerifyOptions{now_});
    if (!verified) return std::move(verified).error();
    Result<store::AppendResult> appended = store_.Append(*verified, now_);
    if (!appended) return std::move(appended).error();
    if (appended->appended != pending_.size()) {
      return MakeError(ErrorKind::kConflict,
                       "the store refused records (another writer for " + issuer_.code + "?)");
    }
    pending_.clear();
    return Ok();
  }

  size_t pending() const { return pending_.size(); }

 private:
  store::Store& store_;
  Issuer& issuer_;
  int64_t now_;
  uint64_t seq_ = 0;
  crypto::Hash256 prev_;
  std::vector<protocol::SignedRecord> pending_;
  int64_t last_issued_at_ = 0;
};

struct Args {
  std::string home;
  std::string institution = "BANKA";
  std::string issuer = "BANKA";
  std::string entries;
  uint64_t random = 0;
  uint64_t seed = 1;
  size_t batch_size = kDefaultBatchSize;
  int pause_ms = 0;
  bool rotate_pepper = false;
  std::string make_batch;
  uint64_t lines = 0;
  uint64_t hit_every = 0;
  uint64_t invalid_every = 0;
};

bool ParseNumber(const char* text, uint64_t& out) {
  const char* end = text + std::strlen(text);
  auto [ptr, ec] = std::from_chars(text, end, out);
  return ec == std::errc() && ptr == end;
}

std::optional<std::string> ParseArgs(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    auto number = [&](uint64_t& out) {
      const char* v = value();
      return v != nullptr && ParseNumber(v, out);
    };
    uint64_t n = 0;
    if (arg == "--institution") {
      const char* v = value();
      if (!v) return "--institution needs a code";
      a.institution = v;
    } else if (arg == "--issuer") {
      const char* v = value();
      if (!v) return "--issuer needs a code";
      a.issuer = v;
    } else if (arg == "--entries") {
      const char* v = value();
      if (!v) return "--entries needs a file";
      a.entries = v;
    } else if (arg == "--random") {
      if (!number(a.random)) return "--random needs a number";
    } else if (arg == "--seed") {
      if (!number(a.seed)) return "--seed needs a number";
    } else if (arg == "--batch-size") {
      if (!number(n) || n == 0) return "--batch-size needs a number from 1";
      a.batch_size = n;
    } else if (arg == "--pause-ms") {
      if (!number(n)) return "--pause-ms needs a number";
      a.pause_ms = static_cast<int>(n);
    } else if (arg == "--rotate-pepper") {
      a.rotate_pepper = true;
    } else if (arg == "--make-batch") {
      const char* v = value();
      if (!v) return "--make-batch needs a file";
      a.make_batch = v;
    } else if (arg == "--lines") {
      if (!number(a.lines)) return "--lines needs a number";
    } else if (arg == "--hit-every") {
      if (!number(a.hit_every)) return "--hit-every needs a number";
    } else if (arg == "--invalid-every") {
      if (!number(a.invalid_every)) return "--invalid-every needs a number";
    } else if (!arg.empty() && arg[0] != '-' && a.home.empty()) {
      a.home = arg;
    } else {
      return "unknown argument " + arg + " (see the comment at the top of fixture_tool.cpp)";
    }
  }
  if (a.home.empty() && a.make_batch.empty()) return "HOME is required";
  return std::nullopt;
}

// --make-batch: the numbers stored by --random N --seed S are regenerated, not read back.
int MakeBatch(const Args& a) {
  std::FILE* f = std::fopen(a.make_batch.c_str(), "w");
  if (f == nullptr) return Failure("cannot write the batch file");
  Random stored{a.seed};
  Random misses{a.seed ^ kMissStreamSalt};
  uint64_t hits = 0;
  for (uint64_t i = 1; i <= a.lines; ++i) {
    if (a.invalid_every > 0 && i % a.invalid_every == 0) {
      std::fputs("phone,12345\n", f);  // too short for any phone number
    } else if (a.hit_every > 0 && i % a.hit_every == 0 && hits < a.random) {
      std::fprintf(f, "phone,%s\n", stored.Mobile().c_str());
      ++hits;
    } else {
      std::fprintf(f, "phone,%s\n", misses.Mobile().c_str());
    }
  }
  if (std::fclose(f) != 0) return Failure("cannot write the batch file");
  std::printf("wrote %llu lines (%llu of stored numbers)\n",
              static_cast<unsigned long long>(a.lines), static_cast<unsigned long long>(hits));
  return 0;
}

Result<crypto::Pepper> SetUpHome(const Args& a) {
  const std::filesystem::path home = a.home;
  std::error_code ec;
  std::filesystem::create_directories(home, ec);
  if (ec) return MakeError(ErrorKind::kIo, "cannot create HOME: " + ec.message());
  if (!std::filesystem::exists(home / node::kConfigFileName)) {
    node::Config config = node::Config::Defaults(home, a.institution);
    std::ofstream out(home / node::kConfigFileName);
    out << config.ToToml();
    if (!out) return MakeError(ErrorKind::kIo, "cannot write duanka.toml");
  }
  const std::filesystem::path pepper_path = home / "pepper.key";
  if (!std::filesystem::exists(pepper_path)) {
    Status saved = crypto::Pepper::Generate(1).Save(pepper_path, false);
    if (!saved) return std::move(saved).error();
  }
  Result<crypto::Pepper> pepper = crypto::Pepper::Load(pepper_path);
  if (!pepper) return pepper;
  if (a.rotate_pepper) {
    pepper->Rotate();
    Status saved = pepper->Save(pepper_path, true);
    if (!saved) return std::move(saved).error();
  }
  return pepper;
}

protocol::EntryBody Body(const crypto::Pepper& pepper, protocol::IdType type,
                         const std::string& canonical, protocol::Category category,
                         protocol::Basis basis, int64_t expires_at) {
  protocol::EntryBody e;
  e.pepper_epoch = pepper.current_epoch();
  e.subject = pepper.Subject(e.pepper_epoch, protocol::IdTypeName(type), canonical);
  e.id_type = type;
  e.category = category;
  e.basis = basis;
  e.expires_at = expires_at;
  return e;
}

std::vector<std::string_view> Split(std::string_view line) {
  std::vector<std::string_view> fields;
  for (size_t start = 0;;) {
    size_t comma = line.find(',', start);
    fields.push_back(line.substr(start, comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return fields;
}

int AppendEntries(const Args& a, store::Store& store, const crypto::Pepper& pepper, Issuer& issuer,
                  int64_t now) {
  std::ifstream in(a.entries);
  if (!in) return Usage("cannot read the entries file");
  FeedWriter writer(store, issuer, now);
  if (Status s = writer.Start(); !s) return Failure(s.error().message);
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string_view> f = Split(line);
    const std::string where = "entries line " + std::to_string(line_no) + ": ";
    if (f.size() < 3 || f.size() > 5) {
      return Usage(where + "expected TYPE,VALUE,CATEGORY[,BASIS[,STATE]]");
    }
    std::optional<protocol::IdType> type = protocol::ParseIdType(f[0]);
    if (!type) return Usage(where + "unknown type");
    Result<std::string> canonical = protocol::Canonicalize(*type, f[1]);
    if (!canonical) return Usage(where + canonical.error().message);
    std::optional<protocol::Category> category = protocol::ParseCategory(f[2]);
    if (!category) return Usage(where + "unknown category");
    protocol::Basis basis = protocol::Basis::kPsbIdentified;
    if (f.size() >= 4 && !f[3].empty()) {
      std::optional<protocol::Basis> b = protocol::ParseBasis(f[3]);
      if (!b) return Usage(where + "unknown basis");
      basis = *b;
    }
    std::string_view state = f.size() == 5 ? f[4] : "active";
    if (state != "active" && state != "revoked" && state != "expired") {
      return Usage(where + "STATE is active, revoked or expired");
    }
    // An expired entry was issued 400 days ago for a year; the others a minute ago.
    const bool expired = state == "expired";
    const int64_t issued_at = expired ? now - 400 * kDay : now - 60;
    const int64_t expires_at = expired ? now - kDay : now + kListingSeconds;
    protocol::EntryBody body = Body(pepper, *type, *canonical, *category, basis, expires_at);
    body.case_ref = "CASE-" + std::to_string(line_no);
    Result<protocol::EntryId> id = writer.Add(body, issued_at);
    if (!id) return Failure(id.error().message);
    if (state == "revoked") {
      Result<protocol::EntryId> revocation = writer.Add(
          protocol::RevocationBody{*id, protocol::RevocationReason::kAppealUpheld}, now - 30);
      if (!revocation) return Failure(revocation.error().message);
    }
    std::printf("%s\n", id->ToString().c_str());
  }
  if (Status s = writer.Flush(); !s) return Failure(s.error().message);
  return 0;
}

int AppendRandom(const Args& a, store::Store& store, const crypto::Pepper& pepper, Issuer& issuer,
                 int64_t now) {
  FeedWriter writer(store, issuer, now);
  if (Status s = writer.Start(); !s) return Failure(s.error().message);
  Random random{a.seed};
  const std::string_view tag = protocol::IdTypeName(protocol::IdType::kPhone);
  for (uint64_t i = 0; i < a.random; ++i) {
    // The canonical form of a mainland mobile is +86 and its 11 digits.
    const std::string canonical = "+86" + random.Mobile();
    protocol::EntryBody body;
    body.pepper_epoch = pepper.current_epoch();
    body.subject = pepper.Subject(body.pepper_epoch, tag, canonical);
    body.id_type = protocol::IdType::kPhone;
    body.category = static_cast<protocol::Category>(1 + i % 7);
    body.basis = protocol::Basis::kPsbIdentified;
    body.expires_at = now + kListingSeconds;
    Result<protocol::EntryId> id = writer.Add(body, now - 60);
    if (!id) return Failure(id.error().message);
    if (writer.pending() >= a.batch_size) {
      if (Status s = writer.Flush(); !s) return Failure(s.error().message);
      if (a.pause_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(a.pause_ms));
    }
  }
  if (Status s = writer.Flush(); !s) return Failure(s.error().message);
  std::printf("appended %llu random entries as %s\n", static_cast<unsigned long long>(a.random),
              issuer.code.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  crypto::EnsureInitialized();
  Args a;
  if (std::optional<std::string> bad = ParseArgs(argc, argv, a)) return Usage(*bad);
  if (!a.make_batch.empty()) return MakeBatch(a);
  if (!base::IsValidInstitutionCode(a.institution) || !base::IsValidInstitutionCode(a.issuer)) {
    return Usage("institution codes are [A-Z0-9]{2,16}");
  }
  const int64_t now = Now();
  Result<crypto::Pepper> pepper = SetUpHome(a);
  if (!pepper) return Failure(pepper.error().message);
  store::Options options;
  options.path = std::filesystem::path(a.home) / "store";
  Result<std::unique_ptr<store::Store>> store = store::Store::Open(options);
  if (!store) return Failure(store.error().message);
  Issuer issuer = Issuer::Make(a.issuer, now);
  if (!a.entries.empty()) {
    if (int rc = AppendEntries(a, **store, *pepper, issuer, now); rc != 0) return rc;
  }
  if (a.random > 0) {
    if (int rc = AppendRandom(a, **store, *pepper, issuer, now); rc != 0) return rc;
  }
  // As every writer of the programs does after an append: without it each lookup CLI that
  // answers from this feed would read the whole feed for the issuer's profile.
  if (Status saved = node::SaveProfileScans(**store, {a.issuer}); !saved) {
    return Failure(saved.error().message);
  }
  return 0;
}
