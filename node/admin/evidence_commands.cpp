// evidence export FILE [--issuer CODE] [--force] | evidence verify FILE [--ca CA_PEM] [--crl CRL]
// [--json]. Export needs HOME; verify needs only the CA certificate.
#include "node/admin/evidence_commands.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "node/admin/context.h"
#include "node/common/evidence_check.h"
#include "protocol/evidence_file.h"

namespace duanka::admin {
namespace {

// The file is given to outsiders on purpose; like a bundle it is still created owner-only, and
// the operator loosens it deliberately.
constexpr unsigned kEvidenceFileMode = 0600;

std::string JoinNames(const std::set<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Signing certificates held, by the key id they certify. The CA alone (without its CRL) decides
// which key a certificate is for: a member's certificate revoked since it signed a fork still
// belongs in the proof, and the verifier decides what the revocation means.
Result<std::map<crypto::Hash256, std::string>> CertificatesByKey(const Home& home) {
  Result<crypto::TrustStore> ca = crypto::TrustStore::Load(home.config.ca, std::nullopt);
  if (!ca) return MakeError(ErrorKind::kIo, ca.error().message);
  Result<std::vector<std::string>> ders = home.store->Certificates();
  if (!ders) return std::move(ders).error();
  std::map<crypto::Hash256, std::string> by_key;
  for (std::string& der : *ders) {
    Result<crypto::CertificateInfo> cert =
        ca->Verify(der, crypto::CertKind::kSigning, std::nullopt);
    if (cert) by_key[protocol::KeyId(cert->public_key)] = std::move(der);
  }
  return by_key;
}

nlohmann::json PairJson(const node::PairVerdict& p) {
  if (!p.fork) return {{"pair", p.pair}, {"proven", false}, {"error", p.failure}};
  return {{"pair", p.pair},
          {"proven", true},
          {"issuer", p.fork->issuer},
          {"seq", p.fork->seq},
          {"records", {p.fork->hash_a.Hex(), p.fork->hash_b.Hex()}},
          {"certificate_serials", p.fork->certificate_serials},
          {"line", p.fork->Describe()}};
}

}  // namespace

int EvidenceExport(const EvidenceExportOptions& o) {
  if (!o.issuer.empty() && !base::IsValidInstitutionCode(o.issuer)) {
    return Fail(ErrorKind::kInvalidInput, "--issuer: expected an institution code, e.g. BANKA");
  }
  if (o.file.empty()) return Fail(ErrorKind::kInvalidInput, "evidence export: FILE is empty");
  // Checked before anything is read, so that the refusal does not depend on evidence being held.
  if (!o.force && std::filesystem::exists(o.file)) {
    return Fail(ErrorKind::kConflict,
                o.file + " already exists; refusing to overwrite it (use --force)");
  }
  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  Result<std::vector<store::Evidence>> held = home->store->AllEvidence();
  if (!held) return Fail(held.error());

  protocol::EvidenceFile file;
  file.consortium = home->ca->consortium();
  std::set<crypto::Hash256> keys;
  std::set<std::string> issuers;
  for (store::Evidence& e : *held) {
    Result<protocol::Record> a = protocol::DecodeRecord(e.held.bytes);
    Result<protocol::Record> b = protocol::DecodeRecord(e.other.bytes);
    if (!a || !b) {
      return Fail(ErrorKind::kInternal, "the store holds evidence whose records do not decode: " +
                                            (a ? b.error().message : a.error().message));
    }
    if (!o.issuer.empty() && a->issuer != o.issuer) continue;
    issuers.insert(a->issuer);
    keys.insert(a->signer_key_id);
    keys.insert(b->signer_key_id);
    file.pairs.push_back(protocol::EvidencePair{std::move(e.held), std::move(e.other)});
  }
  if (file.pairs.empty()) {
    std::cerr << "duanka-admin: no evidence held" << (o.issuer.empty() ? "" : " of " + o.issuer)
              << ": this node has seen no fork; nothing written\n";
    return kExitNotFound;
  }
  // What a fork resolution set aside: the losing branch's records, signed by the issuer too.
  size_t losing_left_out = 0;
  for (const std::string& issuer : issuers) {
    Result<std::vector<protocol::SignedRecord>> losing = home->store->LosingRecords(issuer);
    if (!losing) return Fail(losing.error());
    for (protocol::SignedRecord& r : *losing) {
      if (file.losing.size() == protocol::kMaxEvidenceFileLosingRecords) {
        ++losing_left_out;
        continue;
      }
      Result<protocol::Record> decoded = protocol::DecodeRecord(r.bytes);
      if (!decoded) {
        return Fail(ErrorKind::kInternal,
                    "the store holds a losing-branch record that does not decode: " +
                        decoded.error().message);
      }
      keys.insert(decoded->signer_key_id);
      file.losing.push_back(std::move(r));
    }
  }
  if (losing_left_out > 0) {
    std::cerr << "duanka-admin: warning: " << losing_left_out
              << " losing-branch records left out (at most "
              << protocol::kMaxEvidenceFileLosingRecords
              << " fit in one evidence file); the pairs prove the forks without them\n";
  }

  Result<std::map<crypto::Hash256, std::string>> by_key = CertificatesByKey(*home);
  if (!by_key) return Fail(by_key.error());
  for (const crypto::Hash256& key : keys) {
    auto cert = by_key->find(key);
    if (cert == by_key->end()) {
      return Fail(ErrorKind::kIo, "the store holds no certificate of the consortium CA for key " +
                                      key.Hex().substr(0, 16) +
                                      "…, which signed a record of the evidence; nothing written");
    }
    file.certificates.push_back(cert->second);
  }

  Result<std::string> bytes = protocol::EncodeEvidenceFile(file);
  if (!bytes) return Fail(bytes.error());
  Status written = base::WriteFileAtomic(o.file, *bytes, kEvidenceFileMode, o.force);
  if (!written) return Fail(written.error());
  Status audited = Audit(*home, nlohmann::json{{"time", node::IsoTime(node::SystemNow())},
                                               {"program", "duanka-admin"},
                                               {"user", node::OsUserName()},
                                               {"action", "evidence-export"},
                                               {"file", o.file},
                                               {"issuers", issuers},
                                               {"pairs", file.pairs.size()},
                                               {"certificates", file.certificates.size()},
                                               {"losing_records", file.losing.size()}}
                                    .dump());
  if (!audited) return Fail(audited.error());
  std::cout << "exported " << file.pairs.size() << " evidence pair(s) of " << JoinNames(issuers)
            << ", " << file.losing.size() << " losing-branch record(s) and "
            << file.certificates.size() << " certificate(s) to " << o.file
            << "; anyone with the consortium CA certificate can check it: duanka-admin evidence "
               "verify FILE --ca ca.pem\n";
  return kExitOk;
}

int EvidenceVerify(const EvidenceVerifyOptions& o) {
  std::filesystem::path ca_path = o.ca;
  std::optional<std::filesystem::path> crl_path;
  if (!o.crl.empty()) crl_path = o.crl;
  if (o.ca.empty()) {
    if (!o.crl.empty()) {
      return Fail(ErrorKind::kInvalidInput, "evidence verify: --crl goes with --ca");
    }
    Result<node::Config> config = node::LoadConfig(node::ResolveHome(o.home));
    if (!config) {
      return Fail(ErrorKind::kInvalidInput,
                  "evidence verify: --ca CA_PEM is required when there is no HOME to take it "
                  "from (" +
                      config.error().message + ")");
    }
    ca_path = config->ca;
    crl_path = config->crl;
  }
  Result<std::string> bytes = base::ReadFile(o.file, protocol::kMaxEvidenceFileBytes);
  // The file is the user's input: a missing or unreadable one is a usage error, as for import.
  if (!bytes) return Fail(ErrorKind::kInvalidInput, bytes.error().message);
  Result<protocol::EvidenceFile> file = protocol::DecodeEvidenceFile(*bytes);
  if (!file) return Fail(ErrorKind::kInvalidInput, o.file + ": " + file.error().message);
  Result<crypto::TrustStore> ca = crypto::TrustStore::Load(ca_path, crl_path);
  if (!ca) {
    return Fail(ErrorKind::kInvalidInput, "CA " + ca_path.string() + ": " + ca.error().message);
  }
  const node::EvidenceVerdict verdict = node::VerifyEvidence(*file, *ca, node::SystemNow());

  if (o.json) {
    nlohmann::json pairs = nlohmann::json::array();
    for (const node::PairVerdict& p : verdict.pairs) pairs.push_back(PairJson(p));
    nlohmann::json out = {
        {"file", o.file},
        {"consortium", file->consortium},
        {"ca_consortium", ca->consortium()},
        {"proven", verdict.proven()},
        {"pairs", pairs},
        {"losing_records",
         {{"verified", verdict.losing_verified}, {"failures", verdict.losing_failures}}},
        {"refused_certificates", verdict.refused_certificates},
        {"consortium_failure", verdict.consortium_failure}};
    // The file's consortium name is outside text: never let a bad byte stop the report.
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return verdict.proven() ? kExitOk : kExitInvalid;
  }
  if (!verdict.consortium_failure.empty()) {
    return Fail(ErrorKind::kInvalidInput, o.file + ": " + verdict.consortium_failure);
  }
  for (const node::PairVerdict& p : verdict.pairs) {
    if (p.fork) std::cout << "pair " << p.pair << ": " << p.fork->Describe() << "\n";
  }
  if (verdict.losing_verified > 0) {
    std::cout << verdict.losing_verified
              << " record(s) of a losing branch, each validly signed by its issuer\n";
  }
  if (verdict.pairs.empty()) {
    std::cerr << "duanka-admin: " << o.file << ": holds no evidence pair, so it proves no fork\n";
  }
  for (const node::PairVerdict& p : verdict.pairs) {
    if (!p.fork) std::cerr << "duanka-admin: " << o.file << ": " << p.failure << "\n";
  }
  for (const std::string& failure : verdict.losing_failures) {
    std::cerr << "duanka-admin: " << o.file << ": " << failure << "\n";
  }
  return verdict.proven() ? kExitOk : kExitInvalid;
}

void AddEvidenceCommands(CLI::App& app, const std::optional<std::string>& home, int& code) {
  CLI::App* cmd = app.add_subcommand(
      "evidence", "proof of forks: two records an issuer signed for one seq, checkable offline");
  cmd->require_subcommand(1);

  auto exp = std::make_shared<EvidenceExportOptions>();
  CLI::App* export_cmd = cmd->add_subcommand(
      "export", "write every fork this node holds evidence of, with the certificates it needs");
  export_cmd->add_option("FILE", exp->file, "the evidence file to write")->required();
  export_cmd->add_option("--issuer", exp->issuer, "only this issuer's forks");
  export_cmd->add_flag("--force", exp->force, "replace an existing FILE");
  export_cmd->footer(
      "Example: duanka-admin evidence export bankc-fork.evidence --issuer BANKC\n"
      "Exit 0 written, 1 no evidence held, 2 usage or FILE exists, 3 operational failure.");
  export_cmd->callback([&code, &home, exp] {
    exp->home = home;
    code = EvidenceExport(*exp);
  });

  auto verify = std::make_shared<EvidenceVerifyOptions>();
  CLI::App* verify_cmd = cmd->add_subcommand(
      "verify", "check an evidence file offline against the consortium CA certificate");
  verify_cmd->add_option("FILE", verify->file, "the evidence file")->required();
  verify_cmd->add_option("--ca", verify->ca,
                         "the consortium CA certificate (default: HOME's, when there is one)");
  verify_cmd->add_option("--crl", verify->crl, "a CRL of that CA to honour (with --ca)");
  verify_cmd->add_flag("--json", verify->json, "one JSON object with a verdict per pair");
  verify_cmd->footer(
      "Example: duanka-admin evidence verify bankc-fork.evidence --ca ca.pem\n"
      "Exit 0 when every pair proves a fork, 2 otherwise (one line per pair that does not).");
  verify_cmd->callback([&code, &home, verify] {
    verify->home = home;
    code = EvidenceVerify(*verify);
  });
}

}  // namespace duanka::admin
