// What to tell a person who asks whether and why they are listed (`duanka explain`, POST
// /v1/explain): a plain-language notice in Chinese and English naming, for each active entry, who
// listed them, what for, on which basis, since and until when, and where to appeal. The CLI and
// the HTTP API build it here so that both give the same words. The identifier asked about never
// appears in it: the person already knows it, and a notice may be printed or forwarded.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "node/common/lookup.h"

namespace duanka::node {

enum class Language : uint8_t { kZh, kEn };

// The category and basis in plain words, for a person rather than an operator.
std::string_view CategoryPlain(protocol::Category c, Language lang);
std::string_view BasisPlain(protocol::Basis b, Language lang);

// What a notice says where an issuer has published no appeal contact (or leaves one out).
inline constexpr std::string_view kNotPublishedZh = "未公布";
inline constexpr std::string_view kNotPublishedEn = "not published";

// The notice for one active entry, in one language.
std::string NoticeText(const store::Listing& listing, const IssuerProfiles& profiles,
                       Language lang);

// The whole explanation, in one language: a heading (listed or not) and one notice per active
// entry. `now` dates the "not listed" answer.
std::string ExplainText(const LookupAnswer& answer, int64_t now, Language lang);

// {"listed":…,"type":…,"notices":[{"entry","issuer","issuer_name","category","basis","since",
// "until","appeal","text_zh","text_en"}…],"text_zh":…,"text_en":…}: as `duanka explain --json`
// prints and POST /v1/explain answers.
std::string ExplainJson(const LookupAnswer& answer, int64_t now);

}  // namespace duanka::node
