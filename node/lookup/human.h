// duanka's output for people (node/lookup/README.md, "Human output"). Scripts should use --json
// or the batch CSV instead: this text may gain words between releases.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "node/common/lookup.h"
#include "store/store.h"

namespace duanka::lookup {

// The answer to one lookup: verdict, entries (active only unless `all`), store freshness.
std::string HumanAnswer(const node::LookupAnswer& answer, bool all,
                        const std::vector<store::Head>& heads, int64_t now);

// One entry with its details, as `duanka show` prints it; the issuer named by its profile.
std::string HumanListing(const store::Listing& listing, int64_t now,
                         const node::IssuerProfiles& profiles = {});

// "Store freshness" block: one line per feed saying when it last grew.
std::string HumanFreshness(const std::vector<store::Head>& heads, int64_t now);

}  // namespace duanka::lookup
