// duanka-admin watch: the institution's own customers, re-screened as listings arrive (issue 14).
//   watch --batch FILE|-           add TYPE,VALUE,REF lines to the watch list; print those listed
//   watch remove --batch FILE|-    remove them
//   watch count                    pairs (identifier, ref) watched
// The watch list is local to this node's store (store::Store::Watch); the implementation is
// node/admin/watch_commands.cpp.
#pragma once

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace duanka::admin {

void AddWatchCommands(CLI::App& app, const std::optional<std::string>& home, int& code);

}  // namespace duanka::admin
