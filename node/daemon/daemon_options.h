// The one adapter from duanka.toml's [limits] to the options each part of the daemon takes. The
// defaults are stated once, in node::DaemonLimits (node/common/config.h); the component structs
// carry none of their own, so a component is always built through here.
#pragma once

#include "node/common/config.h"
#include "node/daemon/connection.h"
#include "node/daemon/ingest_pipeline.h"
#include "node/daemon/links.h"

namespace duanka::daemon {

ConnectionOptions ConnectionOptionsFrom(const node::DaemonLimits& limits);
// Before FitDescriptorBudget has run, these are the configured budgets, not the fitted ones:
// call it after.
InboundBudgets InboundBudgetsFrom(const node::DaemonLimits& limits);
BackoffOptions BackoffOptionsFrom(const node::DaemonLimits& limits);
IngestOptions IngestOptionsFrom(const node::DaemonLimits& limits);

}  // namespace duanka::daemon
