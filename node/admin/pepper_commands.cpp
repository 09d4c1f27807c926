// Pepper rotation: pepper rotate (the consortium operator adds an epoch), pepper install (a member
// takes the new file into its HOME), pepper retire (an epoch no active entry uses is dropped).
//
// Each checks everything before it writes, and writes one file atomically or nothing. A file that
// does not follow the one it replaces (another key under an epoch both hold, an epoch missing
// that entries still use, no newer epoch) is refused: a node silently misses every entry made
// under a key it lacks, so a wrong pepper file is never installed by accident.
#include <sodium.h>

#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "node/admin/context.h"

namespace duanka::admin {
namespace {

namespace fs = std::filesystem;

std::string EpochList(const std::vector<uint32_t>& epochs) {
  std::string out;
  for (uint32_t e : epochs) {
    if (!out.empty()) out += ", ";
    out += std::to_string(e);
  }
  return out;
}

int RefuseExisting(const std::string& out) {
  return Fail(ErrorKind::kConflict,
              out + " already exists; refusing to overwrite it (choose a new file name)");
}

// Active entries (of every issuer) held under each of `epochs`, counted in one pass over the
// store: an epoch may go only when none is left.
Result<std::map<uint32_t, uint64_t>> ActiveEntriesUnder(const Home& home,
                                                        const std::vector<uint32_t>& epochs) {
  std::map<uint32_t, uint64_t> counts;
  if (epochs.empty()) return counts;
  for (uint32_t e : epochs) counts[e] = 0;
  Status s = home.store->ForEachListing("", node::SystemNow(), [&](const store::Listing& l) {
    if (!store::Stands(l.state)) return;
    auto it = counts.find(l.pepper_epoch);
    if (it != counts.end()) ++it->second;
  });
  if (!s) return std::move(s).error();
  return counts;
}

// The first of `epochs` that active entries still use, as a refusal; nullopt when none does.
std::optional<Error> StillUsed(const Home& home, const std::vector<uint32_t>& epochs,
                               uint32_t current) {
  Result<std::map<uint32_t, uint64_t>> counts = ActiveEntriesUnder(home, epochs);
  if (!counts) return std::move(counts).error();
  for (const auto& [epoch, n] : *counts) {
    if (n == 0) continue;
    return MakeError(ErrorKind::kConflict,
                     std::to_string(n) + " active entr" + (n == 1 ? "y" : "ies") +
                         " in this node's store still use pepper epoch " + std::to_string(epoch) +
                         "; their issuers re-publish them under epoch " + std::to_string(current) +
                         " (report --batch) and revoke them with --reason superseded first");
  }
  return std::nullopt;
}

}  // namespace

int PepperRotate(const PepperRotateOptions& o) {
  Result<crypto::Pepper> old = crypto::Pepper::Load(o.in);
  if (!old) return Fail(old.error());
  if (fs::exists(o.out)) return RefuseExisting(o.out);
  crypto::Pepper next = *old;
  uint32_t epoch = next.Rotate();
  if (epoch == 0) {
    return Fail(ErrorKind::kInvalidInput,
                o.in + ": epoch " + std::to_string(old->current_epoch()) +
                    " is the last a pepper file can hold; start a new pepper (pepper new)");
  }
  // Checked as members will read it: the text written, parsed again.
  std::string text = next.Serialize();
  Result<crypto::Pepper> reread = crypto::Pepper::Parse(text);
  sodium_memzero(text.data(), text.size());
  if (!reread) return Fail(ErrorKind::kInternal, "the rotated pepper does not parse back");
  if (std::optional<std::string> why = reread->NotExtending(*old)) {
    return Fail(ErrorKind::kInternal, "the rotated pepper would not extend " + o.in + ": " + *why);
  }
  if (Status s = next.Save(o.out, /*overwrite=*/false); !s) return Fail(s.error());
  std::cout << "wrote " << o.out << " (mode 0600): epochs " << EpochList(next.epochs())
            << ", current " << epoch
            << "; hand it to every member out of band, never by e-mail; each runs duanka-admin "
               "pepper install FILE and restarts duankad\n";
  return kExitOk;
}

int PepperInstall(const PepperInstallOptions& o) {
  Result<crypto::Pepper> incoming = crypto::Pepper::Load(o.file);
  if (!incoming) return Fail(incoming.error());
  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  const fs::path target = home->config.pepper;
  Result<crypto::Pepper> held = crypto::Pepper::Load(target);
  if (!held) return Fail(held.error());
  if (std::optional<uint32_t> e = incoming->KeyConflict(*held)) {
    return Fail(ErrorKind::kInvalidInput, o.file + ": epoch " + std::to_string(*e) +
                                              " has another key than in " + target.string() +
                                              " (not this consortium's pepper, or a damaged copy)");
  }
  if (incoming->current_epoch() < held->current_epoch()) {
    return Fail(ErrorKind::kInvalidInput,
                o.file + ": its current epoch " + std::to_string(incoming->current_epoch()) +
                    " is older than the installed " + std::to_string(held->current_epoch()) +
                    "; new entries would go back to an old key");
  }
  std::vector<uint32_t> dropped;
  for (uint32_t e : held->epochs()) {
    if (incoming->key(e) == nullptr) dropped.push_back(e);
  }
  if (dropped.empty() && incoming->epochs() == held->epochs()) {
    std::cout << target.string() << " already holds epochs " << EpochList(held->epochs())
              << "; nothing to do\n";
    return kExitOk;
  }
  if (std::optional<Error> used = StillUsed(*home, dropped, incoming->current_epoch())) {
    return Fail(*used);
  }
  if (Status s = incoming->Save(target, /*overwrite=*/true); !s) return Fail(s.error());
  Status audited = Audit(*home, nlohmann::json{{"time", node::IsoTime(node::SystemNow())},
                                               {"program", "duanka-admin"},
                                               {"user", node::OsUserName()},
                                               {"action", "pepper-install"},
                                               {"epochs", incoming->epochs()},
                                               {"current", incoming->current_epoch()}}
                                    .dump());
  if (!audited) std::cerr << "duanka-admin: warning: " << audited.error().message << "\n";
  std::cout << "installed " << target.string() << ": epochs " << EpochList(incoming->epochs())
            << ", current " << incoming->current_epoch()
            << "; restart duankad so that it reports under it and tells its peers\n";
  return kExitOk;
}

int PepperRetire(const PepperRetireOptions& o) {
  Result<crypto::Pepper> pepper = crypto::Pepper::Load(o.in);
  if (!pepper) return Fail(pepper.error());
  if (fs::exists(o.out)) return RefuseExisting(o.out);
  crypto::Pepper kept = *pepper;
  if (Status s = kept.Retire(o.epoch); !s)
    return Fail(ErrorKind::kInvalidInput, o.in + ": " + s.error().message);
  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  if (std::optional<Error> used = StillUsed(*home, {o.epoch}, kept.current_epoch())) {
    return Fail(*used);
  }
  if (Status s = kept.Save(o.out, /*overwrite=*/false); !s) return Fail(s.error());
  Status audited = Audit(*home, nlohmann::json{{"time", node::IsoTime(node::SystemNow())},
                                               {"program", "duanka-admin"},
                                               {"user", node::OsUserName()},
                                               {"action", "pepper-retire"},
                                               {"epoch", o.epoch},
                                               {"epochs", kept.epochs()}}
                                    .dump());
  if (!audited) std::cerr << "duanka-admin: warning: " << audited.error().message << "\n";
  std::cout << "wrote " << o.out << " (mode 0600): epochs " << EpochList(kept.epochs())
            << " (epoch " << o.epoch
            << " retired: no active entry of this node uses it); members install it with "
               "duanka-admin pepper install FILE\n";
  return kExitOk;
}

}  // namespace duanka::admin
