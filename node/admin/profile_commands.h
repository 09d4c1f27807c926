// duanka-admin profile set|show: the institution's profile, who it is and where a listed person
// appeals to it (profile_commands.cpp).
#pragma once

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace duanka::admin {

void AddProfileCommands(CLI::App& app, const std::optional<std::string>& home, int& code);

}  // namespace duanka::admin
