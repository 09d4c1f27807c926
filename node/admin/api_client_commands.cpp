// api-client add NAME [--certificate] | list [--json] | remove NAME. The token of a new token
// client is printed once, on stdout, and stored only as its SHA-256; duankad picks up the change
// on SIGHUP (systemctl reload duankad).
#include "node/admin/api_client_commands.h"

#include <sodium.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "node/admin/context.h"
#include "node/daemon/api_clients.h"

namespace duanka::admin {
namespace {

using daemon::ApiClient;
using daemon::ApiClients;

constexpr const char* kApply = "send duankad SIGHUP (systemctl reload duankad) to apply";

struct Options {
  std::string name;
  bool certificate = false;
  bool json = false;
};

Result<node::Config> Config(const std::optional<std::string>& home) {
  Result<node::Config> config = node::LoadConfig(node::ResolveHome(home));
  if (!config && config.error().kind == ErrorKind::kNotFound) {
    return MakeError(ErrorKind::kIo, config.error().message);
  }
  return config;
}

Result<ApiClients> Clients(const node::Config& config) {
  Result<ApiClients> clients = daemon::LoadApiClients(config.api_clients);
  if (!clients && clients.error().kind == ErrorKind::kNotFound) return ApiClients{};
  return clients;
}

Status AuditAction(const node::Config& config, const std::string& action, const ApiClient& c) {
  node::AuditLog audit(config.audit_log, config.institution);
  return audit.Append(nlohmann::json{{"time", node::IsoTime(node::SystemNow())},
                                     {"program", "duanka-admin"},
                                     {"user", node::OsUserName()},
                                     {"action", action},
                                     {"client", c.name},
                                     {"auth", c.certificate ? "certificate" : "token"}}
                          .dump(),
                      /*sync=*/true);
}

int Add(const std::optional<std::string>& home, const Options& o) {
  if (!daemon::IsValidApiClientName(o.name)) {
    return Fail(ErrorKind::kInvalidInput,
                "api-client add: NAME: expected 1 to 64 of A-Z a-z 0-9 . _ -");
  }
  if (o.name == daemon::kLegacyTokenClient) {
    return Fail(ErrorKind::kInvalidInput,
                "api-client add: the name \"token\" is files.api_token's client; choose another");
  }
  Result<node::Config> config = Config(home);
  if (!config) return Fail(config.error());
  Result<ApiClients> clients = Clients(*config);
  if (!clients) return Fail(clients.error());
  if (clients->Find(o.name) != nullptr) {
    return Fail(ErrorKind::kConflict, "api-client add: a client named " + o.name +
                                          " exists; remove it first to replace its credential");
  }
  ApiClient c;
  c.name = o.name;
  c.certificate = o.certificate;
  c.added = node::IsoTime(node::SystemNow());
  std::string token;
  if (!o.certificate) {
    token = daemon::NewApiToken();
    c.token_sha256 = crypto::Sha256(crypto::AsBytes(token));
  }
  clients->clients.push_back(c);
  if (Status s = daemon::SaveApiClients(config->api_clients, *clients); !s) return Fail(s.error());
  if (Status s = AuditAction(*config, "api-client-add", c); !s) return Fail(s.error());
  if (o.certificate) {
    std::cerr << "added API client " << c.name << ": a client certificate with CN=" << c.name
              << ", issued by files.api_client_ca; " << kApply << "\n";
  } else {
    std::cout << token << "\n" << std::flush;
    sodium_memzero(token.data(), token.size());
    std::cerr << "added API client " << c.name
              << ": its bearer token is above and is shown only now (only its hash is kept); "
              << kApply << "\n";
  }
  return kExitOk;
}

int List(const std::optional<std::string>& home, const Options& o) {
  Result<node::Config> config = Config(home);
  if (!config) return Fail(config.error());
  Result<ApiClients> clients = Clients(*config);
  if (!clients) return Fail(clients.error());
  for (const ApiClient& c : clients->clients) {
    const char* auth = c.certificate ? "certificate" : "token";
    if (o.json) {
      std::cout << nlohmann::json{{"name", c.name}, {"auth", auth}, {"added", c.added}}.dump()
                << "\n";
    } else {
      std::cout << c.name << "\t" << auth << "\t" << c.added << "\n";
    }
  }
  return kExitOk;
}

int Remove(const std::optional<std::string>& home, const Options& o) {
  Result<node::Config> config = Config(home);
  if (!config) return Fail(config.error());
  Result<ApiClients> clients = Clients(*config);
  if (!clients) return Fail(clients.error());
  const ApiClient* found = clients->Find(o.name);
  if (found == nullptr) {
    return Fail(ErrorKind::kNotFound, "api-client remove: no client named \"" +
                                          o.name.substr(0, daemon::kMaxApiClientNameBytes) +
                                          "\" (see api-client list)");
  }
  const ApiClient removed = *found;
  std::erase_if(clients->clients, [&](const ApiClient& c) { return c.name == o.name; });
  if (Status s = daemon::SaveApiClients(config->api_clients, *clients); !s) return Fail(s.error());
  if (Status s = AuditAction(*config, "api-client-remove", removed); !s) return Fail(s.error());
  std::cerr << "removed API client " << removed.name << "; " << kApply << "\n";
  return kExitOk;
}

}  // namespace

void AddApiClientCommands(CLI::App& app, const std::optional<std::string>& home, int& code) {
  auto options = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "api-client", "the HTTP API's named clients: each its own token or client certificate");
  cmd->require_subcommand(1);

  CLI::App* add = cmd->add_subcommand("add", "add a client; prints its new bearer token once");
  add->add_option("NAME", options->name,
                  "the client's name (audit log `user`), 1 to 64 of "
                  "A-Z a-z 0-9 . _ -")
      ->required();
  add->add_flag("--certificate", options->certificate,
                "the client authenticates with a client certificate whose CN is NAME (issued by "
                "files.api_client_ca) instead of a token");
  add->footer("Example: duanka-admin api-client add crm > crm.token");
  add->callback([&code, &home, options] { code = Add(home, *options); });

  CLI::App* list = cmd->add_subcommand("list", "the clients: name, token or certificate, added");
  list->add_flag("--json", options->json, "one JSON object per line");
  list->callback([&code, &home, options] { code = List(home, *options); });

  CLI::App* remove = cmd->add_subcommand("remove",
                                         "remove a client: its token or certificate "
                                         "no longer opens the API");
  remove->add_option("NAME", options->name, "the client's name")->required();
  remove->callback([&code, &home, options] { code = Remove(home, *options); });
}

}  // namespace duanka::admin
