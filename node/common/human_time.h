// Times for people, as both duanka and duanka-admin print them: one zone for both programs, so
// that an operator comparing `duanka-admin list` with `duanka lookup` sees the same dates.
//
// The zone is China Standard Time (UTC+8): the consortium's members and regulators work in it,
// China has had one zone and no daylight saving since 1991, and it is the zone in which operators
// give `--expires` dates (ParseExpiryDate), so a date typed in reads back as the same date. Output
// for machines (--json, the batch CSV, the audit log) stays ISO 8601 in UTC with its "Z".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/base/result.h"

namespace duanka::node {

// The zone's abbreviation, as HumanMinute ends, and a sentence naming it for output that shows
// bare dates.
inline constexpr std::string_view kHumanTimeZone = "CST";
inline constexpr std::string_view kHumanTimeZoneNote = "Dates are China Standard Time (UTC+8).";

// "2026-11-28": the calendar date in China Standard Time.
std::string HumanDate(int64_t unix_seconds);

// "2026-11-28 09:02 CST".
std::string HumanMinute(int64_t unix_seconds);

// A time an operator types after `flag` (named in the error): "2026-12-06T10:00:00Z" (UTC) or
// "2026-12-06 18:00" / "2026-12-06 18:00:00" (China Standard Time, as the programs print times).
Result<int64_t> ParseMoment(const std::string& flag, const std::string& text);

// The flood guard's days (store::DayOf) are calendar days in UTC, so that every node of the
// consortium counts the same ones: "2026-12-06" (from 08:00 CST that day to 08:00 CST the next).
std::string UtcDay(uint32_t day);
// "2026-12-06" after `flag` (named in the error) → that UTC day.
Result<uint32_t> ParseUtcDay(const std::string& flag, const std::string& text);

}  // namespace duanka::node
