// The proxy's side of the admin API: AdminControl implements
// admin::ControlPlane over the running proxy, and AdminService runs the admin
// HTTP server on its own io_context and thread.
//
// Threading: every ControlPlane call arrives on the admin thread. Session data
// is owned by the workers, so AdminControl posts a job to each worker's
// io_context that copies what it needs (ClientSession::describe(), PinStats,
// BorrowStats) and waits for the answers with a deadline: a stuck worker makes
// the request fail (500), it never hangs the admin thread. Pools (mutex) and
// counters (atomics) are read directly.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "pgmux/admin/control_plane.h"
#include "pgmux/admin/server.h"
#include "runtime/admin_snapshots.h"
#include "session/proxy_context.h"
#include "session/session_info.h"

namespace pgmux::runtime {

class Worker;

// Re-reads the configuration; returns the error when the reload was refused.
using ReloadFunction = std::function<std::optional<std::string>()>;

struct AdminControlOptions {
    // How long a request waits for each worker to answer.
    std::chrono::milliseconds worker_timeout{2000};
    // How long POST /api/v1/reload waits for the control thread.
    std::chrono::milliseconds reload_timeout{10000};
    // Normalised statements listed by /api/v1/pinning.
    std::size_t top_statements = 20;
};

class AdminControl final : public admin::ControlPlane {
  public:
    // `workers` and `proxy` must outlive every call; `reload` runs on
    // `control` (the thread that also handles SIGHUP).
    AdminControl(session::ProxyContext& proxy, std::vector<Worker*> workers,
                 boost::asio::any_io_executor control, ReloadFunction reload,
                 AdminControlOptions options = {});

    [[nodiscard]] std::vector<admin::PoolSnapshot> pools() override;
    [[nodiscard]] std::vector<admin::ClientSnapshot> clients() override;
    [[nodiscard]] std::optional<admin::ClientSnapshot> client(admin::ClientId id) override;
    [[nodiscard]] std::vector<admin::ServerSnapshot> servers() override;
    [[nodiscard]] admin::PinningSnapshot pinning() override;
    [[nodiscard]] admin::MetricsSnapshot metrics() override;
    [[nodiscard]] admin::Readiness readiness() override;
    [[nodiscard]] admin::ActionResult disconnect_client(admin::ClientId id) override;
    [[nodiscard]] admin::ActionResult pause_pool(std::string_view database,
                                                 std::string_view user) override;
    [[nodiscard]] admin::ActionResult resume_pool(std::string_view database,
                                                  std::string_view user) override;
    [[nodiscard]] admin::ReloadResult reload() override;

    // Makes waits end early (shutdown): requests in progress fail fast.
    void stop() noexcept { stopping_.store(true); }

  private:
    [[nodiscard]] std::vector<WorkerReport> collect(session::DescribeDetail detail,
                                                    bool with_stats);
    [[nodiscard]] std::vector<session::SessionInfo> collect_sessions(
        session::DescribeDetail detail);
    [[nodiscard]] std::shared_ptr<pool::Pool> find_pool(std::string_view database,
                                                        std::string_view user) const;

    session::ProxyContext& proxy_;
    std::vector<Worker*> workers_;
    boost::asio::any_io_executor control_;
    ReloadFunction reload_;
    AdminControlOptions options_;
    std::atomic<bool> stopping_{false};
};

// The admin HTTP server with its io_context and thread.
class AdminService {
  public:
    // Binds the admin listener; throws std::runtime_error / std::invalid_argument
    // with a clear message (port taken, non-loopback address without a token).
    AdminService(const config::Config& config, session::ProxyContext& proxy,
                 std::vector<Worker*> workers, boost::asio::any_io_executor control,
                 ReloadFunction reload);
    ~AdminService();  // stop()
    AdminService(const AdminService&) = delete;
    AdminService& operator=(const AdminService&) = delete;

    void start();
    // Stops serving and joins the admin thread. Idempotent.
    void stop();

    [[nodiscard]] std::string listen_address() const;

  private:
    boost::asio::io_context io_{1};
    AdminControl control_;
    std::unique_ptr<admin::AdminServer> server_;
    std::thread thread_;
};

// "host:port", with an IPv6 host in brackets.
[[nodiscard]] std::string format_listen_address(const config::Endpoint& endpoint);

}  // namespace pgmux::runtime
