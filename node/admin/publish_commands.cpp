// Publishing to the institution's own feed: report and revoke.
#include <iostream>
#include <nlohmann/json.hpp>

#include "node/admin/context.h"
#include "node/admin/revoke_checks.h"
#include "protocol/identifier.h"

namespace duanka::admin {
namespace {

Result<std::vector<protocol::VerifiedRecord>> SignOwn(protocol::Record record,
                                                      const node::SigningIdentity& id,
                                                      const protocol::Trust& trust, int64_t now) {
  Result<protocol::VerifiedRecord> verified = SignOwnRecord(std::move(record), id, trust, now);
  if (!verified) return std::move(verified).error();
  return std::vector<protocol::VerifiedRecord>{std::move(*verified)};
}

}  // namespace

Status MayRevoke(const std::string& me, const node::SigningIdentity& id,
                 const protocol::EntryId& target) {
  if (target.issuer == me || id.certificate.role == crypto::Role::kRegulator) return Ok();
  return MakeError(ErrorKind::kUnauthorized, me + " may revoke only its own entries; " +
                                                 target.ToString() + " was issued by " +
                                                 target.issuer +
                                                 " (only it or the regulator may revoke it)");
}

namespace {

// The refusal RevocableListing and CheckRevocable give for a listing as the store holds it.
Result<store::Listing> Revocable(std::optional<store::Listing> listing,
                                 const protocol::EntryId& target) {
  if (!listing) {
    return MakeError(ErrorKind::kNotFound, "no entry " + target.ToString() +
                                               " is held here (check the id with "
                                               "duanka-admin list)");
  }
  if (listing->revocation) {
    return MakeError(
        ErrorKind::kConflict,
        target.ToString() + " is already revoked by " + listing->revocation->by.ToString() + " (" +
            std::string(protocol::RevocationReasonName(listing->revocation->reason)) + ")");
  }
  return std::move(*listing);
}

}  // namespace

Result<std::vector<Status>> CheckRevocable(const store::Store& store,
                                           std::span<const protocol::EntryId> targets,
                                           int64_t now) {
  Result<std::vector<std::optional<store::Listing>>> listings = store.GetListings(targets, now);
  if (!listings) return std::move(listings).error();
  std::vector<Status> checked;
  checked.reserve(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    Result<store::Listing> revocable = Revocable(std::move((*listings)[i]), targets[i]);
    checked.push_back(revocable ? Ok() : Status(std::move(revocable).error()));
  }
  return checked;
}

Result<store::Listing> RevocableListing(const store::Store& store, const protocol::EntryId& target,
                                        int64_t now) {
  Result<std::optional<store::Listing>> listing = store.GetListing(target, now);
  if (!listing) return std::move(listing).error();
  return Revocable(std::move(*listing), target);
}

int Report(const ReportOptions& o) {
  std::optional<protocol::IdType> type = protocol::ParseIdType(o.type);
  if (!type) {
    return Fail(ErrorKind::kInvalidInput, "unknown identifier type \"" + o.type +
                                              "\"; expected one of " +
                                              protocol::IdTypeNames(/*new_reports_only=*/true));
  }
  if (!protocol::AcceptsNewReports(*type)) {
    return Fail(ErrorKind::kInvalidInput, protocol::NoNewReportsMessage(*type));
  }
  std::optional<protocol::Category> category = protocol::ParseCategory(o.category);
  if (!category) {
    return Fail(ErrorKind::kInvalidInput,
                "--category: expected one of " + protocol::AllCategoryNames());
  }
  std::optional<protocol::Basis> basis = protocol::ParseBasis(o.basis);
  if (!basis) {
    return Fail(ErrorKind::kInvalidInput, "--basis: expected one of " + protocol::AllBasisNames());
  }
  if (o.case_ref.size() > protocol::kMaxCaseRefBytes) {
    return Fail(ErrorKind::kInvalidInput, "--case-ref: at most 64 bytes");
  }
  Result<std::string> canonical = protocol::Canonicalize(*type, o.value);
  if (!canonical) return Fail(canonical.error());
  const int64_t now = node::SystemNow();
  std::optional<int64_t> expires;
  if (!o.expires.empty()) {
    Result<int64_t> parsed = node::ParseExpiryDate(o.expires);
    if (!parsed) return Fail(parsed.error());
    if (*parsed <= now) return Fail(ErrorKind::kInvalidInput, "--expires: the date has passed");
    if (*parsed - now > protocol::kMaxEntryLifetimeSeconds) {
      return Fail(ErrorKind::kInvalidInput, "--expires: at most 10 years from today");
    }
    expires = *parsed;
  }

  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  Result<crypto::Pepper> pepper = crypto::Pepper::Load(home->config.pepper);
  if (!pepper) return Fail(ErrorKind::kIo, pepper.error().message);
  Result<node::SigningIdentity> id = LoadIdentity(*home);
  if (!id) return Fail(id.error());

  protocol::EntryBody entry;
  entry.id_type = *type;
  entry.pepper_epoch = pepper->current_epoch();
  entry.subject = pepper->Subject(entry.pepper_epoch, protocol::IdTypeName(*type), *canonical);
  entry.category = *category;
  entry.basis = *basis;
  entry.expires_at = expires.value_or(now + home->config.listing.LifetimeSeconds(*basis));
  entry.case_ref = o.case_ref;

  protocol::EntryId entry_id;
  Result<store::AppendResult> appended = AppendToOwnFeed(
      *home, o.i_know,
      [&](const store::Head& head) -> Result<std::vector<protocol::VerifiedRecord>> {
        protocol::Record r;
        r.issuer = home->config.institution;
        r.seq = head.seq + 1;
        r.prev = head.hash;
        r.issued_at = now;
        r.body = entry;
        entry_id = r.id();
        return SignOwn(std::move(r), *id, home->trust, now);
      },
      now);
  if (!appended) return Fail(appended.error());

  nlohmann::json event = {
      {"time", node::IsoTime(now)},
      {"program", "duanka-admin"},
      {"user", node::OsUserName()},
      {"action", "report"},
      {"entry", entry_id.ToString()},
      {"type", protocol::IdTypeName(*type)},
      {"subject8", entry.subject.Hex().substr(0, node::kAuditSubjectHexChars)},
      {"category", protocol::CategoryName(*category)},
      {"basis", protocol::BasisName(*basis)},
      {"expires_at", node::IsoTime(entry.expires_at)},
      {"case_ref", entry.case_ref},
  };
  if (o.i_know) event["i_know"] = true;
  if (Status s = Audit(*home, event.dump()); !s) {
    return Fail(ErrorKind::kIo, "published " + entry_id.ToString() +
                                    " but could not audit it: " + s.error().message);
  }
  if (o.json) {
    std::cout << nlohmann::json{{"entry", entry_id.ToString()},
                                {"subject", entry.subject.Hex()},
                                {"expires_at", node::IsoTime(entry.expires_at)}}
                     .dump()
              << "\n";
  } else {
    std::cout << entry_id.ToString() << "\n";
  }
  return kExitOk;
}

int Revoke(const RevokeOptions& o) {
  Result<protocol::EntryId> target = protocol::ParseEntryId(o.entry);
  if (!target) return Fail(target.error());
  std::optional<protocol::RevocationReason> reason = protocol::ParseRevocationReason(o.reason);
  if (!reason) {
    return Fail(ErrorKind::kInvalidInput,
                "--reason: expected one of " + protocol::AllRevocationReasonNames());
  }
  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  Result<node::SigningIdentity> id = LoadIdentity(*home);
  if (!id) return Fail(id.error());
  const int64_t now = node::SystemNow();
  const std::string& me = home->config.institution;
  if (Status may = MayRevoke(me, *id, *target); !may) return Fail(may.error());

  protocol::EntryId revocation_id;
  Result<store::AppendResult> appended = AppendToOwnFeed(
      *home, o.i_know,
      [&](const store::Head& head) -> Result<std::vector<protocol::VerifiedRecord>> {
        // Checked inside the write transaction, so that two administrators cannot both revoke.
        Result<store::Listing> listing = RevocableListing(*home->store, *target, now);
        if (!listing) return std::move(listing).error();
        protocol::Record r;
        r.issuer = me;
        r.seq = head.seq + 1;
        r.prev = head.hash;
        r.issued_at = now;
        r.body = protocol::RevocationBody{*target, *reason};
        revocation_id = r.id();
        return SignOwn(std::move(r), *id, home->trust, now);
      },
      now);
  if (!appended) return Fail(appended.error());

  nlohmann::json event = {
      {"time", node::IsoTime(now)},
      {"program", "duanka-admin"},
      {"user", node::OsUserName()},
      {"action", "revoke"},
      {"entry", revocation_id.ToString()},
      {"target", target->ToString()},
      {"reason", protocol::RevocationReasonName(*reason)},
  };
  if (o.i_know) event["i_know"] = true;
  if (Status s = Audit(*home, event.dump()); !s) {
    return Fail(ErrorKind::kIo,
                "revoked " + target->ToString() + " but could not audit it: " + s.error().message);
  }
  if (o.json) {
    std::cout << nlohmann::json{{"entry", revocation_id.ToString()},
                                {"revoked", target->ToString()},
                                {"reason", protocol::RevocationReasonName(*reason)}}
                     .dump()
              << "\n";
  } else {
    std::cout << revocation_id.ToString() << " revokes " << target->ToString() << "\n";
  }
  return kExitOk;
}

}  // namespace duanka::admin
