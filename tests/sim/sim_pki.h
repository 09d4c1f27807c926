// The simulated consortium's PKI: a real CA, and a real signing certificate for every institution
// of the simulation (honest and hostile), made once per process and shared by every run. Keys
// come from fixed seeds, so records are signed to the same bytes in every process; certificates
// differ between processes only in their random serials and CA signature, never in size.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "crypto/pki.h"
#include "protocol/record.h"

namespace duanka::sim {

// The wall clock at simulated time zero (2026-09-21): fixed, so that a seed replays exactly in
// any year; certificates are issued valid around it.
inline constexpr int64_t kSimWallBase = 1'790'000'000;

struct SimIdentity {
  std::string institution;
  crypto::SigningKey key;
  std::string cert_der;
  protocol::Signer signer;
  crypto::Hash256 key_id;
};

class SimPki {
 public:
  // Made on first use (creating the CA), then shared by every run, on any thread.
  static SimPki& Get();
  ~SimPki();

  // Shared by every node; never given a CRL in the simulator, so nothing changes it.
  crypto::TrustStore& ca() const { return *ca_; }
  const std::string& consortium() const { return consortium_; }
  // The institution's identity, issued on first use. Thread-safe.
  const SimIdentity& Identity(const std::string& institution);

 private:
  SimPki();
  std::filesystem::path dir_;
  std::string consortium_;
  std::unique_ptr<crypto::TrustStore> ca_;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<SimIdentity>> identities_;
};

// A run of `count` entries of `id`'s institution from `first_seq` after `prev`, signed with its key
// and chained; `variant` makes two runs at one seq differ.
std::vector<protocol::SignedRecord> SignRun(const SimIdentity& id, uint64_t first_seq,
                                            crypto::Hash256 prev, size_t count, int variant);

}  // namespace duanka::sim
