// duanka-admin profile: the institution's profile record in its own feed.
//   profile set --name-zh T --name-en T --kind K [--appeal-phone T] [--appeal-address T]
//               [--appeal-web URL]      publishes a profile (the newest one wins)
//   profile show [ISSUER] [--json]      the newest profile of ISSUER (default: this institution)
#include "node/admin/profile_commands.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "node/admin/admin.h"
#include "node/admin/context.h"
#include "node/common/audit.h"
#include "node/common/exit_codes.h"
#include "node/common/human_time.h"
#include "node/common/profile.h"
#include "protocol/text.h"

namespace duanka::admin {
namespace {

struct ProfileSetOptions {
  std::optional<std::string> home;
  protocol::ProfileBody body;
  std::string kind;
  bool json = false;
  bool i_know = false;  // as ReportOptions::i_know
};

struct ProfileShowOptions {
  std::optional<std::string> home;
  std::string issuer;  // empty: this institution
  bool json = false;
};

int ProfileSet(ProfileSetOptions o) {
  std::optional<protocol::InstitutionKind> kind = protocol::ParseInstitutionKind(o.kind);
  if (!kind) {
    return Fail(ErrorKind::kInvalidInput,
                "--kind: expected one of " + protocol::AllInstitutionKindNames());
  }
  o.body.kind = *kind;
  // The record's own check would refuse these too, naming the field as the wire does; the
  // operator typed an option, so the option is named.
  const std::pair<const char*, const std::string*> texts[] = {
      {"--name-zh", &o.body.legal_name_zh},     {"--name-en", &o.body.legal_name_en},
      {"--appeal-phone", &o.body.appeal_phone}, {"--appeal-address", &o.body.appeal_address},
      {"--appeal-web", &o.body.appeal_web},
  };
  for (const auto& [option, text] : texts) {
    if (std::optional<protocol::FormatCharacter> f = protocol::FirstFormatCharacter(*text)) {
      return Fail(ErrorKind::kInvalidInput, std::string(option) + " holds " +
                                                protocol::Describe(*f) + "; expected plain text");
    }
  }
  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  Result<node::SigningIdentity> id = LoadIdentity(*home);
  if (!id) return Fail(id.error());
  if (*kind == protocol::InstitutionKind::kRegulator &&
      id->certificate.role != crypto::Role::kRegulator) {
    return Fail(ErrorKind::kInvalidInput,
                "--kind regulator: this institution's certificate is a member's; expected bank "
                "or payment-institution");
  }
  const int64_t now = node::SystemNow();
  const std::string& me = home->config.institution;
  protocol::EntryId profile_id;
  Result<store::AppendResult> appended = AppendToOwnFeed(
      *home, o.i_know,
      [&](const store::Head& head) -> Result<std::vector<protocol::VerifiedRecord>> {
        protocol::Record r;
        r.issuer = me;
        r.seq = head.seq + 1;
        r.prev = head.hash;
        r.issued_at = now;
        r.body = o.body;
        profile_id = r.id();
        // The record's own checks name the field that is out of range (SignOwnRecord refuses it
        // as invalid input before anything is written).
        Result<protocol::VerifiedRecord> v = SignOwnRecord(std::move(r), *id, home->trust, now);
        if (!v) return std::move(v).error();
        return std::vector<protocol::VerifiedRecord>{std::move(*v)};
      },
      now);
  if (!appended) return Fail(appended.error());

  nlohmann::json event = {
      {"time", node::IsoTime(now)},     {"program", "duanka-admin"},
      {"user", node::OsUserName()},     {"action", "profile-set"},
      {"entry", profile_id.ToString()}, {"kind", protocol::InstitutionKindName(o.body.kind)},
  };
  if (o.i_know) event["i_know"] = true;
  if (Status s = Audit(*home, event.dump()); !s) {
    return Fail(ErrorKind::kIo, "published profile " + profile_id.ToString() +
                                    " but could not audit it: " + s.error().message);
  }
  if (o.json) {
    std::cout << nlohmann::json{{"entry", profile_id.ToString()}}.dump() << "\n";
  } else {
    std::cout << profile_id.ToString() << " profile of " << me << "\n";
  }
  return kExitOk;
}

nlohmann::json TextOrNull(const std::string& s) {
  return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

int ProfileShow(const ProfileShowOptions& o) {
  if (!o.issuer.empty() && !base::IsValidInstitutionCode(o.issuer)) {
    return Fail(ErrorKind::kInvalidInput,
                "profile show: ISSUER is not an institution code; expected [A-Z0-9]{2,16}, e.g. "
                "BANKA");
  }
  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  const std::string issuer = o.issuer.empty() ? home->config.institution : o.issuer;
  const node::ProfileReader reader(*home->store);
  Result<std::optional<node::IssuerProfile>> p = reader.Latest(issuer);
  if (!p) return Fail(p.error());
  if (!*p) {
    if (o.json) {
      std::cout << nlohmann::json{{"issuer", issuer}, {"profile", nullptr}}.dump() << "\n";
    } else {
      std::cout << issuer << " has published no profile held here.\n";
    }
    return node::kExitNotFound;
  }
  const node::IssuerProfile& q = **p;
  if (o.json) {
    std::cout << nlohmann::json{{"issuer", issuer},
                                {"profile",
                                 {{"entry", q.id.ToString()},
                                  {"issued_at", node::IsoTime(q.issued_at)},
                                  {"name",
                                   {{"zh", q.body.legal_name_zh}, {"en", q.body.legal_name_en}}},
                                  {"kind", protocol::InstitutionKindName(q.body.kind)},
                                  {"appeal",
                                   {{"phone", TextOrNull(q.body.appeal_phone)},
                                    {"address", TextOrNull(q.body.appeal_address)},
                                    {"web", TextOrNull(q.body.appeal_web)}}}}}}
                     .dump()
              << "\n";
    return kExitOk;
  }
  const auto or_dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  std::cout << "Issuer          " << issuer << "\n"
            << "Name (zh)       " << q.body.legal_name_zh << "\n"
            << "Name (en)       " << q.body.legal_name_en << "\n"
            << "Kind            " << protocol::InstitutionKindName(q.body.kind) << "\n"
            << "Appeal phone    " << or_dash(q.body.appeal_phone) << "\n"
            << "Appeal address  " << or_dash(q.body.appeal_address) << "\n"
            << "Appeal web      " << or_dash(q.body.appeal_web) << "\n"
            << "Published       " << q.id.ToString() << " on " << node::HumanMinute(q.issued_at)
            << "\n";
  return kExitOk;
}

}  // namespace

void AddProfileCommands(CLI::App& app, const std::optional<std::string>& home, int& code) {
  CLI::App* profile = app.add_subcommand(
      "profile", "the institution's profile: legal names, kind and where a listed person appeals");
  profile->require_subcommand(1);

  auto set = std::make_shared<ProfileSetOptions>();
  CLI::App* set_cmd = profile->add_subcommand(
      "set", "publish a profile in this institution's feed (the newest one wins)");
  set_cmd->add_option("--name-zh", set->body.legal_name_zh, "legal name in Chinese")->required();
  set_cmd->add_option("--name-en", set->body.legal_name_en, "legal name in English")->required();
  set_cmd->add_option("--kind", set->kind, protocol::AllInstitutionKindNames())->required();
  set_cmd->add_option("--appeal-phone", set->body.appeal_phone,
                      "phone for appeals: digits, spaces, + - ( )");
  set_cmd->add_option("--appeal-address", set->body.appeal_address, "postal address for appeals");
  set_cmd->add_option("--appeal-web", set->body.appeal_web, "http(s) URL of the appeal page");
  set_cmd->add_flag("--json", set->json, "print {\"entry\":…}");
  set_cmd->add_flag("--i-know", set->i_know,
                    "publish although a peer has claimed this feed past this store's head");
  set_cmd->footer(
      "At least one appeal contact is required. Example:\n"
      "  duanka-admin profile set --name-zh 示例银行股份有限公司 --name-en 'Example Bank Co., "
      "Ltd.' --kind bank --appeal-phone 95588 --appeal-web https://bank.example/appeal");
  set_cmd->callback([&code, &home, set] {
    set->home = home;
    code = ProfileSet(*set);
  });

  auto show = std::make_shared<ProfileShowOptions>();
  CLI::App* show_cmd = profile->add_subcommand("show", "the newest profile of an issuer held here");
  show_cmd->add_option("ISSUER", show->issuer, "institution code (default: this institution)");
  show_cmd->add_flag("--json", show->json, "one JSON object");
  show_cmd->footer("Exit codes: 0 shown, 1 no profile held, 2 invalid ISSUER, 3 operational.");
  show_cmd->callback([&code, &home, show] {
    show->home = home;
    code = ProfileShow(*show);
  });
}

}  // namespace duanka::admin
