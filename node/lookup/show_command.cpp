// duanka show ENTRY_ID: one record held in the store, an entry with its state and details or a
// revocation with its target.
#include <nlohmann/json.hpp>

#include "node/common/audit.h"
#include "node/common/lookup.h"
#include "node/lookup/cli.h"
#include "node/lookup/home.h"
#include "node/lookup/human.h"
#include "node/lookup/text.h"

namespace duanka::lookup {
namespace {

std::string RevocationText(const protocol::Record& r, bool json) {
  const protocol::RevocationBody& body = *r.revocation();
  const std::string reason(protocol::RevocationReasonName(body.reason));
  if (json) {
    nlohmann::json j = {
        {"entry", r.id().ToString()},
        {"issuer", r.issuer},
        {"seq", r.seq},
        {"kind", "revocation"},
        {"revokes", body.target.ToString()},
        {"reason", reason},
        {"issued_at", node::IsoTime(r.issued_at)},
    };
    return j.dump() + "\n";
  }
  return "Revocation  " + r.id().ToString() + "\nIssuer      " + r.issuer + "\nRevokes     " +
         body.target.ToString() + "\nReason      " + reason + "\nIssued      " +
         CstMinute(r.issued_at) + "\n";
}

std::string ProfileText(const protocol::Record& r, bool json) {
  const protocol::ProfileBody& p = *r.profile();
  if (json) {
    const auto text_or_null = [](const std::string& s) {
      return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
    };
    nlohmann::json j = {
        {"entry", r.id().ToString()},
        {"issuer", r.issuer},
        {"seq", r.seq},
        {"kind", "profile"},
        {"issuer_name", {{"zh", p.legal_name_zh}, {"en", p.legal_name_en}}},
        {"institution_kind", protocol::InstitutionKindName(p.kind)},
        {"appeal",
         {{"phone", text_or_null(p.appeal_phone)},
          {"address", text_or_null(p.appeal_address)},
          {"web", text_or_null(p.appeal_web)}}},
        {"issued_at", node::IsoTime(r.issued_at)},
    };
    return j.dump() + "\n";
  }
  const auto or_dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  return "Profile     " + r.id().ToString() + "\nIssuer      " + r.issuer + " (" + p.legal_name_zh +
         " / " + p.legal_name_en + ")\nKind        " +
         std::string(protocol::InstitutionKindName(p.kind)) + "\nAppeal      phone " +
         or_dash(p.appeal_phone) + "; address " + or_dash(p.appeal_address) + "; web " +
         or_dash(p.appeal_web) + "\nIssued      " + CstMinute(r.issued_at) + "\n";
}

}  // namespace

int RunShow(const ShowOptions& o) {
  Result<protocol::EntryId> id = protocol::ParseEntryId(o.entry);
  if (!id) return Fail(id.error());
  Result<Home> home = OpenHome(o.home, kNeedStore);
  if (!home) return Fail(home.error());
  const int64_t now = node::SystemNow();
  Result<std::optional<store::Listing>> listing = home->store->GetListing(*id, now);
  if (!listing) return Fail(listing.error());
  std::string out;
  if (*listing) {
    const node::ProfileReader reader(*home->store);
    Result<node::IssuerProfiles> profiles = reader.ForIssuers({id->issuer});
    if (!profiles) return Fail(profiles.error());
    out = o.json ? node::ListingJson(**listing, &*profiles) + "\n"
                 : HumanListing(**listing, now, *profiles);
  } else {
    // Not an entry: perhaps a revocation, which has no listing of its own.
    Result<std::optional<protocol::SignedRecord>> held = home->store->Get(*id);
    if (!held) return Fail(held.error());
    std::optional<protocol::Record> record;
    if (*held) {
      if (Result<protocol::Record> r = protocol::DecodeRecord((*held)->bytes); r) record = *r;
    }
    if (!record || record->entry() != nullptr) {
      // Like grep finding nothing: exit 1, not an operational failure.
      (void)Fail(ErrorKind::kNotFound, "no record " + id->ToString() +
                                           " is held in this store; expected an entry id that "
                                           "duanka lookup or duanka-admin list printed");
      return kExitNotListed;
    }
    out = record->profile() != nullptr ? ProfileText(*record, o.json)
                                       : RevocationText(*record, o.json);
  }
  if (!WriteAll(1, out)) return Fail(ErrorKind::kIo, "cannot write to stdout");
  return kExitListed;
}

}  // namespace duanka::lookup
