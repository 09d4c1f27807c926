// Small text helpers shared by duanka's commands: one-line messages, type lists, times for
// people, and writing whole buffers to a descriptor.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace duanka::lookup {

// Newlines and carriage returns folded to spaces, trailing spaces dropped: errors are one line.
std::string OneLine(std::string s);

// "cn-id, phone, bank-card, …": every identifier type, for help and messages.
std::string TypeNames();

// node::HumanDate and node::HumanMinute (node/common/human_time.h), which duanka-admin uses too:
// "2026-11-28" and "2026-11-28 09:02 CST".
std::string CstDate(int64_t unix_seconds);
std::string CstMinute(int64_t unix_seconds);

// How long ago, roughly: "just now", "42 s", "5 min", "3 h", "12 days".
std::string Ago(int64_t seconds);

// Writes all of `data` to `fd`, retrying on EINTR and short writes. False on any error
// (errno is set), e.g. EPIPE when the reader went away.
bool WriteAll(int fd, std::string_view data);

}  // namespace duanka::lookup
