#include "node/daemon/daemon_options.h"

namespace duanka::daemon {

using std::chrono::milliseconds;

ConnectionOptions ConnectionOptionsFrom(const node::DaemonLimits& limits) {
  ConnectionOptions o;
  o.max_frame_bytes = limits.max_frame_bytes;
  o.handshake_timeout = milliseconds(limits.handshake_timeout_ms);
  o.idle_timeout = milliseconds(limits.idle_timeout_ms);
  o.shutdown_timeout = milliseconds(limits.shutdown_timeout_ms);
  o.max_send_queue_bytes = limits.max_send_queue_bytes;
  o.max_unprocessed_bytes = limits.max_unprocessed_bytes_per_peer;
  return o;
}

InboundBudgets InboundBudgetsFrom(const node::DaemonLimits& limits) {
  return InboundBudgets{limits.max_inbound_connections, limits.max_handshaking_connections,
                        limits.handshakes_per_address};
}

BackoffOptions BackoffOptionsFrom(const node::DaemonLimits& limits) {
  BackoffOptions o;
  o.min = milliseconds(limits.reconnect_min_ms);
  o.max = milliseconds(limits.reconnect_max_ms);
  return o;
}

IngestOptions IngestOptionsFrom(const node::DaemonLimits& limits) {
  IngestOptions o;
  o.verify_threads = limits.verify_threads;
  o.max_clock_skew_seconds = limits.max_clock_skew_seconds;
  return o;
}

}  // namespace duanka::daemon
