#include "node/daemon/sync_env.h"

namespace duanka::daemon {

std::shared_ptr<const protocol::Trust> TrustHolder::Get() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return trust_;
}

void TrustHolder::Add(const std::vector<protocol::Signer>& signers) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto next = std::make_shared<protocol::Trust>(*trust_);
  for (const protocol::Signer& s : signers) next->Add(s);
  trust_ = std::move(next);
}

void TrustHolder::Replace(const std::vector<protocol::Signer>& signers) {
  auto next = std::make_shared<protocol::Trust>();
  for (const protocol::Signer& s : signers) next->Add(s);
  std::lock_guard<std::mutex> lock(mutex_);
  trust_ = std::move(next);
}

}  // namespace duanka::daemon
