// duanka-admin hold list|release: the flood guard's held entries (hold_commands.cpp).
#pragma once

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace duanka::admin {

void AddHoldCommands(CLI::App& app, const std::optional<std::string>& home, int& code);

}  // namespace duanka::admin
