// One worker thread: its own io_context and listening socket (with several
// workers SO_REUSEPORT, so the kernel spreads connections over them), and the
// sessions it runs.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <optional>
#include <thread>

#include "config/config.h"
#include "session/proxy_context.h"

namespace pgmux::runtime {

class Worker {
  public:
    // `sole`: the only worker. Its sockets are then only ever touched by its
    // own thread (servers never move between workers), so Asio's per-socket
    // reactor locks can go (BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO). With
    // several workers a server socket is handed from one worker's reactor to
    // another's (ServerConnection::rebind) and the locks stay.
    Worker(int index, session::ProxyContext& proxy, bool sole);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    enum class PortSharing {
        kSole,            // the only worker: a plain socket
        kFirstOfSeveral,  // SO_REUSEPORT, after checking no one holds the port
        kJoin,            // SO_REUSEPORT, joining the first worker's port
    };
    // Binds the listening socket and returns its port (the one the kernel
    // chose for port 0); throws std::runtime_error on failure.
    std::uint16_t listen(const config::Endpoint& endpoint, PortSharing sharing);
    void start();
    // Stops accepting; running sessions continue.
    void stop_accepting();
    // Asks every idle session to close (graceful shutdown).
    void close_idle_sessions();
    void stop();
    void join();

    boost::asio::io_context& io() noexcept { return io_; }
    session::WorkerContext& context() noexcept { return context_; }

  private:
    boost::asio::awaitable<void> accept_loop();

    session::ProxyContext& proxy_;
    // Declared before io_ so that it outlives it: destroying io_ destroys
    // handlers still queued, and with them sessions that refer to it.
    session::WorkerContext context_;
    boost::asio::io_context io_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::thread thread_;
};

}  // namespace pgmux::runtime
