// duanka-admin api-client add|list|remove: the HTTP API's named clients (files.api_clients).
#pragma once

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace duanka::admin {

// Adds the `api-client` command to `app`. `home` is read when the command runs (after parsing);
// the command's exit code is written to `code`.
void AddApiClientCommands(CLI::App& app, const std::optional<std::string>& home, int& code);

}  // namespace duanka::admin
