#include "node/admin/batch_report_interrupt.h"

#include <atomic>
#include <cstddef>

namespace duanka::admin::batch {
namespace {

// Process-wide because a signal handler can reach nothing else; only InterruptHandlers sets it
// up.
std::atomic<bool> g_interrupted{false};

extern "C" void OnInterrupt(int) {
  g_interrupted.store(true);
}

}  // namespace

bool Interrupted() {
  return g_interrupted.load();
}

InterruptHandlers::InterruptHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &sa, &old_[i]);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &old_pipe_);
}

InterruptHandlers::~InterruptHandlers() {
  for (size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &old_[i], nullptr);
  ::sigaction(SIGPIPE, &old_pipe_, nullptr);
}

}  // namespace duanka::admin::batch
