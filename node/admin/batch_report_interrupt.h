// report --batch: interruption. SIGINT, SIGTERM or SIGHUP let the transaction in hand commit,
// then the run stops. A second signal kills the process (the handler is installed with
// SA_RESETHAND), which is safe too: every commit is atomic, and the next run completes what is
// missing.
#pragma once

#include <signal.h>

#include <array>

namespace duanka::admin::batch {

// True once one of the signals arrived while InterruptHandlers were installed.
bool Interrupted();

// Installs the handlers for its lifetime, and ignores SIGPIPE so that a closed stdout
// (`| head`) is reported as a write error, not a silent death mid-run.
class InterruptHandlers {
 public:
  InterruptHandlers();
  ~InterruptHandlers();
  InterruptHandlers(const InterruptHandlers&) = delete;
  InterruptHandlers& operator=(const InterruptHandlers&) = delete;

 private:
  static constexpr std::array<int, 3> kSignals = {SIGINT, SIGTERM, SIGHUP};
  std::array<struct sigaction, 3> old_{};
  struct sigaction old_pipe_ {};
};

}  // namespace duanka::admin::batch
