// The only thing admin-api knows about the proxy. The proxy implements this
// interface; admin-api never includes anything from src/.
//
// Threading contract:
// - The proxy's data path runs on its worker threads. The admin server runs
//   on its OWN io_context and thread, and calls every method below from that
//   admin thread, one call at a time.
// - The implementation is responsible for its own synchronisation: it must
//   gather state from the workers safely (atomics, per-worker snapshots
//   posted back, or a mutex that the data path never holds for long) and
//   must never let the admin thread touch worker-owned objects directly.
// - Calls may block the admin thread briefly (for example while workers
//   answer a posted snapshot request); they must not block the data path,
//   and must not call back into AdminServer.
// - Snapshots are returned by value: the admin thread owns the copy.
// - Methods may throw (std::exception); the admin API answers 500 with the
//   message and keeps serving.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "pgmux/admin/metrics.h"
#include "pgmux/admin/snapshots.h"

namespace pgmux::admin {

class ControlPlane {
  public:
    virtual ~ControlPlane() = default;

    [[nodiscard]] virtual std::vector<PoolSnapshot> pools() = 0;
    [[nodiscard]] virtual std::vector<ClientSnapshot> clients() = 0;
    [[nodiscard]] virtual std::optional<ClientSnapshot> client(ClientId id) = 0;
    [[nodiscard]] virtual std::vector<ServerSnapshot> servers() = 0;
    [[nodiscard]] virtual PinningSnapshot pinning() = 0;
    // Everything for /metrics except the pool_* gauges, which admin-api
    // derives from pools().
    [[nodiscard]] virtual MetricsSnapshot metrics() = 0;
    // Ready to accept clients (listeners up, config loaded, not shutting
    // down). Answers GET /readyz.
    [[nodiscard]] virtual Readiness readiness() = 0;

    // Closes the client's connection (with an ErrorResponse, 57P01 style).
    [[nodiscard]] virtual ActionResult disconnect_client(ClientId id) = 0;
    // Pausing stops handing out server connections to new transactions of
    // the pool; resuming undoes it. Both are idempotent.
    [[nodiscard]] virtual ActionResult pause_pool(std::string_view database,
                                                  std::string_view user) = 0;
    [[nodiscard]] virtual ActionResult resume_pool(std::string_view database,
                                                   std::string_view user) = 0;
    // Re-reads the configuration.
    [[nodiscard]] virtual ReloadResult reload() = 0;
};

}  // namespace pgmux::admin
