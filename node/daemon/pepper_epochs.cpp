#include "node/daemon/pepper_epochs.h"

#include <algorithm>
#include <set>

namespace duanka::daemon {

std::vector<uint32_t> EpochsMissingHere(std::span<const uint32_t> ours,
                                        std::span<const uint32_t> theirs) {
  const std::set<uint32_t> have(ours.begin(), ours.end());
  std::set<uint32_t> missing;
  for (uint32_t e : theirs) {
    if (!have.count(e)) missing.insert(e);
  }
  return {missing.begin(), missing.end()};
}

std::string EpochListText(std::span<const uint32_t> epochs) {
  std::string out;
  for (uint32_t e : epochs) {
    if (!out.empty()) out += ", ";
    out += std::to_string(e);
  }
  return out;
}

PepperEpochWatch::PepperEpochWatch(std::vector<uint32_t> ours) : ours_(std::move(ours)) {
  std::sort(ours_.begin(), ours_.end());
  ours_.erase(std::unique(ours_.begin(), ours_.end()), ours_.end());
}

std::vector<uint32_t> PepperEpochWatch::OnHello(PeerId peer, const std::string& institution,
                                                std::span<const uint32_t> theirs) {
  std::vector<uint32_t> missing = EpochsMissingHere(ours_, theirs);
  if (missing.empty()) {
    peers_.erase(peer);
  } else {
    peers_[peer] = Seen{institution, missing};
  }
  return missing;
}

void PepperEpochWatch::OnGone(PeerId peer) {
  peers_.erase(peer);
}

std::vector<uint32_t> PepperEpochWatch::Missing() const {
  std::set<uint32_t> all;
  for (const auto& [peer, seen] : peers_) all.insert(seen.missing.begin(), seen.missing.end());
  return {all.begin(), all.end()};
}

std::vector<std::string> PepperEpochWatch::PeersAhead() const {
  std::set<std::string> all;
  for (const auto& [peer, seen] : peers_) all.insert(seen.institution);
  return {all.begin(), all.end()};
}

}  // namespace duanka::daemon
