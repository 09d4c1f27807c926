#include "node/lookup/home.h"

#include <unistd.h>

#include <cstdio>

#include "node/common/audit.h"
#include "node/lookup/cli.h"
#include "node/lookup/text.h"
#include "protocol/identifier.h"

namespace duanka::lookup {

int Fail(ErrorKind kind, std::string_view message) {
  std::string line = "duanka: " + OneLine(std::string(message)) + "\n";
  std::fflush(stdout);
  WriteAll(2, line);
  return node::ExitCodeFor(kind);
}

int Fail(const Error& error) {
  return Fail(error.kind, error.message);
}

Result<Home> OpenHome(const std::optional<std::string>& home_flag, unsigned needs) {
  Result<node::Config> config = node::LoadConfig(node::ResolveHome(home_flag));
  if (!config) {
    // As duankad and duanka-admin report it (node::ConfigExitCodeFor): no duanka.toml (or one
    // that cannot be read) is operational, 3; one wrongly written is invalid input, 2.
    const bool operational = node::ConfigExitCodeFor(config.error().kind) == node::kExitFailure;
    return MakeError(operational ? ErrorKind::kIo : ErrorKind::kInvalidInput,
                     config.error().message);
  }
  Home home;
  home.config = std::move(*config);
  if (needs & kNeedPepper) {
    Result<crypto::Pepper> pepper = crypto::Pepper::Load(home.config.pepper);
    if (!pepper) {
      return MakeError(ErrorKind::kIo, pepper.error().message +
                                           "; expected the consortium's pepper file there "
                                           "(installed by duanka-admin init, files.pepper in "
                                           "duanka.toml)");
    }
    home.pepper.emplace(std::move(*pepper));
  }
  if (needs & kNeedStore) {
    store::Options options = node::StoreOptionsFrom(home.config);
    options.read_only = true;
    options.create_if_missing = false;
    Result<std::unique_ptr<store::Store>> store = store::Store::Open(options);
    if (!store) return MakeError(ErrorKind::kIo, store.error().message);
    home.store = std::move(*store);
  }
  return home;
}

namespace {

// /etc/passwd is a few kilobytes; a far larger one is not read (getpwuid takes over).
constexpr size_t kMaxPasswdBytes = size_t{4} << 20;
constexpr const char* kPasswdFile = "/etc/passwd";

// The name on the line "name:x:UID:…" of /etc/passwd, if any.
std::optional<std::string> PasswdName(uid_t uid) {
  Result<std::string> text = base::ReadFile(kPasswdFile, kMaxPasswdBytes);
  if (!text) return std::nullopt;
  const std::string wanted = std::to_string(uid);
  std::string_view rest = *text;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    const size_t c1 = line.find(':');
    if (c1 == std::string_view::npos || c1 == 0) continue;
    const size_t c2 = line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    const size_t c3 = line.find(':', c2 + 1);
    if (c3 == std::string_view::npos) continue;
    if (line.substr(c2 + 1, c3 - c2 - 1) == wanted) return std::string(line.substr(0, c1));
  }
  return std::nullopt;
}

}  // namespace

std::string AuditUserName() {
  if (std::optional<std::string> name = PasswdName(::geteuid())) return *name;
  return node::OsUserName();
}

namespace {

duanka::Status AuditRefusal(const Error& error) {
  return MakeError(ErrorKind::kIo, error.message +
                                       "; lookups are refused while the audit log cannot be "
                                       "written (fix its permissions or files.audit_log)");
}

}  // namespace

duanka::Status AuditLookup(const Home& home, std::string_view json_object) {
  duanka::Status s = node::AuditLog(home.config.audit_log, home.config.institution)
                         .Append(json_object, /*sync=*/false);
  return s ? Ok() : AuditRefusal(s.error());
}

duanka::Status AuditLines(const node::AuditLog& log, std::string_view lines) {
  duanka::Status s = log.AppendLines(lines, /*sync=*/false);
  return s ? Ok() : AuditRefusal(s.error());
}

Result<AuditedAnswer> LookUpAudited(const std::optional<std::string>& home_flag,
                                    protocol::IdType type, std::string_view value,
                                    node::Purpose purpose, std::string_view action) {
  if (Result<std::string> canonical = protocol::Canonicalize(type, value); !canonical) {
    return std::move(canonical).error();
  }
  Result<Home> home = OpenHome(home_flag, kNeedPepper | kNeedStore);
  if (!home) return std::move(home).error();
  AuditedAnswer out{std::move(*home), {}, node::SystemNow()};
  const node::Lookuper lookuper(*out.home.store, *out.home.pepper);
  // Details (case references, revocations) cost a second read per entry found, none otherwise.
  Result<node::LookupAnswer> answer = lookuper.Lookup(type, value, out.now, /*details=*/true);
  if (!answer) return MakeError(ErrorKind::kIo, answer.error().message);
  out.answer = std::move(*answer);
  Status audited =
      AuditLookup(out.home, node::LookupAuditJson(out.now, kProgram, AuditUserName(), purpose, type,
                                                  out.answer.subject, out.answer.result(), action));
  if (!audited) return std::move(audited).error();
  return out;
}

}  // namespace duanka::lookup
