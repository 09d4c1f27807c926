// duanka-admin evidence export|verify: a self-contained proof of forks (protocol/evidence_file.h)
// that anyone holding the consortium CA certificate can check offline.
#pragma once

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace duanka::admin {

struct EvidenceExportOptions {
  std::optional<std::string> home;
  std::string file;
  std::string issuer;  // empty: every issuer's evidence
  bool force = false;
};
// Exit 0 written, 1 no evidence held (of that issuer), 2 usage or FILE exists without --force,
// 3 operational failure (HOME, store, unwritable FILE).
int EvidenceExport(const EvidenceExportOptions& o);

struct EvidenceVerifyOptions {
  std::optional<std::string> home;  // only for its CA (and CRL) when --ca is not given
  std::string file;
  std::string ca;   // CA certificate (PEM)
  std::string crl;  // optional CRL of that CA (PEM)
  bool json = false;
};
// Exit 0 when every pair proves a fork, 2 when any does not (or the file or CA is unusable).
int EvidenceVerify(const EvidenceVerifyOptions& o);

// Adds the `evidence` command to `app`. `home` is read when the command runs (after parsing);
// the command's exit code is written to `code`.
void AddEvidenceCommands(CLI::App& app, const std::optional<std::string>& home, int& code);

}  // namespace duanka::admin
