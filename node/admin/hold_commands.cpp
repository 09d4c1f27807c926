// duanka-admin hold: the flood guard's held entries (store::FloodLimits).
//   hold list                         what this node holds, per issuer and issue day
//   hold release ISSUER [--day D]     this node's operator releases them here
//   hold release ISSUER --day D --everywhere
//                                     the regulator signs a release notice every node applies
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "node/admin/admin.h"
#include "node/admin/context.h"
#include "node/admin/hold_commands.h"
#include "node/admin/notice_commands.h"
#include "node/common/audit.h"
#include "node/common/exit_codes.h"
#include "node/common/human_time.h"
#include "node/common/identity.h"

namespace duanka::admin {
namespace {

struct HoldListOptions {
  std::optional<std::string> home;
  bool json = false;
};

struct HoldReleaseOptions {
  std::optional<std::string> home;
  std::string issuer;
  std::string day;  // UTC day; empty: every day held here (not with --everywhere)
  bool everywhere = false;
  std::string out;
};

int HoldList(const HoldListOptions& o) {
  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  Result<std::vector<store::HeldDay>> days = home->store->HeldDays();
  if (!days) return Fail(days.error());
  const store::FloodLimits limits = node::StoreOptionsFrom(home->config).flood;
  if (o.json) {
    nlohmann::json rows = nlohmann::json::array();
    for (const store::HeldDay& d : *days) {
      rows.push_back({{"issuer", d.issuer},
                      {"day", node::UtcDay(d.day)},
                      {"entries", d.entries},
                      {"held", d.held},
                      {"released", d.released},
                      {"limit", limits.For(d.issuer)}});
    }
    std::cout << nlohmann::json{{"days", rows}}.dump() << "\n";
    return kExitOk;
  }
  if (days->empty()) {
    std::cout << "No entries held: no issuer has passed its daily limit here.\n";
    return kExitOk;
  }
  std::printf("%-18s %-10s %10s %10s %10s  %s\n", "ISSUER", "DAY (UTC)", "ENTRIES", "LIMIT", "HELD",
              "STATE");
  for (const store::HeldDay& d : *days) {
    std::printf("%-18s %-10s %10llu %10llu %10llu  %s\n", d.issuer.c_str(),
                node::UtcDay(d.day).c_str(), static_cast<unsigned long long>(d.entries),
                static_cast<unsigned long long>(limits.For(d.issuer)),
                static_cast<unsigned long long>(d.held),
                d.held > 0 ? "held: duanka-admin hold release ISSUER --day DAY" : "released");
  }
  return kExitOk;
}

int HoldRelease(const HoldReleaseOptions& o) {
  if (!base::IsValidInstitutionCode(o.issuer)) {
    return Fail(ErrorKind::kInvalidInput,
                "hold release: ISSUER is not an institution code; expected [A-Z0-9]{2,16}, e.g. "
                "BANKX");
  }
  std::optional<uint32_t> day;
  if (!o.day.empty()) {
    Result<uint32_t> parsed = node::ParseUtcDay("--day", o.day);
    if (!parsed) return Fail(parsed.error());
    day = *parsed;
  }
  if (o.everywhere && !day) {
    return Fail(ErrorKind::kInvalidInput,
                "hold release --everywhere: --day is required (a notice releases one day)");
  }
  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  Result<std::vector<store::HeldDay>> days = home->store->HeldDays();
  if (!days) return Fail(days.error());
  uint64_t held = 0;
  for (const store::HeldDay& d : *days) {
    if (d.issuer == o.issuer && (!day || d.day == *day)) held += d.held;
  }
  if (held == 0) {
    return Fail(ErrorKind::kInvalidInput,
                "hold release: no entries of " + o.issuer + " are held here" +
                    (day ? " for " + o.day : std::string()) +
                    "; nothing to release (duanka-admin hold list shows what is held)");
  }
  const int64_t now = node::SystemNow();
  if (o.everywhere) return SignHoldRelease(*home, o.issuer, *day, o.out, now);
  if (Status s = NotOnAReplica(*home, "release held entries"); !s) return Fail(s.error());

  // Audited first and synced: a release that happened is never missing from the log.
  nlohmann::json event = {{"time", node::IsoTime(now)},
                          {"program", "duanka-admin"},
                          {"user", node::OsUserName()},
                          {"action", "hold-release"},
                          {"issuer", o.issuer},
                          {"day", day ? o.day : std::string("every day held")},
                          {"held", held}};
  if (Status s = Audit(*home, event.dump()); !s) return Fail(s.error());
  Result<uint64_t> released = home->store->ReleaseHeld(o.issuer, day, now);
  if (!released) return Fail(released.error());
  std::cout << "released " << *released << " held entr" << (*released == 1 ? "y" : "ies") << " of "
            << o.issuer << (day ? " issued on " + o.day + " (UTC)" : std::string())
            << " at this node: they are answered as listed here. Other nodes keep holding them "
               "until their operators release them or a regulator signs a release "
               "(hold release --day D --everywhere)\n";
  return kExitOk;
}

}  // namespace

void AddHoldCommands(CLI::App& app, const std::optional<std::string>& home, int& code) {
  CLI::App* hold = app.add_subcommand(
      "hold", "entries held by the flood guard (an issuer past its daily limit)");
  hold->require_subcommand(1);

  auto list = std::make_shared<HoldListOptions>();
  CLI::App* list_cmd = hold->add_subcommand("list", "issuers and days with entries held");
  list_cmd->add_flag("--json", list->json, "one JSON object");
  list_cmd->callback([&code, &home, list] {
    list->home = home;
    code = HoldList(*list);
  });

  auto release = std::make_shared<HoldReleaseOptions>();
  CLI::App* release_cmd = hold->add_subcommand(
      "release", "answer an issuer's held entries as listed (here, or everywhere by a regulator)");
  release_cmd->add_option("ISSUER", release->issuer, "the issuer whose entries are held")
      ->required();
  release_cmd->add_option("--day", release->day,
                          "the issue day to release, 2026-12-06 (UTC); default every day held");
  release_cmd->add_flag("--everywhere", release->everywhere,
                        "the regulator: sign a release notice that every node applies");
  release_cmd->add_option("--out", release->out, "with --everywhere: also write the notice here");
  release_cmd->footer(
      "Example: duanka-admin hold release BANKX --day 2026-12-06\n"
      "A release is audited. Entries of a released day are not held again.");
  release_cmd->callback([&code, &home, release] {
    release->home = home;
    code = HoldRelease(*release);
  });
}

}  // namespace duanka::admin
