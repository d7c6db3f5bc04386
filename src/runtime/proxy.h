// The process: workers, the control thread (signals, pool maintenance, admin
// API), reload and shutdown.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "runtime/worker.h"
#include "session/proxy_context.h"

namespace pgmux::runtime {

class AdminService;

class Proxy {
  public:
    Proxy(config::Config config, std::vector<std::string> args);
    ~Proxy();

    // Binds listeners and runs until shutdown; returns the exit status.
    int run();

    session::ProxyContext& context() noexcept { return context_; }

  private:
    void on_signal(int signo);
    // Returns the error when the new configuration was refused.
    std::optional<std::string> reload();
    void begin_graceful_shutdown();
    void schedule_maintenance();
    void check_shutdown_progress();
    void stop_everything();

    std::vector<std::string> args_;
    session::ProxyContext context_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::unique_ptr<AdminService> admin_;  // with --admin-listen; stopped before the workers
    boost::asio::io_context control_{1};
    boost::asio::signal_set signals_;
    boost::asio::steady_timer maintenance_;
    boost::asio::steady_timer shutdown_deadline_;
    std::chrono::steady_clock::time_point shutdown_started_;
    bool shutting_down_ = false;
};

}  // namespace pgmux::runtime
