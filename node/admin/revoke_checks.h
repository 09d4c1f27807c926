// What decides whether a revocation may be signed: the single `revoke` and `revoke --batch` /
// `revoke --issuer` (bulk_revoke.cpp) apply the same rules. Implemented in publish_commands.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "crypto/base/result.h"
#include "node/common/identity.h"
#include "store/store.h"

namespace duanka::admin {

// A member may revoke only its own entries; an institution whose signing certificate has role
// regulator may revoke any (design section 2). kUnauthorized naming both issuers otherwise.
Status MayRevoke(const std::string& me, const node::SigningIdentity& id,
                 const protocol::EntryId& target);

// The listing of `target` if it may be revoked now, else the refusal: kNotFound when no such
// entry is held here, kConflict when it is revoked already (naming by which record and why).
// A failing store read is the Result's kIo error as well; callers tell it by kind. Call it
// inside the write transaction that appends the revocation, so that no entry is revoked twice.
Result<store::Listing> RevocableListing(const store::Store& store, const protocol::EntryId& target,
                                        int64_t now);

// RevocableListing for many targets, all checked in one read transaction (a chunk of
// revoke --batch): per target, in order, Ok() where RevocableListing would give the listing, else
// the same refusal. Only a failing store read fails the whole call.
Result<std::vector<Status>> CheckRevocable(const store::Store& store,
                                           std::span<const protocol::EntryId> targets, int64_t now);

}  // namespace duanka::admin
