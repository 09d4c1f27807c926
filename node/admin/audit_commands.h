// duanka-admin audit verify|export: checking the audit log's hash chain and signed checkpoints
// (node/common/audit_verify.h), and excerpts of it for a regulator, checkable with the CA
// certificate alone.
#pragma once

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace duanka::admin {

// Adds the `audit` command to `app`. `home` is read when the command runs (after parsing); the
// command's exit code is written to `code`.
void AddAuditCommands(CLI::App& app, const std::optional<std::string>& home, int& code);

}  // namespace duanka::admin
