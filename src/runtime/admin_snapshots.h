// Turning what the workers reported (session descriptions, pin and borrow
// statistics) plus the pools and counters into the admin API's snapshots.
// Pure functions of their inputs, run on the admin thread.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "pgmux/admin/metrics.h"
#include "pgmux/admin/snapshots.h"
#include "pgmux/pinning/pin_stats.hpp"
#include "pool/pool.h"
#include "session/proxy_context.h"
#include "session/session_info.h"

namespace pgmux::runtime {

// What one worker reports, copied on its own thread.
struct WorkerReport {
    std::vector<session::SessionInfo> sessions;
    pinning::PinStats pin_stats;
    session::BorrowStats borrows;
    session::SessionStats session_stats;
};

// One moment on both clocks: sessions keep steady times, operators read wall times.
struct Now {
    session::SteadyTime steady;
    admin::WallTime wall;

    [[nodiscard]] static Now take();
    [[nodiscard]] admin::WallTime wall_of(session::SteadyTime t) const;
    [[nodiscard]] double seconds_since(session::SteadyTime t) const;
};

using PoolList = std::vector<std::shared_ptr<pool::Pool>>;

[[nodiscard]] admin::ClientSnapshot client_snapshot(const session::SessionInfo& info,
                                                    const Now& now);

[[nodiscard]] std::vector<admin::PoolSnapshot> pool_snapshots(
    const PoolList& pools, const std::vector<WorkerReport>& reports, const Now& now);

// Every server connection: the pools' idle and connecting ones (Pool::servers())
// and the ones linked to a client (from the sessions). A connection that moved
// between the two copies is listed once, as the pool saw it.
[[nodiscard]] std::vector<admin::ServerSnapshot> server_snapshots(
    const PoolList& pools, const std::vector<session::SessionInfo>& sessions, const Now& now);

[[nodiscard]] admin::PinningSnapshot pinning_snapshot(const session::ProxyContext& proxy,
                                                      const std::vector<WorkerReport>& reports,
                                                      const Now& now, std::size_t top_statements);

[[nodiscard]] admin::MetricsSnapshot metrics_snapshot(const session::ProxyContext& proxy,
                                                      const PoolList& pools,
                                                      const std::vector<WorkerReport>& reports,
                                                      const Now& now);

}  // namespace pgmux::runtime
