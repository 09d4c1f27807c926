// duanka-admin's consortium notices (protocol/notice.h) and what follows them:
//   pki withdraw-key   the CA operator signs a key withdrawal (a stolen signing key)
//   withdraw-key       the regulator signs one from its node
//   fork resolve       the regulator names the branch of a forked feed to keep
//   reaffirm           an institution re-signs, with its new key, its suspended genuine entries
//   import NOTICE      any node takes a notice file (dispatched here by `import`)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/notice.h"

namespace CLI {
class App;
}

namespace duanka::admin {

struct PkiWithdrawKeyOptions {
  std::string ca_dir;
  std::string serial;
  std::string since;  // compromise time
  std::string out;    // the notice file; default CA_DIR/withdraw-SERIAL.notice
};
int PkiWithdrawKey(const PkiWithdrawKeyOptions& o);

struct WithdrawKeyOptions {
  std::optional<std::string> home;
  std::string institution;
  std::string serial;
  std::string since;
  std::string out;  // optional copy of the notice as a file
};
int WithdrawKey(const WithdrawKeyOptions& o);

struct ForkResolveOptions {
  std::optional<std::string> home;
  std::string issuer;
  std::string keep;  // hex hash (or a unique prefix of at least kMinHashPrefix digits)
  std::string out;
};
int ForkResolve(const ForkResolveOptions& o);

struct ReaffirmOptions {
  std::optional<std::string> home;
  std::string since;
  std::string except;  // file of entry ids NOT to re-affirm (entries this institution did not sign)
  bool dry_run = false;
  bool json = false;
  bool i_know = false;
};
int Reaffirm(const ReaffirmOptions& o);

// The regulator's `hold release ISSUER --day D --everywhere`: signs a hold-release notice with
// the node's regulator identity, puts it in force here (duankad passes it to every peer), audits
// it and writes `out` when given. Refused at a member's node.
struct Home;
int SignHoldRelease(Home& home, const std::string& issuer, uint32_t day, const std::string& out,
                    int64_t now);

// The regulator's `policy set FILE`: signs a grading-policy notice with the node's regulator
// identity, puts it in force here (duankad passes it to every peer), audits it, writes `out` when
// given. Refused at a member's node, and by KeepNotice when a policy of a version as high is held.
int SignPolicy(Home& home, const protocol::GradingPolicy& policy, const std::string& out,
               int64_t now);

// `import FILE` for a notice file (FILE's bytes already read).
int ImportNotice(const std::optional<std::string>& home, const std::string& file,
                 const std::string& bytes);

// Adds withdraw-key, fork resolve, reaffirm to `app`, and withdraw-key to `pki`.
void AddNoticeCommands(CLI::App& app, CLI::App& pki, const std::optional<std::string>& home,
                       int& code);

}  // namespace duanka::admin
