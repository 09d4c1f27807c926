// duanka-admin policy: the consortium's grading policy, a regulator-signed notice.
//   policy set FILE [--out NOTICE]   the regulator signs FILE's policy; every node grades by it
//   policy show [--json]             the policy in force here, and this node's own [grading] rules
#include "node/admin/policy_commands.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "node/admin/admin.h"
#include "node/admin/context.h"
#include "node/admin/notice_commands.h"
#include "node/common/config.h"
#include "node/common/exit_codes.h"
#include "node/common/human_time.h"
#include "node/common/risk.h"

namespace duanka::admin {
namespace {

struct PolicySetOptions {
  std::optional<std::string> home;
  std::string file;
  std::string out;
};

struct PolicyShowOptions {
  std::optional<std::string> home;
  bool json = false;
};

int PolicySet(const PolicySetOptions& o) {
  // The file is checked before HOME is opened: a mistake in it is exit 2 anywhere.
  Result<protocol::GradingPolicy> policy = node::LoadPolicyFile(o.file);
  if (!policy) {
    return Fail(policy.error().kind == ErrorKind::kIo ? ErrorKind::kIo : ErrorKind::kInvalidInput,
                policy.error().message);
  }
  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  Result<protocol::GradingPolicy> held = node::HeldPolicy(*home->store);
  if (!held) return Fail(held.error());
  if (policy->version <= held->version) {
    return Fail(ErrorKind::kConflict,
                "policy set: version " + std::to_string(policy->version) +
                    " is not newer than version " + std::to_string(held->version) +
                    " in force; give the file a higher version (nothing was signed)");
  }
  if (policy->version - held->version > protocol::kMaxPolicyVersionStep) {
    return Fail(ErrorKind::kInvalidInput,
                "policy set: version " + std::to_string(policy->version) + " passes version " +
                    std::to_string(held->version) + " in force by more than " +
                    std::to_string(protocol::kMaxPolicyVersionStep) +
                    "; every node would refuse it. Expected at most " +
                    std::to_string(uint64_t{held->version} + protocol::kMaxPolicyVersionStep) +
                    " (nothing was signed)");
  }
  return SignPolicy(*home, *policy, o.out, node::SystemNow());
}

void PrintRules(const protocol::GradingPolicy& policy) {
  for (const protocol::PurposeRules& pr : policy.purposes) {
    std::cout << "  " << pr.purpose << ":\n";
    for (const protocol::GradingRule& r : pr.rules) {
      std::cout << "    " << node::TierName(r.tier) << "  " << r.name << ": " << r.min_entries
                << "+ entries from " << r.min_issuers << "+ issuers, basis "
                << protocol::BasisName(r.min_basis) << " or stronger";
      if (!r.categories.empty()) {
        std::cout << ", category";
        const char* sep = " ";
        for (protocol::Category c : r.categories) {
          std::cout << sep << protocol::CategoryName(c);
          sep = "|";
        }
      }
      if (r.within_days != 0) std::cout << ", within " << r.within_days << " days";
      std::cout << "\n";
    }
  }
}

int PolicyShow(const PolicyShowOptions& o) {
  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  Result<protocol::GradingPolicy> held = node::HeldPolicy(*home->store);
  if (!held) return Fail(held.error());
  const protocol::GradingPolicy& local = home->config.local_grading;
  if (o.json) {
    std::cout << nlohmann::json{{"consortium", node::PolicyObject(*held)},
                                {"local", node::PolicyObject(local)["purposes"]}}
                     .dump()
              << "\n";
    return kExitOk;
  }
  std::cout << "Consortium policy version " << held->version
            << (held->version == 0 ? " (the built-in default; no regulator has set one)" : "")
            << ":\n";
  PrintRules(*held);
  if (local.purposes.empty()) {
    std::cout << "Local rules ([grading] in duanka.toml): none\n";
  } else {
    std::cout << "Local rules ([grading] in duanka.toml; the higher tier wins):\n";
    PrintRules(local);
  }
  return kExitOk;
}

}  // namespace

void AddPolicyCommands(CLI::App& app, const std::optional<std::string>& home, int& code) {
  CLI::App* policy =
      app.add_subcommand("policy", "the consortium's grading policy (tiers of lookup answers)");
  policy->require_subcommand(1);

  auto set = std::make_shared<PolicySetOptions>();
  CLI::App* set_cmd = policy->add_subcommand(
      "set", "the regulator: sign a grading policy (TOML file) that every node grades by");
  set_cmd->add_option("FILE", set->file, "the policy file (example: policy.example.toml)")
      ->required();
  set_cmd->add_option("--out", set->out, "also write the signed notice here");
  set_cmd->footer(
      "Example: duanka-admin policy set /etc/duanka/policy-2.toml\n"
      "The file's version must be above the one in force. Only a regulator's node signs.");
  set_cmd->callback([&code, &home, set] {
    set->home = home;
    code = PolicySet(*set);
  });

  auto show = std::make_shared<PolicyShowOptions>();
  CLI::App* show_cmd =
      policy->add_subcommand("show", "the policy in force here and this node's own rules");
  show_cmd->add_flag("--json", show->json, "one JSON object {\"consortium\",\"local\"}");
  show_cmd->callback([&code, &home, show] {
    show->home = home;
    code = PolicyShow(*show);
  });
}

}  // namespace duanka::admin
