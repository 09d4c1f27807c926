#include "node/admin/notice_commands.h"

#include <CLI/CLI.hpp>
#include <ctime>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "node/admin/context.h"
#include "node/common/consortium_objects.h"
#include "node/common/human_time.h"

namespace duanka::admin {
namespace {

namespace fs = std::filesystem;

// A hash given by its first digits must still name one record among a handful: 8 hex digits.
constexpr size_t kMinHashPrefix = 8;
constexpr unsigned kNoticeFileMode = 0644;
// Lines of a --except file: entry ids, one per line.
constexpr size_t kMaxExceptFileBytes = 16 << 20;

using node::ParseMoment;  // shared with revoke --issuer --from/--to

// The compromise time: parsed, and not in the future (a withdrawal names a past event).
Result<int64_t> ParseSince(const std::string& text, int64_t now) {
  Result<int64_t> since = ParseMoment("--since", text);
  if (!since) return since;
  if (*since > now) {
    return MakeError(ErrorKind::kInvalidInput,
                     "--since: the compromise time " + node::HumanMinute(*since) +
                         " is in the future; give the earliest time the key may have been taken");
  }
  return since;
}

std::string NormalSerial(std::string serial) {
  for (char& ch : serial) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  serial.erase(0, std::min(serial.find_first_not_of('0'), serial.size() - 1));
  return serial;
}

Status WriteNoticeFile(const std::string& path, const protocol::SignedNotice& notice) {
  return base::WriteFileAtomic(path, protocol::EncodeNoticeFile(notice), kNoticeFileMode,
                               /*overwrite=*/false);
}

std::string EffectText(const protocol::Notice& n, const node::NoticeEffect& e) {
  if (const protocol::KeyWithdrawal* w = n.withdrawal()) {
    if (!e.key_known) {
      return "no certificate of " + w->issuer + " with serial " + w->certificate_serial +
             " is held here yet; it applies when one arrives";
    }
    return std::to_string(e.suspended) + " entries of " + w->issuer + " signed since " +
           node::HumanMinute(w->since) + " are suspended here";
  }
  if (const protocol::GradingPolicy* p = n.policy()) {
    return "grading policy version " + std::to_string(p->version) + " grades every lookup here";
  }
  if (const protocol::HoldRelease* h = n.release()) {
    return std::to_string(e.released) + " held entries of " + h->issuer + " issued on " +
           node::UtcDay(h->day) + " (UTC) are listed here, and that day holds nothing more";
  }
  const protocol::ForkResolution& r = *n.resolution();
  return "feed " + r.issuer + " continues from seq " + std::to_string(r.seq) + " (" +
         std::to_string(e.resolved.set_aside) + " record(s) set aside as evidence" +
         (e.resolved.unfrozen ? ", unfrozen" : "") + ")";
}

// Verifies (as every node will), keeps and applies a notice at this node; the daemon passes it
// on to every peer. kConflict when a newer one is held.
Result<node::NoticeEffect> AdmitHere(Home& home, const protocol::SignedNotice& notice,
                                     int64_t now) {
  Result<node::VerifiedNotice> verified =
      node::VerifyNotice(*home.ca, protocol::EncodeSignedNotice(notice), now);
  if (!verified) return std::move(verified).error();
  Result<bool> kept = node::KeepNotice(*home.store, *verified);
  if (!kept) return std::move(kept).error();
  return node::ApplyNotice(*home.store, verified->notice, now);
}

Status AuditNotice(const Home& home, const protocol::Notice& n, const std::string& action,
                   int64_t now) {
  nlohmann::json event = {{"time", node::IsoTime(now)},
                          {"program", "duanka-admin"},
                          {"user", node::OsUserName()},
                          {"action", action}};
  if (const protocol::KeyWithdrawal* w = n.withdrawal()) {
    event["institution"] = w->issuer;
    event["serial"] = w->certificate_serial;
    event["since"] = node::IsoTime(w->since);
  } else if (const protocol::GradingPolicy* p = n.policy()) {
    event["policy_version"] = p->version;
  } else if (const protocol::HoldRelease* h = n.release()) {
    event["issuer"] = h->issuer;
    event["day"] = node::UtcDay(h->day);
  } else {
    event["issuer"] = n.resolution()->issuer;
    event["seq"] = n.resolution()->seq;
    event["keep"] = n.resolution()->keep.Hex();
  }
  return Audit(home, event.dump());
}

// The regulator's node: its identity, refused for a member.
Result<node::SigningIdentity> RegulatorIdentity(Home& home, const std::string& command) {
  Result<node::SigningIdentity> id = LoadIdentity(home);
  if (!id) return id;
  if (id->certificate.role != crypto::Role::kRegulator) {
    return MakeError(ErrorKind::kInvalidInput, command +
                                                   ": only a regulator's node signs notices; " +
                                                   home.config.institution +
                                                   " is a member (the CA operator uses "
                                                   "duanka-admin pki withdraw-key)");
  }
  return id;
}

// Signs with the node's regulator identity, admits here, audits, writes --out, prints.
int SignAndAdmit(Home& home, const node::SigningIdentity& id, protocol::Notice notice,
                 const std::string& out, const std::string& action, int64_t now) {
  // The file is written only once the notice is in force here (a refused one leaves none), so an
  // existing one is refused before anything is signed.
  if (!out.empty() && fs::exists(out)) {
    return Fail(ErrorKind::kConflict,
                "--out " + out + " already exists; name a new file (nothing was signed)");
  }
  notice.signer_certificate = id.certificate.der;
  Result<protocol::SignedNotice> signed_notice = protocol::SignNotice(notice, id.key);
  if (!signed_notice) return Fail(signed_notice.error());
  Result<node::NoticeEffect> effect = AdmitHere(home, *signed_notice, now);
  if (!effect) return Fail(effect.error());
  if (Status s = AuditNotice(home, notice, action, now); !s) return Fail(s.error());
  if (!out.empty()) {
    if (Status s = WriteNoticeFile(out, *signed_notice); !s) {
      return Fail(s.error().kind, s.error().message +
                                      "; the notice is in force here all the same and duankad "
                                      "passes it to every peer");
    }
  }
  std::cout << action << " signed by regulator " << home.config.institution << ": "
            << EffectText(notice, *effect) << "; duankad passes it to every peer\n";
  return kExitOk;
}

// Suspended own entries to re-sign, with the ids they came from.
struct ReaffirmList {
  std::vector<protocol::EntryBody> bodies;
  std::vector<std::string> from_ids;
};

// Own entries suspended at or after `since`, not excepted, and not re-affirmed already: skipped
// when an own entry of the subject and category is active, or was issued at or after it in any
// state but suspended (a re-affirmed entry revoked since must not bring its original back). Of
// several of one subject and category, only the latest is re-signed.
Result<ReaffirmList> ToReaffirm(const store::Store& store, const std::string& me, int64_t since,
                                const std::set<protocol::EntryId>& except, int64_t now) {
  using Topic = std::pair<crypto::Hash256, protocol::Category>;
  std::map<Topic, int64_t> latest_unsuspended;
  std::set<Topic> active;
  std::map<Topic, protocol::EntryId> latest_suspended;
  std::vector<Topic> order;  // feed order of the topics' first suspended entry
  Status walked = store.ForEachListing(me, now, [&](const store::Listing& l) {
    const Topic topic{l.subject, l.category};
    if (l.state != store::EntryState::kSuspended) {
      auto [it, added] = latest_unsuspended.emplace(topic, l.issued_at);
      if (!added) it->second = std::max(it->second, l.issued_at);
      if (store::Stands(l.state)) active.insert(topic);
      return;
    }
    if (l.issued_at < since || except.count(l.id)) return;
    auto [it, added] = latest_suspended.insert_or_assign(topic, l.id);
    if (added) order.push_back(topic);
  });
  if (!walked) return std::move(walked).error();
  ReaffirmList out;
  for (const Topic& topic : order) {
    const protocol::EntryId& id = latest_suspended.at(topic);
    Result<std::optional<protocol::SignedRecord>> held = store.Get(id);
    if (!held) return std::move(held).error();
    if (!*held) continue;
    Result<protocol::Record> r = protocol::DecodeRecord((*held)->bytes);
    if (!r || r->entry() == nullptr || active.count(topic)) continue;
    if (auto later = latest_unsuspended.find(topic);
        later != latest_unsuspended.end() && later->second >= r->issued_at) {
      continue;
    }
    out.bodies.push_back(*r->entry());
    out.from_ids.push_back(id.ToString());
  }
  return out;
}

}  // namespace

int PkiWithdrawKey(const PkiWithdrawKeyOptions& o) {
  const int64_t now = node::SystemNow();
  Result<int64_t> since = ParseSince(o.since, now);
  if (!since) return Fail(since.error());
  const fs::path ca_dir(o.ca_dir);
  Result<crypto::TrustStore> ca = crypto::TrustStore::Load(ca_dir / "ca.pem", std::nullopt);
  if (!ca) return Fail(ErrorKind::kIo, ca.error().message);
  Result<std::vector<crypto::IssuedCertificate>> issued = crypto::IssuedCertificates(ca_dir);
  if (!issued) return Fail(issued.error());
  const std::string serial = NormalSerial(o.serial);
  const crypto::IssuedCertificate* cert = nullptr;
  for (const crypto::IssuedCertificate& c : *issued) {
    if (c.serial_hex == serial) cert = &c;
  }
  if (cert == nullptr) {
    return Fail(ErrorKind::kInvalidInput, "pki withdraw-key: serial " + serial +
                                              " was not issued by this CA (not in " +
                                              (ca_dir / "issued.txt").string() + ")");
  }
  if (cert->kind != "signing") {
    return Fail(ErrorKind::kInvalidInput,
                "pki withdraw-key: serial " + serial + " is " + cert->institution + "'s " +
                    cert->kind + " certificate; a withdrawal names a signing certificate");
  }
  Result<crypto::SigningKey> key = crypto::LoadPrivateKey(ca_dir / "ca.key");
  if (!key) return Fail(key.error());
  protocol::Notice notice{ca->consortium(), now, "",
                          protocol::KeyWithdrawal{cert->institution, serial, *since}};
  Result<protocol::SignedNotice> signed_notice = protocol::SignNotice(notice, *key);
  if (!signed_notice) return Fail(signed_notice.error());
  const std::string out =
      o.out.empty() ? (ca_dir / ("withdraw-" + serial + ".notice")).string() : o.out;
  if (Status s = WriteNoticeFile(out, *signed_notice); !s) return Fail(s.error());
  std::cout << "key withdrawal of " << cert->institution << "'s signing certificate " << serial
            << " since " << node::HumanMinute(*since) << " written to " << out
            << ". Hand it to any one node: duanka-admin import " << out << "\n";
  return kExitOk;
}

int WithdrawKey(const WithdrawKeyOptions& o) {
  const int64_t now = node::SystemNow();
  Result<int64_t> since = ParseSince(o.since, now);
  if (!since) return Fail(since.error());
  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  Result<node::SigningIdentity> id = RegulatorIdentity(*home, "withdraw-key");
  if (!id) return Fail(id.error());
  const std::string serial = NormalSerial(o.serial);
  Result<std::vector<std::string>> certs = home->store->Certificates();
  if (!certs) return Fail(certs.error());
  bool held = false;
  for (const std::string& der : *certs) {
    Result<crypto::CertificateInfo> info = crypto::InspectCertificate(der);
    held = held || (info && info->serial_hex == serial && info->institution == o.institution);
  }
  if (!held) {
    return Fail(ErrorKind::kInvalidInput, "withdraw-key: no signing certificate of " +
                                              o.institution + " with serial " + serial +
                                              " is held here (see duanka status, or ask the CA)");
  }
  protocol::Notice notice{home->ca->consortium(), now, "",
                          protocol::KeyWithdrawal{o.institution, serial, *since}};
  return SignAndAdmit(*home, *id, std::move(notice), o.out, "withdraw-key", now);
}

int ForkResolve(const ForkResolveOptions& o) {
  const int64_t now = node::SystemNow();
  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  Result<node::SigningIdentity> id = RegulatorIdentity(*home, "fork resolve");
  if (!id) return Fail(id.error());
  // The fork to resolve is the one the feed is frozen at here (an earlier fork of the feed may
  // be resolved already; its evidence stays).
  Result<std::optional<store::Head>> head = home->store->GetHead(o.issuer);
  if (!head) return Fail(head.error());
  if (!*head || !(*head)->frozen) {
    return Fail(ErrorKind::kInvalidInput,
                "fork resolve: the feed of " + o.issuer +
                    " is not frozen here: no fork to resolve (duanka status shows frozen feeds)");
  }
  const uint64_t fork_seq = (*head)->fork_seq;
  Result<std::vector<store::Evidence>> evidence = home->store->AllEvidence();
  if (!evidence) return Fail(evidence.error());
  const store::Evidence* fork = nullptr;
  for (const store::Evidence& e : *evidence) {
    Result<protocol::Record> r = protocol::DecodeRecord(e.held.bytes);
    if (r && r->issuer == o.issuer && r->seq == fork_seq) fork = &e;
  }
  if (fork == nullptr) {
    return Fail(ErrorKind::kIo, "fork resolve: the feed of " + o.issuer + " is frozen at seq " +
                                    std::to_string(fork_seq) + " but no evidence is held for it");
  }
  const crypto::Hash256 candidates[2] = {protocol::RecordHash(fork->held),
                                         protocol::RecordHash(fork->other)};
  std::string keep = o.keep;
  for (char& ch : keep) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const std::string choices = candidates[0].Hex() + " or " + candidates[1].Hex();
  const crypto::Hash256* chosen = nullptr;
  for (const crypto::Hash256& h : candidates) {
    if (keep.size() >= kMinHashPrefix && h.Hex().compare(0, keep.size(), keep) == 0) chosen = &h;
  }
  if (chosen == nullptr) {
    return Fail(ErrorKind::kInvalidInput,
                "fork resolve: --keep \"" + o.keep + "\" names neither record of the fork of " +
                    o.issuer + " at seq " + std::to_string(fork_seq) + "; expected " + choices +
                    " (at least " + std::to_string(kMinHashPrefix) + " hex digits)");
  }
  protocol::Notice notice{home->ca->consortium(), now, "",
                          protocol::ForkResolution{o.issuer, fork_seq, *chosen}};
  return SignAndAdmit(*home, *id, std::move(notice), o.out, "fork-resolve", now);
}

int Reaffirm(const ReaffirmOptions& o) {
  const int64_t now = node::SystemNow();
  Result<int64_t> since = ParseMoment("--since", o.since);
  if (!since) return Fail(since.error());
  std::set<protocol::EntryId> except;
  if (!o.except.empty()) {
    Result<std::string> text = base::ReadFile(o.except, kMaxExceptFileBytes);
    if (!text) return Fail(ErrorKind::kInvalidInput, text.error().message);
    size_t line_no = 0;
    for (size_t start = 0; start < text->size();) {
      size_t end = std::min(text->find('\n', start), text->size());
      std::string line = text->substr(start, end - start);
      start = end + 1;
      ++line_no;
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      Result<protocol::EntryId> id = protocol::ParseEntryId(line);
      if (!id) {
        return Fail(ErrorKind::kInvalidInput,
                    o.except + " line " + std::to_string(line_no) + ": " + id.error().message);
      }
      except.insert(*id);
    }
  }
  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  Result<node::SigningIdentity> id = LoadIdentity(*home);
  if (!id) return Fail(id.error());
  const std::string& me = home->config.institution;
  Result<std::optional<int64_t>> own_key_withdrawn =
      home->store->WithdrawnSince(protocol::KeyId(id->key.public_key()));
  if (!own_key_withdrawn) return Fail(own_key_withdrawn.error());
  if (*own_key_withdrawn) {
    return Fail(ErrorKind::kInvalidInput,
                "reaffirm: this node's signing key is the withdrawn one; install a new signing "
                "key and certificate first (duanka-admin pki issue ... --force at the CA)");
  }

  Result<ReaffirmList> preview = ToReaffirm(*home->store, me, *since, except, now);
  if (!preview) return Fail(preview.error());
  if (o.dry_run || preview->bodies.empty()) {
    for (const std::string& e : preview->from_ids) std::cout << e << "\n";
    std::cerr << preview->bodies.size() << " suspended entries of " << me << " since "
              << node::HumanMinute(*since) << " to re-affirm"
              << (o.dry_run ? " (dry run: nothing signed)" : "") << "\n";
    return kExitOk;
  }
  // Chosen again inside the write transaction: of two runs at once, the second sees what the
  // first signed and re-signs nothing twice.
  ReaffirmList listed;
  std::vector<std::string> new_ids;
  Result<store::AppendResult> appended = AppendToOwnFeed(
      *home, o.i_know,
      [&](const store::Head& head) -> Result<std::vector<protocol::VerifiedRecord>> {
        std::vector<protocol::VerifiedRecord> out;
        new_ids.clear();
        Result<ReaffirmList> chosen = ToReaffirm(*home->store, me, *since, except, now);
        if (!chosen) return std::move(chosen).error();
        listed = std::move(*chosen);
        for (const protocol::EntryBody& body : listed.bodies) {
          protocol::Record r;
          r.issuer = me;
          r.seq = head.seq + 1 + out.size();
          r.prev = out.empty() ? head.hash : out.back().hash();
          r.issued_at = now;
          r.body = body;
          new_ids.push_back(r.id().ToString());
          Result<protocol::VerifiedRecord> v = SignOwnRecord(std::move(r), *id, home->trust, now);
          if (!v) return std::move(v).error();
          out.push_back(std::move(*v));
        }
        return out;
      },
      now);
  if (!appended) return Fail(appended.error());
  Status audited = Audit(*home, nlohmann::json{{"time", node::IsoTime(now)},
                                               {"program", "duanka-admin"},
                                               {"user", node::OsUserName()},
                                               {"action", "reaffirm"},
                                               {"since", node::IsoTime(*since)},
                                               {"suspended", listed.from_ids},
                                               {"entries", new_ids}}
                                    .dump());
  if (!audited) return Fail(audited.error());
  for (size_t i = 0; i < new_ids.size(); ++i) {
    if (o.json) {
      std::cout << nlohmann::json{{"suspended", listed.from_ids[i]}, {"entry", new_ids[i]}}.dump()
                << "\n";
    } else {
      std::cout << listed.from_ids[i] << "," << new_ids[i] << "\n";
    }
  }
  std::cerr << new_ids.size() << " suspended entries re-affirmed with the new key\n";
  return kExitOk;
}

int SignHoldRelease(Home& home, const std::string& issuer, uint32_t day, const std::string& out,
                    int64_t now) {
  Result<node::SigningIdentity> id = RegulatorIdentity(home, "hold release --everywhere");
  if (!id) return Fail(id.error());
  protocol::Notice notice{home.ca->consortium(), now, "", protocol::HoldRelease{issuer, day}};
  return SignAndAdmit(home, *id, std::move(notice), out, "hold-release-notice", now);
}

int SignPolicy(Home& home, const protocol::GradingPolicy& policy, const std::string& out,
               int64_t now) {
  Result<node::SigningIdentity> id = RegulatorIdentity(home, "policy set");
  if (!id) return Fail(id.error());
  protocol::Notice notice{home.ca->consortium(), now, "", policy};
  return SignAndAdmit(home, *id, std::move(notice), out, "policy-set", now);
}

int ImportNotice(const std::optional<std::string>& home_flag, const std::string& file,
                 const std::string& bytes) {
  Result<std::pair<protocol::SignedNotice, protocol::Notice>> decoded =
      protocol::DecodeNoticeFile(bytes);
  if (!decoded) return Fail(ErrorKind::kInvalidInput, file + ": " + decoded.error().message);
  Result<Home> home = OpenHome(home_flag);
  if (!home) return Fail(home.error());
  const int64_t now = node::SystemNow();
  Result<node::NoticeEffect> effect = AdmitHere(*home, decoded->first, now);
  if (!effect) {
    return Fail(effect.error().kind == ErrorKind::kIo ? ErrorKind::kIo : ErrorKind::kInvalidInput,
                file + ": " + effect.error().message + "; nothing imported");
  }
  if (Status s = AuditNotice(*home, decoded->second, "import-notice", now); !s)
    return Fail(s.error());
  std::cout << "notice in force: " << EffectText(decoded->second, *effect)
            << "; duankad passes it to every peer\n";
  return kExitOk;
}

void AddNoticeCommands(CLI::App& app, CLI::App& pki, const std::optional<std::string>& home,
                       int& code) {
  const char* kSinceHelp =
      "compromise time: 2026-12-06T10:00:00Z (UTC) or \"2026-12-06 18:00\" (China Standard "
      "Time); entries the key signed at or after it are suspended";

  auto pki_opts = std::make_shared<PkiWithdrawKeyOptions>();
  CLI::App* pki_cmd = pki.add_subcommand(
      "withdraw-key", "sign a key-withdrawal notice for a stolen signing key (CA operator)");
  pki_cmd->add_option("--ca-dir", pki_opts->ca_dir, "the CA directory")->required();
  pki_cmd->add_option("--serial", pki_opts->serial, "the signing certificate's serial (hex)")
      ->required();
  pki_cmd->add_option("--since", pki_opts->since, kSinceHelp)->required();
  pki_cmd->add_option("--out", pki_opts->out,
                      "the notice file (default CA_DIR/withdraw-SERIAL.notice)");
  pki_cmd->footer(
      "Example: duanka-admin pki withdraw-key --ca-dir ./ca --serial 1F2E3D --since "
      "2026-12-06T02:00:00Z");
  pki_cmd->callback([&code, pki_opts] { code = PkiWithdrawKey(*pki_opts); });

  auto w = std::make_shared<WithdrawKeyOptions>();
  CLI::App* w_cmd = app.add_subcommand(
      "withdraw-key", "the regulator: withdraw a member's stolen signing key from this node");
  w_cmd->add_option("--institution", w->institution, "the key's institution")->required();
  w_cmd->add_option("--serial", w->serial, "its signing certificate's serial (hex)")->required();
  w_cmd->add_option("--since", w->since, kSinceHelp)->required();
  w_cmd->add_option("--out", w->out, "also write the notice to this file");
  w_cmd->callback([&code, &home, w] {
    w->home = home;
    code = WithdrawKey(*w);
  });

  auto f = std::make_shared<ForkResolveOptions>();
  CLI::App* fork_cmd = app.add_subcommand("fork", "forked feeds (the regulator)");
  fork_cmd->require_subcommand(1);
  CLI::App* resolve_cmd = fork_cmd->add_subcommand(
      "resolve", "name the branch of a frozen feed to keep; every node unfreezes it");
  resolve_cmd->add_option("ISSUER", f->issuer, "the forked feed's institution")->required();
  resolve_cmd
      ->add_option("--keep", f->keep,
                   "hash of the record to keep at the fork's seq (its first 8+ hex "
                   "digits); without it the error lists both")
      ->required();
  resolve_cmd->add_option("--out", f->out, "also write the notice to this file");
  resolve_cmd->callback([&code, &home, f] {
    f->home = home;
    code = ForkResolve(*f);
  });

  auto r = std::make_shared<ReaffirmOptions>();
  CLI::App* r_cmd = app.add_subcommand(
      "reaffirm", "re-sign, with this node's new key, own entries suspended by a key withdrawal");
  r_cmd->add_option("--since", r->since, "the withdrawal's compromise time")->required();
  r_cmd->add_option("--except", r->except,
                    "file of entry ids (one per line) NOT to re-affirm: entries this institution "
                    "did not sign (compare with the audit log)");
  r_cmd->add_flag("--dry-run", r->dry_run, "list what would be re-affirmed, sign nothing");
  r_cmd->add_flag("--json", r->json, "one {\"suspended\",\"entry\"} per line");
  r_cmd->add_flag("--i-know", r->i_know,
                  "publish although a peer has claimed the own feed past this store's head");
  r_cmd->footer(
      "Output: SUSPENDED_ENTRY,NEW_ENTRY per re-affirmed entry.\n"
      "Example: duanka-admin reaffirm --since 2026-12-06T02:00:00Z --except not-ours.txt");
  r_cmd->callback([&code, &home, r] {
    r->home = home;
    code = Reaffirm(*r);
  });
}

}  // namespace duanka::admin
