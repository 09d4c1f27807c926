#include "node/admin/audit_commands.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "node/admin/context.h"
#include "node/common/audit.h"
#include "node/common/audit_verify.h"
#include "node/common/config.h"
#include "node/common/exit_codes.h"
#include "node/common/human_time.h"
#include "node/common/identity.h"
#include "protocol/record.h"
#include "store/store.h"

namespace duanka::admin {

namespace {

// A month's audit log of a busy node is a few hundred MB; each file is read whole.
constexpr size_t kMaxAuditFileBytes = size_t{4} << 30;
constexpr size_t kMaxCaFileBytes = 1 << 20;
constexpr int kExitTampered = node::kExitNotFound;  // 1: as grep's "not as expected"

struct AuditVerifyArgs {
  std::optional<std::string> home;
  std::vector<std::string> files;
  std::string ca;
};

struct AuditExportOptions {
  std::optional<std::string> home;
  std::string from;
  std::string to;
  std::string out;
  bool force = false;
};

// The institution's signing certificates this HOME knows (its own signing.pem and those in the
// store), verified against the CA: key id (hex) → key and DER.
struct KnownKeys {
  std::map<std::string, std::pair<crypto::PublicKey, std::string>> by_id;
  void Add(const crypto::TrustStore& ca, const std::string& institution, const std::string& der) {
    Result<crypto::CertificateInfo> info = ca.Verify(der, crypto::CertKind::kSigning, std::nullopt);
    if (!info || info->institution != institution) return;
    by_id[protocol::KeyId(info->public_key).Hex()] = {info->public_key, der};
  }
  std::function<std::optional<crypto::PublicKey>(std::string_view)> Finder() const {
    return [this](std::string_view id) -> std::optional<crypto::PublicKey> {
      auto it = by_id.find(std::string(id));
      if (it == by_id.end()) return std::nullopt;
      return it->second.first;
    };
  }
};

struct HomeKeys {
  node::Config config;
  std::unique_ptr<crypto::TrustStore> ca;
  KnownKeys keys;
};

Result<HomeKeys> LoadHomeKeys(const std::optional<std::string>& home) {
  Result<node::Config> config = node::LoadConfig(node::ResolveHome(home));
  if (!config) return MakeError(ErrorKind::kIo, config.error().message);
  Result<crypto::TrustStore> ca = node::LoadTrustStore(*config);
  if (!ca) return MakeError(ErrorKind::kIo, ca.error().message);
  HomeKeys out{std::move(*config), std::make_unique<crypto::TrustStore>(std::move(*ca)), {}};
  if (Result<std::string> pem = base::ReadFile(out.config.signing_cert, kMaxCaFileBytes); pem) {
    if (Result<std::vector<std::string>> ders = crypto::PemCertificatesToDer(*pem); ders) {
      for (const std::string& der : *ders) out.keys.Add(*out.ca, out.config.institution, der);
    }
  }
  // Older keys of the institution (before a key change) are in the store.
  store::Options options = node::StoreOptionsFrom(out.config);
  options.read_only = true;
  options.create_if_missing = false;
  if (Result<std::unique_ptr<store::Store>> st = store::Store::Open(options); st) {
    if (Result<std::vector<std::string>> ders = (*st)->Certificates(); ders) {
      for (const std::string& der : *ders) out.keys.Add(*out.ca, out.config.institution, der);
    }
  }
  return out;
}

std::vector<std::filesystem::path> DefaultFiles(const node::Config& config) {
  std::vector<std::filesystem::path> files = node::RotatedAuditFiles(config.audit_log);
  if (std::filesystem::exists(config.audit_log)) files.push_back(config.audit_log);
  return files;
}

int Report(const node::AuditVerifyReport& r, const std::string& what) {
  if (r.verdict == node::AuditVerdict::kNotAuditLog)
    return Fail(ErrorKind::kInvalidInput, r.problem);
  if (r.verdict == node::AuditVerdict::kTampered) {
    std::cerr << "duanka-admin: tampered: " << r.problem << "\n";
    return kExitTampered;
  }
  std::cout << what << " intact: " << r.lines << " line(s)";
  if (r.lines > 0) std::cout << " (chain lines " << r.first_seq << " to " << r.last_seq << ")";
  std::cout << ", " << r.checkpoints << " signed checkpoint(s) verified\n";
  for (const std::string& note : r.notes) std::cout << "note: " << note << "\n";
  return node::kExitOk;
}

int VerifyExport(const AuditVerifyArgs& o, const std::string& name, std::string text) {
  const size_t nl = text.find('\n');
  const nlohmann::json header =
      nlohmann::json::parse(text.substr(0, nl), nullptr, /*allow_exceptions=*/false);
  if (!header.is_object() || !header.contains("institution") ||
      !header["institution"].is_string() || !header.contains("certificates") ||
      !header["certificates"].is_array()) {
    return Fail(ErrorKind::kInvalidInput,
                name +
                    ": not an audit export: expected a first line with institution and "
                    "certificates (as duanka-admin audit export writes)");
  }
  std::string ca_path = o.ca;
  if (ca_path.empty()) {
    Result<node::Config> config = node::LoadConfig(node::ResolveHome(o.home));
    if (!config) {
      return Fail(ErrorKind::kInvalidInput,
                  "an export is verified with the consortium CA certificate: pass --ca CA.pem");
    }
    ca_path = config->ca.string();
  }
  Result<std::string> ca_pem = base::ReadFile(ca_path, kMaxCaFileBytes);
  if (!ca_pem) return Fail(ErrorKind::kIo, ca_pem.error().message);
  Result<crypto::TrustStore> ca = crypto::TrustStore::Create(*ca_pem, std::nullopt);
  if (!ca) return Fail(ErrorKind::kInvalidInput, "--ca " + ca_path + ": " + ca.error().message);
  const std::string institution = header["institution"];
  KnownKeys keys;
  for (const nlohmann::json& pem : header["certificates"]) {
    if (!pem.is_string()) continue;
    Result<std::vector<std::string>> ders = crypto::PemCertificatesToDer(pem.get<std::string>());
    if (!ders) continue;
    for (const std::string& der : *ders) keys.Add(*ca, institution, der);
  }
  std::vector<node::AuditFileText> files{
      {name, nl == std::string::npos ? std::string() : text.substr(nl + 1), 2}};
  node::AuditVerifyOptions options{institution, keys.Finder(), /*excerpt=*/true};
  return Report(node::VerifyAuditChain(files, options), "audit export of " + institution + " (" +
                                                            header.value("from", "?") + " to " +
                                                            header.value("to", "?") + ")");
}

int AuditVerify(const AuditVerifyArgs& o) {
  std::vector<node::AuditFileText> files;
  for (const std::string& f : o.files) {
    Result<std::string> text = base::ReadFile(f, kMaxAuditFileBytes);
    if (!text) return Fail(ErrorKind::kIo, text.error().message);
    files.push_back({f, std::move(*text)});
  }
  if (files.size() == 1 && files[0].text.starts_with(node::kAuditExportMarker)) {
    return VerifyExport(o, files[0].name, std::move(files[0].text));
  }
  Result<HomeKeys> home = LoadHomeKeys(o.home);
  if (!home) return Fail(home.error());
  if (files.empty()) {
    for (const std::filesystem::path& p : DefaultFiles(home->config)) {
      Result<std::string> text = base::ReadFile(p, kMaxAuditFileBytes);
      if (!text) return Fail(ErrorKind::kIo, text.error().message);
      files.push_back({p.string(), std::move(*text)});
    }
  }
  node::AuditVerifyOptions options{home->config.institution, home->keys.Finder(), false};
  return Report(node::VerifyAuditChain(files, options), "audit log of " + home->config.institution +
                                                            " (" + std::to_string(files.size()) +
                                                            " file(s))");
}

// One line of the log as an export sees it.
struct Entry {
  std::string raw;  // with its newline
  bool chained = false;
  bool anchor = false;  // a checkpoint, or the chain's first line
  bool checkpoint = false;
  std::string time;
  std::string key;
};

int AuditExport(const AuditExportOptions& o) {
  Result<int64_t> from = node::ParseMoment("--from", o.from);
  if (!from) return Fail(from.error());
  Result<int64_t> to = node::ParseMoment("--to", o.to);
  if (!to) return Fail(to.error());
  if (*to < *from) return Fail(ErrorKind::kInvalidInput, "--to is before --from");
  Result<HomeKeys> home = LoadHomeKeys(o.home);
  if (!home) return Fail(home.error());
  const node::Config& config = home->config;

  // The newest lines are signed first, so that the excerpt ends at a checkpoint.
  Result<node::SigningIdentity> id = node::LoadSigningIdentity(config, *home->ca);
  if (!id) {
    return Fail(ErrorKind::kIo,
                "cannot sign the checkpoint that ends the export: " + id.error().message);
  }
  home->keys.Add(*home->ca, config.institution, id->certificate.der);
  node::AuditLog log(config.audit_log, config.institution);
  log.SetCheckpointKey(std::make_shared<const crypto::SigningKey>(std::move(id->key)), 0);
  if (Status s = log.Checkpoint("export"); !s) return Fail(s.error());

  std::vector<Entry> entries;
  for (const std::filesystem::path& p : DefaultFiles(config)) {
    if (p.extension() == ".gz") {
      return Fail(ErrorKind::kInvalidInput,
                  p.string() + ": compressed; decompress it in place (gunzip) to export from it");
    }
    Result<std::string> text = base::ReadFile(p, kMaxAuditFileBytes);
    if (!text) return Fail(ErrorKind::kIo, text.error().message);
    size_t pos = 0;
    while (pos < text->size()) {
      size_t nl = text->find('\n', pos);
      const size_t end = nl == std::string::npos ? text->size() : nl;
      Entry e;
      const std::string_view line = std::string_view(*text).substr(pos, end - pos);
      e.raw = std::string(line) + "\n";
      if (std::optional<node::AuditChainFields> f = node::ParseAuditChainFields(line);
          f && nl != std::string::npos) {
        const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        e.chained = j.is_object();
        if (e.chained) {
          e.checkpoint = j.value("action", "") == node::kAuditCheckpointAction;
          e.anchor = e.checkpoint || f->seq == 1;
          e.time = j.value("time", "");
          e.key = j.value("key", "");
        }
      }
      entries.push_back(std::move(e));
      pos = end + 1;
    }
  }
  const std::string t1 = node::IsoTime(*from);
  const std::string t2 = node::IsoTime(*to);
  size_t first = entries.size();
  size_t last = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!entries[i].chained || entries[i].time < t1 || entries[i].time > t2) continue;
    first = std::min(first, i);
    last = i;
  }
  if (first == entries.size()) {
    std::cerr << "duanka-admin: no audit lines between " << t1 << " and " << t2 << "\n";
    return node::kExitNotFound;
  }
  // Both ends at a signature: back to the checkpoint (or chain start) before, on to the one after.
  while (first > 0 && !entries[first].anchor) --first;
  while (last + 1 < entries.size() && !entries[last].checkpoint) ++last;

  nlohmann::json certificates = nlohmann::json::array();
  std::map<std::string, bool> included;
  for (size_t i = first; i <= last; ++i) {
    if (!entries[i].checkpoint || included[entries[i].key]) continue;
    included[entries[i].key] = true;
    auto it = home->keys.by_id.find(entries[i].key);
    if (it != home->keys.by_id.end()) {
      certificates.push_back(crypto::DerCertificateToPem(it->second.second));
    }
  }
  nlohmann::ordered_json header = {{"duanka_audit_export", 1},
                                   {"institution", config.institution},
                                   {"from", t1},
                                   {"to", t2},
                                   {"exported_at", node::IsoTime(node::SystemNow())},
                                   {"certificates", certificates}};
  std::string data = header.dump() + "\n";
  uint64_t lines = 0;
  for (size_t i = first; i <= last; ++i) {
    data += entries[i].raw;
    ++lines;
  }
  if (o.out.empty()) {
    std::cout << data << std::flush;
  } else {
    if (Status s = base::WriteFileAtomic(o.out, data, 0600, o.force); !s) {
      if (s.error().kind == ErrorKind::kConflict) {
        return Fail(ErrorKind::kConflict, o.out + " exists; pass --force to replace it");
      }
      return Fail(s.error());
    }
  }
  const nlohmann::json event = {{"time", node::IsoTime(node::SystemNow())},
                                {"action", "audit-export"},
                                {"user", node::OsUserName()},
                                {"from", t1},
                                {"to", t2},
                                {"lines", lines},
                                {"out", o.out.empty() ? "-" : o.out}};
  if (Status s = log.Append(event.dump(), /*sync=*/true); !s) return Fail(s.error());
  if (!o.out.empty()) {
    std::cout << "wrote " << o.out << ": " << lines << " audit line(s) of " << config.institution
              << " from " << t1 << " to " << t2
              << " with the checkpoints that sign them; verify with: duanka-admin audit verify "
                 "--ca CA.pem "
              << o.out << "\n";
  }
  return node::kExitOk;
}

}  // namespace

void AddAuditCommands(CLI::App& app, const std::optional<std::string>& home, int& code) {
  CLI::App* cmd = app.add_subcommand(
      "audit", "check the audit log's hash chain and signed checkpoints, or export an excerpt");
  cmd->require_subcommand(1);

  auto verify = std::make_shared<AuditVerifyArgs>();
  CLI::App* verify_cmd = cmd->add_subcommand(
      "verify",
      "check the chain across the rotated files and every checkpoint's signature; names the "
      "first line changed, removed or reordered");
  verify_cmd->add_option("FILE", verify->files,
                         "audit log files, oldest first (default: HOME's audit log and its "
                         "rotated files, in order), or one file of audit export");
  verify_cmd->add_option("--ca", verify->ca,
                         "for an export: the consortium CA certificate (default: HOME's)");
  verify_cmd->footer(
      "Example: duanka-admin --home /var/lib/duanka audit verify\n"
      "         duanka-admin audit verify --ca ca.pem banka-2026-11.audit\n"
      "Exit 0 intact, 1 tampered (FILE:LINE and what is wrong), 2 not an audit log, 3 HOME or "
      "a file unreadable.");
  verify_cmd->callback([&code, &home, verify] {
    verify->home = home;
    code = AuditVerify(*verify);
  });

  auto exp = std::make_shared<AuditExportOptions>();
  CLI::App* export_cmd = cmd->add_subcommand(
      "export",
      "the lines between two times with the checkpoints that sign them and this institution's "
      "certificate: checkable with the CA certificate alone");
  export_cmd
      ->add_option("--from", exp->from,
                   "first time: 2026-12-01T00:00:00Z or "
                   "\"2026-12-01 08:00\" (China Standard Time)")
      ->required();
  export_cmd->add_option("--to", exp->to, "last time, as --from")->required();
  export_cmd->add_option("--out", exp->out, "the file to write (default: stdout)");
  export_cmd->add_flag("--force", exp->force, "replace an existing --out file");
  export_cmd->footer(
      "Example: duanka-admin audit export --from 2026-11-01T00:00:00Z --to "
      "2026-11-30T23:59:59Z --out banka-2026-11.audit\n"
      "Exit 0 written, 1 no lines in the range, 2 usage, 3 HOME, key or file problem.");
  export_cmd->callback([&code, &home, exp] {
    exp->home = home;
    code = AuditExport(*exp);
  });
}

}  // namespace duanka::admin
