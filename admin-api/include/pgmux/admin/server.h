// The admin HTTP server: Boost.Beast over its own io_context, one coroutine
// per connection, every read and write raced against a deadline.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "pgmux/admin/control_plane.h"
#include "pgmux/admin/router.h"

namespace pgmux::admin {

struct AdminConfig {
    // "host:port" with an IP literal or "localhost"; IPv6 as "[::1]:9930".
    // Port 0 picks a free port (see AdminServer::local_endpoint()).
    std::string listen = "127.0.0.1:9930";
    // Required when `listen` is not a loopback address.
    std::optional<std::string> bearer_token;
    // Deadline for reading one whole request (headers and body), for writing
    // one response, and for an idle keep-alive connection.
    std::chrono::milliseconds request_timeout{10000};
    std::size_t max_body_bytes = kDefaultMaxBodyBytes;
    std::size_t max_connections = 32;
};

// Parses "host:port". Throws std::invalid_argument with a message naming
// the bad value.
[[nodiscard]] boost::asio::ip::tcp::endpoint parse_listen_address(std::string_view listen);

class AdminServer {
  public:
    // Validates the config and binds the listening socket. Throws
    // std::runtime_error (or std::invalid_argument for a malformed address)
    // with a clear message, e.g. when the address is not loopback and no
    // bearer token is configured, or when the port is taken.
    // `io` must be run by exactly one thread and outlive this object;
    // `control` must outlive the io_context's last run (see control_plane.h).
    AdminServer(boost::asio::io_context& io, AdminConfig config, ControlPlane& control);
    ~AdminServer();  // stop()
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;

    // Starts accepting on the io_context. Call once.
    void start();
    // Stops accepting and closes every open admin connection. Safe to call
    // from any thread; the work happens on the io_context.
    void stop();

    // The bound address (with the real port when the config asked for 0).
    [[nodiscard]] boost::asio::ip::tcp::endpoint local_endpoint() const;
    // Connections being served now (for tests and diagnostics).
    [[nodiscard]] std::size_t active_connections() const;

    struct State;  // shared with the connection coroutines

  private:
    std::shared_ptr<State> state_;
};

}  // namespace pgmux::admin
