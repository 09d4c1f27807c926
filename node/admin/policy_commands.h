// duanka-admin policy set|show: the consortium's grading policy (node/common/risk.h).
#pragma once

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace duanka::admin {

void AddPolicyCommands(CLI::App& app, const std::optional<std::string>& home, int& code);

}  // namespace duanka::admin
